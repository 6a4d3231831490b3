package command_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/felhom/opjournal/bench"
	"github.com/felhom/opjournal/store"
)

const (
	agentEnv       = "OPJOURNAL_TEST_AGENT"
	agentNoWaitEnv = "OPJOURNAL_TEST_AGENT_NOWAIT"
)

// agentMain is a stand-in agent, run as a child process: it opens the
// journal at path as an agent does (live endpoint on), says "ready", and
// appends lifecycles from 4 goroutines until it is killed or its stdin
// closes.
func agentMain(path string) {
	opts := &store.Options{LockTimeout: 200 * time.Millisecond}
	if os.Getenv(agentNoWaitEnv) != "" {
		opts.ReaderWait = time.Nanosecond // fail at once if readers hold the file
	}
	j, err := store.Open(path, opts)
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	fmt.Println("ready")
	stop := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		close(stop)
	}()
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				op := fmt.Sprintf("agent-%d-%d-%d", os.Getpid(), w, i)
				for _, st := range []store.OpState{store.OpStarted, store.OpTaskRunning, store.OpSucceeded} {
					e := store.JournalEntry{OpID: op, VMID: 100 + w, Kind: "start", State: st, IdempKey: op, At: time.Now()}
					if err := j.Append(e); err != nil {
						fmt.Println("error:", err)
						os.Exit(1)
					}
				}
				time.Sleep(2 * time.Millisecond)
			}
		}()
	}
	wg.Wait()
	if err := j.Close(); err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// agent is a running agent child.
type agent struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
}

// startAgent starts an agent child on path and waits until it is ready.
func startAgent(t *testing.T, path string, env ...string) *agent {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(append(os.Environ(), agentEnv+"="+path), env...)
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	a := &agent{cmd: cmd, stdin: stdin}
	t.Cleanup(a.kill)
	line, err := bufio.NewReader(stdout).ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "ready\n", line)
	return a
}

// stop asks the agent to close its journal and waits for it.
func (a *agent) stop(t *testing.T) {
	t.Helper()
	_ = a.stdin.Close()
	require.NoError(t, a.cmd.Wait())
}

func (a *agent) kill() {
	if a.cmd.ProcessState == nil {
		_ = a.cmd.Process.Kill()
		_ = a.cmd.Wait()
	}
}

// Every read command works on a journal an agent is appending to, again
// and again, through its live endpoint, and says so.
func TestReadCommandsOnALiveJournal(t *testing.T) {
	_, db := newMigrated(t, smallLog)
	r := run(t, "tail", "-n", "1", "--json", db) // offline
	requireCode(t, r, 0)
	require.NotContains(t, r.stderr, "live")
	var last store.Change
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &last))
	op, key := last.Record.OpID, last.Record.IdempKey
	startAgent(t, db)
	backups := t.TempDir()
	for round := range 3 {
		for _, args := range [][]string{
			{"get", db, op},
			{"get", "--history", "--json", db, op},
			{"get", db, "--vmid", "101"},
			{"inflight", "--json", db},
			{"applied", db, key},
			{"stats", "--json", db},
			{"check", db},
			{"tail", "-n", "5", db},
			{"backup", db, filepath.Join(backups, fmt.Sprintf("b%d.db", round))},
		} {
			r := run(t, args...)
			requireCode(t, r, 0)
			require.Contains(t, r.stderr, "reading the live journal of process", "%v", args)
			require.NotEmpty(t, r.stdout, "%v", args)
		}
		r := run(t, "export", db)
		requireCode(t, r, 0)
		require.Contains(t, r.stdout, fmt.Sprintf(`"op_id":%q`, op))
	}
	for round := range 3 {
		r := run(t, "check", filepath.Join(backups, fmt.Sprintf("b%d.db", round)))
		requireCode(t, r, 0)
	}
}

// tail -f follows an agent across its restart, and a SIGKILL: every
// committed record is printed once, in commit order.
func TestTailFollowsAcrossAgentRestarts(t *testing.T) {
	_, db := newMigrated(t, smallLog)
	a := startAgent(t, db)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan result, 1)
	go func() {
		var stderr strings.Builder
		code := runTailTo(ctx, pw, &stderr, "tail", "-f", "--from", "0", "--json", db)
		_ = pw.Close()
		done <- result{stderr: stderr.String(), code: code}
	}()
	var seqs []uint64
	var lines atomic.Int64
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			var c store.Change
			if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
				t.Error(err)
				return
			}
			seqs = append(seqs, c.Seq)
			lines.Add(1)
		}
	}()
	waitFor := func(n int64) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for lines.Load() < n && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		require.GreaterOrEqual(t, lines.Load(), n)
	}
	waitFor(50)
	a.stop(t) // a clean restart
	a = startAgent(t, db)
	waitFor(lines.Load() + 50)
	require.NoError(t, a.cmd.Process.Signal(syscall.SIGKILL)) // a crash
	_ = a.cmd.Wait()
	a = startAgent(t, db)
	waitFor(lines.Load() + 50)
	a.stop(t)

	// Everything the journal holds now, tail printed, once and in order.
	j, err := store.Open(db, &store.Options{ReadOnly: true})
	require.NoError(t, err)
	last := j.LastSeq()
	require.NoError(t, j.Close())
	waitFor(int64(last))
	cancel()
	r := <-done
	<-readDone
	require.Equal(t, 0, r.code, r.stderr)
	require.Len(t, seqs, int(last))
	for i, s := range seqs {
		require.Equal(t, uint64(i+1), s)
	}
	require.Contains(t, r.stderr, "the agent stopped serving")
}

// runTailTo runs the command line with its own stdout.
func runTailTo(ctx context.Context, stdout io.Writer, stderr io.Writer, args ...string) int {
	return executeTo(ctx, stdout, stderr, args...)
}

// An operator's long offline read does not keep an agent from starting, nor
// make it wait: the read works from a copy and lets go of the file at once.
func TestLongReadDoesNotStopTheAgent(t *testing.T) {
	_, db := newMigrated(t, bench.GenOptions{Ops: 5000}) // an export well over its 256 KiB buffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	exported := make(chan int, 1)
	go func() {
		exported <- executeTo(ctx, pw, io.Discard, "export", db)
		_ = pw.Close()
	}()
	// The export has begun (its first bytes are out) and is now stuck on
	// a reader that does not read.
	first := make([]byte, 1)
	_, err := io.ReadFull(pr, first)
	require.NoError(t, err)
	a := startAgent(t, db, agentNoWaitEnv+"=1") // LockTimeout 200ms, no wait for readers
	a.stop(t)
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	require.Equal(t, 0, <-exported)
}

// A reader that holds the file (a read-only Open) delays an agent's Open
// but does not fail it: the agent waits for readers, and says who they are.
func TestAgentWaitsForReaders(t *testing.T) {
	_, db := newMigrated(t, smallLog)
	r, err := store.Open(db, &store.Options{ReadOnly: true})
	require.NoError(t, err)
	released := make(chan struct{})
	go func() {
		time.Sleep(time.Second)
		_ = r.Close()
		close(released)
	}()
	a := startAgent(t, db) // LockTimeout 200ms: it would fail without the wait
	<-released
	a.stop(t)

	// A writer holding the file is not waited for.
	holdOpen(t, db)
	_, err = store.Open(db, &store.Options{LockTimeout: 100 * time.Millisecond})
	require.ErrorIs(t, err, store.ErrLocked)
	require.Contains(t, err.Error(), "held by a writer: pid ")
}
