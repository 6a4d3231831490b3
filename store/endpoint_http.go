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
// A stream that fails after its first byte is cut short (the client sees an
// incomplete chunked body) and names the failure in the Opjournal-Error
// trailer.

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

// TrailerError is the trailer that names why a stream was cut short.
const TrailerError = "Opjournal-Error"

// maxTail caps /v1/tail's n and /v1/changes' limit, so that one answer
// stays small.
const maxTail = 10000

func (j *Journal) endpointHandler(ep *endpoint) http.Handler {
	mux := http.NewServeMux()
	route := func(pattern string, h func(w http.ResponseWriter, r *http.Request) error) {
		mux.HandleFunc("GET "+pattern, func(w http.ResponseWriter, r *http.Request) {
			if err := h(w, r); err != nil {
				writeError(w, err)
			}
		})
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
	route("/v1/check", func(w http.ResponseWriter, r *http.Request) error {
		rep, err := j.checkSnapshot(r.Context())
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
		cs, err := j.Tail(int(min(n, maxTail)))
		return answer(w, nonNilChanges(cs), err)
	})
	route("/v1/changes", func(w http.ResponseWriter, r *http.Request) error {
		from, err := intParam(r, "from", 0)
		if err != nil {
			return err
		}
		limit := int64(maxTail)
		if r.URL.Query().Has("limit") {
			if limit, err = intParam(r, "limit", 1); err != nil {
				return err
			}
		}
		cs, err := j.Changes(uint64(from), int(min(limit, maxTail)))
		return answer(w, nonNilChanges(cs), err)
	})
	route("/v1/feed", func(w http.ResponseWriter, r *http.Request) error {
		from, err := j.feedStart(r)
		if err != nil {
			return err
		}
		if _, err := j.Changes(from, 1); err != nil {
			return err // pruned or ahead: an error status, not a stream
		}
		return stream(w, "application/x-ndjson", func(bw *bufio.Writer, flush func() error) error {
			if err := flush(); err != nil { // the headers, so the client knows it is following
				return err
			}
			enc := json.NewEncoder(bw)
			return j.followBatches(r.Context(), from, func(batch []Change) error {
				for i := range batch {
					if err := enc.Encode(&batch[i]); err != nil {
						return err
					}
				}
				return flush()
			})
		})
	})
	route("/v1/export", func(w http.ResponseWriter, r *http.Request) error {
		return stream(w, "application/x-ndjson", func(bw *bufio.Writer, flush func() error) error {
			n := 0
			return j.ForEachRecord(func(_ uint64, e JournalEntry) error {
				line, err := json.Marshal(&e)
				if err != nil {
					return err
				}
				if _, err := bw.Write(append(line, '\n')); err != nil {
					return err
				}
				if n++; n%4096 == 0 {
					return flush()
				}
				return nil
			})
		})
	})
	route("/v1/backup", func(w http.ResponseWriter, r *http.Request) error {
		return stream(w, "application/octet-stream", func(bw *bufio.Writer, flush func() error) error {
			_, err := j.Backup(r.Context(), &flushingWriter{w: bw, flush: flush})
			return err
		})
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ok, _ := r.Context().Value(peerAllowed{}).(bool); !ok {
			w.Header().Set("Connection", "close")
			writeError(w, forbidden{"only root and the journal file's owner may read it"})
			return
		}
		if !ep.begin() {
			writeError(w, ErrClosed)
			return
		}
		defer ep.handlers.Done()
		select {
		case ep.active <- struct{}{}:
			defer func() { <-ep.active }()
		default:
			writeError(w, busy{fmt.Sprintf("more than %d requests at a time", cap(ep.active))})
			return
		}
		mux.ServeHTTP(w, r)
	})
}

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
		cs, err := j.Tail(int(min(n, maxTail)))
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

// checkSnapshot checks a consistent copy of the journal, taken by Backup
// beside it and removed after: bbolt's page check needs a file no commit
// changes while it runs, and on the live file it would hold appends off
// for as long as it takes. The copy has the live file's pages as they
// were, damage included.
func (j *Journal) checkSnapshot(ctx context.Context) (CheckReport, error) {
	f, err := os.CreateTemp(filepath.Dir(j.path), "."+filepath.Base(j.path)+".check-*")
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
	defer snap.Close()
	rep, err := snap.Check(ctx)
	if err != nil && len(rep.Problems) > 0 {
		err = fmt.Errorf("%w: %s: %d problems found, first: %s", ErrCorrupt, j.path, len(rep.Problems), rep.Problems[0])
	}
	return rep, err
}

// stream writes a streamed body: fill writes to bw and calls flush to push
// what it wrote to the client, which must take it within
// endpointWriteTimeout. A failure after the first byte cuts the body short
// and names the failure in the TrailerError trailer.
func stream(w http.ResponseWriter, contentType string, fill func(bw *bufio.Writer, flush func() error) error) error {
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Trailer", TrailerError)
	started := false
	bw := bufio.NewWriterSize(w, 64<<10)
	flush := func() error {
		_ = rc.SetWriteDeadline(time.Now().Add(endpointWriteTimeout))
		if err := bw.Flush(); err != nil {
			return clientGone{err}
		}
		started = true
		if err := rc.Flush(); err != nil {
			return clientGone{err}
		}
		return nil
	}
	err := fill(bw, flush)
	if err == nil {
		err = flush()
	}
	var gone clientGone
	switch {
	case err == nil:
		return nil
	case errors.As(err, &gone) || errors.Is(err, context.Canceled):
		panic(http.ErrAbortHandler) // the client is gone; nothing to tell it
	case !started && bw.Buffered() == 0:
		w.Header().Del("Trailer")
		return err
	}
	w.Header().Set(TrailerError, err.Error())
	_ = bw.Flush()
	panic(http.ErrAbortHandler) // an incomplete body: the client cannot take it for a whole one
}

type clientGone struct{ err error }

func (e clientGone) Error() string { return "client gone: " + e.err.Error() }

// flushingWriter flushes every 1 MiB, so that a long copy keeps its client
// fed and each write meets its deadline.
type flushingWriter struct {
	w     *bufio.Writer
	flush func() error
	n     int
}

func (f *flushingWriter) Write(p []byte) (int, error) {
	n, err := f.w.Write(p)
	if f.n += n; err == nil && f.n >= 1<<20 {
		f.n = 0
		err = f.flush()
	}
	return n, err
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
	body := EndpointError{Message: err.Error(), Code: "internal"}
	status := http.StatusInternalServerError
	var pe *PrunedError
	switch {
	case errors.As(err, new(badRequest)):
		status, body.Code = http.StatusBadRequest, "bad_request"
	case errors.As(err, new(notFound)):
		status, body.Code = http.StatusNotFound, "not_found"
	case errors.As(err, new(forbidden)):
		status, body.Code = http.StatusForbidden, "forbidden"
	case errors.As(err, new(busy)):
		status, body.Code = http.StatusServiceUnavailable, "busy"
	case errors.Is(err, ErrClosed):
		status, body.Code = http.StatusServiceUnavailable, "closed"
	case errors.Is(err, ErrPoisoned):
		status, body.Code = http.StatusServiceUnavailable, "poisoned"
	case errors.Is(err, ErrCorrupt):
		status, body.Code = http.StatusInternalServerError, "corrupt"
	case errors.As(err, &pe):
		status, body.Code, body.Through = http.StatusGone, "pruned", pe.Through
	case errors.Is(err, ErrSeqAhead):
		status, body.Code = http.StatusConflict, "seq_ahead"
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		status, body.Code = http.StatusServiceUnavailable, "closed"
	}
	b, _ := json.Marshal(body)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
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

var _ io.Writer = (*flushingWriter)(nil)
