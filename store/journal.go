package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// Journal is the durable operation journal and idempotency store, kept in
// one bbolt file. Append returns only once its record is committed and
// fsync'd; lookups read the file (through bbolt's memory map) and hold
// nothing in memory, so opening reads only the branch pages of the file's
// page trees (see Open).
//
// A Journal is safe for concurrent use by multiple goroutines. Concurrent
// Appends share transactions and fsyncs (group commit). One file can be
// open in one Journal at a time, across processes.
type Journal struct {
	path string
	opts Options
	db   *bolt.DB
	file *os.File // bbolt's descriptor, kept to release it if bbolt cannot

	// closeMu is held shared by every call for its duration and exclusively
	// by Close, which so waits for calls in progress.
	closeMu sync.RWMutex
	closed  bool

	poison atomic.Pointer[error] // first failure that made the handle unusable
	wedged atomic.Bool           // bbolt panicked and could not roll back: its locks may be held

	group group  // group commit state, see commit.go
	feed  feed   // change feed, see feed.go
	tail  opTail // the op lists past the merge mark, see optail.go
	// writeMu serialises read-write transactions from their begin to the
	// update of the tail's lists after their commit.
	writeMu  sync.Mutex
	endpoint *endpoint // live endpoint, nil if not served
	// removeOnClose is the file of an OpenCopy to remove at Close, where
	// it could not be removed while open.
	removeOnClose string
	counters      counters // see Metrics
	watch         keyWatch // keys that succeeded while Prune drops applied keys

	stopRetention context.CancelFunc // nil without Options.Retention
	retention     sync.WaitGroup
}

// OpenJournal opens the journal at path with default options, creating it
// if it does not exist. The parent directory must exist. It is the legacy
// journal's constructor; Open takes options.
func OpenJournal(path string) (*Journal, error) { return Open(path, nil) }

// Open opens the journal at path, creating it (crash-safely, mode 0600) if it
// does not exist and opts does not say ReadOnly. nil opts means defaults.
//
// Open does not read the journal's records. It reads the branch pages of
// the file's page trees and one leaf per tree (one or two pages in a
// hundred) to check that they are trees: bbolt follows page ids blindly,
// and on a damaged tree that loops its lookups would run until memory or
// stack ran out. It fails with ErrCorrupt for such a tree (naming the
// bucket and the page), ErrLocked if another opener holds the file for
// longer than Options.LockTimeout, ErrUnsafePath for a symlink or a
// non-regular file, ErrNotJournal (which also matches ErrCorrupt) for a
// file that is not a journal, ErrSchema for a newer schema (or an older
// one opened read-only: a read-write Open upgrades it in place).
func Open(path string, opts *Options) (*Journal, error) {
	j := &Journal{path: path, opts: opts.withDefaults()}
	j.counters.init()
	if r := j.opts.Retention; r != nil && r.MaxAge <= 0 {
		return nil, fmt.Errorf("store: open %s: Options.Retention.MaxAge must be more than zero, got %s", path, r.MaxAge)
	}
	fi, err := os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist) && !j.opts.ReadOnly:
		if err := create(path, &j.opts); err != nil {
			return nil, err
		}
	case err != nil:
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	case fi.Mode()&fs.ModeSymlink != 0:
		return nil, fmt.Errorf("%w %s: it is a symlink", ErrUnsafePath, path)
	case !fi.Mode().IsRegular():
		return nil, fmt.Errorf("%w %s: not a regular file (%s)", ErrUnsafePath, path, fi.Mode().Type())
	case fi.Size() == 0:
		return nil, notJournal(path, "the file is empty")
	}
	warnIfExposed(path, j.opts.Logger)
	if err := j.openWaitingForReaders(); err != nil {
		return nil, err
	}
	var schema int
	err = guard(func() error {
		return j.db.View(func(tx *bolt.Tx) (err error) {
			if err := checkShape(tx, j.file); err != nil {
				return err
			}
			schema, err = readSchema(tx)
			return err
		})
	})
	if err == nil && schema != SchemaVersion && !j.opts.ReadOnly {
		if err = j.upgrade(); err != nil {
			_ = j.Close()
			return nil, err
		}
	}
	if err == nil {
		err = guard(func() error {
			return j.db.View(func(tx *bolt.Tx) error {
				if err := checkLayout(tx); err != nil {
					return err
				}
				j.feed.durable.Store(tx.Bucket(bucketRecords).Sequence())
				// The tail's lists. A damaged record that names no op
				// leaves them unbuilt: lookups by op then read the tail
				// from the file and report the damage.
				bs := newBuckets(tx, nil)
				mark, upto := bs.tailMark()
				tail, err := bs.scanTail(mark, upto)
				if errors.Is(err, ErrCorrupt) {
					return nil
				}
				if err != nil {
					return err
				}
				j.tail.reset(tail, mark, upto)
				return nil
			})
		})
	}
	if err != nil {
		_ = j.Close()
		if errors.Is(err, ErrNotJournal) {
			return nil, notJournal(path, err.Error())
		}
		return nil, wrapf(err, "open %s", path)
	}
	if j.opts.Retention != nil && !j.opts.ReadOnly {
		j.startRetention(*j.opts.Retention)
	}
	j.startEndpoint()
	return j, nil
}

// warnIfExposed reports a journal whose directory anyone may write to: another
// user could replace the file or plant one before it is created. It is a
// warning, not a refusal, since /tmp-like sticky directories are common in
// tests.
func warnIfExposed(path string, log *slog.Logger) {
	dir := filepath.Dir(path)
	if fi, err := os.Stat(dir); err == nil && fi.Mode().Perm()&0o002 != 0 {
		log.Warn("store: journal directory is world-writable", "dir", dir, "mode", fi.Mode().String())
	}
}

func notJournal(path, why string) error {
	return fmt.Errorf("%w: %s: %s (%w)", ErrNotJournal, path, why, ErrCorrupt)
}

// openWaitingForReaders is openCurrent for an opener that must not be kept
// out by readers: a read-write Open that finds the file held by read-only
// openers only (an operator's command reading it offline) waits for them,
// logging who they are, for up to Options.ReaderWait beyond LockTimeout. A
// writer holding the file is an error after LockTimeout, as before.
func (j *Journal) openWaitingForReaders() error {
	deadline := time.Now().Add(j.opts.ReaderWait)
	warned := false
	for {
		err := j.openCurrent()
		if !errors.Is(err, ErrLocked) || j.opts.ReadOnly || time.Now().After(deadline) {
			return err
		}
		writers, readers := lockHolders(j.path)
		if len(writers) > 0 || (readers == nil && !sharedOnly(j.path)) {
			return err
		}
		if !warned {
			j.opts.Logger.Warn("store: journal held by readers; waiting for them", "path", j.path,
				"readers", strings.Join(readers, ", "), "until", deadline.Format(time.RFC3339))
			warned = true
		}
	}
}

// heldBy describes the lock's holders for an ErrLocked message.
func heldBy(path string) string {
	writers, readers := lockHolders(path)
	switch {
	case len(writers) > 0:
		return "; held by a writer: " + strings.Join(writers, ", ")
	case len(readers) > 0:
		return "; held by readers: " + strings.Join(readers, ", ")
	}
	return ""
}

// openCurrent opens the file with bbolt and makes sure that the file it
// locked is still the one at j.path. Compact and Migrate with Replace swap a
// new file in by rename while holding the old one's lock: an opener that was
// waiting for that lock would otherwise get it on the old, unlinked file and
// append where nobody will ever read. Such an opener closes and opens again.
func (j *Journal) openCurrent() error {
	for attempt := 0; ; attempt++ {
		if err := j.openBolt(); err != nil {
			return err
		}
		same, err := j.isCurrent()
		if err == nil && same {
			return nil
		}
		_ = j.db.Close()
		j.db, j.file = nil, nil
		if err != nil {
			return fmt.Errorf("store: open %s: %w", j.path, err)
		}
		if attempt == 10 {
			return fmt.Errorf("store: open %s: the file was replaced %d times while waiting for its lock", j.path, attempt+1)
		}
		j.opts.Logger.Info("store: journal file replaced while waiting for its lock; opening the new one", "path", j.path)
	}
}

// isCurrent reports whether the descriptor bbolt holds is the file at j.path.
func (j *Journal) isCurrent() (bool, error) {
	held, err := j.file.Stat()
	if err != nil {
		return false, err
	}
	now, err := os.Lstat(j.path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("the file was removed while waiting for its lock: %w", err)
	}
	if err != nil {
		return false, err
	}
	return os.SameFile(held, now), nil
}

// openFile is bbolt's file opener: it refuses to follow a symlink swapped in
// after Open's check, refuses non-regular files, and keeps the descriptor of
// the database file. bbolt calls it once per Open: it would open the file
// again only for a tx.WriteTo with a WriteFlag, which this package never
// sets (Backup reads through the descriptor it holds).
func (j *Journal) openFile(name string, flag int, perm os.FileMode) (*os.File, error) {
	f, err := os.OpenFile(name, flag|oNoFollow, perm)
	if err != nil {
		if errors.Is(err, syscall.ELOOP) {
			return nil, fmt.Errorf("%w %s: it is a symlink", ErrUnsafePath, name)
		}
		return nil, err
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = fmt.Errorf("%w %s: not a regular file", ErrUnsafePath, name)
	}
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	if j.file == nil {
		j.file = f
	}
	return f, nil
}

func (j *Journal) openBolt() error {
	var db *bolt.DB
	err := guard(func() (err error) {
		db, err = bolt.Open(j.path, 0o600, j.opts.bolt(j.openFile))
		return err
	})
	var pathErr *fs.PathError
	switch {
	case err == nil:
		j.db = db
		return nil
	case errors.Is(err, berrors.ErrTimeout):
		err = fmt.Errorf("%w: %s (waited %s for its lock%s)", ErrLocked, j.path, j.opts.LockTimeout, heldBy(j.path))
	case errors.Is(err, ErrUnsafePath):
	case errors.As(err, &pathErr):
		err = fmt.Errorf("store: open %s: %w", j.path, err)
	case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrVersionMismatch):
		err = notJournal(j.path, err.Error())
	default:
		// bbolt's other refusals ("file size too small", checksum,
		// mmap of a size the meta page claims) are all about what is
		// in the file.
		if !errors.Is(err, ErrCorrupt) {
			err = fmt.Errorf("%w: %w", ErrCorrupt, err)
		}
		err = fmt.Errorf("store: open %s: %w", j.path, err)
	}
	// A panic inside bolt.Open leaks its descriptor and flock: release them.
	if j.file != nil {
		_ = j.file.Close()
		j.file = nil
	}
	return err
}

// Path returns the journal's file path.
func (j *Journal) Path() string { return j.path }

// Close waits for calls in progress, then releases the file and its lock.
// It first stops the live endpoint: followers are told the journal closed,
// requests in progress get up to a second to finish before their
// connections are closed, and the socket is removed. Followers in this
// process (Follow) end with ErrClosed. It is idempotent: later calls
// return nil. After Close, Append and BeginOnce return ErrClosed, the
// error-returning reads return ErrClosed, and the legacy reads return zero
// values.
func (j *Journal) Close() error {
	if ep := j.endpoint; ep != nil {
		ep.stop() // idempotent
	}
	if j.stopRetention != nil {
		j.stopRetention()
		j.retention.Wait()
	}
	mergeErr := j.mergeTailOnClose()
	j.closeMu.Lock()
	defer j.closeMu.Unlock()
	if j.closed {
		return nil
	}
	j.closed = true
	j.feed.publish(0) // followers end with ErrClosed
	if j.wedged.Load() {
		// bbolt's own locks may be held by a transaction that panicked:
		// its Close would block forever. Release the descriptor, which
		// also releases the flock.
		return j.file.Close()
	}
	err := j.db.Close()
	if j.removeOnClose != "" {
		_ = os.Remove(j.removeOnClose)
	}
	if err != nil {
		return fmt.Errorf("store: close %s: %w", j.path, err)
	}
	return mergeErr
}

// mergeOnClose is a test switch: false leaves the tail as a crash would.
var mergeOnClose = true

// mergeTailOnClose merges the tail into opseqs as a read-write journal
// closes, so that the next Open has no tail to read. A commit that fails
// poisons the handle as any other: Close reports it, and the journal is
// as it was (the next Open reads the tail).
func (j *Journal) mergeTailOnClose() error {
	if j.opts.ReadOnly || j.Err() != nil || !mergeOnClose {
		return nil
	}
	j.tail.mu.RLock()
	empty := j.tail.ops == nil || j.tail.last == j.tail.base
	j.tail.mu.RUnlock()
	if empty {
		return nil
	}
	err := j.write(func(w *writer) error { return w.mergeOps() })
	if errors.Is(err, ErrClosed) {
		return nil // closed meanwhile, by another Close
	}
	return err
}

// Err returns nil while the handle is usable, or the error that poisoned it.
func (j *Journal) Err() error {
	if p := j.poison.Load(); p != nil {
		return *p
	}
	return nil
}

// fail poisons the handle with err (the first failure wins) and returns err.
func (j *Journal) fail(err error) error {
	poisoned := fmt.Errorf("%w: %s: %w", ErrPoisoned, j.path, err)
	if j.poison.CompareAndSwap(nil, &poisoned) {
		j.opts.Logger.Error("store: journal poisoned; close and reopen it", "path", j.path, "err", err)
		j.feed.publish(0) // followers end with the error
	}
	return err
}

// enter starts a call: it fails if the journal is closed or poisoned, and
// otherwise holds closeMu shared until the returned function is called.
func (j *Journal) enter() (func(), error) {
	j.closeMu.RLock()
	if j.closed {
		j.closeMu.RUnlock()
		return nil, ErrClosed
	}
	if err := j.Err(); err != nil {
		j.closeMu.RUnlock()
		return nil, err
	}
	return j.closeMu.RUnlock, nil
}

// view runs fn in a read transaction. Damage found by fn or by bbolt (a
// panic or a memory fault) poisons the handle and is returned as ErrCorrupt.
func (j *Journal) view(fn func(*buckets) error) error {
	return j.viewTx(false, fn)
}

// viewTx is view in a read-write transaction that is always rolled back
// when exclusive is set (and the handle is not read-only): it holds other
// writers off for its duration, which bbolt's own page check needs.
func (j *Journal) viewTx(exclusive bool, fn func(*buckets) error) error {
	exit, err := j.enter()
	if err != nil {
		return err
	}
	defer exit()
	err = guard(func() error {
		tx, err := j.db.Begin(exclusive && !j.opts.ReadOnly)
		if err != nil {
			return err
		}
		defer j.rollback(tx)
		return fn(newBuckets(tx, &j.tail))
	})
	if err == nil {
		return nil
	}
	var nd notDamage
	switch {
	case errors.As(err, &nd):
		return nd.err
	case errors.Is(err, ErrCorrupt):
		return j.fail(err)
	}
	return err
}

// callUser runs a caller's function inside a transaction. Its error is
// wrapped as notDamage, so that it does not poison the handle (only damage
// the store finds itself does); its panic is re-raised by rethrow once the
// transaction is rolled back, instead of being taken for damage by guard.
func callUser(fn func() error, panicked *any) (err error) {
	defer func() {
		if p := recover(); p != nil {
			*panicked = p
			err = notDamage{fmt.Errorf("store: the caller's function panicked: %v", p)}
		}
	}()
	if err := fn(); err != nil {
		return notDamage{err}
	}
	return nil
}

func rethrow(p any) {
	if p != nil {
		panic(p)
	}
}
