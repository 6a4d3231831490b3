package store

import (
	"bytes"
	"errors"

	"github.com/felhom/opjournal/codec"
)

// Snapshot is a consistent read-only view of the journal: one bbolt read
// transaction. It is valid only inside the function given to View, and is
// not safe for concurrent use.
type Snapshot struct {
	bs     *buckets
	damage error // first damage a method found: it poisons the handle
}

// guard runs a method's bbolt reads: a panic or fault there is damage, not
// the caller's, so it becomes ErrCorrupt here rather than a panic in the
// caller's function.
func (s *Snapshot) guard(f func() error) error {
	err := guard(f)
	if errors.Is(err, ErrCorrupt) && s.damage == nil {
		s.damage = err
	}
	return err
}

// View calls fn with a snapshot of the journal. Appends go on meanwhile
// and are not seen. A long View holds back the reuse of the pages freed
// since it began, so the file may grow while it runs. fn must not call the
// Journal.
func (j *Journal) View(fn func(*Snapshot) error) error {
	var p any
	defer func() { rethrow(p) }()
	return j.view(func(bs *buckets) error {
		s := &Snapshot{bs: bs}
		err := callUser(func() error { return fn(s) }, &p)
		if s.damage != nil {
			return s.damage
		}
		return err
	})
}

// Latest returns the op's latest record.
func (s *Snapshot) Latest(opID string) (e JournalEntry, ok bool, err error) {
	if opID == "" {
		return JournalEntry{}, false, nil
	}
	err = s.guard(func() (err error) {
		e, ok, err = s.bs.latestEntry(opID, nil)
		return err
	})
	return e, ok, err
}

// Record returns the record with sequence number seq if it belongs to opID.
func (s *Snapshot) Record(opID string, seq uint64) (e JournalEntry, ok bool, err error) {
	err = s.guard(func() error {
		v := s.bs.records().Get(seqKey(seq))
		if v == nil {
			return nil
		}
		sum, err := summaryOf(seq, "", v)
		if err != nil || sum.OpID != opID {
			return err
		}
		e, err = decodeEntry(seq, opID, v)
		ok = err == nil
		return err
	})
	return e, ok, err
}

// RecordIs reports whether the record with sequence number seq is e (at the
// precision the store keeps: At to the nanosecond, in UTC; empty Params as
// nil). It compares encoded bytes, which is cheaper than decoding.
func (s *Snapshot) RecordIs(seq uint64, e *JournalEntry) (same bool, err error) {
	rec := toRecord(e)
	want, err := codec.EncodeRecord(&rec)
	if err != nil {
		return false, err
	}
	err = s.guard(func() error {
		same = bytes.Equal(s.bs.records().Get(seqKey(seq)), want)
		return nil
	})
	return same, err
}
