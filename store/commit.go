package store

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/felhom/opjournal/codec"
)

// group is the leader/follower group commit. A caller that finds no commit
// in progress leads: it takes the queue (itself included) and commits it at
// once, in one transaction. Callers arriving meanwhile queue up and wait.
// Those that arrive while the leader is still writing its transaction join
// it (absorb): the commit has not begun, so that only delays it by the time
// to apply them (at most MaxBatch in all), and it keeps the groups from
// splitting into two alternating halves (64 writers: 33 per commit without
// it, 44-51 with it). Those that arrive during the commit itself wait for
// it; when the leader is done it wakes them with their results and hands
// the leadership to the first of the next queue, whose batch then holds
// every caller that arrived during the previous commit. Nobody waits for a
// timer (db.Batch waits up to 10 ms for a lone caller).
type group struct {
	mu      sync.Mutex
	queue   []*request
	leading bool
	commits atomic.Uint64 // transactions committed, for tests and metrics
}

// request is one caller's unit of work: one entry (Append, BeginOnce) or
// several applied atomically (AppendBatch).
type request struct {
	items []item
	once  bool      // BeginOnce: check the key before appending
	err   error     // result, set before wake
	wake  chan bool // true: lead the next batch; false: err is set
}

// item is a validated entry with its encoded value.
type item struct {
	e     JournalEntry
	value []byte
}

func newRequest(entries []JournalEntry, once bool) (*request, error) {
	r := &request{items: make([]item, len(entries)), once: once, wake: make(chan bool, 1)}
	for i := range entries {
		e := &entries[i]
		if err := e.Validate(); err != nil {
			if len(entries) > 1 {
				return nil, fmt.Errorf("entry %d: %w", i, err)
			}
			return nil, err
		}
		rec := toRecord(e)
		v, err := codec.EncodeRecord(&rec)
		if err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
		r.items[i] = item{e: *e, value: v}
	}
	return r, nil
}

// submit commits r through group commit and returns its result.
func (j *Journal) submit(r *request) error {
	exit, err := j.enterWritable()
	if err != nil {
		return err
	}
	defer exit()
	g := &j.group
	g.mu.Lock()
	g.queue = append(g.queue, r)
	if g.leading {
		g.mu.Unlock()
		if lead := <-r.wake; !lead {
			return r.err
		}
		g.mu.Lock()
	}
	g.leading = true
	n := min(len(g.queue), j.opts.MaxBatch)
	batch := g.queue[:n:n]
	g.queue = g.queue[n:]
	g.mu.Unlock()

	batch = j.commit(batch)

	g.mu.Lock()
	if len(g.queue) > 0 {
		g.queue[0].wake <- true
	} else {
		g.leading = false
		g.queue = nil
	}
	g.mu.Unlock()
	for _, other := range batch {
		if other != r {
			other.wake <- false
		}
	}
	return r.err
}

// commit runs batch in one read-write transaction and sets every request's
// err. A rejected BeginOnce changes nothing and does not affect the others;
// a failure of the transaction itself is every request's error, and a
// failed commit poisons the handle, since its outcome on disk is unknown.
func (j *Journal) commit(batch []*request) []*request {
	err := j.Err()
	if err == nil {
		err = j.update(func(w *writer) error {
			for i := 0; ; {
				for ; i < len(batch); i++ {
					r := batch[i]
					r.err = nil
					if err := w.apply(r); err != nil {
						if errors.Is(err, ErrAlreadyApplied) || errors.Is(err, ErrKeyInFlight) {
							r.err = err
							continue
						}
						return err
					}
				}
				testHook(hookApplied)
				more := j.absorb(len(batch))
				if len(more) == 0 {
					return nil
				}
				batch = append(batch, more...)
			}
		})
	}
	if err != nil {
		for _, r := range batch {
			r.err = err
		}
		return batch
	}
	c := &j.counters
	c.groupSize.observe(float64(len(batch)))
	for _, r := range batch {
		if r.err != nil {
			c.rejected.Add(1)
		} else {
			c.appends.Add(uint64(len(r.items)))
		}
	}
	return batch
}

// absorb takes the callers that queued while this transaction was being
// written, up to MaxBatch in all, so that they share its commit instead of
// waiting for the next one: the transaction has not begun to commit, so
// this delays its fsync only by the time to apply them.
func (j *Journal) absorb(have int) []*request {
	g := &j.group
	g.mu.Lock()
	defer g.mu.Unlock()
	n := min(len(g.queue), j.opts.MaxBatch-have)
	if n <= 0 {
		return nil
	}
	more := g.queue[:n:n]
	g.queue = g.queue[n:]
	return more
}

// write runs fn in its own read-write transaction, outside group commit
// (bbolt serialises it with the group's transactions).
func (j *Journal) write(fn func(*writer) error) error {
	exit, err := j.enterWritable()
	if err != nil {
		return err
	}
	defer exit()
	return j.update(fn)
}

// writable fails as write would, without a transaction: for calls that
// may find nothing to write, so that they refuse a closed, poisoned or
// read-only handle all the same.
func (j *Journal) writable() error {
	exit, err := j.enterWritable()
	if err == nil {
		exit()
	}
	return err
}

// enterWritable is enter for calls that write: it also refuses a read-only
// handle.
func (j *Journal) enterWritable() (func(), error) {
	exit, err := j.enter()
	if err != nil {
		return nil, err
	}
	if j.opts.ReadOnly {
		exit()
		return nil, fmt.Errorf("%w: %s", ErrReadOnly, j.path)
	}
	return exit, nil
}

// update runs fn in a read-write transaction and commits it. Any failure
// other than fn's own ordinary error poisons the handle: damage, a panic
// inside bbolt, or a commit (write or fsync) that failed.
func (j *Journal) update(fn func(*writer) error) error {
	var committing bool
	// bbolt releases its writer lock when a commit returns; the tail's
	// lists must take each commit's records before the next transaction
	// begins, or two commits could update them in the other order.
	j.writeMu.Lock()
	defer j.writeMu.Unlock()
	began := time.Now()
	err := guard(func() error {
		tx, err := j.db.Begin(true)
		if err != nil {
			return err
		}
		defer func() {
			if tx.DB() != nil { // not committed: roll back, even while panicking
				j.rollback(tx)
			}
		}()
		w := &writer{bs: newBuckets(tx, &j.tail), mergeEvery: uint64(j.opts.IndexMergeEvery),
			opMergeEvery: uint64(j.opts.OpMergeEvery), succeeded: &j.watch}
		if b := tx.Bucket(bucketRecords); b != nil { // not yet in an upgrade's first transaction
			w.bs.writing, w.bs.began = true, b.Sequence()
		}
		if err := fn(w); err != nil {
			return err
		}
		if err := w.finish(); err != nil {
			return err
		}
		committing = true
		if err := tx.Commit(); err != nil {
			return err
		}
		if failCommit {
			// Test switch: a commit whose pages reached the file but
			// whose outcome the store must treat as unknown, as after a
			// failed fdatasync of the meta page.
			testHook(hookCommitFailing)
			return errInjectedCommitFailure
		}
		testHook(hookCommitted)
		j.tail.commit(w.staged, w.lastSeq, w.opsMerged, w.mergedAt)
		st := tx.Stats()
		j.counters.pagesWritten.Add(uint64(max(st.GetWrite(), 0)))
		j.group.commits.Add(1)
		j.feed.publish(w.lastSeq)
		j.counters.committed(began, !j.opts.UnsafeNoSync)
		return nil
	})
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrCorrupt):
		return j.fail(err)
	case committing:
		j.counters.failures.Add(1)
		if errors.Is(err, syscall.EFBIG) && !fileSizeLimited() {
			// No limit was set, so the write went past the largest
			// file the file system allows: to a page id no journal
			// reaches, which only a damaged freelist (bbolt does not
			// checksum it) hands out.
			return j.fail(fmt.Errorf("%w: commit to %s wrote past the largest possible file, so bbolt's freelist is damaged; the outcome is unknown: %w", ErrCorrupt, j.path, err))
		}
		return j.fail(fmt.Errorf("store: commit to %s failed, its outcome is unknown: %w", j.path, err))
	}
	return err
}

// failCommit, set by tests only, makes every commit fail after bbolt wrote
// it, so that tests can show a failed commit's records are never read.
var failCommit bool

var errInjectedCommitFailure = errors.New("store: injected commit failure (test)")

// rollback rolls tx back; if that panics too, bbolt's locks may stay held,
// and the handle is marked wedged so that Close does not wait on them.
func (j *Journal) rollback(tx *bolt.Tx) {
	defer func() {
		if p := recover(); p != nil {
			j.wedged.Store(true)
			_ = j.fail(fmt.Errorf("%w: rollback panicked: %v", ErrCorrupt, p))
		}
	}()
	_ = tx.Rollback()
}
