package store_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/felhom/opjournal/store"
)

const (
	appendEnv = "OPJOURNAL_TEST_APPEND_UNTIL_KILLED"
	trialEnv  = "OPJOURNAL_TEST_TRIAL"
	writers   = 4
)

// appendUntilKilled is the child of the crash trials: several goroutines
// append lifecycles (some through BeginOnce with a key) and print one line
// per acknowledged record, "ack <op> <state> <key>", only after Append has
// returned. It runs until it is killed. If an Append fails it prints
// "error <err>", checks that the handle stays poisoned, and exits.
func appendUntilKilled(path string) {
	// Merge index entries often, so that kills land in merges too.
	j, err := store.Open(path, &store.Options{IndexMergeEvery: 16})
	if err != nil {
		fmt.Println("error open:", err)
		os.Exit(3)
	}
	trial := os.Getenv(trialEnv)
	var mu sync.Mutex
	say := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(os.Stdout, format+"\n", args...)
	}
	say("ready")
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := 0; ; i++ {
				op := fmt.Sprintf("t%s-w%d-%d", trial, w, i)
				key := ""
				if i%2 == 0 {
					key = "key-" + op
				}
				for _, st := range []store.OpState{store.OpStarted, store.OpTaskRunning, store.OpSucceeded} {
					e := store.JournalEntry{OpID: op, VMID: 100*w + i%7, Kind: "start", State: st, IdempKey: key, At: time.Now()}
					if st != store.OpStarted {
						e.UPID = "UPID:" + op
					}
					var err error
					if st == store.OpStarted {
						err = j.BeginOnce(e)
					} else {
						err = j.Append(e)
					}
					if err != nil {
						say("error %v", err)
						for range 3 {
							if err := j.Append(e); !errors.Is(err, store.ErrPoisoned) {
								say("not-poisoned %v", err)
							}
						}
						m, _ := j.Metrics() // the counters, even though poisoned
						say("commit-failures %d", m.CommitFailures)
						say("poisoned")
						os.Exit(0)
					}
					say("ack %s %s %s", op, st, key)
				}
			}
		})
	}
	wg.Wait()
}

// ack is one acknowledged record reported by the child.
type ack struct {
	op    string
	state store.OpState
	key   string
}

// child is a running appendUntilKilled process.
type child struct {
	cmd   *exec.Cmd
	lines chan string
}

func startChild(t *testing.T, path string, trial int, wrap ...string) *child {
	t.Helper()
	args := append(wrap, os.Args[0], "-test.run=^$")
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(os.Environ(), appendEnv+"="+path, trialEnv+"="+strconv.Itoa(trial))
	// Its own process group: killing strace would leave its tracee running.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) })
	c := &child{cmd: cmd, lines: make(chan string, 1<<16)}
	go func() {
		defer close(c.lines)
		s := bufio.NewScanner(out)
		for s.Scan() {
			c.lines <- s.Text()
		}
	}()
	return c
}

// waitReady waits for the child's "ready" line.
func (c *child) waitReady(t *testing.T) {
	t.Helper()
	select {
	case l, ok := <-c.lines:
		require.True(t, ok, "child exited before it was ready")
		require.Equal(t, "ready", l)
	case <-time.After(30 * time.Second):
		t.Fatal("child not ready")
	}
}

// finish waits for the child to end and returns its acknowledgements and
// other lines.
func (c *child) finish(t *testing.T) (acks []ack, other []string) {
	t.Helper()
	var lines []string
	for l := range c.lines { // all output first: Wait closes the pipe
		lines = append(lines, l)
	}
	_ = c.cmd.Wait()
	for _, l := range lines {
		f := strings.Split(l, " ")
		if f[0] == "ack" && len(f) == 4 {
			acks = append(acks, ack{f[1], store.OpState(f[2]), f[3]})
		} else {
			other = append(other, l)
		}
	}
	return acks, other
}

// requireAcked checks, after a crash, that every acknowledged record and
// every key of an acknowledged success is in the journal, and that the file
// passes the full check.
func requireAcked(t *testing.T, path string, acks []ack) {
	t.Helper()
	j, err := store.Open(path, nil)
	require.NoError(t, err)
	defer j.Close()
	histories := map[string][]store.JournalEntry{}
	for _, a := range acks {
		h, ok := histories[a.op]
		if !ok {
			h, err = j.History(a.op)
			require.NoError(t, err)
			histories[a.op] = h
		}
		found := false
		for _, e := range h {
			found = found || (e.State == a.state && e.IdempKey == a.key)
		}
		require.True(t, found, "acknowledged record %+v lost", a)
		if a.state == store.OpSucceeded && a.key != "" {
			ok, err := j.IsApplied(a.key)
			require.NoError(t, err)
			require.True(t, ok, "key %s of an acknowledged success lost", a.key)
		}
	}
	rep, err := j.Check(context.Background())
	require.NoError(t, err, "check after crash: %v", rep.Problems)
}

func crashTrials() int {
	if n, err := strconv.Atoi(os.Getenv("OPJOURNAL_CRASH_TRIALS")); err == nil && n > 0 {
		return n
	}
	if testing.Short() {
		return 5
	}
	return 20
}

// TestCrashTrials kills an appending child with SIGKILL at random moments,
// reopening the same journal each time. Set OPJOURNAL_CRASH_TRIALS for more
// (make test-crash runs 1,000).
func TestCrashTrials(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ops.db")
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	trials, total := crashTrials(), 0
	for trial := range trials {
		c := startChild(t, path, trial)
		c.waitReady(t)
		time.Sleep(time.Duration(rng.IntN(60_000)) * time.Microsecond)
		require.NoError(t, c.cmd.Process.Signal(syscall.SIGKILL))
		acks, other := c.finish(t)
		require.Empty(t, other, "child reported")
		requireAcked(t, path, acks)
		total += len(acks)
	}
	t.Logf("%d trials, %d acknowledged records, 0 lost", trials, total)
}

func straceOrSkip(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("strace")
	if err != nil {
		t.Skip("strace not installed (apt-get install strace): deterministic kill points skipped")
	}
	out, err := exec.Command(p, "-f", "-qq", "-e", "trace=none", "true").CombinedOutput()
	if err != nil {
		t.Skipf("strace cannot trace here: %v: %s", err, out)
	}
	return p
}

// TestKillAtEverySyncAndWrite kills the child exactly at its Nth fdatasync
// or pwrite64 (strace's syscall fault injection), for a range of N: the
// moments a commit is half on disk.
func TestKillAtEverySyncAndWrite(t *testing.T) {
	strace := straceOrSkip(t)
	last := 12
	if testing.Short() {
		last = 4
	}
	for _, call := range []string{"fdatasync", "pwrite64"} {
		for n := 1; n <= last; n++ {
			t.Run(fmt.Sprintf("%s=%d", call, n), func(t *testing.T) {
				path := filepath.Join(t.TempDir(), "ops.db")
				// The journal exists first, so the kill lands in appends.
				j, err := store.Open(path, nil)
				require.NoError(t, err)
				require.NoError(t, j.Close())
				c := startChild(t, path, n, strace, "-f", "-qq", "-o", "/dev/null",
					"-e", "trace="+call, "-e", fmt.Sprintf("inject=%s:signal=KILL:when=%d", call, n))
				acks, other := c.finish(t)
				ws, ok := c.cmd.ProcessState.Sys().(syscall.WaitStatus)
				require.True(t, ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL,
					"the child must die by the injected SIGKILL, got %v; output %v", c.cmd.ProcessState, other)
				require.Equal(t, []string{"ready"}, other, "child reported")
				requireAcked(t, path, acks)
				t.Logf("killed at %s #%d after %d acknowledged records", call, n, len(acks))
			})
		}
	}
}

// TestFailedFsyncPoisons makes the Nth fdatasync fail with EIO: the Append
// in that commit returns an error, every later call says ErrPoisoned (the
// fsync is never retried), and after reopening nothing acknowledged is lost.
func TestFailedFsyncPoisons(t *testing.T) {
	strace := straceOrSkip(t)
	for _, n := range []int{1, 2, 5, 9} {
		t.Run(fmt.Sprintf("fdatasync=%d", n), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "ops.db")
			j, err := store.Open(path, nil)
			require.NoError(t, err)
			require.NoError(t, j.Close())
			c := startChild(t, path, n, strace, "-f", "-qq", "-o", "/dev/null",
				"-e", "trace=fdatasync", "-e", fmt.Sprintf("inject=fdatasync:error=EIO:when=%d", n))
			deadline := time.After(60 * time.Second)
			var seen []string
		wait:
			for {
				select {
				case l, ok := <-c.lines:
					if !ok {
						break wait
					}
					if strings.HasPrefix(l, "ack") {
						continue
					}
					seen = append(seen, l)
					if l == "poisoned" {
						break wait
					}
				case <-deadline:
					t.Fatal("the child never saw the failure")
				}
			}
			acks, other := c.finish(t) // the child exits once it has seen the poison
			seen = append(seen, other...)
			require.Contains(t, seen, "poisoned")
			for _, l := range seen {
				require.NotContains(t, l, "not-poisoned")
			}
			require.True(t, strings.Contains(strings.Join(seen, "\n"), "input/output error"), "the failed commit's error: %v", seen)
			require.Contains(t, seen, "commit-failures 1", "Metrics still counts after the poison")
			requireAcked(t, path, acks)
		})
	}
}
