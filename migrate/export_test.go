package migrate

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/felhom/opjournal/store"
)

// Export, then the legacy replay of the output, gives the store's state, and
// migrating the output back gives the same histories.
func TestExportRoundTrip(t *testing.T) {
	entries := lifecycle(200)
	entries = append(entries, store.JournalEntry{OpID: "op-00001", State: store.OpStarted, IdempKey: "job-0", At: t0})
	src, dst := migrated(t, 0)
	require.NoError(t, os.Remove(dst))
	writeFile(t, src, lines(t, entries...))
	_, err := Migrate(context.Background(), src, dst, nil)
	require.NoError(t, err)

	j, err := store.Open(dst, &store.Options{ReadOnly: true})
	require.NoError(t, err)
	var out bytes.Buffer
	rep, err := Export(context.Background(), j, &out, nil)
	require.NoError(t, err)
	require.NoError(t, j.Close())
	require.Equal(t, len(entries), rep.Records)
	require.Equal(t, int64(out.Len()), rep.Bytes)

	exported := filepath.Join(t.TempDir(), "exported.jsonl")
	require.NoError(t, os.WriteFile(exported, out.Bytes(), 0o600))
	ops, keys := idsAndKeys(entries)
	require.Equal(t, storeState(t, dst, ops, keys), legacyState(t, exported, ops, keys))

	back := filepath.Join(t.TempDir(), "back.db")
	_, err = Migrate(context.Background(), exported, back, nil)
	require.NoError(t, err)
	a, err := store.Open(dst, &store.Options{ReadOnly: true})
	require.NoError(t, err)
	defer a.Close()
	b, err := store.Open(back, &store.Options{ReadOnly: true})
	require.NoError(t, err)
	defer b.Close()
	for _, op := range ops {
		ha, err := a.History(op)
		require.NoError(t, err)
		hb, err := b.History(op)
		require.NoError(t, err)
		require.Equal(t, ha, hb, "history of %s", op)
	}
}

func TestExportStopsOnCancel(t *testing.T) {
	_, dst := migrated(t, 3000)
	j, err := store.Open(dst, nil)
	require.NoError(t, err)
	defer j.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = Export(ctx, j, &bytes.Buffer{}, nil)
	require.ErrorIs(t, err, context.Canceled)
}
