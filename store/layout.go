package store

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/felhom/opjournal/codec"
)

// SchemaVersion is the layout described in doc.go. Persisted: never renumber.
const SchemaVersion = 1

// Bucket names. Persisted.
var (
	bucketMeta     = []byte("meta")
	bucketOps      = []byte("ops")
	bucketHistory  = []byte("history")
	bucketInFlight = []byte("inflight")
	bucketApplied  = []byte("applied")
	bucketKeys     = []byte("keys")

	allBuckets = [][]byte{bucketMeta, bucketOps, bucketHistory, bucketInFlight, bucketApplied, bucketKeys}
)

// Meta keys. Persisted.
var (
	metaSchema       = []byte("schema")
	metaCodec        = []byte("codec")
	metaCreated      = []byte("created")
	metaMigratedFrom = []byte("migrated_from")
)

// prefixed returns uint16 big-endian len(s) followed by s: a prefix-free
// encoding, so that no op id's keys fall inside another op id's range even
// when ids contain 0x00 (the legacy format allows any string).
func prefixed(s string, extra int) []byte {
	k := make([]byte, 2, 2+len(s)+extra)
	binary.BigEndian.PutUint16(k, uint16(len(s)))
	return append(k, s...)
}

// historyKey is prefixed(opID) followed by the big-endian global sequence
// number of the record, so one op's records sort in append order.
func historyKey(opID string, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(prefixed(opID, 8), seq)
}

// holderKey is prefixed(key) followed by the op id holding the key.
func holderKey(key, opID string) []byte {
	return append(prefixed(key, len(opID)), opID...)
}

// buckets holds the journal's buckets within one transaction.
type buckets struct {
	meta, ops, history, inflight, applied, keys *bolt.Bucket
}

// open looks the buckets up in tx; a missing one means the file is not a
// journal or is damaged.
func openBuckets(tx *bolt.Tx) (*buckets, error) {
	var bs [6]*bolt.Bucket
	for i, name := range allBuckets {
		if bs[i] = tx.Bucket(name); bs[i] == nil {
			return nil, fmt.Errorf("%w: bucket %q missing", ErrNotJournal, name)
		}
	}
	return &buckets{meta: bs[0], ops: bs[1], history: bs[2], inflight: bs[3], applied: bs[4], keys: bs[5]}, nil
}

// initLayout creates the buckets and meta values of a new journal.
func initLayout(tx *bolt.Tx, now time.Time) error {
	for _, name := range allBuckets {
		if _, err := tx.CreateBucket(name); err != nil {
			return fmt.Errorf("create bucket %s: %w", name, err)
		}
	}
	meta := tx.Bucket(bucketMeta)
	for k, v := range map[string]string{
		string(metaSchema):  strconv.Itoa(SchemaVersion),
		string(metaCodec):   strconv.Itoa(int(codec.Version1)),
		string(metaCreated): now.UTC().Format(time.RFC3339Nano),
	} {
		if err := meta.Put([]byte(k), []byte(v)); err != nil {
			return err
		}
	}
	return nil
}

// checkLayout verifies that tx holds a journal of a schema this build reads.
func checkLayout(tx *bolt.Tx) error {
	bs, err := openBuckets(tx)
	if err != nil {
		return err
	}
	schema := bs.meta.Get(metaSchema)
	if schema == nil {
		return fmt.Errorf("%w: meta schema missing", ErrNotJournal)
	}
	if !bytes.Equal(schema, []byte(strconv.Itoa(SchemaVersion))) {
		return fmt.Errorf("%w %q (this build reads %d)", ErrSchema, schema, SchemaVersion)
	}
	return nil
}
