package store_test

import (
	"context"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/felhom/opjournal/store"
)

func TestAppendRejectsInvalidEntries(t *testing.T) {
	big := strings.Repeat("x", store.MaxStringSize+1)
	tests := []struct {
		name  string
		e     store.JournalEntry
		field string
	}{
		{"empty op id", store.JournalEntry{State: store.OpStarted}, "op_id"},
		{"unknown state", store.JournalEntry{OpID: "a", State: "paused"}, "state"},
		{"empty state", store.JournalEntry{OpID: "a"}, "state"},
		{"long op id", store.JournalEntry{OpID: big, State: store.OpStarted}, "op_id"},
		{"long key", store.JournalEntry{OpID: "a", State: store.OpStarted, IdempKey: big}, "idemp_key"},
		{"long kind", store.JournalEntry{OpID: "a", State: store.OpStarted, Kind: big}, "kind"},
		{"long upid", store.JournalEntry{OpID: "a", State: store.OpStarted, UPID: big}, "upid"},
		{"big params", store.JournalEntry{OpID: "a", State: store.OpStarted, Params: map[string]string{"p": strings.Repeat("v", store.MaxParamsSize)}}, "params"},
		{"invalid utf-8", store.JournalEntry{OpID: "a\xff", State: store.OpStarted}, "op_id"},
		{"year 10000", store.JournalEntry{OpID: "a", State: store.OpStarted, At: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}, "at"},
	}
	j, _ := openTemp(t, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, call := range []func(store.JournalEntry) error{j.Append, j.BeginOnce} {
				err := call(tt.e)
				require.ErrorIs(t, err, store.ErrInvalidEntry)
				var ie *store.InvalidEntryError
				require.ErrorAs(t, err, &ie)
				require.Equal(t, tt.field, ie.Field, "error %q names the wrong field", err)
			}
		})
	}
	require.NoError(t, j.Append(entry("ok", store.OpStarted, "", 1)), "the journal stays usable")
	require.Len(t, j.InFlight(), 1)
}

func TestCloseIsIdempotentAndLaterCallsFailCleanly(t *testing.T) {
	j, _ := openTemp(t, nil)
	appendAll(t, j, entry("a", store.OpStarted, "k", 1))
	require.NoError(t, j.Close())
	require.NoError(t, j.Close())

	require.ErrorIs(t, j.Append(entry("b", store.OpStarted, "", 1)), store.ErrClosed)
	require.ErrorIs(t, j.BeginOnce(entry("b", store.OpStarted, "", 1)), store.ErrClosed)
	e, ok := j.Latest("a")
	require.False(t, ok)
	require.Equal(t, store.JournalEntry{}, e)
	require.Nil(t, j.InFlight())
	require.False(t, j.AlreadyApplied("k"))
	_, err := j.History("a")
	require.ErrorIs(t, err, store.ErrClosed)
	_, err = j.Stats()
	require.ErrorIs(t, err, store.ErrClosed)
}

func TestSecondOpenerGetsErrLocked(t *testing.T) {
	j, path := openTemp(t, nil)
	start := time.Now()
	_, err := store.Open(path, &store.Options{LockTimeout: 100 * time.Millisecond})
	require.ErrorIs(t, err, store.ErrLocked)
	require.ErrorContains(t, err, path)
	require.NotContains(t, err.Error(), "another process:", "the holder is this process: the message must not say otherwise")
	require.Less(t, time.Since(start), 10*time.Second, "the second opener must not hang")

	_, err = store.Open(path, &store.Options{ReadOnly: true, LockTimeout: 100 * time.Millisecond})
	require.ErrorIs(t, err, store.ErrLocked, "a reader cannot share the file with a writer")

	require.NoError(t, j.Close())
	j2, err := store.Open(path, nil)
	require.NoError(t, err, "the lock is released by Close")
	require.NoError(t, j2.Close())
}

func TestReadOnly(t *testing.T) {
	j, path := openTemp(t, nil)
	appendAll(t, j, entry("a", store.OpStarted, "", 1))
	require.NoError(t, j.Close())

	r1, err := store.Open(path, &store.Options{ReadOnly: true})
	require.NoError(t, err)
	defer r1.Close()
	r2, err := store.Open(path, &store.Options{ReadOnly: true})
	require.NoError(t, err, "readers share the file")
	defer r2.Close()
	require.Len(t, r2.InFlight(), 1)
	require.ErrorIs(t, r1.Append(entry("b", store.OpStarted, "", 1)), store.ErrReadOnly)
	// Even when they would find nothing to do, writing calls refuse.
	_, err = r1.Prune(context.Background(), store.PruneOptions{Before: t0})
	require.ErrorIs(t, err, store.ErrReadOnly)
	require.ErrorIs(t, r1.MergeIndexes(context.Background()), store.ErrReadOnly)
	require.ErrorIs(t, r1.BeginOnce(entry("b", store.OpStarted, "k", 1)), store.ErrReadOnly)

	_, err = store.Open(filepath.Join(t.TempDir(), "missing.db"), &store.Options{ReadOnly: true})
	require.ErrorIs(t, err, os.ErrNotExist, "a read-only open creates nothing")
}

func TestNewFileIsPrivateEvenUnderUmaskZero(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	_, path := openTemp(t, nil)
	fi, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	require.Equal(t, []string{"ops.db", "ops.db.sock"}, dirNames(t, filepath.Dir(path)), "no temporary file is left beside the journal")
	fi, err = os.Lstat(store.EndpointPath(path))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), "the live endpoint's socket is private too")
}

func TestOpenRefusesWhatIsNotAJournal(t *testing.T) {
	dir := t.TempDir()
	real, _ := openTemp(t, nil)
	require.NoError(t, real.Close())

	link := filepath.Join(dir, "link.db")
	require.NoError(t, os.Symlink(real.Path(), link))
	empty := filepath.Join(dir, "empty.db")
	require.NoError(t, os.WriteFile(empty, nil, 0o600))
	text := filepath.Join(dir, "legacy.jsonl")
	require.NoError(t, os.WriteFile(text, []byte(strings.Repeat(`{"op_id":"a","state":"started"}`+"\n", 400)), 0o600))

	tests := []struct {
		name string
		path string
		want error
	}{
		{"symlink", link, store.ErrUnsafePath},
		{"directory", dir, store.ErrUnsafePath},
		{"empty file", empty, store.ErrNotJournal},
		{"jsonl log", text, store.ErrNotJournal},
		{"missing parent", filepath.Join(dir, "no", "such.db"), os.ErrNotExist},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := store.Open(tt.path, nil)
			require.ErrorIs(t, err, tt.want)
			require.ErrorContains(t, err, tt.path)
		})
	}
	fi, err := os.Stat(empty)
	require.NoError(t, err)
	require.Zero(t, fi.Size(), "a refused file is not modified")
}

func openFDs(t *testing.T) int {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd here")
	}
	return len(fds)
}

// Open and Close release everything: 1,000 cycles leave the descriptor
// count where it was, whether the open succeeds or is refused.
func TestNoDescriptorLeaks(t *testing.T) {
	j, path := openTemp(t, nil)
	appendAll(t, j, entry("a", store.OpStarted, "", 1))
	require.NoError(t, j.Close())
	damaged := filepath.Join(t.TempDir(), "damaged.db")
	good, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(damaged, good[:5000], 0o600))

	before := openFDs(t)
	for i := range 1000 {
		j, err := store.Open(path, nil)
		require.NoError(t, err)
		if i%2 == 0 {
			_, err = store.Open(path, &store.Options{LockTimeout: time.Millisecond})
			require.ErrorIs(t, err, store.ErrLocked)
		}
		_, _ = j.Latest("a")
		require.NoError(t, j.Close())
		if i%10 == 0 {
			_, err = store.Open(damaged, nil)
			require.ErrorIs(t, err, store.ErrCorrupt)
		}
	}
	require.Equal(t, before, openFDs(t), "descriptors leaked")
}

func TestWorldWritableDirectoryIsReported(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.Chmod(dir, 0o777))
	var logged strings.Builder
	log := slog.New(slog.NewTextHandler(&logged, &slog.HandlerOptions{Level: slog.LevelWarn}))
	j, err := store.Open(filepath.Join(dir, "ops.db"), &store.Options{Logger: log})
	require.NoError(t, err)
	require.NoError(t, j.Close())
	require.Contains(t, logged.String(), "world-writable")
	require.Contains(t, logged.String(), dir)

	logged.Reset()
	require.NoError(t, os.Chmod(dir, 0o700))
	j, err = store.Open(filepath.Join(dir, "ops.db"), &store.Options{Logger: log})
	require.NoError(t, err)
	require.NoError(t, j.Close())
	require.Empty(t, logged.String())
}

// On a read-only file system (or an unwritable directory) Open of a new
// journal fails at once with an error naming the path and the cause. Mounting
// needs root: the test skips where it cannot mount.
func TestOpenOnReadOnlyFileSystem(t *testing.T) {
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a read-only tmpfs here: %v: %s", err, out)
	}
	defer func() { _ = exec.Command("umount", dir).Run() }()
	path := filepath.Join(dir, "ops.db")
	_, err := store.Open(path, nil)
	require.ErrorIs(t, err, syscall.EROFS)
	require.ErrorContains(t, err, path)

	if os.Geteuid() != 0 {
		locked := t.TempDir()
		require.NoError(t, os.Chmod(locked, 0o500))
		_, err = store.Open(filepath.Join(locked, "ops.db"), nil)
		require.ErrorIs(t, err, os.ErrPermission)
	}
}
