package command_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/felhom/opjournal/bench"
	"github.com/felhom/opjournal/migrate"
	"github.com/felhom/opjournal/store"
)

// exportOf is what migrate.Export writes for the store at db.
func exportOf(t *testing.T, db string) string {
	t.Helper()
	j, err := store.Open(db, &store.Options{ReadOnly: true})
	require.NoError(t, err)
	defer j.Close()
	var buf bytes.Buffer
	_, err = migrate.Export(t.Context(), j, &buf, nil)
	require.NoError(t, err)
	return buf.String()
}

func TestExportStdout(t *testing.T) {
	_, db := newMigrated(t, smallLog)
	r := run(t, "export", db)
	requireCode(t, r, 0)
	require.Equal(t, exportOf(t, db), r.stdout)
	require.Regexp(t, `^exported 149 records \(\d+ bytes\) to stdout\n$`, r.stderr)
}

func TestExportFile(t *testing.T) {
	_, db := newMigrated(t, smallLog)
	dir := t.TempDir()
	out := filepath.Join(dir, "journal.jsonl")
	r := run(t, "export", db, "-o", out)
	requireCode(t, r, 0)
	require.Empty(t, r.stdout)
	require.Regexp(t, `^exported 149 records \(\d+ bytes\) to `+out+`\n$`, r.stderr)
	got, err := os.ReadFile(out)
	require.NoError(t, err)
	require.Equal(t, exportOf(t, db), string(got))
	fi, err := os.Stat(out)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), "a new export is private, like the store")

	// Replacing keeps the file's mode and leaves no temporary file.
	require.NoError(t, os.Chmod(out, 0o640))
	r = run(t, "export", "--output", out, db)
	requireCode(t, r, 0)
	fi, err = os.Stat(out)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o640), fi.Mode().Perm())
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1, "only the export should be in the directory: %v", entries)
}

// A cancelled export leaves the output file as it was.
func TestExportCancelled(t *testing.T) {
	// migrate.Export looks at ctx every 4096 records: make more.
	_, db := newMigrated(t, bench.GenOptions{Ops: 2000})
	dir := t.TempDir()
	out := filepath.Join(dir, "journal.jsonl")
	require.NoError(t, os.WriteFile(out, []byte("old\n"), 0o600))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	r := runContext(ctx, "export", db, "-o", out)
	requireCode(t, r, 1)
	require.Equal(t, "opjournal: export: interrupted\n", r.stderr)
	got, err := os.ReadFile(out)
	require.NoError(t, err)
	require.Equal(t, "old\n", string(got))
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1, "no temporary file should remain: %v", entries)
}

// migrate, verify, export, and back: the export of the export's store is
// the export itself, and verifies against that store.
func TestRoundTrip(t *testing.T) {
	dir := t.TempDir()
	src := newLog(t, dir, bench.GenOptions{Ops: 300, Resumed: true, TornTail: true, Seed: 7})
	db1 := filepath.Join(dir, "ops1.db")
	out1 := filepath.Join(dir, "export1.jsonl")
	db2 := filepath.Join(dir, "ops2.db")
	out2 := filepath.Join(dir, "export2.jsonl")
	for _, args := range [][]string{
		{"migrate", src, db1},
		{"verify", src, db1},
		{"export", db1, "-o", out1},
		{"migrate", out1, db2},
		{"verify", out1, db2},
		{"export", db2, "-o", out2},
	} {
		r := run(t, args...)
		requireCode(t, r, 0)
	}
	b1, err := os.ReadFile(out1)
	require.NoError(t, err)
	b2, err := os.ReadFile(out2)
	require.NoError(t, err)
	require.Equal(t, string(b1), string(b2))

	// Both stores answer alike.
	for _, args := range [][]string{{"inflight"}, {"check"}} {
		r1 := run(t, append(args, db1)...)
		r2 := run(t, append(args, db2)...)
		requireCode(t, r1, 0)
		require.Equal(t, r1.stdout, r2.stdout, "%v differs between the stores", args)
	}
}
