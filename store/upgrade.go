package store

import (
	"bytes"
	"fmt"
	"strconv"
)

// upgradeChunk is the most latest records one upgrade transaction moves from
// schema 2's ops bucket into history, so that upgrading a large journal holds
// a bounded number of dirty pages in memory.
var upgradeChunk = 16384

// upgrade brings a journal of an older schema to the current one, in place.
// The first transaction builds what schema 1 lacks (the vmids and upids
// indexes, from one pass over the history), creates seqs, marks where
// listing the records in seqs is to start, and sets the schema number, so
// that an older build refuses the file from then on. The following ones
// move schema 1 and 2's latest records from the ops bucket into history,
// upgradeChunk at a time, and drop the empty ops bucket; then list every
// record in seqs, upgradeChunk at a time, moving the mark along, and remove
// the mark. A crash at any point leaves a journal that the next read-write
// Open upgrades from where it stopped (a file that still has an ops bucket
// reads as schema 2, one that still has the mark as schema 3).
func (j *Journal) upgrade() error {
	var from int
	err := j.update(func(w *writer) error {
		schema, err := readSchema(w.bs.tx)
		if err != nil || schema == SchemaVersion {
			return err
		}
		from = schema
		if schema == schema1 {
			for _, name := range [][]byte{bucketVMIDs, bucketUPIDs, bucketPending} {
				if _, err := w.bs.tx.CreateBucketIfNotExists(name); err != nil {
					return fmt.Errorf("create bucket %s: %w", name, err)
				}
			}
			if err := backfillIndexes(w.bs); err != nil {
				return err
			}
		}
		if w.bs.tx.Bucket(bucketSeqs) == nil {
			// Not there: the seqs listing has not begun (a crash after
			// this transaction leaves the bucket and the mark).
			if _, err := w.bs.tx.CreateBucket(bucketSeqs); err != nil {
				return fmt.Errorf("create bucket %s: %w", bucketSeqs, err)
			}
			if err := w.bs.meta().Put(metaSeqsFrom, seqsMark(nil)); err != nil {
				return err
			}
		}
		return w.bs.meta().Put(metaSchema, []byte(strconv.Itoa(SchemaVersion)))
	})
	if err == nil && from != 0 {
		testHook(hookUpgradeSchema)
	}
	for _, step := range []struct {
		name hookStep
		fn   func(*buckets, int) (bool, error)
	}{{hookUpgradeMoved, moveLatest}, {hookUpgradeListed, listSeqs}} {
		for done := from == 0; err == nil && !done; {
			err = j.update(func(w *writer) (err error) {
				done, err = step.fn(w.bs, upgradeChunk)
				return err
			})
			if err == nil && !done {
				testHook(step.name)
			}
		}
	}
	if err != nil {
		return fmt.Errorf("store: upgrade %s to schema %d: %w", j.path, SchemaVersion, err)
	}
	if from != 0 {
		j.opts.Logger.Info("store: journal upgraded", "path", j.path, "from_schema", from, "to_schema", SchemaVersion)
	}
	return nil
}

// seqsMark is the value of metaSeqsFrom: 0 to start at the first history
// key, or 1 followed by the last history key listed.
func seqsMark(after []byte) []byte {
	if after == nil {
		return []byte{0}
	}
	return append([]byte{1}, after...)
}

// listSeqs lists in seqs the records of up to limit history keys after the
// mark in metaSeqsFrom, moves the mark, and removes it once the history is
// done. It reports whether it is.
func listSeqs(bs *buckets, limit int) (done bool, err error) {
	mark := bs.meta().Get(metaSeqsFrom)
	if mark == nil {
		return true, nil
	}
	if len(mark) == 0 || mark[0] > 1 || (mark[0] == 0) != (len(mark) == 1) {
		return false, corrupt("meta", metaSeqsFrom, fmt.Errorf("malformed mark %x", mark))
	}
	c := bs.cursor(slotHistory)
	k, _ := c.First()
	if mark[0] == 1 {
		after := bytes.Clone(mark[1:])
		if k, _ = c.Seek(after); bytes.Equal(k, after) {
			k, _ = c.Next()
		}
	}
	var last []byte
	for n := 0; k != nil && n < limit; k, _ = c.Next() {
		n++
		last = k
		kind, op := historyKeyKind(k)
		if kind != keyRecord {
			continue
		}
		seq, err := parseHistoryKey(k)
		if err != nil {
			return false, err
		}
		if err := bs.seqs().Put(seqKey(seq), bytes.Clone(op)); err != nil {
			return false, err
		}
	}
	if k == nil {
		return true, bs.meta().Delete(metaSeqsFrom)
	}
	return false, bs.meta().Put(metaSeqsFrom, seqsMark(bytes.Clone(last)))
}

// moveLatest moves up to limit latest records from schema 2's ops bucket
// into history, under latestKey, and drops the bucket once it is empty. It
// reports whether it did.
func moveLatest(bs *buckets, limit int) (done bool, err error) {
	ops := bs.tx.Bucket(bucketOps)
	if ops == nil {
		return true, nil
	}
	var moved [][]byte
	c := bs.cursorOver(ops, bucketOps)
	for k, v := c.First(); k != nil && len(moved) < limit; k, v = c.Next() {
		// Moved byte for byte, not decoded: a damaged value must not stop
		// the upgrade (the schema is already 3), and Check reports it
		// where it lands, as it did in ops.
		if err := bs.history().Put(latestKey(string(k)), bytes.Clone(v)); err != nil {
			return false, err
		}
		moved = append(moved, bytes.Clone(k))
	}
	// Deleting through the cursor while iterating can skip keys in bbolt:
	// delete after the walk.
	for _, k := range moved {
		if err := ops.Delete(k); err != nil {
			return false, err
		}
	}
	if len(moved) > 0 {
		return false, nil
	}
	return true, bs.tx.DeleteBucket(bucketOps)
}

// backfillIndexes fills vmids and upids from the history's records, which
// are sorted by op and then by sequence: each (vmid, op) and (upid, op) pair
// gets the sequence of the op's first record that carried it.
func backfillIndexes(bs *buckets) error {
	c := bs.cursor(slotHistory)
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if kind, _ := historyKeyKind(k); kind == keyLatest {
			continue
		}
		seq, err := parseHistoryKey(k)
		if err != nil {
			return err
		}
		e, err := summary(k, v)
		if err != nil {
			return err
		}
		if err := indexFirst(bs, e.VMID, true, e.UPID, e.OpID, seq); err != nil {
			return err
		}
	}
	return nil
}

// indexFirst records in vmids and upids that op carried vmid (if withVMID)
// and upid (if not empty) at seq, unless an earlier record of the op did.
func indexFirst(bs *buckets, vmid int, withVMID bool, upid, opID string, seq uint64) error {
	if k := vmidKey(vmid, opID); withVMID && bs.vmids().Get(k) == nil {
		if err := bs.vmids().Put(k, seqValue(seq)); err != nil {
			return err
		}
	}
	if upid == "" {
		return nil
	}
	if k := upidKey(upid, opID); bs.upids().Get(k) == nil {
		return bs.upids().Put(k, seqValue(seq))
	}
	return nil
}
