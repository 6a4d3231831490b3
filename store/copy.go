package store

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
)

// OpenCopy opens a private, read-only copy of the journal at path: it takes
// the file's shared lock only while it copies the file (one read
// transaction, as Backup does) to a temporary file beside it (in
// os.TempDir if that directory is not writable), then lets go of it and
// opens the copy. Long reads of a journal that no process
// serves (an export into a slow pipe, a check of a big file) work from such
// a copy, so that they hold the file for the time of a copy only and never
// keep an agent from opening it. The copy is removed from the directory at
// once (on Unix) and its space freed at Close; the journal's Path is the
// original path. opts are used for the original; the copy is opened with
// ReadOnly and the same Logger. The copy takes the journal's size on disk
// for as long as it is open, and the lock is held for as long as the copy
// takes: an agent opening the journal meanwhile waits for it (see
// Options.ReaderWait), so a journal that takes longer than that to copy
// (tens of GiB) can still make an agent's Open fail. A copy cut short by a
// crash leaves a file named .NAME.copy-* beside the journal, safe to delete
// once no opjournal command runs.
func OpenCopy(ctx context.Context, path string, opts *Options) (*Journal, error) {
	o := opts.withDefaults()
	o.ReadOnly = true
	src, err := Open(path, &o)
	if err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".copy-*")
	if err != nil {
		f, err = os.CreateTemp("", ".opjournal-copy-*")
	}
	if err != nil {
		_ = src.Close()
		return nil, fmt.Errorf("store: copy %s: %w", path, err)
	}
	tmp := f.Name()
	_, err = src.Backup(ctx, f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if cerr := src.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(tmp)
		return nil, err
	}
	j, err := Open(tmp, &Options{ReadOnly: true, Logger: o.Logger})
	if err != nil {
		_ = os.Remove(tmp)
		return nil, fmt.Errorf("store: copy of %s: %w", path, err)
	}
	j.path = path
	if os.Remove(tmp) != nil {
		j.removeOnClose = tmp // where an open file cannot be removed
	}
	return j, nil
}
