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

func migrated(t *testing.T, n int) (src, dst string) {
	t.Helper()
	dir := t.TempDir()
	src, dst = filepath.Join(dir, "ops.jsonl"), filepath.Join(dir, "ops.db")
	writeFile(t, src, lines(t, lifecycle(n)...))
	_, err := Migrate(context.Background(), src, dst, &Options{NoVerify: true})
	require.NoError(t, err)
	return src, dst
}

func TestVerifyPassesAFaithfulMigration(t *testing.T) {
	src, dst := migrated(t, 300)
	rep, err := Verify(context.Background(), src, dst)
	require.NoError(t, err)
	require.Empty(t, rep.Differences)
	require.Equal(t, len(lifecycle(300)), rep.Records)
}

func TestVerifyCatchesAlteredStore(t *testing.T) {
	tests := map[string]func(t *testing.T, dst string){
		"record appended": func(t *testing.T, dst string) {
			j, err := store.Open(dst, nil)
			require.NoError(t, err)
			require.NoError(t, j.Append(store.JournalEntry{OpID: "op-00001", State: store.OpStarted}))
			require.NoError(t, j.Close())
		},
		"value damaged": func(t *testing.T, dst string) {
			b, err := os.ReadFile(dst)
			require.NoError(t, err)
			i := bytes.Index(b, []byte("UPID:pve:0000000A"))
			require.Positive(t, i)
			b[i+len("UPID:pve:")] = 'B'
			require.NoError(t, os.WriteFile(dst, b, 0o600))
		},
	}
	for name, alter := range tests {
		t.Run(name, func(t *testing.T) {
			src, dst := migrated(t, 50)
			alter(t, dst)
			rep, err := Verify(context.Background(), src, dst)
			require.Error(t, err)
			t.Log(err)
			if rep != nil && len(rep.Differences) > 0 {
				require.ErrorIs(t, err, ErrMismatch)
			} else {
				require.ErrorIs(t, err, store.ErrCorrupt)
			}
		})
	}
}

func TestVerifyCatchesLogChangedAfterMigration(t *testing.T) {
	src, dst := migrated(t, 20)
	f, err := os.OpenFile(src, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.Write(lines(t, store.JournalEntry{OpID: "late", State: store.OpStarted}))
	require.NoError(t, err)
	require.NoError(t, f.Close())
	rep, err := Verify(context.Background(), src, dst)
	require.ErrorIs(t, err, ErrMismatch)
	require.Contains(t, rep.Differences[0], `"late"`)
}
