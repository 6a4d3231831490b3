package command

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestProgressOnlyOnATerminal(t *testing.T) {
	var buf bytes.Buffer
	p := newProgress(&buf, 100, true, "x")
	require.Nil(t, p, "a buffer is not a terminal")
	p.set(50) // a nil progress draws nothing
	p.done()
	require.Zero(t, buf.Len())

	f, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	require.NoError(t, err)
	defer f.Close()
	require.Nil(t, newProgress(f, 100, true, "x"), "a file is not a terminal")
}

func TestWriteAtomicFailureKeepsTheFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out")
	require.NoError(t, os.WriteFile(path, []byte("old"), 0o600))
	boom := errors.New("boom")
	err := writeAtomic(path, func(w io.Writer) error {
		_, _ = w.Write([]byte("half"))
		return boom
	})
	require.ErrorIs(t, err, boom)
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, "old", string(got))
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1, "the temporary file should be gone: %v", entries)
}

func TestCell(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", "-"},
		{"op-1", "op-1"},
		{"two words", "two words"},
		{"-", `"-"`},
		{" lead", `" lead"`},
		{"tab\there", `"tab\there"`},
		{"nl\n", `"nl\n"`},
		{"nul\x00", `"nul\x00"`},
		{"päivä", "päivä"},
	} {
		require.Equal(t, tc.want, cell(tc.in), "cell(%q)", tc.in)
	}
	require.Equal(t, `a=-,b="x=y",c="1, 2",d="two words"`,
		formatParams(map[string]string{"d": "two words", "c": "1, 2", "b": "x=y", "a": ""}))
}
