package command_test

import (
	"bytes"
	"context"
	"flag"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/felhom/opjournal/bench"
	"github.com/felhom/opjournal/cmd/opjournal/command"
	"github.com/felhom/opjournal/migrate"
	"github.com/felhom/opjournal/store"
)

var update = flag.Bool("update", false, "rewrite the golden files in ../testdata")

func TestMain(m *testing.M) {
	if path := os.Getenv(agentEnv); path != "" {
		agentMain(path)
		return
	}
	goleak.VerifyTestMain(m)
}

// result is what one run of the command line produced.
type result struct {
	stdout, stderr string
	code           int
}

// run runs the command line in-process with args.
func run(t *testing.T, args ...string) result {
	t.Helper()
	return runContext(t.Context(), args...)
}

// executeTo runs the command line in-process with its own stdout and stderr
// and returns its exit code.
func executeTo(ctx context.Context, stdout, stderr io.Writer, args ...string) int {
	return command.Execute(ctx, command.NewRootCommand(stdout, stderr), args)
}

func runContext(ctx context.Context, args ...string) result {
	var stdout, stderr bytes.Buffer
	code := command.Execute(ctx, command.NewRootCommand(&stdout, &stderr), args)
	return result{stdout: stdout.String(), stderr: stderr.String(), code: code}
}

// requireCode fails unless r exited with want, showing what it printed.
func requireCode(t *testing.T, r result, want int) {
	t.Helper()
	require.Equal(t, want, r.code, "exit code: got %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, want, r.stdout, r.stderr)
}

// t0 is the fixture's first record time.
var t0 = time.Date(2026, 1, 5, 8, 0, 0, 0, time.UTC)

// fixtureRecords are the records of the fixture store, in append order:
// op-a succeeds with key job-a; op-b stays task_running; op-c fails with key
// job-c; op-d and "op-e\tx" (an id that needs quoting) stay started.
func fixtureRecords() []store.JournalEntry {
	upid := func(vmid string) string {
		return "UPID:pve-node1:0000A1B2:00C3D4E5:695B6F00:qmstart:" + vmid + ":root@pam:"
	}
	a := store.JournalEntry{OpID: "op-a", VMID: 101, Kind: "start", IdempKey: "job-a",
		Params: map[string]string{"node": "pve-node1", "reason": "signed-job"}}
	b := store.JournalEntry{OpID: "op-b", VMID: 102, Kind: "set_config",
		Params: map[string]string{"cores": "2", "memory": "2048", "node": "pve-node1"}}
	c := store.JournalEntry{OpID: "op-c", VMID: 103, Kind: "stop", IdempKey: "job-c"}
	d := store.JournalEntry{OpID: "op-d", VMID: 104, Kind: "snapshot", IdempKey: "job-d"}
	e := store.JournalEntry{OpID: "op-e\tx", VMID: 105, Kind: "resize_disk",
		Params: map[string]string{"size": "+10G", "note": "two words"}}
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	with := func(e store.JournalEntry, state store.OpState, ms int, upid string) store.JournalEntry {
		e.State, e.At, e.UPID = state, at(ms), upid
		return e
	}
	return []store.JournalEntry{
		with(a, store.OpStarted, 0, ""),
		with(b, store.OpStarted, 1000, ""),
		with(a, store.OpTaskRunning, 1500, upid("101")),
		with(b, store.OpTaskRunning, 2000, upid("102")),
		with(a, store.OpSucceeded, 3250, upid("101")),
		with(c, store.OpStarted, 4000, ""),
		with(c, store.OpFailed, 5000, ""),
		with(d, store.OpStarted, 6000, ""),
		with(e, store.OpStarted, 7000, ""),
	}
}

// newStore writes records into a new store in a temporary directory and
// returns its path.
func newStore(t *testing.T, records []store.JournalEntry) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ops.db")
	j, err := store.Open(path, &store.Options{UnsafeNoSync: true})
	require.NoError(t, err)
	require.NoError(t, j.AppendBatch(records))
	require.NoError(t, j.Sync())
	require.NoError(t, j.Close())
	return path
}

// smallLog is a generated log with a recovered line and a torn tail.
var smallLog = bench.GenOptions{Ops: 50, Resumed: true, TornTail: true}

// newLog writes a generated legacy log into dir and returns its path.
func newLog(t *testing.T, dir string, opts bench.GenOptions) string {
	t.Helper()
	path := filepath.Join(dir, "journal.jsonl")
	f, err := os.Create(path)
	require.NoError(t, err)
	_, err = bench.Generate(t.Context(), f, opts)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	return path
}

// newMigrated generates a legacy log and migrates it; it returns both paths.
func newMigrated(t *testing.T, opts bench.GenOptions) (src, db string) {
	t.Helper()
	dir := t.TempDir()
	src = newLog(t, dir, opts)
	db = filepath.Join(dir, "ops.db")
	_, err := migrate.Migrate(t.Context(), src, db, nil)
	require.NoError(t, err)
	return src, db
}

// holdOpen opens the store read-write, as a running agent does, until the
// test ends.

func holdOpen(t *testing.T, path string) {
	t.Helper()
	j, err := store.Open(path, &store.Options{NoEndpoint: true})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, j.Close()) })
}

// golden compares got with ../testdata/name.golden, or rewrites the file
// with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("..", "testdata", name+".golden")
	if *update {
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "missing golden file; run go test ./cmd/... -update")
	require.Equal(t, string(want), got, "output differs from %s (rerun with -update if intended)", path)
}

// scrubRow replaces the value of the table row labelled label with
// placeholder, for values that change from run to run.
func scrubRow(out, label, placeholder string) string {
	re := regexp.MustCompile(`(?m)^(` + regexp.QuoteMeta(label) + `\s+)\S.*$`)
	return re.ReplaceAllString(out, "${1}"+placeholder)
}

// scrubDir replaces dir in out with $DIR.
func scrubDir(out, dir string) string {
	return strings.ReplaceAll(out, dir, "$DIR")
}

// flipByte changes one byte of every occurrence of marker in the file.
func flipByte(t *testing.T, path, marker string) {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	// Every copy: the live record's, and those in pages freed since.
	n := 0
	for i := bytes.Index(b, []byte(marker)); i >= 0; i = bytes.Index(b, []byte(marker)) {
		b[i+len(marker)/2] ^= 0x20
		n++
	}
	require.Positive(t, n, "marker %q not found in %s", marker, path)
	require.NoError(t, os.WriteFile(path, b, 0o600))
}
