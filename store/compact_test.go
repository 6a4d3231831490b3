package store_test

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/felhom/opjournal/store"
)

// dump is every record of a journal with its sequence, plus applied keys,
// as text, for comparing two files.
func dump(t *testing.T, path string) string {
	t.Helper()
	j, err := store.Open(path, &store.Options{ReadOnly: true})
	require.NoError(t, err)
	defer j.Close()
	var b strings.Builder
	require.NoError(t, j.ForEachRecord(func(seq uint64, e store.JournalEntry) error {
		fmt.Fprintf(&b, "%d %+v\n", seq, e)
		return nil
	}))
	require.NoError(t, j.ForEachOp(func(e store.JournalEntry) error {
		fmt.Fprintf(&b, "latest %+v applied=%v\n", e, j.AlreadyApplied(e.IdempKey))
		return nil
	}))
	_, err = j.Check(context.Background())
	require.NoError(t, err)
	return b.String()
}

// fillForCompaction writes n old finished ops and a few live ones, then
// prunes the old ones.
func fillForCompaction(t *testing.T, path string, n int) {
	t.Helper()
	j, err := store.Open(path, &store.Options{UnsafeNoSync: true})
	require.NoError(t, err)
	var batch []store.JournalEntry
	for i := range n {
		batch = append(batch, lifecycle(fmt.Sprintf("old-%05d", i), 100+i%50, fmt.Sprint("k", i), store.OpSucceeded, yearAgo)...)
		if len(batch) >= 300 {
			require.NoError(t, j.AppendBatch(batch))
			batch = batch[:0]
		}
	}
	require.NoError(t, j.AppendBatch(batch))
	appendAll(t, j, lifecycle("live", 100, "k-live", store.OpSucceeded, t0)...)
	appendAll(t, j, lifecycle("running", 101, "k-run", store.OpSucceeded, t0)[:2]...)
	_, err = j.Prune(context.Background(), store.PruneOptions{Before: cutoff})
	require.NoError(t, err)
	require.NoError(t, j.Sync())
	require.NoError(t, j.Close())
}

func TestCompact(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ops.db")
	fillForCompaction(t, path, 3000)
	before := dump(t, path)

	j, err := store.Open(path, nil)
	require.NoError(t, err)
	_, err = store.Compact(ctx, path, &store.CompactOptions{LockTimeout: 50 * time.Millisecond})
	require.ErrorIs(t, err, store.ErrLocked, "the journal must be closed")
	require.NoError(t, j.Close())

	// The new file keeps the old one's permissions, and its owner when
	// root compacts another user's journal.
	require.NoError(t, os.Chmod(path, 0o640))
	uid, gid := os.Geteuid(), os.Getegid()
	if uid == 0 {
		uid, gid = 4321, 4321
		require.NoError(t, os.Chown(path, uid, gid))
	}
	// Between the rename and the directory's fsync the new file is locked.
	var lockedErr error
	store.SetTestHook(func(step string) {
		if step == "installed" {
			var j *store.Journal
			if j, lockedErr = store.Open(path, &store.Options{LockTimeout: 20 * time.Millisecond}); lockedErr == nil {
				_ = j.Close()
			}
		}
	})
	defer store.SetTestHook(nil)
	rep, err := store.Compact(ctx, path, &store.CompactOptions{TxMaxSize: 4096})
	require.NoError(t, err)
	require.ErrorIs(t, lockedErr, store.ErrLocked, "opened before the rename was durable")
	t.Logf("%+v", rep)
	require.Less(t, rep.SizeAfter, rep.SizeBefore/4, "pruned space returned to the file system")
	require.Equal(t, 2, rep.Ops)
	require.Equal(t, 5, rep.Records)
	fi, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, rep.SizeAfter, fi.Size())
	require.Equal(t, fs.FileMode(0o640), fi.Mode().Perm())
	require.Equal(t, uint32(uid), fi.Sys().(*syscall.Stat_t).Uid)
	require.Equal(t, uint32(gid), fi.Sys().(*syscall.Stat_t).Gid)
	require.Equal(t, before, dump(t, path), "the same journal")

	// Appends continue where they left off: sequences were kept.
	j, err = store.Open(path, nil)
	require.NoError(t, err)
	appendAll(t, j, lifecycle("after", 100, "k-after", store.OpSucceeded, t0)...)
	require.True(t, j.AlreadyApplied("k1"), "applied keys of pruned ops survive compaction")
	require.NoError(t, j.Close())
	require.Equal(t, []string{"ops.db"}, dirNames(t, filepath.Dir(path)), "no temporary files")
}

func TestCompactRefusesDamagedJournal(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ops.db")
	fillForCompaction(t, path, 10)
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	// Damage every copy of the live op's key in the file: those in its
	// records and applied entry, and any in pages freed since.
	require.Positive(t, bytes.Count(raw, []byte("k-live")))
	raw = bytes.ReplaceAll(raw, []byte("k-live"), []byte("k-liVe"))
	require.NoError(t, os.WriteFile(path, raw, 0o600))
	_, err = store.Compact(context.Background(), path, nil)
	require.ErrorIs(t, err, store.ErrCorrupt)
	require.Equal(t, 1, strings.Count(err.Error(), "store:"), "one prefix: %v", err)
	after, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, raw, after, "a damaged journal is left alone")
}

// TestOpenWaitingForCompactionOpensTheNewFile: an opener blocked on the old
// file's lock while Compact swaps the file must end up on the new file, or
// its appends would go to an unlinked inode.
func TestOpenWaitingForCompactionOpensTheNewFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ops.db")
	fillForCompaction(t, path, 2000)
	var wg sync.WaitGroup
	var opened *store.Journal
	var openErr error
	store.SetTestHook(func(step string) {
		if step == "locked" {
			wg.Go(func() { opened, openErr = store.Open(path, &store.Options{LockTimeout: time.Minute}) })
			time.Sleep(50 * time.Millisecond) // let it block on the lock
		}
	})
	defer store.SetTestHook(nil)
	_, err := store.Compact(context.Background(), path, nil)
	require.NoError(t, err)
	wg.Wait()
	require.NoError(t, openErr)
	appendAll(t, opened, store.JournalEntry{OpID: "after-compact", State: store.OpStarted, At: t0})
	require.NoError(t, opened.Close())
	j, err := store.Open(path, nil)
	require.NoError(t, err)
	defer j.Close()
	_, ok := j.Latest("after-compact")
	require.True(t, ok, "the append reached the file at the path")
}

func TestBackup(t *testing.T) {
	ctx := context.Background()
	j, path := openTemp(t, nil)
	for i := range 200 {
		appendAll(t, j, lifecycle(fmt.Sprint("op", i), 100, fmt.Sprint("k", i), store.OpSucceeded, t0)...)
	}
	// Appends keep going during the backup; the copy is the journal as of
	// its start, whole.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if err := j.Append(store.JournalEntry{OpID: fmt.Sprint("during", i), State: store.OpStarted, At: t0}); err != nil {
				t.Error(err)
				return
			}
		}
	})
	dst := filepath.Join(t.TempDir(), "copy.db")
	n, err := j.BackupFile(ctx, dst)
	close(stop)
	wg.Wait()
	require.NoError(t, err)
	fi, err := os.Stat(dst)
	require.NoError(t, err)
	require.Equal(t, n, fi.Size())

	c, err := store.Open(dst, nil)
	require.NoError(t, err)
	for i := range 200 {
		h, err := c.History(fmt.Sprint("op", i))
		require.NoError(t, err)
		require.Len(t, h, 3)
		require.True(t, c.AlreadyApplied(fmt.Sprint("k", i)))
	}
	appendAll(t, c, store.JournalEntry{OpID: "restored", State: store.OpStarted, At: t0})
	require.NoError(t, c.Close())

	_, err = j.BackupFile(ctx, dst)
	require.ErrorIs(t, err, fs.ErrExist, "never replaces a file")

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	var buf bytes.Buffer
	_, err = j.Backup(cctx, &buf)
	require.ErrorIs(t, err, context.Canceled)
	require.NoError(t, j.Err(), "a failed backup does not poison the journal")

	// A panic in the caller's writer reaches the caller, and is not taken
	// for damage in the journal.
	require.PanicsWithValue(t, "writer broke", func() { _, _ = j.Backup(ctx, panicWriter{}) })
	require.NoError(t, j.Err())
	appendAll(t, j, store.JournalEntry{OpID: "after-panic", State: store.OpStarted, At: t0})
	_, err = j.Check(ctx)
	require.NoError(t, err)
	_ = path
}

type panicWriter struct{}

func (panicWriter) Write([]byte) (int, error) { panic("writer broke") }

const crashAtEnv = "OPJOURNAL_TEST_CRASH_AT"

// crashAtStep is the child process of the crash tests: it runs Compact or
// BackupFile and exits abruptly, as a crash would, at the given step.
func crashAtStep(spec string) {
	op, rest, _ := strings.Cut(spec, ":")
	step, rest, _ := strings.Cut(rest, ":")
	path, dst, _ := strings.Cut(rest, ":")
	store.SetTestHook(func(s string) {
		if s == step {
			os.Exit(7)
		}
	})
	var err error
	switch op {
	case "compact":
		_, err = store.Compact(context.Background(), path, nil)
	case "backup":
		var j *store.Journal
		if j, err = store.Open(path, nil); err == nil {
			_, err = j.BackupFile(context.Background(), dst)
		}
	}
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// TestCompactAndBackupCrashAtEveryStep kills Compact and BackupFile at each
// of their steps: the journal at its path is always whole and the same, a
// backup is either absent or whole, and the next Compact cleans up.
func TestCompactAndBackupCrashAtEveryStep(t *testing.T) {
	steps := []string{"locked", "written", "synced", "verified", "installed", "none"}
	for _, op := range []string{"compact", "backup"} {
		for _, step := range steps {
			if op == "backup" && step == "locked" {
				continue
			}
			t.Run(op+"/"+step, func(t *testing.T) {
				dir := t.TempDir()
				path, dst := filepath.Join(dir, "ops.db"), filepath.Join(dir, "copy.db")
				fillForCompaction(t, path, 300)
				want := dump(t, path)
				child := exec.Command(os.Args[0], "-test.run=^$")
				child.Env = append(os.Environ(), fmt.Sprintf("%s=%s:%s:%s:%s", crashAtEnv, op, step, path, dst))
				out, err := child.CombinedOutput()
				if step == "none" {
					require.NoError(t, err, "%s", out)
				} else {
					var ee *exec.ExitError
					require.ErrorAs(t, err, &ee, "%s", out)
					require.Equal(t, 7, ee.ExitCode(), "%s", out)
				}
				require.Equal(t, want, dump(t, path), "the journal after a crash at %s", step)
				if op == "backup" {
					if _, err := os.Stat(dst); err == nil {
						require.Equal(t, want, dump(t, dst), "a backup that exists is whole")
					}
					return
				}
				_, err = store.Compact(context.Background(), path, nil)
				require.NoError(t, err)
				require.Equal(t, want, dump(t, path))
				require.Equal(t, []string{"ops.db"}, dirNames(t, dir), "stale temporary files removed")
			})
		}
	}
}
