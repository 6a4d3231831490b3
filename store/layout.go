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

// buckets opens the journal's buckets of one transaction as they are first
// used: a lookup needs one or two of the six, and each open is a search.
// A bucket missing from a damaged file panics with ErrCorrupt, which guard
// turns back into the error.
type buckets struct {
	tx   *bolt.Tx
	open [6]*bolt.Bucket
}

func newBuckets(tx *bolt.Tx) *buckets { return &buckets{tx: tx} }

func (bs *buckets) bucket(i int) *bolt.Bucket {
	if b := bs.open[i]; b != nil {
		return b
	}
	b := bs.tx.Bucket(allBuckets[i])
	if b == nil {
		panic(fmt.Errorf("%w: bucket %q missing", ErrCorrupt, allBuckets[i]))
	}
	bs.open[i] = b
	return b
}

func (bs *buckets) meta() *bolt.Bucket     { return bs.bucket(0) }
func (bs *buckets) ops() *bolt.Bucket      { return bs.bucket(1) }
func (bs *buckets) history() *bolt.Bucket  { return bs.bucket(2) }
func (bs *buckets) inflight() *bolt.Bucket { return bs.bucket(3) }
func (bs *buckets) applied() *bolt.Bucket  { return bs.bucket(4) }
func (bs *buckets) keys() *bolt.Bucket     { return bs.bucket(5) }

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
	for _, name := range allBuckets {
		if tx.Bucket(name) == nil {
			return fmt.Errorf("%w: bucket %q missing", ErrNotJournal, name)
		}
	}
	schema := tx.Bucket(bucketMeta).Get(metaSchema)
	if schema == nil {
		return fmt.Errorf("%w: meta schema missing", ErrNotJournal)
	}
	if !bytes.Equal(schema, []byte(strconv.Itoa(SchemaVersion))) {
		return fmt.Errorf("%w %q (this build reads %d)", ErrSchema, schema, SchemaVersion)
	}
	return nil
}
