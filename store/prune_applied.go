package store

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/felhom/opjournal/codec"
)

// dropApplied forgets applied keys whose first success is before
// o.DropAppliedBefore and with which no record left in the journal
// succeeded. It works through the applied keys in windows of at most
// dropWindow candidates (keys whose first op is gone, or no longer
// succeeded with them): each window costs one scan of history, which
// removes from it the keys that some remaining record succeeded with, and
// then transactions of at most o.BatchSize deletions. Keys that succeed in
// records appended meanwhile are caught by j.watch and kept. A key that a
// later op succeeded with, after its first op was pruned, stays a
// candidate, so every such Prune scans the history again (3 s at 10^6
// ops here).
func (j *Journal) dropApplied(ctx context.Context, o PruneOptions, rep *PruneReport) error {
	// Start watching inside a read-write transaction: every transaction
	// that did not see the watch has committed before the scans below
	// begin, so they see its records.
	err := j.write(func(*writer) error {
		j.watch.start()
		return errWatching
	})
	if !errors.Is(err, errWatching) {
		return err
	}
	defer j.watch.stop()
	var from []byte
	for {
		cands, next, err := j.dropCandidates(ctx, from, o)
		if err != nil {
			return err
		}
		if len(cands) > 0 {
			if err := j.keepSucceeded(ctx, cands); err != nil {
				return err
			}
			if err := j.dropKeys(ctx, cands, o, rep); err != nil {
				return err
			}
		}
		if next == nil {
			return nil
		}
		from = next
	}
}

// errWatching rolls back the transaction that starts a keyWatch.
var errWatching = errors.New("store: watching succeeded keys")

// dropWindow bounds the candidate keys dropApplied holds in memory at once.
var dropWindow = 1 << 18

// dropCandidates scans applied keys from the key from (nil: the first), in
// read transactions of at most pruneScanLimit keys, and returns up to
// dropWindow keys first applied before o.DropAppliedBefore, and the key to
// resume from (nil at the end).
func (j *Journal) dropCandidates(ctx context.Context, from []byte, o PruneOptions) (cands map[string]struct{}, next []byte, err error) {
	cands = map[string]struct{}{}
	for {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		next, err = j.scanChunk(slotApplied, from, func(bs *buckets, k, v []byte) (bool, error) {
			a, err := codec.DecodeApplied(v)
			if err != nil {
				return false, corrupt("applied", k, err)
			}
			// A key whose first op is still there and succeeded
			// with it stays, without the scan.
			if a.At.Before(o.DropAppliedBefore) && !succeededIn(bs, a.OpID, string(k)) {
				cands[string(k)] = struct{}{}
			}
			return len(cands) < dropWindow, nil
		})
		if err != nil || next == nil || len(cands) == dropWindow {
			return cands, next, err
		}
		from = next
	}
}

// keepSucceeded removes from cands every key with which a record
// succeeded, scanning the records in read transactions of at most
// pruneScanLimit records.
func (j *Journal) keepSucceeded(ctx context.Context, cands map[string]struct{}) error {
	var from []byte
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		next, err := j.scanChunk(slotRecords, from, func(_ *buckets, k, v []byte) (bool, error) {
			seq, err := parseSeqKey(k)
			if err != nil {
				return false, err
			}
			e, err := summaryOf(seq, "", v)
			if err != nil {
				return false, err
			}
			if OpState(e.State) == OpSucceeded && e.IdempKey != "" {
				delete(cands, e.IdempKey)
			}
			return true, nil
		})
		if err != nil || next == nil {
			return err
		}
		from = next
	}
}

// dropKeys deletes the candidate keys, o.BatchSize per transaction,
// re-checking each: a key whose value changed, or that succeeded in a record
// appended since the scans began, is kept.
func (j *Journal) dropKeys(ctx context.Context, cands map[string]struct{}, o PruneOptions, rep *PruneReport) error {
	keys := make([]string, 0, len(cands))
	for k := range cands {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for len(keys) > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		batch := keys[:min(len(keys), o.BatchSize)]
		keys = keys[len(batch):]
		err := j.write(func(w *writer) error {
			dropped := 0
			for _, k := range batch {
				v := w.bs.applied().Get([]byte(k))
				if v == nil || j.watch.saw(k) {
					continue
				}
				a, err := codec.DecodeApplied(v)
				if err != nil {
					return corrupt("applied", []byte(k), err)
				}
				if !a.At.Before(o.DropAppliedBefore) {
					continue
				}
				if err := w.bs.applied().Delete([]byte(k)); err != nil {
					return err
				}
				dropped++
			}
			rep.AppliedKeys += dropped
			if dropped == 0 {
				return nil
			}
			return raiseMeta(w.bs, metaAppliedDropped, o.DropAppliedBefore)
		})
		if err != nil {
			return err
		}
		rep.Transactions++
	}
	return nil
}

// keyWatch collects the idempotency keys of succeeded records appended
// while at least one Prune is dropping applied keys, so that it keeps them.
// Only transactions touch it after start, and they are serialised.
// watching lets appends skip the mutex while no Prune watches: start runs
// inside a read-write transaction, so every later transaction sees it.
type keyWatch struct {
	watching atomic.Int32
	mu       sync.Mutex
	active   int
	keys     map[string]struct{}
}

func (w *keyWatch) start() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.active++; w.keys == nil {
		w.keys = map[string]struct{}{}
	}
	w.watching.Store(1)
}

func (w *keyWatch) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.active--; w.active == 0 {
		w.keys = nil
		w.watching.Store(0)
	}
}

// note records that a record succeeded with key.
func (w *keyWatch) note(key string) {
	if w == nil || w.watching.Load() == 0 {
		return
	}
	w.mu.Lock()
	if w.active > 0 {
		w.keys[key] = struct{}{}
	}
	w.mu.Unlock()
}

func (w *keyWatch) saw(key string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	_, ok := w.keys[key]
	return ok
}
