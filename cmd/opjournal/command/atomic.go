package command

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/felhom/opjournal/internal/install"
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
	created := false
	tmp, err := install.WriteTemp(path, ".tmp-", func(f *os.File) error {
		created = true
		if fi, err := os.Stat(path); err == nil && fi.Mode().IsRegular() {
			if err := f.Chmod(fi.Mode().Perm()); err != nil {
				return err
			}
		}
		return write(f)
	}, true)
	if err != nil {
		if !created {
			err = fmt.Errorf("write %s: %w", path, plainError(err))
		}
		return err
	}
	if err := install.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, plainError(err))
	}
	dir := filepath.Dir(path)
	if err := install.SyncDir(dir); err != nil {
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
