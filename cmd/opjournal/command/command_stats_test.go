package command_test

import (
	"encoding/json"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/felhom/opjournal/store"
)

func TestStats(t *testing.T) {
	db := newStore(t, fixtureRecords())
	r := run(t, "stats", db)
	requireCode(t, r, 0)
	require.Empty(t, r.stderr)
	out := scrubRow(r.stdout, "created", "<created>")
	out = scrubRow(out, "file size", "<size> bytes")
	golden(t, "stats", out)
}

func TestStatsMigrated(t *testing.T) {
	src, db := newMigrated(t, smallLog)
	r := run(t, "stats", db)
	requireCode(t, r, 0)
	require.Regexp(t, `(?m)^migrated from  `+src+` \(\d+ bytes, at \S+Z\)$`, r.stdout)

	r = run(t, "stats", "--json", db)
	requireCode(t, r, 0)
	var got struct {
		Schema       int              `json:"schema"`
		Created      string           `json:"created"`
		MigratedFrom *store.Migration `json:"migrated_from"`
		store.Stats
	}
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &got), "stdout is not JSON: %s", r.stdout)
	require.Equal(t, store.SchemaVersion, got.Schema)
	require.Contains(t, r.stdout, `"schema": `+strconv.Itoa(store.SchemaVersion)+",", "a JSON number")
	require.NotEmpty(t, got.Created)
	require.NotNil(t, got.MigratedFrom)
	require.Equal(t, src, got.MigratedFrom.Source)
	require.Equal(t, 50, got.Ops)
	require.Equal(t, 149, got.Records)
	require.Positive(t, got.FileSize)
}
