package migrate

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/felhom/opjournal/store"
)

// FuzzMigrate migrates arbitrary logs: it must never panic; without
// SkipBadLines it either succeeds or names a bad line; with it, it always
// succeeds; and whatever it produces verifies against the log.
func FuzzMigrate(f *testing.F) {
	var clean bytes.Buffer
	for _, e := range lifecycle(4) {
		l, _ := jsonlLine(e)
		clean.Write(l)
	}
	f.Add(clean.Bytes())
	f.Add(append(clean.Bytes()[:40:40], clean.Bytes()...))
	f.Add(append(bytes.Repeat([]byte{0}, 100), clean.Bytes()...))
	f.Add([]byte("{}\nnull\n[1]\n\"x\"\n\n\n"))
	f.Add([]byte(`{"op_id":"a","vmid":1,"kind":"","state":"started","at":"2026-01-01T00:00:00Z"}{"op_id":"b","vmid":1,"kind":"","state":"succeeded","idemp_key":"k","at":"2026-01-01T00:00:00Z"}`))
	f.Fuzz(func(t *testing.T, log []byte) {
		dir := t.TempDir()
		src := filepath.Join(dir, "ops.jsonl")
		require.NoError(t, os.WriteFile(src, log, 0o600))
		for _, skip := range []bool{false, true} {
			dst := filepath.Join(dir, "ops.db")
			rep, err := Migrate(context.Background(), src, dst, &Options{SkipBadLines: skip, NoVerify: true})
			if err != nil {
				require.False(t, skip, "with SkipBadLines every log migrates: %v", err)
				require.True(t, errors.Is(err, ErrBadLine), "unexpected error %v", err)
				require.NoFileExists(t, dst)
				continue
			}
			_, err = Verify(context.Background(), src, dst)
			require.NoError(t, err)
			j, err := store.Open(dst, &store.Options{ReadOnly: true})
			require.NoError(t, err)
			s, err := j.Stats()
			require.NoError(t, err)
			require.Equal(t, rep.Records, s.Records)
			require.NoError(t, j.Close())
			require.NoError(t, os.Remove(dst))
		}
	})
}
