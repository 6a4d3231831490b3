package bench

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestFootprintOfFileAndDirectory(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "one.journal")
	require.NoError(t, os.WriteFile(file, make([]byte, 5000), 0o600))
	size, disk, err := footprint(file)
	require.NoError(t, err)
	require.Equal(t, int64(5000), size)
	require.Positive(t, disk)

	engine := filepath.Join(dir, "engine")
	require.NoError(t, os.MkdirAll(filepath.Join(engine, "sub"), 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(engine, "a.log"), make([]byte, 3000), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(engine, "sub", "b.sst"), make([]byte, 7000), 0o600))
	size, disk, err = footprint(engine)
	require.NoError(t, err)
	require.Equal(t, int64(10000), size, "every file under the directory")
	require.GreaterOrEqual(t, disk, int64(8192))

	_, _, err = footprint(filepath.Join(dir, "absent"))
	require.Error(t, err)
}
