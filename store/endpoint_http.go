package store

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// The live endpoint's API, version 1. Every route is a GET; bodies are JSON
// (streams are JSON lines); errors are an EndpointError with a status.
//
//	/v1/info                    EndpointInfo
//	/v1/op?id=OP                the op's latest record (404 if unknown)
//	/v1/history?id=OP           the op's records, in append order
//	/v1/inflight                the in-flight ops' latest records
//	/v1/applied?key=KEY         AppliedKey (404 if not applied)
//	/v1/vmid?vmid=N             latest records of the ops that touched a guest
//	/v1/upid?upid=UPID          the latest record of the op that carried a task (404)
//	/v1/stats                   Stats
//	/v1/check                   CheckReport, from a snapshot
//	/v1/meta                    the meta values (schema, codec, created, migrated_from, ...)
//	/v1/metrics                 Metrics
//	/v1/tail?n=N                the last N records, as []Change
//	/v1/changes?from=SEQ&limit=N up to N records after SEQ, as []Change
//	/v1/feed?from=SEQ           every record after SEQ, then live: JSON lines of Change
//	/v1/feed?last=N             the last N records, then live
//	/v1/export                  every record as legacy JSONL, from one snapshot
//	/v1/backup                  a consistent copy of the file, from one read transaction
//
// A stream that fails after its first byte is cut short: the client sees an
// incomplete chunked body, never a whole one. The feed instead ends with a
// line that is an EndpointError, when the journal ends it (closed,
// poisoned, damaged, records pruned).

// EndpointInfo describes the journal behind a live endpoint.
type EndpointInfo struct {
	Path    string `json:"path"`     // the journal's path, as its process opened it
	PID     int    `json:"pid"`      // the process serving it
	Schema  int    `json:"schema"`   // the on-disk schema
	LastSeq uint64 `json:"last_seq"` // sequence number of the last committed record
	Dev     uint64 `json:"dev"`      // the journal file's device and inode, to tell it is the same file
	Ino     uint64 `json:"ino"`
}

// EndpointError is the body of every error the live endpoint answers.
type EndpointError struct {
	Message string `json:"error"`
	// Code is one of: bad_request, not_found, forbidden, busy, closed,
	// poisoned, corrupt, pruned, seq_ahead, internal.
	Code string `json:"code"`
	// Through is PrunedError.Through, for code pruned.
	Through uint64 `json:"through,omitempty"`
}

// MaxTail caps /v1/tail's n and /v1/changes' limit, so that one answer
// stays bounded (and Tail's in the CLI, so that it answers the same live or
// not).
const MaxTail = 100000

func (j *Journal) endpointHandler(ep *endpoint) http.Handler {
	mux := http.NewServeMux()
	// A short answer takes one of ep.active's slots, a stream (the feed,
	// export, backup, check) one of ep.streams': followers that stay for
	// days do not lock out an operator's inflight.
	handle := func(pattern string, slots chan struct{}, h func(w http.ResponseWriter, r *http.Request) error) {
		mux.HandleFunc("GET "+pattern, func(w http.ResponseWriter, r *http.Request) {
			select {
			case slots <- struct{}{}:
				defer func() { <-slots }()
			default:
				writeError(w, busy{fmt.Sprintf("more than %d such requests at a time", cap(slots))})
				return
			}
			if err := h(w, r); err != nil {
				writeError(w, err)
			}
		})
	}
	route := func(pattern string, h func(w http.ResponseWriter, r *http.Request) error) {
		handle(pattern, ep.active, h)
	}
	streamRoute := func(pattern string, h func(w http.ResponseWriter, r *http.Request) error) {
		handle(pattern, ep.streams, h)
	}
	route("/v1/info", func(w http.ResponseWriter, r *http.Request) error {
		info := EndpointInfo{Path: j.path, PID: os.Getpid(), Schema: SchemaVersion, LastSeq: j.LastSeq()}
		info.Dev, info.Ino = fileID(j.path)
		return writeJSON(w, info)
	})
	route("/v1/op", func(w http.ResponseWriter, r *http.Request) error {
		id, err := param(r, "id")
		if err != nil {
			return err
		}
		e, ok, err := j.Get(id)
		if err == nil && !ok {
			err = notFound{fmt.Sprintf("op %q not found", id)}
		}
		return answer(w, e, err)
	})
	route("/v1/history", func(w http.ResponseWriter, r *http.Request) error {
		id, err := param(r, "id")
		if err != nil {
			return err
		}
		h, err := j.History(id)
		return answer(w, nonNilEntries(h), err)
	})
	route("/v1/inflight", func(w http.ResponseWriter, r *http.Request) error {
		ops, err := j.InFlightOps()
		return answer(w, nonNilEntries(ops), err)
	})
	route("/v1/applied", func(w http.ResponseWriter, r *http.Request) error {
		key, err := param(r, "key")
		if err != nil {
			return err
		}
		a, ok, err := j.Applied(key)
		if err == nil && !ok {
			err = notFound{fmt.Sprintf("key %q not applied", key)}
		}
		return answer(w, a, err)
	})
	route("/v1/vmid", func(w http.ResponseWriter, r *http.Request) error {
		vmid, err := intParam(r, "vmid", -1<<63)
		if err != nil {
			return err
		}
		ops, err := j.ByVMID(int(vmid))
		return answer(w, nonNilEntries(ops), err)
	})
	route("/v1/upid", func(w http.ResponseWriter, r *http.Request) error {
		upid, err := param(r, "upid")
		if err != nil {
			return err
		}
		e, ok, err := j.ByUPID(upid)
		if err == nil && !ok {
			err = notFound{fmt.Sprintf("no op carried task %q", upid)}
		}
		return answer(w, e, err)
	})
	route("/v1/stats", func(w http.ResponseWriter, r *http.Request) error {
		s, err := j.Stats()
		return answer(w, s, err)
	})
	route("/v1/meta", func(w http.ResponseWriter, r *http.Request) error {
		m, err := j.Meta()
		return answer(w, m, err)
	})
	route("/v1/metrics", func(w http.ResponseWriter, r *http.Request) error {
		m, err := j.Metrics()
		return answer(w, m, err)
	})
	streamRoute("/v1/check", func(w http.ResponseWriter, r *http.Request) error {
		rep, err := j.checkSnapshot(r.Context(), ep)
		if err != nil && !errors.Is(err, ErrCorrupt) || err != nil && len(rep.Problems) == 0 {
			return err
		}
		rep.Problems = append([]string{}, rep.Problems...)
		return writeJSON(w, rep)
	})
	route("/v1/tail", func(w http.ResponseWriter, r *http.Request) error {
		n, err := intParam(r, "n", 1)
		if err != nil {
			return err
		}
		cs, err := j.Tail(int(min(n, MaxTail)))
		return answer(w, nonNilChanges(cs), err)
	})
	route("/v1/changes", func(w http.ResponseWriter, r *http.Request) error {
		from, err := intParam(r, "from", 0)
		if err != nil {
			return err
		}
		limit := int64(MaxTail)
		if r.URL.Query().Has("limit") {
			if limit, err = intParam(r, "limit", 1); err != nil {
				return err
			}
		}
		cs, err := j.Changes(uint64(from), int(min(limit, MaxTail)))
		return answer(w, nonNilChanges(cs), err)
	})
	streamRoute("/v1/feed", func(w http.ResponseWriter, r *http.Request) error {
		from, err := j.feedStart(r)
		if err != nil {
			return err
		}
		if _, err := j.changes(from, 1, true); err != nil {
			return err // pruned or ahead: an error status, not a stream
		}
		ctx, cancel := context.WithCancel(r.Context())
		defer cancel()
		defer context.AfterFunc(ep.feeds, cancel)()
		return stream(w, "application/x-ndjson", func(bw *bufio.Writer, flush func() error) error {
			if err := flush(); err != nil { // the headers, so the client knows it is following
				return err
			}
			enc := json.NewEncoder(bw)
			err := j.followBatches(ctx, from, func(batch []Change) error {
				for i := range batch {
					if err := enc.Encode(&batch[i]); err != nil {
						return err
					}
				}
				return flush()
			})
			if isClientGone(err, r) {
				return err
			}
			if ep.feeds.Err() != nil {
				err = ErrClosed // the journal is closing
			}
			// The journal ended the feed (closed, poisoned, damaged,
			// pruned): its last line says why, and the stream ends
			// cleanly, so the client can tell it from a lost connection.
			if err := enc.Encode(errorBody(err)); err != nil {
				return err
			}
			return flush()
		})
	})
	streamRoute("/v1/export", func(w http.ResponseWriter, r *http.Request) error {
		return stream(w, "application/x-ndjson", func(bw *bufio.Writer, flush func() error) error {
			return j.ForEachChange(r.Context(), func(c Change) error {
				line, err := json.Marshal(&c.Record)
				if err != nil {
					return err
				}
				_, err = bw.Write(append(line, '\n'))
				return err
			})
		})
	})
	streamRoute("/v1/backup", func(w http.ResponseWriter, r *http.Request) error {
		// From a snapshot beside the journal: the read transaction lasts
		// as long as a local copy, not as long as the client reads.
		f, err := j.snapshotFile(r.Context(), ep)
		if err != nil {
			return err
		}
		defer f.Close()
		fi, err := f.Stat()
		if err != nil {
			return err
		}
		w.Header().Set("Content-Length", strconv.FormatInt(fi.Size(), 10))
		return stream(w, "application/octet-stream", func(bw *bufio.Writer, flush func() error) error {
			_, err := io.Copy(bw, f)
			return err
		})
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ok, _ := r.Context().Value(peerAllowed{}).(bool); !ok {
			w.Header().Set("Connection", "close")
			writeError(w, forbidden{"only root, the journal file's owner and the journal's own user may read it"})
			return
		}
		if !ep.begin() {
			writeError(w, ErrClosed)
			return
		}
		defer ep.handlers.Done()
		mux.ServeHTTP(&deadlineWriter{ResponseWriter: w, rc: http.NewResponseController(w), timeout: ep.writeTimeout}, r)
	})
}

// deadlineWriter gives every write to the client endpointWriteTimeout to
// complete, so that a client that stops reading is dropped, whatever the
// answer's size, and counts what it has sent.
type deadlineWriter struct {
	http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
	sent    int64
}

func (d *deadlineWriter) Write(p []byte) (int, error) {
	_ = d.rc.SetWriteDeadline(time.Now().Add(d.timeout))
	n, err := d.ResponseWriter.Write(p)
	d.sent += int64(n)
	return n, err
}

func (d *deadlineWriter) Flush() {
	_ = d.rc.SetWriteDeadline(time.Now().Add(d.timeout))
	_ = d.rc.Flush()
}

// Unwrap lets http.ResponseController reach the connection.
func (d *deadlineWriter) Unwrap() http.ResponseWriter { return d.ResponseWriter }

// feedStart resolves /v1/feed's from or last into the sequence to follow
// from.
func (j *Journal) feedStart(r *http.Request) (uint64, error) {
	q := r.URL.Query()
	switch {
	case q.Has("from") && q.Has("last"):
		return 0, badRequest{"give from or last, not both"}
	case q.Has("last"):
		n, err := intParam(r, "last", 0)
		if err != nil || n == 0 {
			return j.LastSeq(), err
		}
		cs, err := j.Tail(int(min(n, MaxTail)))
		if err != nil || len(cs) == 0 {
			return j.LastSeq(), err
		}
		return cs[0].Seq - 1, nil
	}
	from, err := intParam(r, "from", 0)
	if err == nil && uint64(from) > j.LastSeq() {
		err = fmt.Errorf("%w: %d > %d in %s", ErrSeqAhead, from, j.LastSeq(), j.path)
	}
	return uint64(from), err
}

// snapshotFile writes a consistent copy of the journal (Backup, one read
// transaction) to a temporary file beside it, removes its name, and returns
// it open at its start: a stream of the copy holds no transaction, however
// slowly its client reads. One snapshot is made at a time (they cost the
// journal's size on disk); other requests wait for their turn.
func (j *Journal) snapshotFile(ctx context.Context, ep *endpoint) (*os.File, error) {
	select {
	case ep.snapshots <- struct{}{}:
		defer func() { <-ep.snapshots }()
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	f, err := os.CreateTemp(filepath.Dir(j.path), snapshotPrefix(j.path)+"*")
	if err != nil {
		return nil, fmt.Errorf("store: snapshot of %s: %w", j.path, err)
	}
	_ = os.Remove(f.Name()) // the open file stays readable (where the system allows)
	if _, err := j.Backup(ctx, f); err != nil {
		_ = f.Close()
		return nil, err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("store: snapshot of %s: %w", j.path, err)
	}
	return f, nil
}

// snapshotPrefix names the temporary files the endpoint makes beside the
// journal at path; a read-write Open removes those a crash left behind.
func snapshotPrefix(path string) string { return "." + filepath.Base(path) + ".snapshot-" }

// checkSnapshot checks a consistent copy of the journal, taken by Backup
// beside it and removed after: bbolt's page check needs a file no commit
// changes while it runs, and on the live file it would hold appends off
// for as long as it takes. The copy has the live file's pages as they
// were, damage included. One runs at a time, as for snapshotFile.
func (j *Journal) checkSnapshot(ctx context.Context, ep *endpoint) (CheckReport, error) {
	select {
	case ep.snapshots <- struct{}{}:
		defer func() { <-ep.snapshots }()
	case <-ctx.Done():
		return CheckReport{}, ctx.Err()
	}
	f, err := os.CreateTemp(filepath.Dir(j.path), snapshotPrefix(j.path)+"*")
	if err != nil {
		return CheckReport{}, fmt.Errorf("store: check %s: %w", j.path, err)
	}
	defer os.Remove(f.Name())
	_, err = j.Backup(ctx, f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return CheckReport{}, err
	}
	snap, err := Open(f.Name(), &Options{ReadOnly: true})
	if err != nil {
		return CheckReport{}, fmt.Errorf("store: check %s: its snapshot: %w", j.path, err)
	}
	_ = os.Remove(f.Name()) // open, it stays readable; a crash leaves no name
	defer snap.Close()
	rep, err := snap.Check(ctx)
	if err != nil && len(rep.Problems) > 0 {
		err = fmt.Errorf("%w: %s: %d problems found, first: %s", ErrCorrupt, j.path, len(rep.Problems), rep.Problems[0])
	}
	return rep, err
}

// removeSnapshots removes the temporary files of snapshots that a crash
// left beside the journal. Only the process holding the journal makes
// them, so none is in use.
func (j *Journal) removeSnapshots() {
	names, _ := filepath.Glob(filepath.Join(filepath.Dir(j.path), snapshotPrefix(j.path)) + "*")
	for _, name := range names {
		if fi, err := os.Lstat(name); err == nil && fi.Mode().IsRegular() {
			_ = os.Remove(name)
		}
	}
}

// stream writes a streamed body: fill writes to bw and calls flush to push
// what it wrote to the client (every write to the client must complete
// within endpointWriteTimeout, see deadlineWriter). A failure before the
// first byte is an error answer; after it, the body is cut short (the
// client sees an incomplete chunked body, never a whole one) and the
// failure is logged.
func stream(w http.ResponseWriter, contentType string, fill func(bw *bufio.Writer, flush func() error) error) error {
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", contentType)
	bw := bufio.NewWriterSize(w, 64<<10)
	flush := func() error {
		if err := bw.Flush(); err != nil {
			return clientGone{err}
		}
		if err := rc.Flush(); err != nil {
			return clientGone{err}
		}
		return nil
	}
	err := fill(bw, flush)
	if err == nil {
		err = flush()
	}
	if err == nil {
		return nil
	}
	if dw, ok := w.(*deadlineWriter); ok && dw.sent == 0 && bw.Buffered() == 0 && !errors.As(err, new(clientGone)) {
		w.Header().Del("Content-Length")
		return err // nothing sent: an error answer
	}
	panic(http.ErrAbortHandler)
}

type clientGone struct{ err error }

func (e clientGone) Error() string { return "client gone: " + e.err.Error() }

// isClientGone reports whether err ended a stream because its client went
// away (a failed write, or the request's context ended with the
// connection), rather than because of the journal.
func isClientGone(err error, r *http.Request) bool {
	return errors.As(err, new(clientGone)) || r.Context().Err() != nil
}

func answer(w http.ResponseWriter, v any, err error) error {
	if err != nil {
		return err
	}
	return writeJSON(w, v)
}

func writeJSON(w http.ResponseWriter, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(append(body, '\n'))
	return nil
}

type (
	badRequest struct{ msg string }
	notFound   struct{ msg string }
	busy       struct{ msg string }
	forbidden  struct{ msg string }
)

func (e badRequest) Error() string { return e.msg }
func (e notFound) Error() string   { return e.msg }
func (e busy) Error() string       { return e.msg }
func (e forbidden) Error() string  { return "store: live endpoint: " + e.msg }

// writeError answers err with its status and code.
func writeError(w http.ResponseWriter, err error) {
	body := errorBody(err)
	b, _ := json.Marshal(body)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(errorStatus(body.Code))
	_, _ = w.Write(append(b, '\n'))
}

// errorBody is err as the endpoint tells it.
func errorBody(err error) *EndpointError {
	body := &EndpointError{Message: err.Error(), Code: "internal"}
	var pe *PrunedError
	switch {
	case errors.As(err, new(badRequest)):
		body.Code = "bad_request"
	case errors.As(err, new(notFound)):
		body.Code = "not_found"
	case errors.As(err, new(forbidden)):
		body.Code = "forbidden"
	case errors.As(err, new(busy)):
		body.Code = "busy"
	case errors.Is(err, ErrClosed), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		body.Code = "closed"
	case errors.Is(err, ErrPoisoned):
		body.Code = "poisoned"
	case errors.Is(err, ErrCorrupt):
		body.Code = "corrupt"
	case errors.As(err, &pe):
		body.Code, body.Through = "pruned", pe.Through
	case errors.Is(err, ErrSeqAhead):
		body.Code = "seq_ahead"
	}
	return body
}

// errorStatus is the HTTP status of an error code.
func errorStatus(code string) int {
	switch code {
	case "bad_request":
		return http.StatusBadRequest
	case "not_found":
		return http.StatusNotFound
	case "forbidden":
		return http.StatusForbidden
	case "busy", "closed", "poisoned":
		return http.StatusServiceUnavailable
	case "pruned":
		return http.StatusGone
	case "seq_ahead":
		return http.StatusConflict
	}
	return http.StatusInternalServerError
}

// param returns a required query parameter.
func param(r *http.Request, name string) (string, error) {
	q := r.URL.Query()
	if !q.Has(name) {
		return "", badRequest{fmt.Sprintf("missing query parameter %q", name)}
	}
	return q.Get(name), nil
}

// intParam returns a required integer query parameter of at least lo.
func intParam(r *http.Request, name string, lo int64) (int64, error) {
	s, err := param(r, name)
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < lo {
		return 0, badRequest{fmt.Sprintf("query parameter %s=%q: want an integer of at least %d", name, s, lo)}
	}
	return n, nil
}

func nonNilEntries(s []JournalEntry) []JournalEntry {
	if s == nil {
		return []JournalEntry{}
	}
	return s
}

func nonNilChanges(s []Change) []Change {
	if s == nil {
		return []Change{}
	}
	return s
}
