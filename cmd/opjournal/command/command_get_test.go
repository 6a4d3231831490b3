package command_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/felhom/opjournal/store"
)

func TestGet(t *testing.T) {
	db := newStore(t, fixtureRecords())
	for _, tc := range []struct{ golden, op, flag string }{
		{"get", "op-a", ""},
		{"get-history", "op-a", "--history"},
		{"get-quoted", "op-e\tx", ""},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			args := []string{"get", db, tc.op}
			if tc.flag != "" {
				args = append(args, tc.flag)
			}
			r := run(t, args...)
			requireCode(t, r, 0)
			require.Empty(t, r.stderr)
			golden(t, tc.golden, r.stdout)
		})
	}
}

func TestGetJSON(t *testing.T) {
	db := newStore(t, fixtureRecords())
	want := fixtureRecords()

	r := run(t, "get", "--json", db, "op-a")
	requireCode(t, r, 0)
	var e store.JournalEntry
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &e), "stdout is not JSON: %s", r.stdout)
	require.Equal(t, want[4], e)

	r = run(t, "get", "--json", "--history", db, "op-a")
	requireCode(t, r, 0)
	var history []store.JournalEntry
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &history), "stdout is not JSON: %s", r.stdout)
	require.Equal(t, []store.JournalEntry{want[0], want[2], want[4]}, history)
}

func TestGetUnknownOp(t *testing.T) {
	db := newStore(t, fixtureRecords())
	for _, args := range [][]string{{"get", db, "op-z"}, {"get", "--history", db, "op-z"}, {"get", "--json", db, "op-z"}} {
		r := run(t, args...)
		requireCode(t, r, 1)
		require.Empty(t, r.stdout)
		require.Equal(t, `opjournal: op "op-z" not found in `+db+"\n", r.stderr)
	}
}
