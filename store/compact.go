package store

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/felhom/opjournal/internal/install"
)

// CompactOptions configure Compact. A nil *CompactOptions means defaults.
type CompactOptions struct {
	// LockTimeout is how long Compact waits for the journal's lock, held
	// by any process that has it open. Default 1s, then ErrLocked.
	LockTimeout time.Duration

	// TxMaxSize is how many bytes of keys and values the copy writes per
	// transaction into the new file. Default 64 MiB.
	TxMaxSize int
}

// CompactReport says what Compact did.
type CompactReport struct {
	SizeBefore int64 `json:"size_before"` // bytes
	SizeAfter  int64 `json:"size_after"`  // bytes
	Ops        int   `json:"ops"`
	Records    int   `json:"records"`
}

// Compact rewrites the closed journal at path into a new file holding only
// live pages, packed full, and swaps it in: the file shrinks by the space
// that Prune and rewritten pages freed, which bbolt never returns to the
// file system by itself. It needs the journal closed (it takes the file's
// lock: ErrLocked while a process has it open) and fails with ErrCorrupt,
// leaving the file as it was, if the journal fails Check. (Like any
// read-write Open, it first upgrades a journal of an older schema in place.)
//
// The new file is written under a temporary name in the same directory,
// fsync'd, compared key by key with the old one and checked, given the old
// file's owner, group and permissions, then renamed over path while the
// locks of both files are held, and the directory is fsync'd before they are
// released. A crash at any point leaves the old file or the new one at
// path, never neither, plus at worst a temporary file that the next Compact
// removes. An Open that was waiting for the lock opens the new file.
// Compacting another user's journal needs root (or CAP_CHOWN): otherwise
// giving the new file the old one's owner fails, and so does Compact,
// leaving the journal as it was.
func Compact(ctx context.Context, path string, opts *CompactOptions) (CompactReport, error) {
	var o CompactOptions
	if opts != nil {
		o = *opts
	}
	if o.TxMaxSize <= 0 {
		o.TxMaxSize = 64 << 20
	}
	var rep CompactReport
	if _, err := os.Lstat(path); err != nil {
		return rep, fmt.Errorf("store: compact %s: %w", path, err)
	}
	src, err := Open(path, &Options{LockTimeout: o.LockTimeout})
	if err != nil {
		return rep, err
	}
	defer src.Close()
	testHook(hookLocked)
	removeStale(path)
	check, err := src.Check(ctx)
	if err != nil {
		return rep, wrapf(err, "compact %s", path)
	}
	rep.Ops, rep.Records = check.Ops, check.Records
	fi, err := os.Stat(path)
	if err != nil {
		return rep, err
	}
	rep.SizeBefore = fi.Size()

	var held *os.File // the new file, locked until the rename is durable
	defer func() {
		if held != nil {
			_ = held.Close() // releases its flock
		}
	}()
	err = writeVerified(path, ".compact-", func(f *os.File) error {
		return src.copyTo(ctx, f, o.TxMaxSize)
	}, func(tmp string) error {
		f, err := lockedLike(tmp, fi)
		if err != nil {
			return err
		}
		// Renamed while src still holds the old file's lock: anyone
		// waiting for it finds the path changed and opens the new file.
		// And until the directory is fsync'd the new file stays locked
		// too, so that nothing appends to it while a power loss could
		// still bring back the old one.
		if err := install.Rename(tmp, path); err != nil {
			_ = f.Close()
			return err
		}
		held = f
		return nil
	})
	if err != nil {
		return rep, wrapf(err, "compact %s", path)
	}
	if fi, err = os.Stat(path); err == nil {
		rep.SizeAfter = fi.Size()
	}
	return rep, nil
}

// lockedLike opens the file at tmp, takes its flock (as bbolt does) and
// gives it the owner, group and permissions of the file that fi describes,
// which it is about to replace: a journal compacted by root stays readable
// by the agent that owns it.
func lockedLike(tmp string, fi os.FileInfo) (*os.File, error) {
	f, err := os.OpenFile(tmp, os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	err = lockNB(f)
	if err != nil {
		err = fmt.Errorf("lock %s: %w", tmp, err)
	}
	if uid, gid, ok := owner(fi); ok && err == nil && (uid != os.Geteuid() || gid != os.Getegid()) {
		if err = f.Chown(uid, gid); err != nil {
			err = fmt.Errorf("give the new file the old one's owner %d:%d: %w", uid, gid, err)
		}
	}
	if err == nil {
		err = f.Chmod(fi.Mode().Perm())
	}
	if err == nil {
		err = f.Sync()
	}
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	return f, nil
}

// removeStale removes temporary files that a crashed Compact of this journal
// left beside it. The caller holds the journal's lock.
func removeStale(path string) {
	matches, _ := filepath.Glob(filepath.Join(filepath.Dir(path), "."+globEscape(filepath.Base(path))+".compact-*"))
	for _, m := range matches {
		_ = os.Remove(m)
	}
}

func globEscape(s string) string {
	var b bytes.Buffer
	for _, r := range s {
		if r == '*' || r == '?' || r == '[' || r == '\\' {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// copyTo writes a compacted copy of the journal into f (an empty file), in
// one read transaction of the journal and transactions of about txMax bytes
// in the copy, then compares the copy with the journal key by key.
func (j *Journal) copyTo(ctx context.Context, f *os.File, txMax int) error {
	name := f.Name()
	dst, err := bolt.Open(name, 0o600, &bolt.Options{NoSync: true, Timeout: time.Second})
	if err != nil {
		return err
	}
	err = j.view(func(bs *buckets) error {
		if err := copyBuckets(ctx, bs.tx, dst, txMax); err != nil {
			return notDamage{err}
		}
		if err := sameBuckets(ctx, bs.tx, dst); err != nil {
			return notDamage{err}
		}
		return nil
	})
	if err == nil {
		err = dst.Sync()
	}
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	return unwrapNotDamage(err)
}

func copyBuckets(ctx context.Context, src *bolt.Tx, dst *bolt.DB, txMax int) error {
	tx, err := dst.Begin(true)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	size := 0
	for _, name := range allBuckets {
		sb := src.Bucket(name)
		db, err := tx.CreateBucket(name)
		if err != nil {
			return err
		}
		if err := db.SetSequence(sb.Sequence()); err != nil {
			return err
		}
		db.FillPercent = 1 // keys arrive in order: pack pages full
		c := newCursor(src, sb, name)
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if v == nil {
				return fmt.Errorf("%w: bucket %s holds a nested bucket %q", ErrCorrupt, name, k)
			}
			if err := db.Put(k, v); err != nil {
				return err
			}
			if size += len(k) + len(v); size < txMax {
				continue
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := tx.Commit(); err != nil {
				return err
			}
			if tx, err = dst.Begin(true); err != nil {
				return err
			}
			db = tx.Bucket(name)
			db.FillPercent = 1
			size = 0
		}
	}
	return tx.Commit()
}

// sameBuckets compares every bucket of src with the copy, key by key.
func sameBuckets(ctx context.Context, src *bolt.Tx, dst *bolt.DB) error {
	return dst.View(func(tx *bolt.Tx) error {
		n := 0
		for _, name := range allBuckets {
			sb, db := src.Bucket(name), tx.Bucket(name)
			if db == nil || db.Sequence() != sb.Sequence() {
				return fmt.Errorf("the copy's bucket %s is missing or has another sequence", name)
			}
			sc, dc := newCursor(src, sb, name), newCursor(tx, db, name)
			sk, sv := sc.First()
			dk, dv := dc.First()
			for ; sk != nil || dk != nil; sk, sv, dk, dv = next2(&sc, &dc) {
				if !bytes.Equal(sk, dk) || !bytes.Equal(sv, dv) {
					return fmt.Errorf("the copy differs in bucket %s at key %q", name, sk)
				}
				if n++; n%65536 == 0 {
					if err := ctx.Err(); err != nil {
						return err
					}
				}
			}
		}
		return nil
	})
}

func next2(a, b *cursor) (ak, av, bk, bv []byte) {
	ak, av = a.Next()
	bk, bv = b.Next()
	return ak, av, bk, bv
}
