package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
)

// Errors returned by the store. Match them with errors.Is; the returned
// errors wrap them with the path, op id or field concerned.
var (
	// ErrClosed is returned by calls on a Journal after Close.
	ErrClosed = errors.New("store: journal closed")

	// ErrLocked is returned by Open when another opener, in this process or
	// another, holds the file and Options.LockTimeout passed.
	ErrLocked = errors.New("store: journal locked by another opener (in this process or another)")

	// ErrInvalidEntry is returned by Append and BeginOnce for an entry that
	// breaks a rule of JournalEntry.Validate. The journal stays usable.
	// The error is an *InvalidEntryError naming the field.
	ErrInvalidEntry = errors.New("store: invalid entry")

	// ErrCorrupt is returned when the file or a record in it is damaged: a
	// checksum mismatch, a malformed value, a missing bucket, or a panic
	// or fault inside bbolt while reading it. The handle is poisoned.
	ErrCorrupt = errors.New("store: journal corrupt")

	// ErrPoisoned is returned by every call after a failure that leaves the
	// file's state unknown (a failed commit or fsync) or damaged. Close the
	// handle and open the journal again; nothing acknowledged is lost.
	ErrPoisoned = errors.New("store: journal unusable after an earlier failure; reopen it")

	// ErrAlreadyApplied is returned by BeginOnce when the entry's
	// idempotency key has already reached succeeded.
	ErrAlreadyApplied = errors.New("store: idempotency key already applied")

	// ErrKeyInFlight is returned by BeginOnce when another op, still in
	// flight, holds the entry's idempotency key. The error is a
	// *KeyInFlightError naming that op.
	ErrKeyInFlight = errors.New("store: idempotency key held by an op in flight")

	// ErrReadOnly is returned by Append and BeginOnce on a journal opened
	// with Options.ReadOnly.
	ErrReadOnly = errors.New("store: journal opened read-only")

	// ErrNotJournal is returned by Open for a file that is not an
	// opjournal store (not bbolt, or bbolt without the journal's buckets).
	ErrNotJournal = errors.New("store: not an opjournal file")

	// ErrSchema is returned by Open for a store written with a schema this
	// build does not know (a newer opjournal), and by a read-only Open of a
	// store of an older schema, which a read-write Open upgrades. The error
	// is a *SchemaError, which tells the two apart.
	ErrSchema = errors.New("store: unsupported schema version")

	// ErrPruned is returned by Follow and Changes when records after the
	// requested sequence number were removed by Prune before they could be
	// delivered. The error is a *PrunedError saying from where to resume.
	ErrPruned = errors.New("store: records after the requested sequence were pruned")

	// ErrSeqAhead is returned by Follow and Changes for a sequence number
	// past the journal's last record: the consumer followed another
	// journal, or this one before it was restored from an older copy.
	ErrSeqAhead = errors.New("store: sequence number past the journal's last record")

	// ErrUnsafePath is returned by Open when the path is a symlink or not a
	// regular file.
	ErrUnsafePath = errors.New("store: refusing to open")
)

// InvalidEntryError names the field of a JournalEntry that broke a rule.
type InvalidEntryError struct {
	Field   string // JSON name of the field: op_id, state, params, ...
	Problem string
}

func (e *InvalidEntryError) Error() string {
	return fmt.Sprintf("store: invalid entry: %s: %s", e.Field, e.Problem)
}

// Unwrap makes the error match ErrInvalidEntry.
func (e *InvalidEntryError) Unwrap() error { return ErrInvalidEntry }

func invalid(field, problem string) error { return &InvalidEntryError{Field: field, Problem: problem} }

// KeyInFlightError is returned by BeginOnce when an op other than the one
// beginning holds the idempotency key and is still in flight.
type KeyInFlightError struct {
	Key    string // the idempotency key
	Holder string // op id of the in-flight op that holds it
}

func (e *KeyInFlightError) Error() string {
	return fmt.Sprintf("store: idempotency key %q held by op %q in flight", e.Key, e.Holder)
}

// Unwrap makes the error match ErrKeyInFlight.
func (e *KeyInFlightError) Unwrap() error { return ErrKeyInFlight }

// SchemaError is returned by Open for a journal whose schema this build
// cannot open as asked: written by a newer build (TooNew), or older and
// opened read-only (UpgradeRequired), which a read-write Open would upgrade.
type SchemaError struct {
	Found     int // the journal's schema version
	Supported int // the schema version this build writes (SchemaVersion)
}

// TooNew reports whether the journal was written by a newer build.
func (e *SchemaError) TooNew() bool { return e.Found > e.Supported }

// UpgradeRequired reports whether the journal has an older schema that a
// read-write Open upgrades in place.
func (e *SchemaError) UpgradeRequired() bool { return e.Found < e.Supported }

func (e *SchemaError) Error() string {
	if e.TooNew() {
		return fmt.Sprintf("journal has schema %d, written by a newer opjournal; this build reads schemas up to %d", e.Found, e.Supported)
	}
	return fmt.Sprintf("journal has schema %d; open it read-write once to upgrade it to schema %d", e.Found, e.Supported)
}

// Unwrap makes the error match ErrSchema.
func (e *SchemaError) Unwrap() error { return ErrSchema }

// notDamage carries an error through a guarded transaction without letting
// it be taken for damage in the journal: a caller's function failing, or a
// copy that could not be written. It deliberately does not unwrap; take the
// error out with unwrapNotDamage.
type notDamage struct{ err error }

func (e notDamage) Error() string { return e.err.Error() }

// unwrapNotDamage returns the error a notDamage carries, or err itself.
func unwrapNotDamage(err error) error {
	var nd notDamage
	if errors.As(err, &nd) {
		return nd.err
	}
	return err
}

func corrupt(where string, key []byte, err error) error {
	switch where {
	case "history":
		switch kind, op := historyKeyKind(key); kind {
		case keyRecord:
			return fmt.Errorf("%w: history of op %q, record %d: %w", ErrCorrupt, op, recordSeq(key), err)
		case keyLatest:
			return fmt.Errorf("%w: history of op %q, latest record: %w", ErrCorrupt, op, err)
		}
	case "records":
		if len(key) == 8 {
			return corruptRecord(binary.BigEndian.Uint64(key), err)
		}
	case "opseqs":
		return fmt.Errorf("%w: record list of op %q: %w", ErrCorrupt, key, err)
	}
	return fmt.Errorf("%w: %s %q: %w", ErrCorrupt, where, key, err)
}

// corruptRecord reports damage in the record with sequence number seq.
func corruptRecord(seq uint64, err error) error {
	return fmt.Errorf("%w: record %d: %w", ErrCorrupt, seq, err)
}

// corruptRecordOf reports damage in the record with sequence number seq,
// listed for op (if not empty).
func corruptRecordOf(seq uint64, op string, err error) error {
	if op == "" {
		return corruptRecord(seq, err)
	}
	return fmt.Errorf("%w: record %d of op %q: %w", ErrCorrupt, seq, op, err)
}

// PrunedError is returned by Follow (and ForEachChange) when Prune removed
// records that a consumer resuming after From has not seen. Through is the
// highest sequence number Prune ever removed: records between From and
// Through may remain (ops still in flight when Prune ran keep theirs).
// Changes from From returns those that remain; Follow from Through or
// later then carries on.
type PrunedError struct {
	Path    string
	From    uint64 // the sequence number the consumer resumed after
	Through uint64 // the highest sequence number Prune has removed
}

func (e *PrunedError) Error() string {
	return fmt.Sprintf("store: %s: records after sequence number %d were pruned before they were delivered (the highest pruned is %d); Changes returns those that remain", e.Path, e.From, e.Through)
}

// Unwrap makes the error match ErrPruned.
func (e *PrunedError) Unwrap() error { return ErrPruned }

// wrapf prefixes err with "store: " and what was being done, keeping a
// single "store: " when err already carries one.
func wrapf(err error, format string, args ...any) error {
	return &wrapped{what: fmt.Sprintf(format, args...), err: err}
}

type wrapped struct {
	what string
	err  error
}

func (e *wrapped) Error() string {
	return "store: " + e.what + ": " + strings.TrimPrefix(e.err.Error(), "store: ")
}

func (e *wrapped) Unwrap() error { return e.err }
