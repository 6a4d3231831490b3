package store

import (
	"bytes"

	"github.com/felhom/opjournal/codec"
)

// Snapshot is a consistent read-only view of the journal: one bbolt read
// transaction. It is valid only inside the function given to View, and is
// not safe for concurrent use.
type Snapshot struct {
	bs *buckets
}

// View calls fn with a snapshot of the journal. Appends go on meanwhile
// and are not seen. A long View holds back the reuse of the pages freed
// since it began, so the file may grow while it runs. fn must not call the
// Journal.
func (j *Journal) View(fn func(*Snapshot) error) error {
	return j.view(func(bs *buckets) error { return fn(&Snapshot{bs: bs}) })
}

// Latest returns the op's latest record.
func (s *Snapshot) Latest(opID string) (JournalEntry, bool, error) {
	if opID == "" {
		return JournalEntry{}, false, nil
	}
	v := s.bs.ops().Get([]byte(opID))
	if v == nil {
		return JournalEntry{}, false, nil
	}
	e, err := decodeEntry("ops", []byte(opID), v)
	return e, err == nil, err
}

// Record returns the record with sequence number seq if it belongs to opID.
func (s *Snapshot) Record(opID string, seq uint64) (JournalEntry, bool, error) {
	k := historyKey(opID, seq)
	v := s.bs.history().Get(k)
	if v == nil {
		return JournalEntry{}, false, nil
	}
	e, err := decodeEntry("history", k, v)
	return e, err == nil, err
}

// RecordIs reports whether the record with sequence number seq is e (at the
// precision the store keeps: At to the nanosecond, in UTC; empty Params as
// nil). It compares encoded bytes, which is cheaper than decoding.
func (s *Snapshot) RecordIs(seq uint64, e *JournalEntry) (bool, error) {
	v := s.bs.history().Get(historyKey(e.OpID, seq))
	if v == nil {
		return false, nil
	}
	rec := toRecord(e)
	want, err := codec.EncodeRecord(&rec)
	if err != nil {
		return false, err
	}
	return bytes.Equal(v, want), nil
}
