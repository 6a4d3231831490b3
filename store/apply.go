package store

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/felhom/opjournal/codec"
)

// writer applies entries inside one read-write transaction.
type writer struct {
	bs *buckets
	// written holds what the indexes know of the latest record put in
	// this transaction for each op, so that an op appended several times
	// in one transaction (a group, a batch) is read from the file at most
	// once.
	written map[string]indexed
	// pendingN is the pending bucket's count after this transaction's
	// last addition; mergeEvery is Options.IndexMergeEvery.
	pendingN, mergeEvery uint64
	// succeeded notes the keys of succeeded records while a Prune is
	// dropping applied keys (see keyWatch).
	succeeded *keyWatch
	// lastSeq is the sequence number of the last record put, 0 if none:
	// once the transaction commits, the change feed may deliver it.
	lastSeq uint64
	// prunedSeq is the highest sequence number of a record this
	// transaction's Prune deleted.
	prunedSeq uint64
	// staged holds the sequence numbers this transaction appended, by op,
	// for the Journal's tail lists once it commits; opMergeEvery is
	// Options.OpMergeEvery; opsMerged says the transaction merged the
	// tail into opseqs, up to mergedAt.
	staged       map[string][]uint64
	opMergeEvery uint64
	opsMerged    bool
	mergedAt     uint64
}

// indexed is what the indexes depend on in an op's latest record.
type indexed struct {
	state OpState
	key   string
	vmid  int
	upid  string
}

// apply checks and writes one request's entries. ErrAlreadyApplied and
// ErrKeyInFlight are rejections that wrote nothing; any other error must
// abort the transaction.
func (w *writer) apply(r *request) error {
	for i := range r.items {
		it := &r.items[i]
		prev, err := w.latest(it.e.OpID)
		if err != nil {
			return err
		}
		if r.once {
			if err := w.checkOnce(&it.e); err != nil {
				return err
			}
		}
		if err := w.put(prev, it); err != nil {
			return err
		}
	}
	return nil
}

// latest returns the op's latest record, or nil if the op is new.
func (w *writer) latest(opID string) (*indexed, error) {
	if x, ok := w.written[opID]; ok {
		return &x, nil
	}
	seq, v, err := w.bs.latest(opID, nil)
	if v == nil || err != nil {
		return nil, err
	}
	sum, err := summaryOf(seq, opID, v)
	if err != nil {
		return nil, err
	}
	return &indexed{state: OpState(sum.State), key: sum.IdempKey, vmid: sum.VMID, upid: sum.UPID}, nil
}

// checkOnce is BeginOnce's test: the key must not be applied, nor held by an
// in-flight op other than e's own.
func (w *writer) checkOnce(e *JournalEntry) error {
	if e.IdempKey == "" {
		return nil
	}
	if w.bs.applied().Get([]byte(e.IdempKey)) != nil {
		return fmt.Errorf("%w: %q", ErrAlreadyApplied, e.IdempKey)
	}
	prefix := holderPrefix(e.IdempKey)
	c := w.bs.cursor(slotKeys)
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		if holder := string(holderOf(k, prefix)); holder != e.OpID {
			return &KeyInFlightError{Key: e.IdempKey, Holder: holder}
		}
	}
	return nil
}

// pendIndex notes in pending that op carried vmid (if withVMID) and upid (if
// not empty) at seq. Writing vmids and upids directly would dirty a random
// leaf per op (ops touch many guests at once); pending is keyed by seq, so
// a commit's entries share a leaf, and mergePending moves them into place in
// bulk. It does not look in vmids or upids first: that lookup costs a cache
// miss in a large tree per new op, and a pair
// already listed, which only an op that comes back to an earlier vmid or
// upid adds again, is dropped by the merge, which keeps the earlier seq.
func (w *writer) pendIndex(vmid int, withVMID bool, upid, opID string, seq uint64) error {
	if withVMID {
		if err := w.addPending(seq, pendingVMID, vmidKey(vmid, opID)); err != nil {
			return err
		}
	}
	if upid != "" {
		return w.addPending(seq, pendingUPID, upidKey(upid, opID))
	}
	return nil
}

func (w *writer) addPending(seq uint64, kind byte, indexKey []byte) error {
	p := w.bs.pending()
	if err := p.Put(pendingKey(seq, kind), indexKey); err != nil {
		return err
	}
	// The bucket's sequence counts the entries added since the last
	// merge: a trigger, not an exact count (Prune does not lower it).
	n, err := p.NextSequence()
	w.pendingN = n
	return err
}

// finish runs at the end of every read-write transaction's work: it
// merges the tail into opseqs once it holds Options.OpMergeEvery records,
// and the pending index entries once there are Options.IndexMergeEvery.
func (w *writer) finish() error {
	if w.lastSeq > 0 {
		if mark, upto := w.bs.tailMark(); upto-mark >= w.opMergeEvery {
			if err := w.mergeOps(); err != nil {
				return err
			}
		}
	}
	if w.pendingN < w.mergeEvery {
		return nil
	}
	_, err := mergePending(w.bs, mergeChunk)
	return err
}

// mergeOps merges the tail into opseqs: it reads the records past the
// merge mark, adds each op's to its list, op by op in key order, and moves
// the mark to the last record.
func (w *writer) mergeOps() error {
	mark, upto := w.bs.tailMark()
	if mark >= upto {
		return nil
	}
	tail, err := w.bs.scanTail(mark, upto)
	if err != nil {
		return err
	}
	for _, op := range slices.Sorted(maps.Keys(tail)) {
		key := []byte(op)
		seqs, err := w.bs.seqsOf(key)
		if err != nil {
			return err
		}
		if err := w.bs.opSeqs().Put(key, encodeOpSeqs(append(seqs, tail[op]...))); err != nil {
			return err
		}
	}
	if err := w.bs.opSeqs().SetSequence(upto); err != nil {
		return err
	}
	w.opsMerged, w.mergedAt = true, upto
	return nil
}

// mergeChunk is the most pending entries one merge transaction moves, so
// that a merge holds a bounded number of entries in memory.
var mergeChunk = 65536

// mergePending moves up to limit pending entries, the oldest, into vmids
// or upids (keeping an entry already there: it has the earlier seq), and
// reports whether pending is now empty. The entries go in in key order, so
// that each leaf is visited once.
func mergePending(bs *buckets, limit int) (done bool, err error) {
	type entry struct {
		kind byte
		key  []byte
		seq  uint64
	}
	var entries []entry
	var last []byte
	c := bs.cursor(slotPending)
	k, v := c.First()
	for ; k != nil && len(entries) < limit; k, v = c.Next() {
		seq, kind, err := parsePendingKey(k)
		if err != nil {
			return false, err
		}
		entries = append(entries, entry{kind, bytes.Clone(v), seq})
		last = k
	}
	done = k == nil
	if len(entries) == 0 {
		return true, nil
	}
	// By index, key, then seq: the first of equal keys is the earliest.
	slices.SortFunc(entries, func(a, b entry) int {
		return cmp.Or(cmp.Compare(a.kind, b.kind), bytes.Compare(a.key, b.key), cmp.Compare(a.seq, b.seq))
	})
	for i, e := range entries {
		if i > 0 && e.kind == entries[i-1].kind && bytes.Equal(e.key, entries[i-1].key) {
			continue
		}
		ix, _ := bs.index(e.kind)
		if ix.Get(e.key) == nil {
			if err := ix.Put(e.key, seqValue(e.seq)); err != nil {
				return false, err
			}
		}
	}
	if done {
		// Dropping the bucket frees its pages at once and resets its
		// count.
		if err := bs.tx.DeleteBucket(bucketPending); err != nil {
			return false, err
		}
		if _, err := bs.tx.CreateBucket(bucketPending); err != nil {
			return false, err
		}
		bs.open[slotPending] = nil
		return true, nil
	}
	// Delete the merged entries, all sorting up to last.
	last = bytes.Clone(last)
	var merged [][]byte
	for k, _ := c.First(); k != nil && bytes.Compare(k, last) <= 0; k, _ = c.Next() {
		merged = append(merged, bytes.Clone(k))
	}
	for _, k := range merged {
		if err := bs.pending().Delete(k); err != nil {
			return false, err
		}
	}
	return false, bs.pending().SetSequence(bs.pending().Sequence() - min(bs.pending().Sequence(), uint64(len(merged))))
}

// MergeIndexes merges every pending vmids and upids entry into its index now,
// in transactions of at most 65536 entries, and the records past the merge
// mark into their ops' lists (see Options.OpMergeEvery). Appends do this by themselves
// (Options.IndexMergeEvery); a bulk load that set that option high calls it
// at the end, so that lookups do not walk a long pending list.
func (j *Journal) MergeIndexes(ctx context.Context) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		var done bool
		err := j.write(func(w *writer) (err error) {
			if err := w.mergeOps(); err != nil {
				return err
			}
			done, err = mergePending(w.bs, mergeChunk)
			return err
		})
		if err != nil || done {
			return err
		}
	}
}

// put writes the record and brings every index in line with it.
func (w *writer) put(prev *indexed, it *item) error {
	e := &it.e
	seq, err := w.putRecord(e, it.value)
	if err != nil {
		return err
	}
	if err := w.pendNew(prev, e, seq); err != nil {
		return err
	}
	wasIn := prev != nil && !prev.state.Terminal()
	isIn := !e.State.Terminal()
	if err := w.putInFlight(e.OpID, wasIn, isIn); err != nil {
		return err
	}
	if err := w.putHolders(prev, e, wasIn, isIn); err != nil {
		return err
	}
	return w.putApplied(e)
}

// putRecord writes the record, encoded as value, under the next sequence
// number in records, and returns that number. The op's list in opseqs
// gets it at the next merge (see optail.go).
func (w *writer) putRecord(e *JournalEntry, value []byte) (uint64, error) {
	seq, err := w.bs.records().NextSequence()
	if err != nil {
		return 0, err
	}
	if w.lastSeq == 0 {
		// bbolt keeps the sequence unchecked in the bucket's header: a
		// damaged one must not make an append overwrite a record. The
		// transaction's first append checks that no record lies at or
		// past it; the later ones follow it.
		if k, _ := w.bs.records().Cursor().Seek(seqKey(seq)); k != nil {
			return 0, corruptRecord(seq, fmt.Errorf("already stored: the records bucket's sequence is damaged"))
		}
	}
	if err := w.bs.records().Put(seqKey(seq), value); err != nil {
		return 0, err
	}
	w.lastSeq = seq
	if w.written == nil {
		w.written = make(map[string]indexed)
		w.staged = make(map[string][]uint64)
	}
	w.written[e.OpID] = indexed{state: e.State, key: e.IdempKey, vmid: e.VMID, upid: e.UPID}
	w.staged[e.OpID] = append(w.staged[e.OpID], seq)
	return seq, nil
}

// pendNew notes in pending the vmid and upid the record at seq carries
// that the op's previous record, prev, did not. vmids and upids list each
// (vmid, op) and (upid, op) pair once, with the op's first record carrying
// it: look only when the record differs from the op's previous one.
func (w *writer) pendNew(prev *indexed, e *JournalEntry, seq uint64) error {
	newVMID := prev == nil || prev.vmid != e.VMID
	upid := e.UPID
	if prev != nil && prev.upid == upid {
		upid = ""
	}
	return w.pendIndex(e.VMID, newVMID, upid, e.OpID, seq)
}

// putInFlight lists the op in inflight when it enters a non-terminal state
// and drops it when it leaves one.
func (w *writer) putInFlight(opID string, wasIn, isIn bool) error {
	switch {
	case isIn && !wasIn:
		return w.bs.inflight().Put([]byte(opID), nil)
	case wasIn && !isIn:
		return w.bs.inflight().Delete([]byte(opID))
	}
	return nil
}

// putHolders keeps keys holding (key, op) exactly for in-flight ops whose
// latest record carries a key.
func (w *writer) putHolders(prev *indexed, e *JournalEntry, wasIn, isIn bool) error {
	if wasIn && prev.key != "" && (!isIn || prev.key != e.IdempKey) {
		if err := w.bs.keys().Delete(holderKey(prev.key, e.OpID)); err != nil {
			return err
		}
	}
	if isIn && e.IdempKey != "" && (!wasIn || prev.key != e.IdempKey) {
		return w.bs.keys().Put(holderKey(e.IdempKey, e.OpID), nil)
	}
	return nil
}

// putApplied records a succeeded record's key in applied, unless an
// earlier op applied it first.
func (w *writer) putApplied(e *JournalEntry) error {
	if e.State != OpSucceeded || e.IdempKey == "" {
		return nil
	}
	w.succeeded.note(e.IdempKey)
	if w.bs.applied().Get([]byte(e.IdempKey)) != nil {
		return nil
	}
	v, err := codec.EncodeApplied(codec.Applied{OpID: e.OpID, At: e.At})
	if err != nil {
		return err
	}
	return w.bs.applied().Put([]byte(e.IdempKey), v)
}
