package command_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/felhom/opjournal/store"
)

func TestCheckOK(t *testing.T) {
	db := newStore(t, fixtureRecords())
	r := run(t, "check", db)
	requireCode(t, r, 0)
	require.Empty(t, r.stderr)
	golden(t, "check", r.stdout)

	r = run(t, "check", "--json", db)
	requireCode(t, r, 0)
	var rep store.CheckReport
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &rep), "stdout is not JSON: %s", r.stdout)
	require.Equal(t, store.CheckReport{Ops: 5, Records: 9, InFlight: 3, AppliedKeys: 1, Problems: []string{}}, rep)
}

// A flipped byte inside a record value is found and named.
func TestCheckDamaged(t *testing.T) {
	records := fixtureRecords()
	records[len(records)-1].Params = map[string]string{"marker": "DAMAGE-MARKER-7f3a"}
	db := newStore(t, records)
	flipByte(t, db, "DAMAGE-MARKER-7f3a")

	r := run(t, "check", db)
	requireCode(t, r, 1)
	require.Contains(t, r.stdout, `"op-e\tx"`, "the problem should name the damaged op")
	require.Contains(t, r.stdout, "journal corrupt")
	require.Regexp(t, `^opjournal: `+db+` is damaged \(\d+ problems? listed\)\n$`, r.stderr)

	r = run(t, "check", "--json", db)
	requireCode(t, r, 1)
	var rep store.CheckReport
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &rep), "stdout is not JSON: %s", r.stdout)
	require.NotEmpty(t, rep.Problems)

	// The damage (in the op's latest record: the first copy of the marker,
	// stored just before the op's records) is reported by the other readers
	// too.
	r = run(t, "get", db, "op-e\tx")
	requireCode(t, r, 1)
	require.Contains(t, r.stderr, "journal corrupt")
}
