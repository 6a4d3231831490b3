package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/felhom/opjournal/codec"
)

// PruneOptions say what Prune removes.
type PruneOptions struct {
	// Before is the cutoff: an op is removed when its latest state is
	// succeeded or failed and its latest record's At is before Before.
	// In-flight ops are never removed. Required.
	Before time.Time

	// DropAppliedBefore, when not zero, also forgets applied idempotency
	// keys whose first success (AppliedKey.At) is before it and with which
	// no record left in the journal succeeded: in practice, keys whose ops
	// Prune has removed. Unless every such key's first op is still there
	// and succeeded with it, it costs a scan of every record (history) per
	// 262,144 candidate keys. This gives up the at-most-once guarantee for those
	// keys: AlreadyApplied answers false for them from then on, and an
	// agent that retries such a one-shot op runs it again. Leave it zero
	// unless keys that old can never come back. Default zero: applied keys
	// are kept forever, whatever Prune removes.
	DropAppliedBefore time.Time

	// BatchSize is the most ops removed (or keys dropped) per transaction:
	// Prune commits in small transactions so that Appends keep flowing
	// between them. Default 1000.
	BatchSize int
}

// DefaultPruneBatch is PruneOptions.BatchSize's default.
const DefaultPruneBatch = 1000

// PruneReport says what Prune did.
type PruneReport struct {
	Scanned      int `json:"scanned"`      // ops examined
	Ops          int `json:"ops"`          // ops removed
	Records      int `json:"records"`      // lifecycle records removed with them
	AppliedKeys  int `json:"applied_keys"` // applied keys dropped (DropAppliedBefore)
	Transactions int `json:"transactions"` // read-write transactions committed
	FreedBytes   int `json:"freed_bytes"`  // bytes of record values removed (not file size: see Compact)
}

// Prune removes old finished ops: every op whose latest state is terminal
// and whose latest record's At is before o.Before, with its history and its
// index entries. Applied keys are kept (see PruneOptions.DropAppliedBefore).
// It scans the ops in short read transactions and removes them in
// transactions of at most o.BatchSize ops, each re-checking its ops, so
// Appends keep flowing and an op appended to meanwhile is kept. The file
// does not shrink: bbolt reuses the freed pages for new records; Compact
// returns them to the file system.
//
// ctx stops Prune between transactions; what was committed stays removed.
func (j *Journal) Prune(ctx context.Context, o PruneOptions) (PruneReport, error) {
	var rep PruneReport
	if err := j.writable(); err != nil {
		return rep, err
	}
	if o.Before.IsZero() {
		return rep, fmt.Errorf("store: prune: PruneOptions.Before is required")
	}
	if o.BatchSize <= 0 {
		o.BatchSize = DefaultPruneBatch
	}
	var from []byte // first history key not scanned yet; nil: the first
	for {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		ops, next, scanned, err := j.pruneCandidates(from, o)
		rep.Scanned += scanned
		if err != nil {
			return rep, err
		}
		if len(ops) > 0 {
			if err := j.write(func(w *writer) error { return w.prune(ops, o.Before, &rep) }); err != nil {
				return rep, err
			}
			rep.Transactions++
		}
		if next == nil {
			break
		}
		from = next
	}
	if o.DropAppliedBefore.IsZero() {
		return rep, nil
	}
	return rep, j.dropApplied(ctx, o, &rep)
}

// pruneScanLimit bounds the keys one of Prune's read transactions examines: a long read
// transaction holds back the reuse of pages freed meanwhile.
const pruneScanLimit = 16384

// pruneCandidates scans ops' latest records in history from the key from
// and returns up to o.BatchSize prunable op ids, and the key to resume from
// (nil at the end).
func (j *Journal) pruneCandidates(from []byte, o PruneOptions) (ops [][]byte, next []byte, scanned int, err error) {
	next, err = j.scanChunk(slotHistory, from, func(_ *buckets, k, v []byte) (bool, error) {
		kind, op := historyKeyKind(k)
		if kind != keyLatest {
			return true, nil
		}
		scanned++
		e, err := summary("history", k, v)
		if err != nil {
			return false, err
		}
		if prunable(e, o.Before) {
			ops = append(ops, bytes.Clone(op))
		}
		return len(ops) < o.BatchSize, nil
	})
	return ops, next, scanned, err
}

// scanChunk calls fn for the keys of one bucket from the key from (nil:
// the first), in one read transaction of at most pruneScanLimit keys (a
// long read transaction holds back the reuse of pages freed meanwhile),
// until fn answers false. It returns the key to resume from, nil at the end.
func (j *Journal) scanChunk(slot int, from []byte, fn func(bs *buckets, k, v []byte) (more bool, err error)) (next []byte, err error) {
	err = j.view(func(bs *buckets) error {
		c := bs.cursor(slot)
		k, v := c.First()
		if from != nil {
			k, v = c.Seek(from)
		}
		for n := 0; k != nil; n++ {
			if n == pruneScanLimit {
				next = bytes.Clone(k)
				return nil
			}
			more, err := fn(bs, k, v)
			if err != nil {
				return err
			}
			if k, v = c.Next(); !more {
				next = bytes.Clone(k) // nil at the end
				return nil
			}
		}
		return nil
	})
	return next, err
}

func prunable(e codec.Summary, before time.Time) bool {
	return OpState(e.State).Terminal() && e.At.Before(before)
}

// prune removes ops that are still prunable, with their history and index
// entries.
func (w *writer) prune(ops [][]byte, before time.Time, rep *PruneReport) error {
	removed := false
	for _, op := range ops {
		v := w.bs.latest(op)
		if v == nil {
			continue
		}
		e, err := summary("history", latestKey(string(op)), v)
		if err != nil {
			return err
		}
		if !prunable(e, before) {
			continue // appended to since the scan
		}
		if err := w.removeOp(op, rep); err != nil {
			return err
		}
		removed = true
	}
	if !removed {
		return nil
	}
	if err := raisePrunedSeq(w.bs, w.prunedSeq); err != nil {
		return err
	}
	if err := bumpPruneGen(w.bs); err != nil {
		return err
	}
	return raiseMeta(w.bs, metaPruned, before)
}

// removeOp deletes a terminal op: its history, its vmids and upids entries
// and its latest record. A terminal op has no inflight or keys entry.
func (w *writer) removeOp(op []byte, rep *PruneReport) error {
	prefix := historyPrefix(string(op))
	var hist [][]byte
	c := w.bs.cursor(slotHistory)
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		if len(k) == len(prefix) {
			continue // the latest record, deleted below
		}
		if !isRecordKey(k, prefix) {
			return corrupt("history", k, fmt.Errorf("key length %d, want %d", len(k), len(prefix)+8))
		}
		e, err := summary("history", k, v)
		if err != nil {
			return err
		}
		if err := w.bs.vmids().Delete(vmidKey(e.VMID, e.OpID)); err != nil {
			return err
		}
		if e.UPID != "" {
			if err := w.bs.upids().Delete(upidKey(e.UPID, e.OpID)); err != nil {
				return err
			}
		}
		seq := recordSeq(k)
		for _, kind := range []byte{pendingVMID, pendingUPID} {
			if err := w.bs.pending().Delete(pendingKey(seq, kind)); err != nil {
				return err
			}
		}
		if err := w.bs.seqs().Delete(seqKey(seq)); err != nil {
			return err
		}
		w.prunedSeq = max(w.prunedSeq, seq)
		hist = append(hist, bytes.Clone(k))
		rep.FreedBytes += len(v)
	}
	// Deleting through the cursor while iterating can skip keys in bbolt:
	// delete after the walk.
	for _, k := range hist {
		if err := w.bs.history().Delete(k); err != nil {
			return err
		}
	}
	rep.FreedBytes += len(w.bs.latest(op))
	if err := w.bs.history().Delete(prefix); err != nil {
		return err
	}
	delete(w.written, string(op))
	rep.Ops++
	rep.Records += len(hist)
	return nil
}

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

// keepSucceeded removes from cands every key with which a record in
// history succeeded, scanning history in read transactions of at most
// pruneScanLimit records.
func (j *Journal) keepSucceeded(ctx context.Context, cands map[string]struct{}) error {
	var from []byte
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		next, err := j.scanChunk(slotHistory, from, func(_ *buckets, k, v []byte) (bool, error) {
			if kind, _ := historyKeyKind(k); kind == keyLatest {
				return true, nil // a copy of the op's last record
			}
			e, err := summary("history", k, v)
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

// startRetention runs Prune every r.Every until Close.
func (j *Journal) startRetention(r Retention) {
	ctx, cancel := context.WithCancel(context.Background())
	j.stopRetention = cancel
	j.retention.Go(func() {
		t := time.NewTicker(r.Every)
		defer t.Stop()
		for {
			j.retain(ctx, r)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	})
}

// retain is one run of the retention policy; failures are logged.
func (j *Journal) retain(ctx context.Context, r Retention) {
	now := time.Now()
	o := PruneOptions{Before: now.Add(-r.MaxAge), BatchSize: r.BatchSize}
	if r.DropAppliedAfter > 0 {
		o.DropAppliedBefore = now.Add(-r.DropAppliedAfter)
	}
	rep, err := j.Prune(ctx, o)
	switch {
	case err == nil:
		if rep.Ops > 0 || rep.AppliedKeys > 0 {
			j.opts.Logger.Info("store: retention pruned the journal", "path", j.path, "ops", rep.Ops, "records", rep.Records, "applied_keys", rep.AppliedKeys, "before", o.Before)
		}
	case ctx.Err() != nil, errors.Is(err, ErrClosed):
	default:
		j.opts.Logger.Error("store: retention failed", "path", j.path, "err", err)
	}
}
