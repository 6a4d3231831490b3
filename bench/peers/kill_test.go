package peers

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/felhom/opjournal/bench"
	"github.com/felhom/opjournal/store"
)

// killChildEnv names the impl and journal a test binary re-executed by
// TestKilledWriterLosesNoAck appends to, as "impl=path".
const killChildEnv = "OPJOURNAL_PEERS_KILL_CHILD"

// killWriters append at once in the child.
const killWriters = 4

func TestMain(m *testing.M) {
	if v := os.Getenv(killChildEnv); v != "" {
		os.Exit(killChild(v))
	}
	os.Exit(m.Run())
}

// killChild appends from killWriters goroutines until it is killed,
// printing each op id once its Append has returned.
func killChild(v string) int {
	var impl, path string
	for i := range v {
		if v[i] == '=' {
			impl, path = v[:i], v[i+1:]
			break
		}
	}
	for _, im := range Impls() {
		if im.Name != impl {
			continue
		}
		j, err := im.Open(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		out := bufio.NewWriter(os.Stdout)
		var mu sync.Mutex
		var wg sync.WaitGroup
		for w := range killWriters {
			wg.Go(func() {
				for n := 0; ; n++ {
					op := "op-" + strconv.Itoa(w) + "-" + strconv.Itoa(n)
					e := store.JournalEntry{OpID: op, VMID: 100 + w, Kind: "start", State: store.OpStarted,
						At: time.Now().UTC(), Params: map[string]string{"node": "pve-node1"}}
					if err := j.Append(e); err != nil {
						fmt.Fprintln(os.Stderr, err)
						os.Exit(3)
					}
					mu.Lock()
					fmt.Fprintln(out, op)
					_ = out.Flush()
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		return 0
	}
	fmt.Fprintf(os.Stderr, "unknown impl %q\n", impl)
	return 2
}

// TestKilledWriterLosesNoAck kills (SIGKILL) a process appending to each
// peer from several goroutines, then opens the journal: every append that
// returned before the kill is there, and the journal still takes appends.
// (A kill loses the process, not the page cache: what this proves is that
// an acknowledged append is written, and a torn tail recovered, by the
// engine; the fsync before the acknowledgement is the engines' setting,
// WAL with synchronous=FULL and pebble.Sync.)
func TestKilledWriterLosesNoAck(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process per peer")
	}
	for _, impl := range []string{ImplSQLite, ImplSQLiteBatched, ImplPebble} {
		t.Run(impl, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "journal")
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), killChildEnv+"="+impl+"="+path)
			stdout, err := cmd.StdoutPipe()
			require.NoError(t, err)
			cmd.Stderr = os.Stderr
			require.NoError(t, cmd.Start())
			var acked []string
			lines := bufio.NewScanner(stdout)
			for len(acked) < 300 && lines.Scan() {
				acked = append(acked, lines.Text())
			}
			require.NoError(t, cmd.Process.Kill())
			// Appends acknowledged while the kill was on its way count too.
			for lines.Scan() {
				acked = append(acked, lines.Text())
			}
			_ = cmd.Wait()
			require.GreaterOrEqual(t, len(acked), 300, "the child stopped early")

			var j bench.Journal
			for _, im := range Impls() {
				if im.Name == impl {
					j, err = im.Open(path)
					require.NoError(t, err, "open after the kill")
				}
			}
			require.NotNil(t, j)
			defer func() { require.NoError(t, j.Close()) }()
			for _, op := range acked {
				_, ok := j.Latest(op)
				require.True(t, ok, "%s: acknowledged before the kill, missing after", op)
			}
			require.NoError(t, j.Append(store.JournalEntry{OpID: "op-after", Kind: "start", State: store.OpStarted, At: time.Now()}))
			_, ok := j.Latest("op-after")
			require.True(t, ok)
		})
	}
}
