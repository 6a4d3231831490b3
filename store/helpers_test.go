package store_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/felhom/opjournal/store"
)

// openTemp opens a new journal in a test directory and closes it at the end
// of the test.
func openTemp(t *testing.T, opts *store.Options) (*store.Journal, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ops.db")
	j, err := store.Open(path, opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = j.Close() })
	return j, path
}

// reopen closes j and opens its file again.
func reopen(t *testing.T, j *store.Journal) *store.Journal {
	t.Helper()
	require.NoError(t, j.Close())
	j2, err := store.Open(j.Path(), nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = j2.Close() })
	return j2
}

var t0 = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

func entry(op string, state store.OpState, key string, minute int) store.JournalEntry {
	return store.JournalEntry{OpID: op, VMID: 100, Kind: "start", State: state, IdempKey: key, At: t0.Add(time.Duration(minute) * time.Minute)}
}

func appendAll(t *testing.T, j *store.Journal, entries ...store.JournalEntry) {
	t.Helper()
	for _, e := range entries {
		require.NoError(t, j.Append(e))
	}
}

func opIDs(entries []store.JournalEntry) []string {
	ids := []string{}
	for _, e := range entries {
		ids = append(ids, e.OpID)
	}
	return ids
}

// requireSameEntry compares entries field by field, times by Equal.
func requireSameEntry(t *testing.T, want, got store.JournalEntry) {
	t.Helper()
	require.Truef(t, want.At.Equal(got.At), "At: got %v, want %v", got.At, want.At)
	want.At, got.At = time.Time{}, time.Time{}
	if len(want.Params) == 0 {
		want.Params = nil
	}
	require.Equal(t, want, got)
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}
