package bench

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"gonum.org/v1/plot"
)

func TestWritePlots(t *testing.T) {
	dir := t.TempDir()
	paths, err := handResults().WritePlots(dir)
	require.NoError(t, err)
	want := []string{ChartAppends + ".svg", ChartAppends + ".png", ChartOpen + ".svg", ChartOpen + ".png"}
	require.Len(t, paths, len(want))
	for i, name := range want {
		require.Equal(t, filepath.Join(dir, name), paths[i])
		b, err := os.ReadFile(paths[i])
		require.NoError(t, err)
		require.NotEmpty(t, b, name)
		switch filepath.Ext(name) {
		case ".svg":
			require.Contains(t, string(b), "<svg", name)
			require.Contains(t, string(b), "bbolt", "%s has a legend", name)
		case ".png":
			require.True(t, bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")), "%s is a PNG", name)
		}
	}
}

func TestWritePlotsLeavesOutEmptyCharts(t *testing.T) {
	r := handResults()
	r.Sizes = nil
	paths, err := r.WritePlots(t.TempDir())
	require.NoError(t, err)
	require.Len(t, paths, 2, "only the append chart: %v", paths)

	paths, err = (&Results{}).WritePlots(t.TempDir())
	require.NoError(t, err)
	require.Empty(t, paths)
}

func TestDecadeTicks(t *testing.T) {
	ticks := decadeTicks{format: fmtRate}.Ticks(150, 2500)
	var labelled []string
	for _, tk := range ticks {
		if tk.Label != "" {
			labelled = append(labelled, tk.Label)
		}
	}
	require.Equal(t, []string{"200", "500", "1,000", "2,000"}, labelled)
	require.Equal(t, plot.Tick{Value: 300}, ticks[1], "unlabelled minor tick")
	require.Empty(t, decadeTicks{format: fmtRate}.Ticks(0, 10), "nothing on a range a log axis cannot show")
}

func TestTrimZeros(t *testing.T) {
	for in, want := range map[string]string{"1.00s": "1s", "2.50ms": "2.5ms", "500µs": "500µs", "10.0µs": "10µs", "-": "-"} {
		require.Equal(t, want, trimZeros(in), "trimZeros(%q)", in)
	}
}
