package bench

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/felhom/opjournal/store/jsonl"
)

func TestLogProbeSamplesOpsAndAppliedKeys(t *testing.T) {
	var log bytes.Buffer
	_, err := Generate(context.Background(), &log, GenOptions{Ops: 3000})
	require.NoError(t, err)

	whole := newLogProbe(1)
	_, _ = whole.Write(log.Bytes())
	chunked := newLogProbe(1)
	for b := log.Bytes(); len(b) > 0; {
		n := min(len(b), 97) // lines split across writes
		_, _ = chunked.Write(b[:n])
		b = b[n:]
	}
	require.Equal(t, whole.ops, chunked.ops, "how the log is cut into writes does not matter")
	require.Equal(t, whole.keys, chunked.keys)
	require.Len(t, whole.ops, probeOps, "a full reservoir of op ids")
	require.NotEmpty(t, whole.keys)

	path := filepath.Join(t.TempDir(), "ops.jsonl")
	require.NoError(t, os.WriteFile(path, log.Bytes(), 0o600))
	j, err := jsonl.OpenJournal(path)
	require.NoError(t, err)
	defer j.Close()
	for _, op := range whole.ops {
		_, ok := j.Latest(op)
		require.True(t, ok, "sampled op %q is in the log", op)
	}
	for _, key := range whole.keys {
		require.True(t, j.AlreadyApplied(key), "sampled key %q is applied", key)
	}
}

func TestKeepIsAReservoir(t *testing.T) {
	p := newLogProbe(1)
	require.Equal(t, 0, keep(p.rng, 1, 0, 2), "an empty reservoir takes the first item")
	require.Equal(t, 1, keep(p.rng, 2, 1, 2))
	kept := 0
	for range 10_000 {
		if keep(p.rng, 4, 2, 2) >= 0 {
			kept++
		}
	}
	require.InDelta(t, 5000, kept, 300, "the 4th item of a reservoir of 2 is kept half the time")
}
