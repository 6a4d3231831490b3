package store

import (
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/felhom/opjournal/codec"
)

// SchemaVersion is the layout described in doc.go. Persisted: never renumber.
const SchemaVersion = 5

// Earlier layouts, which a read-write Open upgrades in place (see
// upgrade.go). All keep every record in history, under its op's prefix.
// schema1 is the first: no vmids, upids and pending buckets. schema2 kept
// each op's latest record in a bucket of its own, ops, keyed by op id;
// schema 3 keeps a copy of it in history, under the op's prefix, beside
// its records. schema4 adds seqs, the records' op ids by sequence number.
// Schema 5 keeps each record once, in records by sequence number, and each
// op's sequence numbers in opseqs.
const (
	schema1 = 1
	schema2 = 2
	schema3 = 3
	schema4 = 4
)

// Bucket names. Persisted.
var (
	bucketMeta     = []byte("meta")
	bucketRecords  = []byte("records")
	bucketOpSeqs   = []byte("opseqs")
	bucketInFlight = []byte("inflight")
	bucketApplied  = []byte("applied")
	bucketKeys     = []byte("keys")
	bucketVMIDs    = []byte("vmids")
	bucketUPIDs    = []byte("upids")
	bucketPending  = []byte("pending")

	// allBuckets names the bucket of each slot (see the slot constants).
	allBuckets = [slotCount][]byte{
		slotMeta:     bucketMeta,
		slotRecords:  bucketRecords,
		slotOpSeqs:   bucketOpSeqs,
		slotInFlight: bucketInFlight,
		slotApplied:  bucketApplied,
		slotKeys:     bucketKeys,
		slotVMIDs:    bucketVMIDs,
		slotUPIDs:    bucketUPIDs,
		slotPending:  bucketPending,
	}

	// Buckets of older schemas, which an upgrade reads and drops: every
	// schema before 5 keeps the records in history, under len16(op id) ‖
	// op id ‖ seq; schema 3 and 4 also keep each op's latest record there,
	// under len16(op id) ‖ op id, and schema 1 and 2 in ops, keyed by op
	// id; schema 4 lists the records in seqs, keyed by seq.
	bucketHistory = []byte("history")
	bucketSeqs    = []byte("seqs")
	bucketOps     = []byte("ops")
)

// fillPercent is how full bbolt packs a page before splitting it. Keys
// mostly arrive in order (sequences, and time-ordered op ids), and at
// bbolt's default of 0.5 each split leaves a half-empty page behind for
// good. records and pending only ever grow at their right end.
const fillPercent = 0.9

// appendOnlyFill is the fill of the buckets whose keys only grow (records,
// pending): a page left behind by a split is never written again.
const appendOnlyFill = 1.0

// randomFill is the fill of applied, whose keys (idempotency keys) arrive
// in no order: a split at 90% leaves the new right page a tenth full, and
// the keys that land there are as likely to go anywhere else, so pages
// stay a third full on average; bbolt's default halves them, and they
// average 70%.
const randomFill = 0.5

// Slots of the buckets in allBuckets and in buckets.open.
const (
	slotMeta = iota
	slotRecords
	slotOpSeqs
	slotInFlight
	slotApplied
	slotKeys
	slotVMIDs
	slotUPIDs
	slotPending
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
	// tail is the Journal's lists of the records past the merge mark (see
	// optail.go); nil reads them from the file. txTail, once set, is this
	// transaction's own copy, read from the file.
	tail   *opTail
	txTail map[string][]uint64
	// writing says this is a write transaction, and began is its last
	// sequence number when it began: see lookupMark.
	writing bool
	began   uint64
}

func newBuckets(tx *bolt.Tx, tail *opTail) *buckets { return &buckets{tx: tx, tail: tail} }

func (bs *buckets) bucket(i int) *bolt.Bucket {
	if b := bs.open[i]; b != nil {
		return b
	}
	b := bs.tx.Bucket(allBuckets[i])
	if b == nil {
		panic(fmt.Errorf("%w: bucket %q missing", ErrCorrupt, allBuckets[i]))
	}
	b.FillPercent = fillPercent
	switch i {
	case slotRecords, slotPending:
		b.FillPercent = appendOnlyFill
	case slotApplied:
		b.FillPercent = randomFill
	}
	bs.open[i] = b
	return b
}

func (bs *buckets) meta() *bolt.Bucket     { return bs.bucket(slotMeta) }
func (bs *buckets) records() *bolt.Bucket  { return bs.bucket(slotRecords) }
func (bs *buckets) opSeqs() *bolt.Bucket   { return bs.bucket(slotOpSeqs) }
func (bs *buckets) inflight() *bolt.Bucket { return bs.bucket(slotInFlight) }
func (bs *buckets) applied() *bolt.Bucket  { return bs.bucket(slotApplied) }
func (bs *buckets) keys() *bolt.Bucket     { return bs.bucket(slotKeys) }
func (bs *buckets) vmids() *bolt.Bucket    { return bs.bucket(slotVMIDs) }
func (bs *buckets) upids() *bolt.Bucket    { return bs.bucket(slotUPIDs) }
func (bs *buckets) pending() *bolt.Bucket  { return bs.bucket(slotPending) }

// seqsOf returns the sequence numbers opseqs lists for the op (those up
// to the merge mark), in append order, or nil.
func (bs *buckets) seqsOf(opID []byte) ([]uint64, error) {
	v := bs.opSeqs().Get(opID)
	if v == nil {
		return nil, nil
	}
	return parseOpSeqs(opID, v)
}

// opList returns the sequence numbers of the op's records, in append
// order: those opseqs lists, then those of the tail. nil for an op the
// journal does not hold.
func (bs *buckets) opList(opID string) ([]uint64, error) {
	seqs, err := bs.seqsOf(lookupKey(opID))
	if err != nil {
		return nil, err
	}
	tail, err := bs.tailOf(opID)
	if err != nil {
		return nil, err
	}
	return append(seqs, tail...), nil
}

// record returns the record with sequence number seq, as stored, which
// must belong to op: it is missing, or holds another op's record, only in
// a damaged file.
func (bs *buckets) record(op []byte, seq uint64) ([]byte, error) {
	v := bs.records().Get(seqKey(seq))
	if v == nil {
		return nil, corrupt("opseqs", op, fmt.Errorf("record %d is missing", seq))
	}
	return v, nil
}

// latestSeq returns the sequence number of the op's latest record; ok is
// false for an op the journal does not hold. listed is the op's opseqs
// value when the caller has it (a walk over opseqs), else nil.
func (bs *buckets) latestSeq(opID string, listed []byte) (seq uint64, ok bool, err error) {
	tail, err := bs.tailOf(opID)
	if err != nil {
		return 0, false, err
	}
	if len(tail) > 0 {
		return tail[len(tail)-1], true, nil
	}
	op := lookupKey(opID)
	if listed == nil {
		listed = bs.opSeqs().Get(op)
	}
	if listed == nil {
		return 0, false, nil
	}
	seq, err = lastOpSeq(op, listed)
	return seq, err == nil, err
}

// latest returns the sequence number and stored value of the op's latest
// record; v is nil for an op the journal does not hold. listed is as for
// latestSeq.
func (bs *buckets) latest(opID string, listed []byte) (seq uint64, v []byte, err error) {
	seq, ok, err := bs.latestSeq(opID, listed)
	if !ok || err != nil {
		return 0, nil, err
	}
	v, err = bs.record(lookupKey(opID), seq)
	return seq, v, err
}

// latestEntry returns the op's latest record, decoded; ok is false for an
// op the journal does not hold. listed is as for latestSeq.
func (bs *buckets) latestEntry(opID string, listed []byte) (e JournalEntry, ok bool, err error) {
	seq, v, err := bs.latest(opID, listed)
	if v == nil || err != nil {
		return JournalEntry{}, false, err
	}
	e, err = decodeEntry(seq, opID, v)
	return e, err == nil, err
}

// latestSummary returns the summary of the op's latest record; ok is false
// for an op the journal does not hold. listed is as for latestSeq.
func (bs *buckets) latestSummary(opID string, listed []byte) (s codec.Summary, ok bool, err error) {
	seq, v, err := bs.latest(opID, listed)
	if v == nil || err != nil {
		return s, false, err
	}
	s, err = summaryOf(seq, opID, v)
	return s, err == nil, err
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
// it holds every bucket that version has. A file whose upgrade to schema 5
// was interrupted still has its history bucket: it reads as the schema it
// is being upgraded from (schema 4 once the upgrade has begun, as the
// upgrade sets the number first), and so does a file whose upgrade to
// schema 4 was interrupted, by an older build (an ops bucket: schema 2;
// a seqs mark: schema 3).
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
		// latest records out of ops.
		schema = schema2
	case schema >= schema4 && meta.Get(metaSeqsFrom) != nil:
		// An upgrade to schema 4 was interrupted while it listed the
		// records in seqs.
		schema = schema3
	case schema == SchemaVersion && tx.Bucket(bucketHistory) != nil:
		// An upgrade to schema 5 was interrupted while it moved the
		// records out of history.
		schema = schema4
	}
	var names [][]byte
	switch schema {
	case schema1:
		names = [][]byte{bucketMeta, bucketOps, bucketHistory, bucketInFlight, bucketApplied, bucketKeys}
	case schema2, schema3, schema4:
		names = [][]byte{bucketMeta, bucketHistory, bucketInFlight, bucketApplied, bucketKeys, bucketVMIDs, bucketUPIDs, bucketPending}
		if schema == schema2 {
			names = append(names, bucketOps)
		}
		if schema == schema4 && tx.Bucket(bucketRecords) == nil {
			names = append(names, bucketSeqs)
		}
	default:
		names = allBuckets[:]
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
