package store

import (
	"fmt"
	"os"
	"time"

	"github.com/felhom/opjournal/codec"
)

// Latest returns the op's latest record: the one appended last, whatever its
// At. It is the legacy signature: on a closed or failed journal it returns
// false; Get tells those apart from an unknown op.
func (j *Journal) Latest(opID string) (JournalEntry, bool) {
	e, ok, _ := j.Get(opID)
	return e, ok
}

// Get returns the op's latest record and whether the op exists.
func (j *Journal) Get(opID string) (e JournalEntry, ok bool, err error) {
	if opID == "" {
		return JournalEntry{}, false, nil
	}
	err = j.view(func(bs *buckets) (err error) {
		e, ok, err = bs.latestEntry(opID, nil)
		return err
	})
	if err != nil {
		return JournalEntry{}, false, err
	}
	return e, ok, nil
}

// InFlight returns the latest record of every op whose latest state is
// neither succeeded nor failed, in op id order. It costs O(ops in flight),
// not O(ops). It is the legacy signature: on a closed or failed journal it
// returns nil; InFlightOps returns the error.
func (j *Journal) InFlight() []JournalEntry {
	out, _ := j.InFlightOps()
	return out
}

// InFlightOps is InFlight with an error.
func (j *Journal) InFlightOps() ([]JournalEntry, error) {
	var out []JournalEntry
	err := j.view(func(bs *buckets) error {
		c := bs.cursor(slotInFlight)
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			e, ok, err := bs.latestEntry(string(k), nil)
			if err != nil {
				return err
			}
			if !ok {
				return corrupt("inflight", k, fmt.Errorf("op has no record"))
			}
			out = append(out, e)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// AlreadyApplied reports whether a record carrying idempKey has reached
// succeeded. It stays true forever after, whatever later records say. The
// empty key never is. It is the legacy signature: on a closed or failed
// journal it returns false; IsApplied returns the error.
func (j *Journal) AlreadyApplied(idempKey string) bool {
	ok, _ := j.IsApplied(idempKey)
	return ok
}

// IsApplied is AlreadyApplied with an error.
func (j *Journal) IsApplied(idempKey string) (bool, error) {
	_, ok, err := j.Applied(idempKey)
	return ok, err
}

// AppliedKey says which op first carried an idempotency key to succeeded,
// and the At of that record.
type AppliedKey struct {
	Key  string    `json:"key"`
	OpID string    `json:"op_id"`
	At   time.Time `json:"at"`
}

// Applied returns what the journal knows of an applied key.
func (j *Journal) Applied(idempKey string) (a AppliedKey, ok bool, err error) {
	if idempKey == "" {
		return AppliedKey{}, false, nil
	}
	err = j.view(func(bs *buckets) error {
		v := bs.applied().Get(lookupKey(idempKey))
		if v == nil {
			return nil
		}
		d, err := codec.DecodeApplied(v)
		if err != nil {
			return corrupt("applied", []byte(idempKey), err)
		}
		a, ok = AppliedKey{Key: idempKey, OpID: d.OpID, At: d.At}, true
		return nil
	})
	if err != nil {
		return AppliedKey{}, false, err
	}
	return a, ok, nil
}

// History returns every record of the op in append order, or nil for an
// unknown op.
func (j *Journal) History(opID string) ([]JournalEntry, error) {
	var out []JournalEntry
	if opID == "" {
		return nil, nil
	}
	err := j.view(func(bs *buckets) error {
		op := lookupKey(opID)
		seqs, err := bs.opList(opID)
		if err != nil {
			return err
		}
		for _, seq := range seqs {
			v, err := bs.record(op, seq)
			if err != nil {
				return err
			}
			e, err := decodeEntry(seq, opID, v)
			if err != nil {
				return err
			}
			out = append(out, e)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Stats counts what the journal holds.
type Stats struct {
	Ops         int   `json:"ops"`          // distinct op ids
	Records     int   `json:"records"`      // lifecycle records, all ops
	InFlight    int   `json:"in_flight"`    // ops whose latest state is not terminal
	AppliedKeys int   `json:"applied_keys"` // idempotency keys that reached succeeded
	FileSize    int64 `json:"file_size"`    // bytes
}

// Stats counts ops, records, in-flight ops and applied keys by walking the
// keys of opseqs, records, inflight and applied: it costs O(file size) and
// is meant for inspection, not for a hot path.
func (j *Journal) Stats() (Stats, error) {
	var s Stats
	err := j.view(func(bs *buckets) error {
		only, err := bs.tailOnly()
		if err != nil {
			return err
		}
		s.Ops = bs.count(slotOpSeqs) + len(only)
		s.Records = bs.count(slotRecords)
		s.InFlight = bs.count(slotInFlight)
		s.AppliedKeys = bs.count(slotApplied)
		return nil
	})
	if err != nil {
		return Stats{}, err
	}
	fi, err := os.Stat(j.path)
	if err != nil {
		return Stats{}, fmt.Errorf("store: stats %s: %w", j.path, err)
	}
	s.FileSize = fi.Size()
	return s, nil
}
