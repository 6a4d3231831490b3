package store

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/felhom/opjournal/internal/install"
)

// Backup writes a consistent copy of the journal to w while Appends go on,
// and returns the bytes written. The copy is a complete journal file as of
// the moment Backup began (bbolt's read transaction WriteTo): write it to a
// file and Open that file to restore it. BackupFile does that safely.
//
// For as long as the copy takes, the read transaction holds back the reuse
// of pages that commits free meanwhile: the journal's file grows by about
// the volume appended during the backup (each Append rewrites a few pages),
// and that space is reused after the backup ends. ctx stops the copy.
func (j *Journal) Backup(ctx context.Context, w io.Writer) (int64, error) {
	var n int64
	var werr error
	cw := &ctxWriter{ctx: ctx, w: w}
	err := j.view(func(bs *buckets) error {
		n, werr = bs.tx.WriteTo(cw)
		if werr != nil {
			return notDamage{werr}
		}
		return nil
	})
	// w's panic, caught so that the read transaction ends cleanly (and is
	// not mistaken for damage), goes on to the caller.
	rethrow(cw.panicked)
	if werr != nil {
		err = werr
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return n, fmt.Errorf("store: backup %s: %w", j.path, err)
	}
	return n, err
}

// ctxWriter fails writes once ctx is done, and turns a panic in w into an
// error, keeping the panic for Backup to re-raise.
type ctxWriter struct {
	ctx      context.Context
	w        io.Writer
	panicked any
}

func (c *ctxWriter) Write(p []byte) (n int, err error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	defer func() {
		if r := recover(); r != nil {
			c.panicked = r
			n, err = 0, fmt.Errorf("the writer panicked: %v", r)
		}
	}()
	return c.w.Write(p)
}

// BackupFile writes a consistent copy of the journal to a new file at path,
// crash-safely: the copy is written under a temporary name in path's
// directory, fsync'd, opened and checked (Check), then linked to path and the
// directory fsync'd. A crash leaves no file at path or a complete, checked
// one, and at worst a temporary file named .NAME.backup-* beside it, safe
// to delete (BackupFile does not, as another backup may be writing it).
// It refuses to replace an existing file (the error matches
// fs.ErrExist). It returns the size of the copy.
func (j *Journal) BackupFile(ctx context.Context, path string) (int64, error) {
	return WriteBackupFile(path, func(w io.Writer) (int64, error) { return j.Backup(ctx, w) })
}

// WriteBackupFile installs a journal file that write produces (what Backup
// writes, of this process's journal or, through package live, of a journal
// another process holds) at path as BackupFile does: under a temporary
// name, fsync'd, opened and checked, linked to path, the directory
// fsync'd. It refuses to replace an existing file (fs.ErrExist) and
// returns the size of the copy.
func WriteBackupFile(path string, write func(io.Writer) (int64, error)) (int64, error) {
	if _, err := os.Lstat(path); err == nil {
		return 0, fmt.Errorf("store: backup to %s: %w", path, fs.ErrExist)
	}
	var n int64
	err := writeVerified(path, ".backup-", func(f *os.File) error {
		var err error
		n, err = write(f)
		return err
	}, func(name string) error {
		return link(name, path)
	})
	return n, err
}

// writeVerified writes a journal file under a temporary name beside path
// (with write), fsyncs it, checks that it opens and passes Check, and then
// installs it with place. The temporary file is removed on any failure.
func writeVerified(path, tag string, write func(*os.File) error, place func(tmp string) error) (err error) {
	dir := filepath.Dir(path)
	tmp, err := install.WriteTemp(path, tag, func(f *os.File) error {
		if err := write(f); err != nil {
			return err
		}
		testHook(hookWritten)
		return nil
	}, skipSync != "install-filesync")
	if err != nil {
		return err
	}
	installed := false
	defer func() {
		if !installed {
			_ = os.Remove(tmp)
		}
	}()
	testHook(hookSynced)
	if err := verifyFile(tmp); err != nil {
		return err
	}
	testHook(hookVerified)
	if err := place(tmp); err != nil {
		return err
	}
	installed = true
	testHook(hookInstalled)
	if skipSync == "install-dirsync" {
		return nil
	}
	if err := install.SyncDir(dir); err != nil {
		return fmt.Errorf("store: sync directory %s: %w", dir, err)
	}
	return nil
}

// verifyFile opens the journal file at path read-only and checks it fully.
func verifyFile(path string) error {
	j, err := Open(path, &Options{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("store: the copy does not open: %w", err)
	}
	_, err = j.Check(context.Background())
	if cerr := j.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("store: the copy fails its check: %w", err)
	}
	return nil
}

// link gives tmp the name path, failing if path exists, and drops the
// temporary name.
func link(tmp, path string) error {
	if err := install.Link(tmp, path); err != nil {
		return fmt.Errorf("store: install %s: %w", path, err)
	}
	_ = os.Remove(tmp) // a stray name left behind is harmless
	return nil
}
