package command_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/felhom/opjournal/store"
)

func TestInFlight(t *testing.T) {
	db := newStore(t, fixtureRecords())
	r := run(t, "inflight", db)
	requireCode(t, r, 0)
	require.Empty(t, r.stderr)
	golden(t, "inflight", r.stdout)

	r = run(t, "inflight", "--json", db)
	requireCode(t, r, 0)
	var ops []store.JournalEntry
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &ops), "stdout is not JSON: %s", r.stdout)
	want := fixtureRecords()
	require.Equal(t, []store.JournalEntry{want[3], want[7], want[8]}, ops)
}

func TestInFlightNone(t *testing.T) {
	db := newStore(t, fixtureRecords()[:1])
	r := run(t, "inflight", db)
	requireCode(t, r, 0)
	require.Contains(t, r.stdout, "OP ID")

	db = newStore(t, fixtureRecords()[6:7]) // op-c failed
	r = run(t, "inflight", db)
	requireCode(t, r, 0)
	require.Equal(t, "no ops in flight\n", r.stdout)
	r = run(t, "inflight", "--json", db)
	requireCode(t, r, 0)
	require.Equal(t, "[]\n", r.stdout)
}
