package store

import (
	"bytes"
	"context"
	"fmt"
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
	// The scan walks opseqs: merge the tail into it first, so that it
	// lists every op.
	if err := j.write(func(w *writer) error { return w.mergeOps() }); err != nil {
		return rep, err
	}
	var from []byte // first opseqs key not scanned yet; nil: the first
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

// pruneCandidates scans ops' latest records from the opseqs key from and
// returns up to o.BatchSize prunable op ids, and the key to resume from
// (nil at the end).
func (j *Journal) pruneCandidates(from []byte, o PruneOptions) (ops [][]byte, next []byte, scanned int, err error) {
	next, err = j.scanChunk(slotOpSeqs, from, func(bs *buckets, k, v []byte) (bool, error) {
		scanned++
		e, _, err := bs.latestSummary(string(k), v)
		if err != nil {
			return false, err
		}
		if prunable(e, o.Before) {
			ops = append(ops, bytes.Clone(k))
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
	// Records appended since the scan are in the tail: merge it, so that
	// removing an op removes them from its list too.
	if err := w.mergeOps(); err != nil {
		return err
	}
	removed := false
	for _, op := range ops {
		e, ok, err := w.bs.latestSummary(string(op), nil)
		if err != nil {
			return err
		}
		if !ok || !prunable(e, before) {
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

// removeOp deletes a terminal op: its records, its opseqs, vmids and upids
// entries and any of its pending entries. A terminal op has no inflight or
// keys entry.
func (w *writer) removeOp(op []byte, rep *PruneReport) error {
	seqs, err := w.bs.seqsOf(op)
	if err != nil {
		return err
	}
	for _, seq := range seqs {
		v, err := w.bs.record(op, seq)
		if err != nil {
			return err
		}
		e, err := summaryOf(seq, string(op), v)
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
		for _, kind := range []byte{pendingVMID, pendingUPID} {
			if err := w.bs.pending().Delete(pendingKey(seq, kind)); err != nil {
				return err
			}
		}
		rep.FreedBytes += len(v)
		if err := w.bs.records().Delete(seqKey(seq)); err != nil {
			return err
		}
		w.prunedSeq = max(w.prunedSeq, seq)
	}
	if err := w.bs.opSeqs().Delete(op); err != nil {
		return err
	}
	delete(w.written, string(op))
	rep.Ops++
	rep.Records += len(seqs)
	return nil
}
