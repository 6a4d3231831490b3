package command_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// A tiny run end to end: every format is produced, charts are written.
func TestBenchTinyRun(t *testing.T) {
	dir, plots := t.TempDir(), t.TempDir()
	r := run(t, "bench", "--quick", "--sizes", "200", "--writers", "1,4", "--reps", "1", "--dir", dir, "--format", "json", "--plot", plots)
	requireCode(t, r, 0)
	var out map[string]any
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &out), "stdout is not JSON: %.300s", r.stdout)
	require.Contains(t, r.stderr, "charts:")
	pngs, err := filepath.Glob(filepath.Join(plots, "*.png"))
	require.NoError(t, err)
	require.NotEmpty(t, pngs)
	left, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Empty(t, left, "the run cleans up after itself")
}

func TestBenchUsage(t *testing.T) {
	requireCode(t, run(t, "bench", "--format", "xml"), 2)
	requireCode(t, run(t, "bench", "--writers", "0"), 2)
	requireCode(t, run(t, "bench", "--dir", filepath.Join(t.TempDir(), "missing")), 2)
	requireCode(t, run(t, "bench", "extra"), 2)
}
