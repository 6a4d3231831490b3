package command_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/felhom/opjournal/bench"
)

func generated(t *testing.T, opts bench.GenOptions) string {
	t.Helper()
	var buf bytes.Buffer
	_, err := bench.Generate(t.Context(), &buf, opts)
	require.NoError(t, err)
	return buf.String()
}

func TestGenStdout(t *testing.T) {
	r := run(t, "gen", "--ops", "40", "--seed", "9", "--resumed", "--torn-tail", "-")
	requireCode(t, r, 0)
	require.Equal(t, generated(t, bench.GenOptions{Ops: 40, Seed: 9, Resumed: true, TornTail: true}), r.stdout)
	require.Regexp(t, `^wrote 40 ops, \d+ records on \d+ lines, \d+ in flight, \d+ bytes to stdout\n$`, r.stderr)
}

func TestGenFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "journal.jsonl")
	r := run(t, "gen", file)
	requireCode(t, r, 0)
	require.Empty(t, r.stdout)
	require.Regexp(t, `^wrote 1000 ops, .* to `+file+`\n$`, r.stderr)
	got, err := os.ReadFile(file)
	require.NoError(t, err)
	require.Equal(t, generated(t, bench.GenOptions{}), string(got))
}

func TestGenShares(t *testing.T) {
	r := run(t, "gen", "--ops", "200", "--key-share", "0", "--fail-share", "0", "--inflight-share", "0", "-")
	requireCode(t, r, 0)
	require.NotContains(t, r.stdout, "idemp_key", "--key-share 0 means no keys, not the default")
	require.NotContains(t, r.stdout, `"failed"`, "--fail-share 0 means no failures")
	require.Contains(t, r.stderr, " 0 in flight")

	r = run(t, "gen", "--ops", "200", "--key-share", "1", "-")
	requireCode(t, r, 0)
	require.Equal(t, generated(t, bench.GenOptions{Ops: 200, KeyShare: 1}), r.stdout)
}

func TestGenCancelled(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	r := runContext(ctx, "gen", filepath.Join(dir, "journal.jsonl"))
	requireCode(t, r, 1)
	require.Equal(t, "opjournal: gen: interrupted\n", r.stderr)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Empty(t, entries)
}
