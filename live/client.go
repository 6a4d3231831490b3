// Package live is the client of a journal's live endpoint: it reads a
// journal that another process (an agent) holds open, through the Unix
// socket that process serves beside the journal (see store.Options.Endpoint).
//
//	c, err := live.Dial(ctx, store.EndpointPath("/var/lib/felhom/journal.db"))
//	if err != nil { ... } // nothing serves it: the journal is not open
//	defer c.Close()
//	inflight, err := c.InFlight(ctx)
//	err = c.Follow(ctx, lastSeqHandled, func(ch store.Change) error { ... })
//
// Errors the journal returned come back matching the store's sentinels
// (store.ErrCorrupt, store.ErrPoisoned, store.ErrClosed, store.ErrPruned,
// store.ErrSeqAhead) through errors.Is; every error the endpoint answered is
// an *Error. The endpoint speaks HTTP/1.1 with JSON, so curl --unix-socket
// reads it too. Package live uses the standard library only.
//
// A Client is safe for concurrent use.
package live

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/felhom/opjournal/store"
)

// Client reads one journal through its live endpoint.
type Client struct {
	socket string
	hc     *http.Client
	info   store.EndpointInfo
}

// Error is an error the endpoint answered.
type Error struct {
	Status int    // HTTP status
	Code   string // store.EndpointError's Code
	Msg    string
	// Through is the highest pruned sequence number, for Code "pruned".
	Through uint64
}

func (e *Error) Error() string { return e.Msg }

// Unwrap matches the store's sentinel for the error's code.
func (e *Error) Unwrap() error {
	switch e.Code {
	case "corrupt":
		return store.ErrCorrupt
	case "poisoned":
		return store.ErrPoisoned
	case "closed":
		return store.ErrClosed
	case "pruned":
		return store.ErrPruned
	case "seq_ahead":
		return store.ErrSeqAhead
	case "not_found":
		return ErrNotFound
	}
	return nil
}

// ErrNotFound is matched by the Error for an op, applied key or task the
// journal does not hold.
var ErrNotFound = errors.New("live: not found")

// ErrLost is matched by the error of a stream (Follow, Export, Backup) that
// ended without an answer from the journal: its process exited or failed,
// or the connection broke.
var ErrLost = errors.New("live: lost the journal's endpoint")

// ErrNoEndpoint is returned by Dial when nothing answers at the socket: the
// journal is not open in any process, or that process serves no endpoint.
var ErrNoEndpoint = errors.New("live: no live endpoint")

// Dial connects to the live endpoint at socket and asks who serves it.
func Dial(ctx context.Context, socket string) (*Client, error) {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
		MaxIdleConns:          4,
		IdleConnTimeout:       30 * time.Second,
		ResponseHeaderTimeout: 0, // check and streams answer when they are ready
	}
	c := &Client{socket: socket, hc: &http.Client{Transport: tr}}
	ictx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := c.getJSON(ictx, "/v1/info", nil, &c.info); err != nil {
		tr.CloseIdleConnections()
		var ae *Error
		if errors.As(err, &ae) {
			return nil, err
		}
		return nil, fmt.Errorf("%w at %s: %w", ErrNoEndpoint, socket, err)
	}
	return c, nil
}

// Info returns what the endpoint said of itself when Dial connected.
func (c *Client) Info() store.EndpointInfo { return c.info }

// LastSeq asks for the sequence number of the journal's last committed
// record.
func (c *Client) LastSeq(ctx context.Context) (uint64, error) {
	var info store.EndpointInfo
	err := c.getJSON(ctx, "/v1/info", nil, &info)
	return info.LastSeq, err
}

// Socket returns the socket's path.
func (c *Client) Socket() string { return c.socket }

// Close releases the client's idle connections.
func (c *Client) Close() error {
	c.hc.CloseIdleConnections()
	return nil
}

// Get returns the op's latest record; ok is false for an unknown op.
func (c *Client) Get(ctx context.Context, opID string) (e store.JournalEntry, ok bool, err error) {
	return found(e, c.getJSON(ctx, "/v1/op", url.Values{"id": {opID}}, &e))
}

// History returns every record of the op, in append order.
func (c *Client) History(ctx context.Context, opID string) ([]store.JournalEntry, error) {
	var out []store.JournalEntry
	return out, c.getJSON(ctx, "/v1/history", url.Values{"id": {opID}}, &out)
}

// InFlight returns the latest record of every op in flight.
func (c *Client) InFlight(ctx context.Context) ([]store.JournalEntry, error) {
	var out []store.JournalEntry
	return out, c.getJSON(ctx, "/v1/inflight", nil, &out)
}

// Applied returns what the journal knows of an applied key.
func (c *Client) Applied(ctx context.Context, key string) (a store.AppliedKey, ok bool, err error) {
	return found(a, c.getJSON(ctx, "/v1/applied", url.Values{"key": {key}}, &a))
}

// ByVMID returns the latest records of the ops that touched the guest.
func (c *Client) ByVMID(ctx context.Context, vmid int) ([]store.JournalEntry, error) {
	var out []store.JournalEntry
	return out, c.getJSON(ctx, "/v1/vmid", url.Values{"vmid": {strconv.Itoa(vmid)}}, &out)
}

// ByUPID returns the latest record of the op that carried the task.
func (c *Client) ByUPID(ctx context.Context, upid string) (e store.JournalEntry, ok bool, err error) {
	return found(e, c.getJSON(ctx, "/v1/upid", url.Values{"upid": {upid}}, &e))
}

// Stats counts what the journal holds.
func (c *Client) Stats(ctx context.Context) (s store.Stats, err error) {
	return s, c.getJSON(ctx, "/v1/stats", nil, &s)
}

// Meta returns the journal's meta values, as store's Meta does.
func (c *Client) Meta(ctx context.Context) (map[string]string, error) {
	var m map[string]string
	return m, c.getJSON(ctx, "/v1/meta", nil, &m)
}

// Metrics returns the journal's metrics.
func (c *Client) Metrics(ctx context.Context) (m store.Metrics, err error) {
	return m, c.getJSON(ctx, "/v1/metrics", nil, &m)
}

// Check checks a consistent snapshot of the journal, as store's Check does,
// and returns an error matching store.ErrCorrupt if it found problems.
func (c *Client) Check(ctx context.Context) (store.CheckReport, error) {
	var rep store.CheckReport
	if err := c.getJSON(ctx, "/v1/check", nil, &rep); err != nil {
		return rep, err
	}
	if n := len(rep.Problems); n > 0 {
		return rep, fmt.Errorf("%w: %s: %d problems found, first: %s", store.ErrCorrupt, c.info.Path, n, rep.Problems[0])
	}
	return rep, nil
}

// Tail returns the last n records, in commit order.
func (c *Client) Tail(ctx context.Context, n int) ([]store.Change, error) {
	var out []store.Change
	return out, c.getJSON(ctx, "/v1/tail", url.Values{"n": {strconv.Itoa(n)}}, &out)
}

// Changes returns up to limit records after from.
func (c *Client) Changes(ctx context.Context, from uint64, limit int) ([]store.Change, error) {
	var out []store.Change
	q := url.Values{"from": {strconv.FormatUint(from, 10)}, "limit": {strconv.Itoa(limit)}}
	return out, c.getJSON(ctx, "/v1/changes", q, &out)
}

// Follow calls fn with every record after from, in commit order, then with
// each new one as it is committed, until ctx is done, fn fails or the feed
// ends: the journal ended it (an *Error matching store.ErrClosed,
// store.ErrPoisoned, store.ErrCorrupt or store.ErrPruned) or the connection
// was lost (ErrLost: the journal's process exited). It returns the error;
// Follow never returns nil.
func (c *Client) Follow(ctx context.Context, from uint64, fn func(store.Change) error) error {
	return c.follow(ctx, url.Values{"from": {strconv.FormatUint(from, 10)}}, fn)
}

// FollowLast is Follow from the last n records.
func (c *Client) FollowLast(ctx context.Context, n int, fn func(store.Change) error) error {
	return c.follow(ctx, url.Values{"last": {strconv.Itoa(n)}}, fn)
}

func (c *Client) follow(ctx context.Context, q url.Values, fn func(store.Change) error) error {
	resp, err := c.get(ctx, "/v1/feed", q)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	dec := json.NewDecoder(bufio.NewReaderSize(resp.Body, 64<<10))
	for {
		// A line is a change, or, last, why the journal ended the feed.
		var line struct {
			store.Change
			store.EndpointError
		}
		if err := dec.Decode(&line); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("%w: the feed ended: %w", ErrLost, err)
		}
		if line.Code != "" {
			return &Error{Status: http.StatusOK, Code: line.Code, Msg: line.Message, Through: line.Through}
		}
		if err := fn(line.Change); err != nil {
			return err
		}
	}
}

// Export writes every record as legacy JSONL to w, from one snapshot, and
// returns the bytes written.
func (c *Client) Export(ctx context.Context, w io.Writer) (int64, error) {
	return c.copy(ctx, "/v1/export", w)
}

// Backup writes a consistent copy of the journal file to w and returns its
// size.
func (c *Client) Backup(ctx context.Context, w io.Writer) (int64, error) {
	return c.copy(ctx, "/v1/backup", w)
}

func (c *Client) copy(ctx context.Context, path string, w io.Writer) (int64, error) {
	resp, err := c.get(ctx, path, nil)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	n, err := io.Copy(writerOf{w}, resp.Body)
	if err != nil {
		var we writeError
		if errors.As(err, &we) {
			return n, we.err
		}
		if ctx.Err() != nil {
			return n, ctx.Err()
		}
		// The server cuts a stream short when it fails: its log says why.
		return n, fmt.Errorf("%w: %s was cut short after %d bytes: %w", ErrLost, path, n, err)
	}
	return n, nil
}

type writeError struct{ err error }

func (e writeError) Error() string { return e.err.Error() }

// writerOf tells the destination's errors from the stream's.
type writerOf struct{ w io.Writer }

func (w writerOf) Write(p []byte) (int, error) {
	n, err := w.w.Write(p)
	if err != nil {
		err = writeError{err}
	}
	return n, err
}

func (c *Client) getJSON(ctx context.Context, path string, q url.Values, v any) error {
	resp, err := c.get(ctx, path, q)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<30)).Decode(v); err != nil {
		return fmt.Errorf("live: %s: %w", path, err)
	}
	return nil
}

// get sends a GET and returns a 200 response, or the endpoint's error.
func (c *Client) get(ctx context.Context, path string, q url.Values) (*http.Response, error) {
	u := url.URL{Scheme: "http", Host: "journal", Path: path, RawQuery: q.Encode()}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode == http.StatusOK {
		return resp, nil
	}
	defer resp.Body.Close()
	var body store.EndpointError
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&body); err != nil || body.Code == "" {
		return nil, &Error{Status: resp.StatusCode, Code: "internal", Msg: fmt.Sprintf("live: %s: %s", path, resp.Status)}
	}
	return nil, &Error{Status: resp.StatusCode, Code: body.Code, Msg: body.Message, Through: body.Through}
}

// found turns a not_found answer into ok == false.
func found[T any](v T, err error) (T, bool, error) {
	if errors.Is(err, ErrNotFound) {
		var zero T
		return zero, false, nil
	}
	return v, err == nil, err
}
