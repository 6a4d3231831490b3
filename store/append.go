package store

import (
	"fmt"
)

// Append durably writes one lifecycle record: it returns only after the
// transaction holding it is committed and fsync'd. Concurrent Appends share
// a transaction. An entry that breaks a rule of Validate is rejected with an
// *InvalidEntryError and the journal stays usable. If the commit fails, its
// outcome is unknown and the handle is poisoned (see ErrPoisoned).
func (j *Journal) Append(e JournalEntry) error {
	r, err := newRequest([]JournalEntry{e}, false)
	if err != nil {
		return err
	}
	return j.submit(r)
}

// BeginOnce is the at-most-once start of a one-shot op: in one transaction it
// fails with ErrAlreadyApplied if e.IdempKey is applied, with a
// *KeyInFlightError (matching ErrKeyInFlight) if an in-flight op other than
// e.OpID holds the key, and otherwise appends e as Append does. Resuming the
// op that holds the key is allowed. With an empty key it is Append.
//
// An op holds a key while it is in flight and its latest record carries the
// key: appending a record of that op without the key, or a terminal one,
// releases it. Lifecycle records of a one-shot op should all carry its key.
func (j *Journal) BeginOnce(e JournalEntry) error {
	r, err := newRequest([]JournalEntry{e}, true)
	if err != nil {
		return err
	}
	return j.submit(r)
}

// AppendBatch durably writes several records atomically, in order: after a
// crash either all of them are in the journal or none is. If any entry is
// invalid, nothing is written and the error names its index.
func (j *Journal) AppendBatch(entries []JournalEntry) error {
	if len(entries) == 0 {
		return nil
	}
	r, err := newRequest(entries, false)
	if err != nil {
		return err
	}
	return j.submit(r)
}

// Sync fsyncs the file. It is needed only with Options.UnsafeNoSync, to make
// everything appended so far durable at a point of the caller's choosing.
func (j *Journal) Sync() error {
	exit, err := j.enter()
	if err != nil {
		return err
	}
	defer exit()
	j.counters.fsyncs.Add(1)
	if err := j.db.Sync(); err != nil {
		return j.fail(fmt.Errorf("store: sync %s: %w", j.path, err))
	}
	return nil
}
