package store

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Change is one committed record and its sequence number. Sequence numbers
// are global to the journal, start at 1 and follow commit order.
type Change struct {
	Seq    uint64       `json:"seq"`
	Record JournalEntry `json:"record"`
}

// feedBatch is the most records a follower reads in one read transaction
// before handing them to its function: a follower holds at most this many
// records in memory, and no read transaction while its function runs.
const feedBatch = 256

// feed tells followers about commits. publish costs every commit one
// atomic store and one uncontended mutex; a commit never waits for a
// follower.
type feed struct {
	// durable is the sequence number of the last record committed by
	// this handle or found at Open: followers deliver nothing past it,
	// so never a record of a transaction whose commit failed (its pages
	// may be in the file, but the handle is poisoned before durable
	// moves).
	durable atomic.Uint64

	mu   sync.Mutex
	wake chan struct{} // closed at the next commit, Close or poison; nil while nobody waits
}

// publish makes records up to seq visible to followers and wakes them.
func (f *feed) publish(seq uint64) {
	if seq != 0 {
		f.durable.Store(seq)
	}
	f.mu.Lock()
	if f.wake != nil {
		close(f.wake)
		f.wake = nil
	}
	f.mu.Unlock()
}

// waiter returns a channel closed at the next publish.
func (f *feed) waiter() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.wake == nil {
		f.wake = make(chan struct{})
	}
	return f.wake
}

// LastSeq returns the sequence number of the last committed record (0 for
// an empty journal): Follow(ctx, LastSeq(), fn) delivers only what is
// appended from now on.
func (j *Journal) LastSeq() uint64 { return j.feed.durable.Load() }

// Follow calls fn with every committed record whose sequence number is
// above from, in commit order, each exactly once: first those already in
// the journal, then each new one as its commit returns. A consumer that
// saves the Seq of the last change it handled resumes after its own
// restart, or the journal's, by following from it.
//
// Follow reads the records back from the file, at most 256 at a time in
// short read transactions, and holds nothing else: memory stays bounded
// however slow fn is, and appends never wait for it (each commit only
// wakes followers). Woken by a commit, a follower waits a millisecond for
// the commits that follow before it reads, so that following a busy
// journal costs one read per millisecond rather than one per commit: a
// record reaches fn about a millisecond after its commit. fn runs in
// Follow's goroutine and must not call the Journal's writing methods; it
// may read.
//
// Follow returns only with an error: ctx's error when ctx is done, fn's
// own error, ErrClosed once the journal is closed, the poisoning error
// (ErrPoisoned) if the handle fails, ErrCorrupt for damage, a
// *PrunedError (matching ErrPruned) when records after from, or after the
// last change delivered, were removed by Prune before they could be
// delivered, and ErrSeqAhead when from is past the journal's last record
// (a consumer of another journal, or of this one before a restore).
func (j *Journal) Follow(ctx context.Context, from uint64, fn func(Change) error) error {
	var p any
	defer func() { rethrow(p) }()
	return j.followBatches(ctx, from, func(batch []Change) error {
		for _, c := range batch {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := callUser(func() error { return fn(c) }, &p); err != nil {
				return err.(notDamage).err
			}
		}
		return nil
	})
}

// followBatches is Follow with the records of each read transaction handed
// over together, so that a stream can write them out in one go.
func (j *Journal) followBatches(ctx context.Context, from uint64, fn func([]Change) error) error {
	if last := j.LastSeq(); from > last {
		return fmt.Errorf("%w: %d > %d in %s", ErrSeqAhead, from, last, j.path)
	}
	for {
		wake := j.feed.waiter()
		batch, err := j.changes(from, feedBatch, true)
		if err != nil {
			return err
		}
		if len(batch) > 0 {
			if err := fn(batch); err != nil {
				return err
			}
			from = batch[len(batch)-1].Seq
		}
		if len(batch) == feedBatch || j.feed.durable.Load() > from {
			continue // more to read, or committed while the batch was read
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-wake:
		}
		// Let the commits that follow closely join this read: a
		// follower of a busy journal then wakes about once per
		// feedCoalesce rather than once per commit.
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(feedCoalesce):
		}
	}
}

// feedCoalesce is how long a follower, woken by a commit, waits for more
// before it reads: it bounds what following costs a busy journal (one read
// transaction per feedCoalesce) and adds as much to the feed's latency.
const feedCoalesce = time.Millisecond

// Changes returns up to max committed records with a sequence number above
// from, in commit order: a page of what the journal holds. Unlike Follow it
// does not fail when Prune removed records after from: it returns those
// that remain, which is how a consumer that Follow refused (a *PrunedError)
// reads what is left. It fails with ErrSeqAhead for a from past the
// journal's last record.
func (j *Journal) Changes(from uint64, max int) ([]Change, error) {
	if last := j.LastSeq(); from > last {
		return nil, fmt.Errorf("%w: %d > %d in %s", ErrSeqAhead, from, last, j.path)
	}
	return j.changes(from, max, false)
}

// ForEachChange calls fn with every record the journal holds, in commit
// order, as of the moment it is called: a consistent view of the records
// (they never change once committed), read in short read transactions of
// at most 256 records, so that it holds none for long however slow fn is.
// Records committed meanwhile are not visited. If Prune removes records
// while it walks, it stops with a *PrunedError: run it again. ctx is
// checked between records; an error from fn stops the walk and is
// returned. fn must not call the Journal's writing methods.
func (j *Journal) ForEachChange(ctx context.Context, fn func(Change) error) error {
	var p any
	defer func() { rethrow(p) }()
	upto := j.LastSeq()
	var gen uint64 // prune_gen when the walk began
	if err := j.view(func(bs *buckets) (err error) { gen, err = pruneGen(bs); return err }); err != nil {
		return err
	}
	for from := uint64(0); from < upto; {
		batch, err := j.changesUpTo(from, feedBatch, upto, pruneRule{gen: gen, sameGen: true})
		if err != nil {
			return err
		}
		if len(batch) == 0 {
			return nil
		}
		for _, c := range batch {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := callUser(func() error { return fn(c) }, &p); err != nil {
				return err.(notDamage).err
			}
			from = c.Seq
		}
	}
	return nil
}

// changes reads up to max committed records after from in one read
// transaction. With strict, it fails with a *PrunedError if Prune removed
// any record after from.
func (j *Journal) changes(from uint64, max int, strict bool) ([]Change, error) {
	return j.changesUpTo(from, max, j.feed.durable.Load(), pruneRule{after: strict})
}

// pruneRule says when records that Prune removed make a read fail.
type pruneRule struct {
	after   bool   // if any record after from was ever removed (Follow)
	sameGen bool   // if any prune ran since prune_gen was gen (ForEachChange)
	gen     uint64 //
}

// changesUpTo reads up to max records after from and up to upto in one read
// transaction, failing with a *PrunedError as rule says.
func (j *Journal) changesUpTo(from uint64, max int, upto uint64, rule pruneRule) ([]Change, error) {
	if err := j.Err(); err != nil {
		return nil, err
	}
	durable := upto
	var out []Change
	err := j.view(func(bs *buckets) error {
		pruned, err := prunedSeq(bs)
		if err != nil {
			return err
		}
		gen, err := pruneGen(bs)
		if err != nil {
			return err
		}
		if rule.after && pruned > from || rule.sameGen && gen != rule.gen {
			return &PrunedError{Path: j.path, From: from, Through: pruned}
		}
		c := bs.cursor(slotRecords)
		for k, v := c.Seek(seqKey(from + 1)); k != nil && len(out) < max; k, v = c.Next() {
			seq, err := parseSeqKey(k)
			if err != nil {
				return err
			}
			if seq > durable {
				break
			}
			e, err := decodeEntry(seq, "", v)
			if err != nil {
				return err
			}
			out = append(out, Change{Seq: seq, Record: e})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Tail returns the last n committed records (fewer if the journal holds
// fewer), in commit order.
func (j *Journal) Tail(n int) ([]Change, error) {
	if n <= 0 {
		return nil, nil
	}
	durable := j.feed.durable.Load()
	var from uint64
	err := j.view(func(bs *buckets) error {
		c := bs.cursor(slotRecords)
		k, _ := c.Seek(seqKey(durable + 1))
		if k == nil {
			k, _ = c.Last()
		} else {
			k, _ = c.Prev()
		}
		for i := 1; k != nil && i < n; i++ {
			k, _ = c.Prev()
		}
		if k == nil {
			return nil // fewer than n: from 0
		}
		seq, err := parseSeqKey(k)
		from = seq - 1
		return err
	})
	if err != nil {
		return nil, err
	}
	return j.changes(from, n, false)
}
