package store

import (
	"bytes"
	"cmp"
	"fmt"
	"slices"
)

// ByVMID returns every op that touched the guest vmid (any of its records
// carried it), the latest record of each, in the order the ops first
// touched it. It costs O(result) through the vmids index, not a scan, plus a
// walk of the entries not yet merged into it (fewer than
// Options.IndexMergeEvery, default 16384).
func (j *Journal) ByVMID(vmid int) ([]JournalEntry, error) {
	var out []JournalEntry
	err := j.view(func(bs *buckets) error {
		hits, err := indexHits(bs, pendingVMID, vmidKey(vmid, ""))
		if err != nil {
			return err
		}
		out, err = latestOf(bs, "vmids", hits)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ByUPID returns the latest record of the op that carried the Proxmox task
// id upid, and whether there is one: after a crash it maps a task found
// running on the host back to the op awaiting it. Should several ops have
// carried the same upid, it is the one whose first record carrying it came
// last. It costs
// O(ops carrying upid) through the upids index, plus a walk of the entries
// not yet merged into it.
func (j *Journal) ByUPID(upid string) (e JournalEntry, ok bool, err error) {
	if upid == "" {
		return JournalEntry{}, false, nil
	}
	err = j.view(func(bs *buckets) error {
		hits, err := indexHits(bs, pendingUPID, upidPrefix(upid))
		if err != nil || len(hits) == 0 {
			return err
		}
		found, err := latestOf(bs, "upids", hits[len(hits)-1:])
		if err != nil {
			return err
		}
		e, ok = found[0], true
		return nil
	})
	if err != nil {
		return JournalEntry{}, false, err
	}
	return e, ok, nil
}

// indexHit is one entry of the vmids or upids index.
type indexHit struct {
	seq uint64
	op  []byte
	key []byte
}

// indexHits returns the entries under prefix of the index of kind, merged
// with its pending entries, one per op (the earliest), sorted by seq.
func indexHits(bs *buckets, kind byte, prefix []byte) ([]indexHit, error) {
	ix, _ := bs.index(kind)
	where := string(bucketVMIDs)
	if kind == pendingUPID {
		where = string(bucketUPIDs)
	}
	var hits []indexHit
	c := bs.cursorOver(ix, []byte(where))
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		seq, ok := parseSeqValue(v)
		if !ok {
			return nil, corrupt(where, k, fmt.Errorf("value of %d bytes, want 8", len(v)))
		}
		hits = append(hits, indexHit{seq: seq, op: indexKeyOp(k, prefix), key: k})
	}
	c = bs.cursor(slotPending)
	for k, v := c.First(); k != nil; k, v = c.Next() {
		seq, kk, err := parsePendingKey(k)
		if err != nil {
			return nil, err
		}
		if kk == kind && len(v) > len(prefix) && bytes.HasPrefix(v, prefix) {
			hits = append(hits, indexHit{seq: seq, op: indexKeyOp(v, prefix), key: k})
		}
	}
	// One hit per op, its earliest: an op may be listed in the index and
	// again in pending after it carried another vmid in between.
	slices.SortFunc(hits, func(a, b indexHit) int {
		return cmp.Or(bytes.Compare(a.op, b.op), cmp.Compare(a.seq, b.seq))
	})
	hits = slices.CompactFunc(hits, func(a, b indexHit) bool { return bytes.Equal(a.op, b.op) })
	slices.SortFunc(hits, func(a, b indexHit) int {
		return cmp.Or(cmp.Compare(a.seq, b.seq), bytes.Compare(a.op, b.op))
	})
	return hits, nil
}

// latestOf returns the latest record of each hit's op.
func latestOf(bs *buckets, where string, hits []indexHit) ([]JournalEntry, error) {
	out := make([]JournalEntry, 0, len(hits))
	for _, h := range hits {
		e, ok, err := bs.latestEntry(string(h.op), nil)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, corrupt(where, h.key, fmt.Errorf("op %q has no record", h.op))
		}
		out = append(out, e)
	}
	return out, nil
}
