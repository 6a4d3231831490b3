package store

import (
	"fmt"
	"slices"
	"sync"

	"github.com/felhom/opjournal/codec"
)

// The op lists in opseqs are brought up to date in bulk, not by every
// Append: an Append of an op that is not in the commit's other records
// would otherwise rewrite a leaf of opseqs of its own, wherever its op id
// falls, and those leaves, one per op a commit touches, were most of what
// a commit wrote. opseqs lists an op's records up to its bucket sequence,
// the merge mark; the records after the mark, the tail, are listed only by
// the records themselves (each carries its op id). When the tail reaches
// Options.OpMergeEvery records, the commit that adds the last one merges
// it into opseqs, op by op in key order, so that each leaf is written once
// per merge, and moves the mark to its last record.
//
// A Journal keeps the tail's lists in memory (opTail), built by one scan of
// the tail at Open and extended by every commit after it returns, so that
// lookups by op find an op's latest records without reading the tail. A
// read transaction uses it for the part of the tail it covers and reads the
// rest (records committed after the transaction began but not yet added,
// or a tail a merge has moved since) from the file.

// opTail is the tail's lists of one Journal.
type opTail struct {
	mu   sync.RWMutex
	ops  map[string][]uint64 // op id -> its sequence numbers past base
	base uint64              // the merge mark the lists start after
	last uint64              // the lists hold every record in (base, last]
}

// reset makes the lists those of m, the tail in (base, last].
func (t *opTail) reset(m map[string][]uint64, base, last uint64) {
	t.mu.Lock()
	t.ops, t.base, t.last = m, base, last
	t.mu.Unlock()
}

// commit adds what a committed transaction wrote: staged, the sequence
// numbers it appended by op (after those of the lists, in order), up to
// last; if it merged the tail into opseqs, the lists start again after
// mergedAt (the staged numbers are then part of the merge).
func (t *opTail) commit(staged map[string][]uint64, last uint64, merged bool, mergedAt uint64) {
	if len(staged) == 0 && !merged {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if merged {
		t.ops, t.base, t.last = map[string][]uint64{}, mergedAt, mergedAt
		return
	}
	if t.ops == nil {
		return // never built (a damaged tail at Open): lookups read the file
	}
	for op, seqs := range staged {
		t.ops[op] = append(t.ops[op], seqs...)
	}
	t.last = max(t.last, last)
}

// lookup returns op's sequence numbers in (mark, upto] that the lists hold,
// and through, the sequence number up to which they hold every record
// (the caller reads the records in (through, upto] from the file); ok is
// false when the lists cannot serve a transaction whose merge mark is
// mark (they start after a later one).
func (t *opTail) lookup(op string, mark, upto uint64) (seqs []uint64, through uint64, ok bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if t.ops == nil || t.base > mark {
		return nil, 0, false
	}
	for _, s := range t.ops[op] {
		if s > mark && s <= upto {
			seqs = append(seqs, s)
		}
	}
	return seqs, max(t.last, mark), true
}

// tailMark returns the transaction's merge mark (opseqs' sequence) and its
// last sequence number (records'). bbolt keeps both unchecked in bucket
// headers: a mark past the last sequence number is damage (the records
// after the real mark would be in no list), and panics with ErrCorrupt,
// which guard turns back into the error.
func (bs *buckets) tailMark() (mark, upto uint64) {
	mark, upto = bs.opSeqs().Sequence(), bs.records().Sequence()
	if mark > upto {
		panic(fmt.Errorf("%w: opseqs: the merge mark %d is past the last sequence number %d", ErrCorrupt, mark, upto))
	}
	return mark, upto
}

// lookupMark is tailMark for lookups by op: in a write transaction, the
// last sequence number is the one it began with, as the writer knows the
// records it appended itself (writer.written) and must not look for an op
// among them.
func (bs *buckets) lookupMark() (mark, upto uint64) {
	mark, upto = bs.tailMark()
	if bs.writing {
		upto = min(upto, bs.began)
	}
	return mark, upto
}

// scanTail returns, by op, the sequence numbers of the records in (from,
// upto], which the caller knows to be past the merge mark.
func (bs *buckets) scanTail(from, upto uint64) (map[string][]uint64, error) {
	m := map[string][]uint64{}
	err := bs.walkTail(from, upto, func(seq uint64, op string) { m[op] = append(m[op], seq) })
	return m, err
}

// walkTail calls fn with the sequence number and op id of each record in
// (from, upto].
func (bs *buckets) walkTail(from, upto uint64, fn func(seq uint64, op string)) error {
	if from >= upto {
		return nil
	}
	c := bs.cursor(slotRecords)
	// A write transaction's own records are not in its file size yet:
	// the walk is bounded by the sequence numbers as well.
	c.limit += int(min(upto-from, 1<<30))
	for k, v := c.Seek(seqKey(from + 1)); k != nil; k, v = c.Next() {
		seq, err := parseSeqKey(k)
		if err != nil {
			return err
		}
		if seq > upto {
			break
		}
		s, err := summaryOf(seq, "", v)
		if err != nil {
			// A damaged record could be any op's latest (its op id may be
			// what is damaged): no lookup by op can be answered. The op id
			// it seems to hold, read without its checksum, only names it.
			if op, ok := codec.PeekOpID(v); ok {
				return corruptRecord(seq, fmt.Errorf("past the merge mark, so lookups by op cannot be answered (it seems to be a record of op %q): %w", op, err))
			}
			return corruptRecord(seq, fmt.Errorf("past the merge mark, so lookups by op cannot be answered: %w", err))
		}
		fn(seq, s.OpID)
	}
	return nil
}

// tailOf returns op's sequence numbers past the transaction's merge mark,
// in order.
func (bs *buckets) tailOf(op string) ([]uint64, error) {
	if bs.txTail != nil {
		return bs.txTail[op], nil
	}
	mark, upto := bs.lookupMark()
	if mark >= upto {
		return nil, nil
	}
	var seqs []uint64
	from := mark
	if bs.tail != nil {
		var ok bool
		var through uint64
		if seqs, through, ok = bs.tail.lookup(op, mark, upto); ok {
			from = through
		}
	}
	err := bs.walkTail(from, upto, func(seq uint64, o string) {
		if o == op {
			seqs = append(seqs, seq)
		}
	})
	return seqs, err
}

// withTxTail gives the transaction its own copy of the tail's lists, read
// from the file, for a walk over every op (ForEachOp, Stats, Check); it
// returns the lists.
func (bs *buckets) withTxTail() (map[string][]uint64, error) {
	if bs.txTail != nil {
		return bs.txTail, nil
	}
	mark, upto := bs.tailMark()
	m, err := bs.scanTail(mark, upto)
	if err != nil {
		return nil, err
	}
	bs.txTail = m
	return m, nil
}

// tailOnly returns the ops of the transaction's tail that opseqs does not
// list yet, in key order.
func (bs *buckets) tailOnly() ([]string, error) {
	m, err := bs.withTxTail()
	if err != nil {
		return nil, err
	}
	var ops []string
	for op := range m {
		if bs.opSeqs().Get(lookupKey(op)) == nil {
			ops = append(ops, op)
		}
	}
	slices.Sort(ops)
	return ops, nil
}
