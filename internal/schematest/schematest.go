// Package schematest rewrites a closed journal into the layout of an older
// schema, for tests of the upgrade that a read-write Open performs.
package schematest

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"

	bolt "go.etcd.io/bbolt"

	"github.com/felhom/opjournal/codec"
)

// Downgrade rewrites the closed journal at path as an older release wrote
// it: schema 4 with every record in history, under len16(op id) ‖ op id ‖
// seq (uint64 BE), and a copy of each op's latest record under len16(op id)
// ‖ op id, the records' op ids in seqs by seq, and no records and opseqs
// buckets; schema 3 also without the seqs bucket; schema 2 also with each op's latest
// record in a bucket of its own, ops, keyed by op id, instead of under
// len16(op id) ‖ op id in history; schema 1 also without the vmids, upids
// and pending buckets.
func Downgrade(path string, schema int) error {
	if schema < 1 || schema > 4 {
		return fmt.Errorf("schematest: cannot write schema %d", schema)
	}
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		return err
	}
	err = db.Update(func(tx *bolt.Tx) error {
		if err := toSchema4(tx); err != nil {
			return err
		}
		if schema == 4 {
			return nil
		}
		if err := tx.DeleteBucket([]byte("seqs")); err != nil {
			return err
		}
		if schema == 3 {
			return tx.Bucket([]byte("meta")).Put([]byte("schema"), []byte("3"))
		}
		ops, err := tx.CreateBucket([]byte("ops"))
		if err != nil {
			return err
		}
		h := tx.Bucket([]byte("history"))
		var latest [][]byte
		c := h.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if len(k) >= 2 && len(k) == 2+int(binary.BigEndian.Uint16(k)) {
				if err := ops.Put(bytes.Clone(k[2:]), bytes.Clone(v)); err != nil {
					return err
				}
				latest = append(latest, bytes.Clone(k))
			}
		}
		if len(latest) == 0 {
			return errors.New("schematest: the journal holds no op")
		}
		for _, k := range latest {
			if err := h.Delete(k); err != nil {
				return err
			}
		}
		if schema == 1 {
			for _, b := range []string{"vmids", "upids", "pending"} {
				if err := tx.DeleteBucket([]byte(b)); err != nil {
					return err
				}
			}
		}
		return tx.Bucket([]byte("meta")).Put([]byte("schema"), []byte(strconv.Itoa(schema)))
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	return err
}

// toSchema4 rewrites a schema 5 journal's records and opseqs buckets as
// schema 4's history and seqs.
func toSchema4(tx *bolt.Tx) error {
	records, opseqs := tx.Bucket([]byte("records")), tx.Bucket([]byte("opseqs"))
	if records == nil || opseqs == nil {
		return errors.New("schematest: not a schema 5 journal")
	}
	h, err := tx.CreateBucket([]byte("history"))
	if err != nil {
		return err
	}
	seqs4, err := tx.CreateBucket([]byte("seqs"))
	if err != nil {
		return err
	}
	if err := h.SetSequence(records.Sequence()); err != nil {
		return err
	}
	// Each op's records: those its list names (up to the merge mark, the
	// bucket's sequence), then those after the mark.
	lists := map[string][]uint64{}
	c := opseqs.Cursor()
	for op, list := c.First(); op != nil; op, list = c.Next() {
		body := list[:len(list)-4]
		var seq uint64
		for len(body) > 0 {
			d, n := binary.Uvarint(body)
			if n <= 0 {
				return fmt.Errorf("schematest: op %q: malformed opseqs value", op)
			}
			body, seq = body[n:], seq+d
			lists[string(op)] = append(lists[string(op)], seq)
		}
	}
	rc := records.Cursor()
	for k, v := rc.Seek(binary.BigEndian.AppendUint64(nil, opseqs.Sequence()+1)); k != nil; k, v = rc.Next() {
		s, err := codec.DecodeSummary(v)
		if err != nil {
			return fmt.Errorf("schematest: record %x: %w", k, err)
		}
		lists[s.OpID] = append(lists[s.OpID], binary.BigEndian.Uint64(k))
	}
	for op, seqs := range lists {
		prefix := binary.BigEndian.AppendUint16(nil, uint16(len(op)))
		prefix = append(prefix, op...)
		var v []byte
		for _, seq := range seqs {
			key := binary.BigEndian.AppendUint64(nil, seq)
			if v = records.Get(key); v == nil {
				return fmt.Errorf("schematest: op %q: record %d missing", op, seq)
			}
			if err := h.Put(binary.BigEndian.AppendUint64(bytes.Clone(prefix), seq), bytes.Clone(v)); err != nil {
				return err
			}
			if err := seqs4.Put(key, []byte(op)); err != nil {
				return err
			}
		}
		if err := h.Put(prefix, bytes.Clone(v)); err != nil {
			return err
		}
	}
	for _, b := range []string{"records", "opseqs"} {
		if err := tx.DeleteBucket([]byte(b)); err != nil {
			return err
		}
	}
	return tx.Bucket([]byte("meta")).Put([]byte("schema"), []byte("4"))
}
