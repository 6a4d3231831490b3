package command

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// writeAtomic writes the file at path through write: into a temporary file
// in the same directory, fsync'd, then renamed over path and the directory
// fsync'd. On any error (a cancelled write included) the temporary file is
// removed and path is left as it was. A new file gets mode 0600 (a journal's
// records may carry secrets); a replaced one keeps its mode.
func writeAtomic(path string, write func(io.Writer) error) error {
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return fmt.Errorf("%s is a directory", path)
	}
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, plainError(err))
	}
	tmp := f.Name()
	if fi, serr := os.Stat(path); serr == nil && fi.Mode().IsRegular() {
		err = f.Chmod(fi.Mode().Perm())
	}
	if err == nil {
		err = write(f)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		if err = os.Rename(tmp, path); err != nil {
			err = fmt.Errorf("write %s: %w", path, plainError(err))
		}
	}
	if err != nil {
		_ = os.Remove(tmp)
		return err
	}
	return syncDir(dir)
}

// syncDir fsyncs a directory, making the names in it durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

// createOutput runs write on stdout when path is "-", and through
// writeAtomic otherwise.
func createOutput(path string, stdout io.Writer, write func(io.Writer) error) error {
	if path == "-" {
		return write(stdout)
	}
	return writeAtomic(path, write)
}
