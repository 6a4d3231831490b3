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

func TestGenerateIsRealisticAndDeterministic(t *testing.T) {
	var a, b bytes.Buffer
	ra, err := Generate(context.Background(), &a, GenOptions{Ops: 2000, Seed: 7})
	require.NoError(t, err)
	_, err = Generate(context.Background(), &b, GenOptions{Ops: 2000, Seed: 7})
	require.NoError(t, err)
	require.Equal(t, a.Bytes(), b.Bytes(), "same options, same log")
	require.Equal(t, int64(a.Len()), ra.Bytes)
	require.Equal(t, 2000, ra.Ops)
	require.Equal(t, ra.Records, ra.Lines)
	require.Equal(t, ra.Records, bytes.Count(a.Bytes(), []byte("\n")))
	require.Positive(t, ra.InFlight)

	path := filepath.Join(t.TempDir(), "ops.jsonl")
	require.NoError(t, os.WriteFile(path, a.Bytes(), 0o600))
	j, err := jsonl.OpenJournal(path)
	require.NoError(t, err)
	defer j.Close()
	require.Len(t, j.InFlight(), ra.InFlight, "the legacy replay sees the ops left in flight")
}

func TestGenerateCrashShapes(t *testing.T) {
	var buf bytes.Buffer
	rep, err := Generate(context.Background(), &buf, GenOptions{Ops: 100, Resumed: true, TornTail: true})
	require.NoError(t, err)
	require.Equal(t, rep.Records, rep.Lines)
	require.NotEqual(t, byte('\n'), buf.Bytes()[buf.Len()-1], "torn tail has no newline")
	lines := bytes.Split(buf.Bytes(), []byte("\n"))
	merged := 0
	for _, l := range lines {
		if bytes.Count(l, []byte(`{"op_id":`)) == 2 {
			merged++
		}
	}
	require.Equal(t, 1, merged, "one line holds a fragment and the resumed record")
}
