package command_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/felhom/opjournal/bench"
	"github.com/felhom/opjournal/migrate"
)

func TestMigrateSummary(t *testing.T) {
	dir := t.TempDir()
	src := newLog(t, dir, smallLog)
	db := filepath.Join(dir, "ops.db")
	r := run(t, "migrate", src, db)
	requireCode(t, r, 0)
	require.Empty(t, r.stderr, "no terminal: no progress bar")
	golden(t, "migrate", scrubRow(scrubDir(r.stdout, dir), "duration", "<duration>"))

	r = run(t, "verify", src, db)
	requireCode(t, r, 0)
}

func TestMigrateJSON(t *testing.T) {
	t.Run("recovered and skipped", func(t *testing.T) {
		dir := t.TempDir()
		src := newLog(t, dir, smallLog)
		r := run(t, "migrate", "--json", src, filepath.Join(dir, "ops.db"))
		requireCode(t, r, 0)
		var rep migrate.Report
		require.NoError(t, json.Unmarshal([]byte(r.stdout), &rep), "stdout is not a JSON report: %s", r.stdout)
		require.True(t, rep.Verified)
		require.Equal(t, 50, rep.Ops)
		require.Len(t, rep.Recovered, 1, "the resumed line")
		require.Len(t, rep.Skipped, 1, "the torn tail")
		require.Positive(t, rep.Duration)
	})
	t.Run("clean log lists empty arrays", func(t *testing.T) {
		dir := t.TempDir()
		src := newLog(t, dir, bench.GenOptions{Ops: 10})
		r := run(t, "migrate", "--json", "--no-verify", src, filepath.Join(dir, "ops.db"))
		requireCode(t, r, 0)
		var raw map[string]any
		require.NoError(t, json.Unmarshal([]byte(r.stdout), &raw))
		require.Equal(t, []any{}, raw["recovered"])
		require.Equal(t, []any{}, raw["skipped"])
		require.Equal(t, false, raw["verified"])
	})
}

func TestMigrateDestinationExists(t *testing.T) {
	src, db := newMigrated(t, smallLog)
	r := run(t, "migrate", src, db)
	requireCode(t, r, 1)
	require.Equal(t, "opjournal: "+db+" exists; pass --replace to replace it\n", r.stderr)

	r = run(t, "migrate", "--replace", src, db)
	requireCode(t, r, 0)
}

func TestMigrateBadLine(t *testing.T) {
	dir := t.TempDir()
	src := newLog(t, dir, bench.GenOptions{Ops: 10})
	b, err := os.ReadFile(src)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(src, append([]byte("this is not json\n"), b...), 0o600))
	db := filepath.Join(dir, "ops.db")

	r := run(t, "migrate", src, db)
	requireCode(t, r, 1)
	require.Contains(t, r.stderr, "line 1 (byte 0): not a record")
	require.Contains(t, r.stderr, "(pass --skip-bad-lines to skip such lines)")
	require.NoFileExists(t, db)

	r = run(t, "migrate", "--skip-bad-lines", src, db)
	requireCode(t, r, 0)
	require.Contains(t, r.stdout, "skipped lines:\n  line 1 (byte 0): not a record")
}

func TestMigrateNoVerify(t *testing.T) {
	dir := t.TempDir()
	src := newLog(t, dir, bench.GenOptions{Ops: 10})
	r := run(t, "migrate", "--no-verify", src, filepath.Join(dir, "ops.db"))
	requireCode(t, r, 0)
	require.Contains(t, r.stdout, "verified      no (--no-verify)\n")
}

// Cancelling (Ctrl-C) leaves no destination.
func TestMigrateCancelled(t *testing.T) {
	dir := t.TempDir()
	src := newLog(t, dir, bench.GenOptions{Ops: 10})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	r := runContext(ctx, "migrate", src, filepath.Join(dir, "ops.db"))
	requireCode(t, r, 1)
	require.Equal(t, "opjournal: migrate: interrupted\n", r.stderr)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1, "only the log should remain: %v", entries)
}
