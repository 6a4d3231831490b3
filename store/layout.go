package store

import (
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// SchemaVersion is the layout described in doc.go. Persisted: never renumber.
const SchemaVersion = 4

// Earlier layouts, which a read-write Open upgrades in place (see
// upgrade.go). schema1 is the first: no vmids, upids and pending buckets.
// schema2 kept each op's latest record in a bucket of its own, ops, keyed
// by op id; schema 3 keeps it in history, under the op's prefix, beside
// its records. schema3 lacks seqs, the records in commit order.
const (
	schema1 = 1
	schema2 = 2
	schema3 = 3
)

// Bucket names. Persisted.
var (
	bucketMeta     = []byte("meta")
	bucketHistory  = []byte("history")
	bucketInFlight = []byte("inflight")
	bucketApplied  = []byte("applied")
	bucketKeys     = []byte("keys")
	bucketVMIDs    = []byte("vmids")
	bucketUPIDs    = []byte("upids")
	bucketPending  = []byte("pending")
	bucketSeqs     = []byte("seqs")

	// allBuckets names the bucket of each slot (see the slot constants).
	allBuckets = [slotCount][]byte{
		slotMeta:     bucketMeta,
		slotHistory:  bucketHistory,
		slotInFlight: bucketInFlight,
		slotApplied:  bucketApplied,
		slotKeys:     bucketKeys,
		slotVMIDs:    bucketVMIDs,
		slotUPIDs:    bucketUPIDs,
		slotPending:  bucketPending,
		slotSeqs:     bucketSeqs,
	}

	// bucketOps is schema 1 and 2's bucket of latest records.
	bucketOps = []byte("ops")
)

// fillPercent is how full bbolt packs a page before splitting it. Keys
// mostly arrive in order (sequences, and time-ordered op ids), and at
// bbolt's default of 0.5 each split leaves a half-empty page behind for
// good.
const fillPercent = 0.9

// Slots of the buckets in allBuckets and in buckets.open.
const (
	slotMeta = iota
	slotHistory
	slotInFlight
	slotApplied
	slotKeys
	slotVMIDs
	slotUPIDs
	slotPending
	slotSeqs
	slotCount
)

// buckets opens the journal's buckets of one transaction as they are first
// used: a lookup needs one or two of the eight, and each open is a search.
// A bucket missing from a damaged file panics with ErrCorrupt, which guard
// turns back into the error.
type buckets struct {
	tx    *bolt.Tx
	open  [slotCount]*bolt.Bucket
	limit int // walkLimit(tx), once a walk needs it
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
	b.FillPercent = fillPercent
	bs.open[i] = b
	return b
}

func (bs *buckets) meta() *bolt.Bucket     { return bs.bucket(slotMeta) }
func (bs *buckets) history() *bolt.Bucket  { return bs.bucket(slotHistory) }
func (bs *buckets) inflight() *bolt.Bucket { return bs.bucket(slotInFlight) }
func (bs *buckets) applied() *bolt.Bucket  { return bs.bucket(slotApplied) }
func (bs *buckets) keys() *bolt.Bucket     { return bs.bucket(slotKeys) }
func (bs *buckets) vmids() *bolt.Bucket    { return bs.bucket(slotVMIDs) }
func (bs *buckets) upids() *bolt.Bucket    { return bs.bucket(slotUPIDs) }
func (bs *buckets) pending() *bolt.Bucket  { return bs.bucket(slotPending) }
func (bs *buckets) seqs() *bolt.Bucket     { return bs.bucket(slotSeqs) }

// latest returns the op's latest record as stored, or nil.
func (bs *buckets) latest(opID []byte) []byte {
	return bs.history().Get(latestKey(string(opID)))
}

// latestEntry returns the op's latest record, decoded; ok is false for an
// op the journal does not hold.
func (bs *buckets) latestEntry(opID string) (e JournalEntry, ok bool, err error) {
	k := latestKey(opID)
	v := bs.history().Get(k)
	if v == nil {
		return JournalEntry{}, false, nil
	}
	e, err = decodeEntry(k, v)
	return e, err == nil, err
}

// index returns vmids or upids for a pending entry's kind.
func (bs *buckets) index(kind byte) (*bolt.Bucket, bool) {
	switch kind {
	case pendingVMID:
		return bs.vmids(), true
	case pendingUPID:
		return bs.upids(), true
	}
	return nil, false
}

// initLayout creates the buckets and meta values of a new journal.
func initLayout(tx *bolt.Tx, now time.Time) error {
	for _, name := range allBuckets {
		if _, err := tx.CreateBucket(name); err != nil {
			return fmt.Errorf("create bucket %s: %w", name, err)
		}
	}
	return initMeta(tx.Bucket(bucketMeta), now)
}

// readSchema returns the schema version of the journal in tx, checking that
// it holds every bucket that version has.
func readSchema(tx *bolt.Tx) (int, error) {
	meta := tx.Bucket(bucketMeta)
	if meta == nil {
		return 0, fmt.Errorf("%w: bucket %q missing", ErrNotJournal, bucketMeta)
	}
	schema, err := metaSchemaOf(meta)
	if err != nil {
		return 0, err
	}
	switch {
	case schema >= schema3 && tx.Bucket(bucketOps) != nil:
		// An upgrade from schema 2 was interrupted while it moved the
		// latest records out of ops: schema 2 until it finishes.
		schema = schema2
	case schema == SchemaVersion && upgradingSeqs(meta):
		// An upgrade was interrupted while it listed the records in
		// seqs: schema 3 until it finishes.
		schema = schema3
	}
	names := allBuckets[:]
	switch schema {
	case schema1:
		names = [][]byte{bucketMeta, bucketOps, bucketHistory, bucketInFlight, bucketApplied, bucketKeys}
	case schema2, schema3:
		names = allBuckets[:slotSeqs]
		if schema == schema2 {
			names = append([][]byte{bucketOps}, names...)
		}
	}
	for _, name := range names {
		if tx.Bucket(name) == nil {
			return 0, fmt.Errorf("%w: bucket %q missing", ErrNotJournal, name)
		}
	}
	return schema, nil
}

// checkLayout verifies that tx holds a journal of the current schema.
func checkLayout(tx *bolt.Tx) error {
	schema, err := readSchema(tx)
	if err == nil && schema != SchemaVersion {
		err = &SchemaError{Found: schema, Supported: SchemaVersion}
	}
	return err
}
