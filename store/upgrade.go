package store

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strconv"

	"github.com/felhom/opjournal/codec"
)

// upgradeChunk is the most history keys one upgrade transaction moves into
// records and opseqs, so that upgrading a large journal holds a bounded
// number of dirty pages in memory.
var upgradeChunk = 16384

// upgrade brings a journal of an older schema to the current one, in place.
// Every older schema keeps the records in history, keyed by op and then
// sequence number. The first transaction builds what schema 1 lacks (the
// vmids and upids indexes, from one pass over the history), creates
// records and opseqs with a mark in meta of where moving the history is
// to start, and sets the schema number, so that an older build refuses the
// file from then on. The following transactions move the records of
// upgradeChunk history keys at a time into records, adding each to its op's
// list in opseqs (history lists an op's records together, in order), and
// move the mark along. The last one drops history and what older schemas
// kept beside it (the latest records in ops or in history, seqs, an older
// upgrade's mark) and removes the mark. A crash at any point leaves a
// journal that still has history: it reads as the schema it is upgraded
// from, and the next read-write Open carries on from the mark.
func (j *Journal) upgrade() error {
	var from int
	err := j.update(func(w *writer) error {
		schema, err := readSchema(w.bs.tx)
		if err != nil || schema == SchemaVersion {
			return err
		}
		from = schema
		tx := w.bs.tx
		if schema == schema1 {
			for _, name := range [][]byte{bucketVMIDs, bucketUPIDs, bucketPending} {
				if _, err := tx.CreateBucketIfNotExists(name); err != nil {
					return fmt.Errorf("create bucket %s: %w", name, err)
				}
			}
			if err := backfillIndexes(w.bs); err != nil {
				return err
			}
		}
		if tx.Bucket(bucketRecords) == nil {
			// Not there: moving the history has not begun (a crash
			// after this transaction leaves both buckets and the mark).
			for _, name := range [][]byte{bucketRecords, bucketOpSeqs} {
				if _, err := tx.CreateBucket(name); err != nil {
					return fmt.Errorf("create bucket %s: %w", name, err)
				}
			}
			// The moves write every op's list: nothing is left past
			// the merge mark.
			seq := tx.Bucket(bucketHistory).Sequence()
			if err := w.bs.records().SetSequence(seq); err != nil {
				return err
			}
			if err := w.bs.opSeqs().SetSequence(seq); err != nil {
				return err
			}
			if err := w.bs.meta().Put(metaRecordsFrom, historyMark(nil)); err != nil {
				return err
			}
		}
		return w.bs.meta().Put(metaSchema, []byte(strconv.Itoa(SchemaVersion)))
	})
	if err == nil && from != 0 {
		testHook(hookUpgradeSchema)
	}
	for done := from == 0; err == nil && !done; {
		err = j.update(func(w *writer) (err error) {
			done, err = moveHistory(w.bs, upgradeChunk)
			return err
		})
		if err == nil && !done {
			testHook(hookUpgradeMoved)
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

// historyMark is the value of metaRecordsFrom: 0 to start at the first
// history key, or 1 followed by the last history key moved.
func historyMark(after []byte) []byte {
	if after == nil {
		return []byte{0}
	}
	return append([]byte{1}, after...)
}

// moveHistory moves the records of up to limit history keys after the mark
// in metaRecordsFrom into records and opseqs and moves the mark; once the
// history is done, it drops it with what older schemas kept beside it, and
// removes the mark. It reports whether it is done. Records are moved byte
// for byte, not decoded: a damaged value must not stop the upgrade, and
// Check reports it where it lands, as it did in history.
func moveHistory(bs *buckets, limit int) (done bool, err error) {
	mark := bs.meta().Get(metaRecordsFrom)
	if mark == nil {
		return true, nil
	}
	if len(mark) == 0 || mark[0] > 1 || (mark[0] == 0) != (len(mark) == 1) {
		return false, corrupt("meta", metaRecordsFrom, fmt.Errorf("malformed mark %x", mark))
	}
	history := bs.tx.Bucket(bucketHistory)
	if history == nil {
		return false, fmt.Errorf("%w: bucket %q missing", ErrCorrupt, bucketHistory)
	}
	c := bs.cursorOver(history, bucketHistory)
	k, v := c.First()
	if mark[0] == 1 {
		after := bytes.Clone(mark[1:])
		if k, v = c.Seek(after); bytes.Equal(k, after) {
			k, v = c.Next()
		}
	}
	// An op's records are contiguous in history and in order: gather its
	// sequence numbers, and add them to its list (begun by the previous
	// transaction, when its records straddle two) when the op changes.
	var op []byte
	var seqs []uint64
	flush := func() error {
		if op == nil {
			return nil
		}
		prev, err := bs.seqsOf(op)
		if err != nil {
			return err
		}
		if len(prev) > 0 && prev[len(prev)-1] >= seqs[0] {
			return corrupt("history", historyKeyOf(op, seqs[0]), fmt.Errorf("out of order"))
		}
		return bs.opSeqs().Put(op, encodeOpSeqs(append(prev, seqs...)))
	}
	var last []byte
	for n := 0; k != nil && n < limit; k, v = c.Next() {
		n++
		last = k
		kind, kop := historyKeyKind(k)
		switch kind {
		case keyLatest:
			continue // a copy of the op's last record
		case keyMalformed:
			return false, corrupt("history", k, fmt.Errorf("malformed key"))
		}
		seq := recordSeq(k)
		if seq == 0 || seq > bs.records().Sequence() || bs.records().Get(seqKey(seq)) != nil {
			// A damaged key: moved, it would overwrite a record or lie
			// past the sequence the next append takes.
			return false, corrupt("history", k, fmt.Errorf("record %d is past the history's sequence or listed twice", seq))
		}
		if !bytes.Equal(kop, op) {
			if err := flush(); err != nil {
				return false, err
			}
			op, seqs = bytes.Clone(kop), nil
		}
		seqs = append(seqs, seq)
		if err := bs.records().Put(seqKey(seq), bytes.Clone(v)); err != nil {
			return false, err
		}
	}
	if err := flush(); err != nil {
		return false, err
	}
	if k != nil {
		return false, bs.meta().Put(metaRecordsFrom, historyMark(bytes.Clone(last)))
	}
	for _, name := range [][]byte{bucketHistory, bucketSeqs, bucketOps} {
		if bs.tx.Bucket(name) == nil {
			continue
		}
		if err := bs.tx.DeleteBucket(name); err != nil {
			return false, err
		}
	}
	for _, key := range [][]byte{metaSeqsFrom, metaRecordsFrom} {
		if err := bs.meta().Delete(key); err != nil {
			return false, err
		}
	}
	return true, nil
}

// historyKeyOf is an older schema's history key of op's record seq.
func historyKeyOf(op []byte, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(prefixed(string(op), 8), seq)
}

// backfillIndexes fills vmids and upids from the history's records, which
// are sorted by op and then by sequence: each (vmid, op) and (upid, op) pair
// gets the sequence of the op's first record that carried it.
func backfillIndexes(bs *buckets) error {
	history := bs.tx.Bucket(bucketHistory)
	if history == nil {
		return fmt.Errorf("%w: bucket %q missing", ErrCorrupt, bucketHistory)
	}
	c := bs.cursorOver(history, bucketHistory)
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if kind, _ := historyKeyKind(k); kind == keyLatest {
			continue
		}
		seq, err := parseHistoryKey(k)
		if err != nil {
			return err
		}
		e, err := codec.DecodeSummary(v)
		if err != nil {
			return corrupt("history", k, err)
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
