package bench

import (
	"os"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestFsyncFree(t *testing.T) {
	free, name := FsyncFree(t.TempDir())
	require.NotEmpty(t, name)
	t.Logf("t.TempDir() is on %s (fsync free: %v)", name, free)

	if runtime.GOOS != "linux" {
		t.Skip("FsyncFree examines Linux file systems only")
	}
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		if free, name := FsyncFree("/dev/shm"); name == "tmpfs" {
			require.True(t, free, "tmpfs is memory")
		}
	}
	free, name = FsyncFree("/proc")
	require.False(t, free, "procfs is not tmpfs")
	require.Equal(t, "unknown (magic 0x9fa0)", name, "a file system without a name shows its magic")

	free, name = FsyncFree("/does/not/exist")
	require.False(t, free)
	require.Contains(t, name, "unknown")
}
