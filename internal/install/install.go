// Package install puts files in place so that a power loss leaves either
// the old state or the new one: a file is written under a temporary name in
// its destination's directory, fsync'd, given its name by link (which fails
// rather than replace a file) or rename (which replaces one atomically), and
// the directory is fsync'd so that the name is durable too.
//
// The store, the migration and the CLI all install files through it.
package install

import (
	"os"
	"path/filepath"
)

// Temp creates an empty file with mode 0600 in path's directory, under a
// new name made of ".", path's base name, tag and a random suffix: hidden,
// and recognisable as belonging to path.
func Temp(path, tag string) (*os.File, error) {
	return os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+tag+"*")
}

// WriteTemp creates a temporary file beside path (see Temp), fills it with
// write, fsyncs it unless sync is false, closes it and returns its name. On
// any error, or a panic in write, the temporary file is removed. sync is
// false only where a test leaves the sync out to show that a power-loss
// trial catches it missing.
func WriteTemp(path, tag string, write func(*os.File) error, sync bool) (tmp string, err error) {
	f, err := Temp(path, tag)
	if err != nil {
		return "", err
	}
	closed := false
	defer func() {
		if !closed {
			_ = f.Close()
		}
		if tmp == "" {
			_ = os.Remove(f.Name())
		}
	}()
	err = write(f)
	if err == nil && sync {
		err = f.Sync()
	}
	closed = true
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", err
	}
	return f.Name(), nil
}

// SyncFile fsyncs the file at path, making its contents and size durable.
func SyncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// SyncDir fsyncs the directory dir, making the names in it durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// Link gives the file at tmp the name path as well, failing with an error
// that wraps fs.ErrExist if path exists: unlike Rename, it never replaces a
// file that another process put at path meanwhile. The caller then removes
// the name tmp. The new name is durable only once the directory is synced
// (SyncDir).
func Link(tmp, path string) error { return os.Link(tmp, path) }

// Rename moves the file at from to the name to, replacing any file there
// atomically. The new name is durable only once the directory is synced
// (SyncDir).
func Rename(from, to string) error { return os.Rename(from, to) }
