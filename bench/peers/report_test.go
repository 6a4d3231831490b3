package peers

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/felhom/opjournal/bench"
)

// TestCompareTiny runs the whole comparison on tiny sizes: every row has a
// figure of every impl that it concerns, and the table, the JSON and the
// chart are written. It checks shapes, never speeds.
func TestCompareTiny(t *testing.T) {
	if testing.Short() {
		t.Skip("runs every engine for a few seconds")
	}
	dir := t.TempDir()
	rep, err := Compare(context.Background(), Config{
		Dir: dir, Rounds: 1, Writers: []int{1, 3}, Ops: 300,
		RunTime: 30 * time.Millisecond, LookupTime: 10 * time.Millisecond,
	})
	require.NoError(t, err)
	require.Equal(t, []string{bench.ImplBBolt, bench.ImplJSONL, ImplSQLite, ImplSQLiteBatched, ImplPebble}, rep.Impls)
	require.True(t, rep.Scattered.Env.ScatteredOpIDs)
	require.False(t, rep.TimeOrdered.Env.ScatteredOpIDs)
	require.Empty(t, rep.Scattered.Sizes, "the size figures come from the time-ordered run")

	gen, err := bench.Generate(context.Background(), io.Discard, bench.GenOptions{Ops: 300})
	require.NoError(t, err)
	for _, z := range rep.TimeOrdered.Sizes {
		require.Equal(t, gen.InFlight, z.InFlightOps, "%s: the log's ops in flight", z.Impl)
	}
	var figures []string
	for _, row := range rep.Rows {
		figures = append(figures, row.Figure)
		want := len(rep.Impls)
		if strings.Contains(row.Figure, "Compact") {
			want = 1
		}
		require.Len(t, row.Values, want, "row %q", row.Figure)
		for impl, v := range row.Values {
			require.Positive(t, v, "row %q, %s", row.Figure, impl)
		}
	}
	require.Equal(t, []string{
		"appends/s, 1 writer, time-ordered op ids",
		"appends/s, 3 writers, time-ordered op ids",
		"lifecycles/s, 16 writers, time-ordered op ids",
		"appends/s, 1 writer, scattered op ids",
		"appends/s, 3 writers, scattered op ids",
		"lifecycles/s, 16 writers, scattered op ids",
		"Latest p50, 300 ops, random order",
		"AlreadyApplied p50, 300 ops",
		"open, 300 ops",
		fmt.Sprintf("InFlight p50, %d of 300 ops in flight", gen.InFlight),
		"bytes on disk per op, 300 ops",
		"bytes on disk per op, after store.Compact",
	}, figures)
	require.Positive(t, rep.Compacted.DiskAfter)

	var table bytes.Buffer
	require.NoError(t, rep.WriteTable(&table))
	for _, s := range append(Settings(), "store/pebble", "appends/s, 3 writers, scattered op ids") {
		require.Contains(t, table.String(), s)
	}
	var js bytes.Buffer
	require.NoError(t, rep.WriteJSON(&js))
	var back Report
	require.NoError(t, json.Unmarshal(js.Bytes(), &back))
	require.Equal(t, rep.Rows, back.Rows)

	for _, name := range []string{"appends.png", "appends.svg"} {
		path := filepath.Join(dir, name)
		require.NoError(t, rep.WriteChart(path))
		fi, err := os.Stat(path)
		require.NoError(t, err)
		require.Positive(t, fi.Size())
	}
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 2, "only the charts are left behind")
}
