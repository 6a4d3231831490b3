package store

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/felhom/opjournal/codec"
)

// Meta keys. Persisted.
var (
	metaSchema       = []byte("schema")
	metaCodec        = []byte("codec")
	metaCreated      = []byte("created")
	metaMigratedFrom = []byte("migrated_from")
	// metaAppliedDropped is the latest cutoff Prune dropped applied keys
	// before (RFC 3339): from then on a succeeded record's key may be
	// missing from applied.
	metaAppliedDropped = []byte("applied_dropped_before")
	// metaPruned is the latest cutoff Prune removed ops before (RFC 3339):
	// from then on an applied key's op may be gone.
	metaPruned = []byte("pruned_before")
	// metaPrunedSeq is the highest sequence number of a record Prune has
	// deleted (decimal ASCII): a change feed that resumes below it may
	// have missed records.
	metaPrunedSeq = []byte("pruned_seq")
	// metaPruneGen counts the Prune transactions that removed records
	// (decimal ASCII).
	metaPruneGen = []byte("prune_gen")
	// metaSeqsFrom marks an upgrade to schema 4 that an older build left
	// unfinished; the upgrade to schema 5 removes it.
	metaSeqsFrom = []byte("upgrade_seqs_after")
	// metaRecordsFrom marks an unfinished upgrade to schema 5: records and
	// opseqs hold the records of the history keys up to and including
	// this one.
	metaRecordsFrom = []byte("upgrade_records_after")
)

// initMeta writes the meta values of a new journal.
func initMeta(meta *bolt.Bucket, now time.Time) error {
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

// metaSchemaOf returns the schema version meta records, refusing one this
// build does not know.
func metaSchemaOf(meta *bolt.Bucket) (int, error) {
	raw := meta.Get(metaSchema)
	if raw == nil {
		return 0, fmt.Errorf("%w: meta schema missing", ErrNotJournal)
	}
	schema, err := strconv.Atoi(string(raw))
	if err != nil || schema < schema1 {
		return 0, fmt.Errorf("%w: meta schema %q", ErrNotJournal, raw)
	}
	if schema > SchemaVersion {
		return 0, &SchemaError{Found: schema, Supported: SchemaVersion}
	}
	return schema, nil
}

// raisePrunedSeq records that Prune deleted records up to seq, unless it
// already deleted a later one.
func raisePrunedSeq(bs *buckets, seq uint64) error {
	old, err := prunedSeq(bs)
	if err != nil || old >= seq {
		return err
	}
	return bs.meta().Put(metaPrunedSeq, []byte(strconv.FormatUint(seq, 10)))
}

// bumpPruneGen counts a Prune transaction that removed records, so that a
// walk over several read transactions (ForEachChange) can tell that the
// records changed under it.
func bumpPruneGen(bs *buckets) error {
	n, err := pruneGen(bs)
	if err != nil {
		return err
	}
	return bs.meta().Put(metaPruneGen, []byte(strconv.FormatUint(n+1, 10)))
}

// pruneGen returns how many Prune transactions removed records, 0 if none.
func pruneGen(bs *buckets) (uint64, error) {
	return metaUint(bs, metaPruneGen)
}

// metaUint reads a decimal meta value, 0 if absent.
func metaUint(bs *buckets, key []byte) (uint64, error) {
	v := bs.meta().Get(key)
	if v == nil {
		return 0, nil
	}
	n, err := strconv.ParseUint(string(v), 10, 64)
	if err != nil {
		return 0, corrupt("meta", key, err)
	}
	return n, nil
}

// prunedSeq returns the highest sequence number Prune has deleted, 0 if
// none.
func prunedSeq(bs *buckets) (uint64, error) {
	return metaUint(bs, metaPrunedSeq)
}

// raiseMeta sets a cutoff time in meta, unless it already holds a later one.
func raiseMeta(bs *buckets, key []byte, t time.Time) error {
	if old := bs.meta().Get(key); old != nil {
		if prev, err := time.Parse(time.RFC3339Nano, string(old)); err == nil && !prev.Before(t) {
			return nil
		}
	}
	return bs.meta().Put(key, []byte(t.UTC().Format(time.RFC3339Nano)))
}

// Meta returns the journal's meta values: schema, codec, created and, for a
// migrated journal, migrated_from.
func (j *Journal) Meta() (map[string]string, error) {
	out := map[string]string{}
	err := j.view(func(bs *buckets) error {
		c := bs.cursor(slotMeta)
		for k, v := c.First(); k != nil; k, v = c.Next() {
			out[string(k)] = string(v)
		}
		return nil
	})
	return out, err
}

// Migration records where a migrated journal came from.
type Migration struct {
	Source string    `json:"source"` // absolute path of the legacy log
	Size   int64     `json:"size"`   // its size in bytes when migrated
	At     time.Time `json:"at"`     // when the migration finished loading
}

// MarkMigrated records m in the meta bucket (key migrated_from, as JSON).
func (j *Journal) MarkMigrated(m Migration) error {
	value, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	return j.write(func(w *writer) error { return w.bs.meta().Put(metaMigratedFrom, value) })
}

// Migration returns what MarkMigrated recorded, if anything.
func (j *Journal) Migration() (m Migration, ok bool, err error) {
	err = j.view(func(bs *buckets) error {
		v := bs.meta().Get(metaMigratedFrom)
		if v == nil {
			return nil
		}
		if err := json.Unmarshal(v, &m); err != nil {
			return corrupt("meta", metaMigratedFrom, err)
		}
		ok = true
		return nil
	})
	return m, ok, err
}
