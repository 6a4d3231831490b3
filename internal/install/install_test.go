package install

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestWriteTempThenLink(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.db")
	tmp, err := WriteTemp(path, ".test-", func(f *os.File) error {
		_, err := f.WriteString("hello")
		return err
	}, true)
	require.NoError(t, err)
	require.Equal(t, dir, filepath.Dir(tmp))
	require.True(t, strings.HasPrefix(filepath.Base(tmp), ".out.db.test-"), "temporary name %q", tmp)
	fi, err := os.Stat(tmp)
	require.NoError(t, err)
	require.Equal(t, fs.FileMode(0o600), fi.Mode().Perm())

	require.NoError(t, Link(tmp, path))
	require.NoError(t, SyncDir(dir))
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, "hello", string(got))

	// Link never replaces a file; Rename does.
	require.ErrorIs(t, Link(tmp, path), fs.ErrExist)
	require.NoError(t, os.WriteFile(tmp, []byte("bye"), 0o600))
	require.NoError(t, Rename(tmp, path))
	got, err = os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, "bye", string(got))
	require.NoError(t, SyncFile(path))
}

func TestWriteTempRemovesItsFileOnFailure(t *testing.T) {
	dir := t.TempDir()
	boom := errors.New("boom")
	_, err := WriteTemp(filepath.Join(dir, "out.db"), ".test-", func(f *os.File) error { return boom }, true)
	require.ErrorIs(t, err, boom)
	require.Panics(t, func() {
		_, _ = WriteTemp(filepath.Join(dir, "out.db"), ".test-", func(f *os.File) error { panic(boom) }, true)
	})
	left, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Empty(t, left, "temporary files left behind")
}

func TestSyncDirNamesAMissingDirectory(t *testing.T) {
	err := SyncDir(filepath.Join(t.TempDir(), "missing"))
	require.ErrorIs(t, err, fs.ErrNotExist)
}
