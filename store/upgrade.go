package store

import (
	"fmt"
	"strconv"
)

// upgrade brings a schema 1 journal (no vmids, upids and pending buckets) to the
// current schema in one transaction: it creates the two indexes from the
// history, then sets the schema. A crash before the commit leaves schema 1,
// upgraded again at the next Open. It reads the whole history once.
func (j *Journal) upgrade() error {
	var from int
	err := j.update(func(w *writer) error {
		schema, err := readSchema(w.bs.tx)
		if err != nil || schema == SchemaVersion {
			return err
		}
		from = schema
		for _, name := range allBuckets[6:] {
			if _, err := w.bs.tx.CreateBucketIfNotExists(name); err != nil {
				return fmt.Errorf("create bucket %s: %w", name, err)
			}
		}
		if err := backfillIndexes(w.bs); err != nil {
			return err
		}
		return w.bs.meta().Put(metaSchema, []byte(strconv.Itoa(SchemaVersion)))
	})
	if err != nil {
		return fmt.Errorf("store: upgrade %s to schema %d: %w", j.path, SchemaVersion, err)
	}
	if from != 0 {
		j.opts.Logger.Info("store: journal upgraded", "path", j.path, "from_schema", from, "to_schema", SchemaVersion)
	}
	return nil
}

// backfillIndexes fills vmids and upids from the history, which is sorted by
// op and then by sequence: each (vmid, op) and (upid, op) pair gets the
// sequence of the op's first record that carried it.
func backfillIndexes(bs *buckets) error {
	c := bs.history().Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		seq, err := parseHistoryKey(k)
		if err != nil {
			return err
		}
		e, err := summary("history", k, v)
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
