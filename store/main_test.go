package store_test

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/felhom/opjournal/internal/faultfs"
	"github.com/felhom/opjournal/store"
)

const (
	holdEnv    = "OPJOURNAL_TEST_HOLD"
	upgradeEnv = "OPJOURNAL_TEST_UPGRADE"
)

// testOpMergeEvery is Options.OpMergeEvery's default in this package's
// tests (and their child processes): small, so that their journals merge
// the op lists often and hold both merged lists and a tail. Other packages'
// tests keep the default, so that their journals mostly have only a tail;
// so do benchmarks, which measure the default.
const testOpMergeEvery = 7

// benchmarking reports whether the binary runs benchmarks (-test.bench).
func benchmarking() bool {
	for _, a := range os.Args[1:] {
		if strings.HasPrefix(a, "-test.bench=") && a != "-test.bench=" || a == "-test.bench" {
			return true
		}
	}
	return false
}

func TestMain(m *testing.M) {
	if !benchmarking() {
		store.SetDefaultOpMergeEvery(testOpMergeEvery)
	}
	if w := os.Getenv(faultfs.ChildEnv); w != "" {
		powerlossChild(w)
		return
	}
	flag.Parse()
	if *update {
		os.Exit(writeFixture())
	}
	if path := os.Getenv(holdEnv); path != "" {
		holdJournal(path)
		return
	}
	if path := os.Getenv(appendEnv); path != "" {
		appendUntilKilled(path)
		return
	}
	if spec := os.Getenv(crashAtEnv); spec != "" {
		crashAtStep(spec)
		return
	}
	if spec := os.Getenv(upgradeEnv); spec != "" {
		upgradeUntilExit(spec)
		return
	}
	if spec := os.Getenv(loopEnv); spec != "" {
		runLoopCases(spec)
		return
	}
	goleak.VerifyTestMain(m)
}

// holdJournal is the child process of TestLockAcrossProcesses: it opens the
// journal, says so, and holds it until its stdin closes.
func holdJournal(path string) {
	j, err := store.Open(path, nil)
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	fmt.Println("ready")
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
	_ = j.Close()
	os.Exit(0)
}

func TestLockAcrossProcesses(t *testing.T) {
	j, path := openTemp(t, nil)
	require.NoError(t, j.Close())

	child := exec.Command(os.Args[0], "-test.run=^$")
	child.Env = append(os.Environ(), holdEnv+"="+path)
	stdin, err := child.StdinPipe()
	require.NoError(t, err)
	stdout, err := child.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, child.Start())
	defer func() { _ = stdin.Close(); _ = child.Wait() }()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "ready\n", line)

	start := time.Now()
	_, err = store.Open(path, &store.Options{LockTimeout: 200 * time.Millisecond})
	require.ErrorIs(t, err, store.ErrLocked)
	require.Less(t, time.Since(start), 10*time.Second)

	require.NoError(t, stdin.Close())
	require.NoError(t, child.Wait())
	j2, err := store.Open(path, nil)
	require.NoError(t, err, "the lock goes with the process")
	require.NoError(t, j2.Close())
}
