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
)

// Downgrade rewrites the closed journal at path as an older release wrote
// it: schema 3 without the seqs bucket; schema 2 also with each op's latest
// record in a bucket of its own, ops, keyed by op id, instead of under
// len16(op id) ‖ op id in history; schema 1 also without the vmids, upids
// and pending buckets.
func Downgrade(path string, schema int) error {
	if schema < 1 || schema > 3 {
		return fmt.Errorf("schematest: cannot write schema %d", schema)
	}
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		return err
	}
	err = db.Update(func(tx *bolt.Tx) error {
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
