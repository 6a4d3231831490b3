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

func TestScatterOpID(t *testing.T) {
	a, b := ScatterOpID("op-00000001-0badcafe"), ScatterOpID("op-00000002-0badcafe")
	require.Equal(t, a, ScatterOpID("op-00000001-0badcafe"), "same id, same result")
	require.NotEqual(t, a, b)
	for _, id := range []string{a, b} {
		require.Regexp(t, `^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`, id, "a UUIDv4's shape")
	}
}

func TestGenerateScatteredOpIDs(t *testing.T) {
	var plain, scattered bytes.Buffer
	rp, err := Generate(context.Background(), &plain, GenOptions{Ops: 500})
	require.NoError(t, err)
	rs, err := Generate(context.Background(), &scattered, GenOptions{Ops: 500, ScatteredOpIDs: true})
	require.NoError(t, err)
	require.Equal(t, rp.Records, rs.Records)
	require.Equal(t, rp.InFlight, rs.InFlight)
	pl := bytes.Split(plain.Bytes(), []byte("\n"))
	sl := bytes.Split(scattered.Bytes(), []byte("\n"))
	require.Len(t, sl, len(pl))
	ids := map[string]string{} // plain id -> scattered id
	for i := range pl {
		if len(pl[i]) == 0 {
			continue
		}
		p, ok, err := jsonl.ParseLine(pl[i])
		require.True(t, ok && err == nil, "line %d", i)
		s, ok, err := jsonl.ParseLine(sl[i])
		require.True(t, ok && err == nil, "line %d", i)
		require.Equal(t, ScatterOpID(p.OpID), s.OpID, "line %d", i)
		if prev, seen := ids[p.OpID]; seen {
			require.Equal(t, prev, s.OpID)
		}
		ids[p.OpID] = s.OpID
		s.OpID = p.OpID
		require.Equal(t, p, s, "line %d: only the op id differs", i)
	}
	require.Len(t, ids, 500)
}
