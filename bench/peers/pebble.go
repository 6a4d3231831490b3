package peers

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/cockroachdb/pebble"

	"github.com/felhom/opjournal/store"
)

// The Pebble journal's key spaces, each a one-byte prefix:
//
//	r ‖ seq (uint64 BE)   every record, in append order (codec record)
//	l ‖ op id             the op's latest record (codec record)
//	f ‖ op id             empty: the ops whose latest record is not terminal
//	a ‖ idempotency key   the op id of a record that reached succeeded with it
const (
	pebbleRecord   = 'r'
	pebbleLatest   = 'l'
	pebbleInFlight = 'f'
	pebbleApplied  = 'a'
)

// Pebble is a journal in a Pebble database (an LSM tree) with default
// options: each Append is one batch committed with pebble.Sync, which
// returns once the batch is in the fsync'd write-ahead log; Pebble's WAL
// syncs concurrent commits together. It is safe for concurrent use.
type Pebble struct {
	db      *pebble.DB
	seq     atomic.Uint64 // the last record's sequence
	readErr errOnce
}

// OpenPebble opens the journal in directory dir, creating it if needed,
// with Pebble's default options but a quiet logger.
func OpenPebble(dir string) (*Pebble, error) {
	db, err := pebble.Open(dir, &pebble.Options{Logger: quietLogger{}})
	if err != nil {
		return nil, fmt.Errorf("pebble: open %s: %w", dir, err)
	}
	j := &Pebble{db: db}
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: []byte{pebbleRecord}, UpperBound: []byte{pebbleRecord + 1}})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("pebble: open %s: %w", dir, err)
	}
	if it.Last() {
		j.seq.Store(binary.BigEndian.Uint64(it.Key()[1:]))
	}
	if err := errors.Join(it.Error(), it.Close()); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("pebble: open %s: %w", dir, err)
	}
	return j, nil
}

// quietLogger drops Pebble's informational messages (a line per WAL
// replayed at open) and keeps its fatal ones.
type quietLogger struct{}

func (quietLogger) Infof(string, ...any) {}

func (quietLogger) Fatalf(format string, args ...any) { pebble.DefaultLogger.Fatalf(format, args...) }

func pebbleKey(prefix byte, s string) []byte {
	k := make([]byte, 1+len(s))
	k[0] = prefix
	copy(k[1:], s)
	return k
}

// write adds e's changes to b.
func (j *Pebble) write(b *pebble.Batch, e *store.JournalEntry) error {
	body, err := encode(e)
	if err != nil {
		return err
	}
	rk := make([]byte, 9)
	rk[0] = pebbleRecord
	binary.BigEndian.PutUint64(rk[1:], j.seq.Add(1))
	if err := b.Set(rk, body, nil); err != nil {
		return err
	}
	if err := b.Set(pebbleKey(pebbleLatest, e.OpID), body, nil); err != nil {
		return err
	}
	fk := pebbleKey(pebbleInFlight, e.OpID)
	if e.State.Terminal() {
		err = b.Delete(fk, nil)
	} else {
		err = b.Set(fk, nil, nil)
	}
	if err != nil {
		return err
	}
	if e.State == store.OpSucceeded && e.IdempKey != "" {
		return b.Set(pebbleKey(pebbleApplied, e.IdempKey), []byte(e.OpID), nil)
	}
	return nil
}

// Append writes e in one batch and returns once it is committed with
// pebble.Sync.
func (j *Pebble) Append(e store.JournalEntry) error {
	if err := e.Validate(); err != nil {
		return err
	}
	b := j.db.NewBatch()
	defer b.Close()
	if err := j.write(b, &e); err != nil {
		return fmt.Errorf("pebble: append: %w", err)
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("pebble: append: %w", err)
	}
	return nil
}

// appendBatch writes es in one batch, without waiting for the WAL's fsync:
// the bulk load, which flushes at its end.
func (j *Pebble) appendBatch(es []store.JournalEntry) error {
	b := j.db.NewBatch()
	defer b.Close()
	for i := range es {
		if err := j.write(b, &es[i]); err != nil {
			return fmt.Errorf("pebble: load: %w", err)
		}
	}
	return b.Commit(pebble.NoSync)
}

// get reads key's value into a copy, and false if it is absent.
func (j *Pebble) get(key []byte) ([]byte, bool, error) {
	v, closer, err := j.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	out := append([]byte(nil), v...)
	return out, true, closer.Close()
}

// Latest returns op's last record.
func (j *Pebble) Latest(op string) (store.JournalEntry, bool) {
	v, ok, err := j.get(pebbleKey(pebbleLatest, op))
	if err == nil && ok {
		var e store.JournalEntry
		if e, err = decode(v); err == nil {
			return e, true
		}
	}
	if err != nil {
		j.readErr.set(fmt.Errorf("pebble: Latest(%q): %w", op, err))
	}
	return store.JournalEntry{}, false
}

// AlreadyApplied reports whether key reached succeeded.
func (j *Pebble) AlreadyApplied(key string) bool {
	if key == "" {
		return false
	}
	_, ok, err := j.get(pebbleKey(pebbleApplied, key))
	if err != nil {
		j.readErr.set(fmt.Errorf("pebble: AlreadyApplied(%q): %w", key, err))
	}
	return ok
}

// InFlight returns the ops whose latest record is not terminal: a scan of
// the in-flight keys, then each op's latest record from one snapshot.
func (j *Pebble) InFlight() []store.JournalEntry {
	snap := j.db.NewSnapshot()
	defer snap.Close()
	it, err := snap.NewIter(&pebble.IterOptions{LowerBound: []byte{pebbleInFlight}, UpperBound: []byte{pebbleInFlight + 1}})
	if err != nil {
		j.readErr.set(fmt.Errorf("pebble: InFlight: %w", err))
		return nil
	}
	var out []store.JournalEntry
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()
		lk := append([]byte{pebbleLatest}, k[1:]...)
		v, closer, err := snap.Get(lk)
		if err != nil {
			j.readErr.set(fmt.Errorf("pebble: InFlight: latest record of %q: %w", k[1:], err))
			break
		}
		e, err := decode(v)
		_ = closer.Close()
		if err != nil {
			j.readErr.set(fmt.Errorf("pebble: InFlight: %w", err))
			break
		}
		out = append(out, e)
	}
	if err := errors.Join(it.Error(), it.Close()); err != nil {
		j.readErr.set(fmt.Errorf("pebble: InFlight: %w", err))
	}
	return out
}

// Close closes the database; it returns the first error a read met, if
// any (the read methods have no error to return).
func (j *Pebble) Close() error {
	if j.db == nil {
		return nil
	}
	err := j.db.Close()
	j.db = nil
	return errors.Join(j.readErr.get(), err)
}
