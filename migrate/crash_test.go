package migrate

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/felhom/opjournal/bench"
)

const migrateEnv = "OPJOURNAL_TEST_MIGRATE"

// migrateChild migrates src to dst and exits 0, unless it is killed first.
// It keeps to one OS thread, so that strace's per-thread syscall counts are
// the migration's own.
func migrateChild(src, dst string) {
	runtime.LockOSThread()
	if _, err := Migrate(context.Background(), src, dst, nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
}

func generatedLog(t *testing.T, dir string, ops int) string {
	t.Helper()
	src := filepath.Join(dir, "ops.jsonl")
	f, err := os.Create(src)
	require.NoError(t, err)
	_, err = bench.Generate(context.Background(), f, bench.GenOptions{Ops: ops, Resumed: true, TornTail: true})
	require.NoError(t, err)
	require.NoError(t, f.Close())
	return src
}

// requireNoneOrComplete is the contract of a killed migration: no
// destination, or one that verifies against the log.
func requireNoneOrComplete(t *testing.T, src, dst string) string {
	t.Helper()
	if _, err := os.Stat(dst); errors.Is(err, os.ErrNotExist) {
		return "none"
	}
	_, err := Verify(context.Background(), src, dst)
	require.NoError(t, err, "a destination exists after the kill, so it must be complete")
	return "complete"
}

func runMigrateChild(t *testing.T, src, dst string, wrap ...string) *exec.Cmd {
	t.Helper()
	args := append(wrap, os.Args[0], "-test.run=^$")
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(os.Environ(), migrateEnv+"="+src, "DB="+dst)
	require.NoError(t, cmd.Start())
	return cmd
}

// TestMigrationKilledAtRandom kills migrating children at random moments.
func TestMigrationKilledAtRandom(t *testing.T) {
	trials := 8
	if n, err := strconv.Atoi(os.Getenv("OPJOURNAL_CRASH_TRIALS")); err == nil && n > 0 {
		trials = max(trials, n/20)
	}
	dir := t.TempDir()
	src := generatedLog(t, dir, 20_000)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 3))
	outcomes := map[string]int{}
	for i := range trials {
		dst := filepath.Join(dir, fmt.Sprintf("ops-%d.db", i))
		cmd := runMigrateChild(t, src, dst)
		time.Sleep(time.Duration(rng.IntN(1500)) * time.Millisecond)
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
		outcomes[requireNoneOrComplete(t, src, dst)]++
	}
	t.Logf("%d killed migrations: %v", trials, outcomes)
}

// TestMigrationKilledAtEachSyscall kills the migration exactly when it
// first syncs, links the result into place, or removes its temporary name.
func TestMigrationKilledAtEachSyscall(t *testing.T) {
	strace := straceOrSkip(t)
	dir := t.TempDir()
	src := generatedLog(t, dir, 2_000)
	var points []string
	for call, last := range map[string]int{"fdatasync": 5, "fsync": 5, "linkat": 2, "unlinkat": 3} {
		for n := 1; n <= last; n++ {
			points = append(points, fmt.Sprintf("%s:when=%d", call, n))
		}
	}
	for _, point := range points {
		t.Run(point, func(t *testing.T) {
			dst := filepath.Join(t.TempDir(), "ops.db")
			call, _, _ := strings.Cut(point, ":")
			cmd := runMigrateChild(t, src, dst, strace, "-f", "-qq", "-o", "/dev/null",
				"-e", "trace="+call, "-e", "inject="+point+":signal=KILL")
			_ = cmd.Wait()
			t.Logf("%s: exit %v, destination %s", point, cmd.ProcessState, requireNoneOrComplete(t, src, dst))
		})
	}
}

func straceOrSkip(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("strace")
	if err != nil {
		t.Skip("strace not installed (apt-get install strace): deterministic kill points skipped")
	}
	if out, err := exec.Command(p, "-f", "-qq", "-e", "trace=none", "true").CombinedOutput(); err != nil {
		t.Skipf("strace cannot trace here: %v: %s", err, out)
	}
	return p
}

// TestMigrationIOFaults makes the migration's writes and syncs fail (disk
// full, I/O error) at several points: Migrate must fail with the error and
// leave no destination and no temporary file.
func TestMigrationIOFaults(t *testing.T) {
	strace := straceOrSkip(t)
	src := generatedLog(t, t.TempDir(), 2_000)
	for _, fault := range []string{
		"pwrite64:error=ENOSPC:when=3", "pwrite64:error=ENOSPC:when=40", "pwrite64:error=EFBIG:when=20",
		"fdatasync:error=EIO:when=2", "fdatasync:error=EIO:when=4", "fsync:error=EIO:when=1", "linkat:error=ENOSPC:when=2",
	} {
		t.Run(fault, func(t *testing.T) {
			dir := t.TempDir()
			dst := filepath.Join(dir, "ops.db")
			call, _, _ := strings.Cut(fault, ":")
			cmd := runMigrateChild(t, src, dst, strace, "-f", "-qq", "-o", "/dev/null", "-e", "trace="+call, "-e", "inject="+fault)
			err := cmd.Wait()
			var exit *exec.ExitError
			require.ErrorAs(t, err, &exit, "the migration must fail")
			require.Equal(t, 1, exit.ExitCode())
			require.NoFileExists(t, dst)
			left, err := os.ReadDir(dir)
			require.NoError(t, err)
			require.Empty(t, left, "no temporary file is left")
		})
	}
}
