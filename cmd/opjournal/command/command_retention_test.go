package command_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/felhom/opjournal/internal/schematest"
	"github.com/felhom/opjournal/store"
)

func TestPrune(t *testing.T) {
	db := newStore(t, fixtureRecords())
	// op-a succeeded at 08:00:03.25 with key job-a; op-c failed at 08:00:05.
	r := run(t, "prune", db, "--before", "2026-01-05T08:00:04Z")
	requireCode(t, r, 0)
	require.Empty(t, r.stderr)
	golden(t, "prune", r.stdout)

	r = run(t, "get", db, "op-a")
	requireCode(t, r, 1)
	r = run(t, "applied", db, "job-a")
	requireCode(t, r, 0)
	require.Contains(t, r.stdout, "op-a", "the key stays applied, naming its op")

	r = run(t, "prune", "--json", db, "--older-than", "1d")
	requireCode(t, r, 0)
	var rep struct {
		Before string `json:"before"`
		store.PruneReport
	}
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &rep), "stdout is not JSON: %s", r.stdout)
	require.Equal(t, 1, rep.Ops, "op-c; the ops in flight stay")
	require.Equal(t, 2, rep.Records)
	require.Equal(t, 4, rep.Scanned)

	r = run(t, "inflight", "--json", db)
	requireCode(t, r, 0)
	var inflight []store.JournalEntry
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &inflight))
	require.Len(t, inflight, 3)

	r = run(t, "prune", "--json", db, "--older-than", "1d", "--drop-applied-older-than", "1d")
	requireCode(t, r, 0)
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &rep))
	require.Equal(t, 1, rep.AppliedKeys)
	r = run(t, "applied", db, "job-a")
	requireCode(t, r, 0)
	require.Equal(t, "key \"job-a\": not applied\n", r.stdout)

	r = run(t, "check", db)
	requireCode(t, r, 0)
}

func TestPruneUsage(t *testing.T) {
	db := newStore(t, fixtureRecords())
	for _, args := range [][]string{
		{"prune", db},
		{"prune", db, "--before", "2026-01-05T08:00:04Z", "--older-than", "1d"},
		{"prune", db, "--older-than", "soon"},
		{"prune", db, "--older-than", "-3d"},
		{"prune", db, "--older-than", "600y"},
		{"prune", db, "--older-than", "-106752d"},
		{"prune", db, "--older-than", "-1000y"},
		{"prune", db, "--older-than", "0d"},
		{"prune", db, "--older-than", "1d", "--drop-applied-older-than", "-1000y"},
		{"prune", db, "--older-than", "99999999999999999y"},
		{"prune", db, "--older-than", "106752d"},
		{"prune", db, "--older-than", "1d", "--drop-applied-older-than", "300y"},
		{"prune", db, "--before", "yesterday"},
		{"prune", db, "--older-than", "1d", "--batch", "0"},
		{"prune", db, "--older-than", "1d", "--drop-applied-before", "x"},
	} {
		r := run(t, args...)
		requireCode(t, r, 2)
		require.Empty(t, r.stdout)
		require.Contains(t, r.stderr, "Run 'opjournal prune --help' for usage.")
	}
	r := run(t, "prune", db, "--older-than", "600y")
	require.Contains(t, r.stderr, "too long")
	r = run(t, "prune", filepath.Join(t.TempDir(), "none.db"), "--older-than", "1d")
	requireCode(t, r, 1)
	require.Contains(t, r.stderr, "no such store")
}

func TestPruneAndCompactInUse(t *testing.T) {
	db := newStore(t, fixtureRecords())
	holdOpen(t, db)
	for _, args := range [][]string{
		{"prune", db, "--older-than", "1d", "--lock-timeout", "100ms"},
		{"compact", db, "--lock-timeout", "100ms"},
	} {
		r := run(t, args...)
		requireCode(t, r, 1)
		require.Contains(t, r.stderr, "in use by another process")
	}
}

func TestCompact(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ops.db")
	j, err := store.Open(path, &store.Options{UnsafeNoSync: true})
	require.NoError(t, err)
	records := fixtureRecords()
	for i := range 3000 {
		e := records[4] // op-a succeeded
		e.OpID = e.OpID + "-" + string(rune('a'+i%26)) + string(rune('a'+i/26%26)) + string(rune('a'+i/676))
		e.IdempKey = ""
		records = append(records, e)
	}
	require.NoError(t, j.AppendBatch(records))
	require.NoError(t, j.Close())
	r := run(t, "prune", path, "--older-than", "1d")
	requireCode(t, r, 0)

	r = run(t, "compact", "--json", path)
	requireCode(t, r, 0)
	require.Equal(t, "compacting "+path+"\n", r.stderr)
	var rep store.CompactReport
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &rep), "stdout is not JSON: %s", r.stdout)
	require.Less(t, rep.SizeAfter, rep.SizeBefore)
	require.Equal(t, 3, rep.Ops, "the ops in flight")
	fi, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, rep.SizeAfter, fi.Size())

	r = run(t, "compact", path)
	requireCode(t, r, 0)
	require.Contains(t, r.stdout, "saved")
	r = run(t, "get", path, "op-b")
	requireCode(t, r, 0)
	r = run(t, "check", path)
	requireCode(t, r, 0)
}

func TestBackup(t *testing.T) {
	db := newStore(t, fixtureRecords())
	dst := filepath.Join(t.TempDir(), "copy.db")
	r := run(t, "backup", "--json", db, dst)
	requireCode(t, r, 0)
	var ans struct {
		File  string `json:"file"`
		Bytes int64  `json:"bytes"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &ans), "stdout is not JSON: %s", r.stdout)
	require.Equal(t, dst, ans.File)
	fi, err := os.Stat(dst)
	require.NoError(t, err)
	require.Equal(t, ans.Bytes, fi.Size())
	r = run(t, "get", dst, "op-b")
	requireCode(t, r, 0)

	r = run(t, "backup", db, dst)
	requireCode(t, r, 1)
	require.Contains(t, r.stderr, "exists; backup never replaces a file")

	r = run(t, "backup", db, "-")
	requireCode(t, r, 0)
	require.Equal(t, int(ans.Bytes), len(r.stdout), "the copy on stdout")
	require.Contains(t, r.stderr, "wrote")
}

func TestGetByVMIDAndUPID(t *testing.T) {
	db := newStore(t, fixtureRecords())
	r := run(t, "get", db, "--vmid", "101")
	requireCode(t, r, 0)
	golden(t, "get-vmid", r.stdout)

	r = run(t, "get", "--json", db, "--vmid", "102")
	requireCode(t, r, 0)
	var ops []store.JournalEntry
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &ops), "stdout is not JSON: %s", r.stdout)
	require.Len(t, ops, 1)
	require.Equal(t, "op-b", ops[0].OpID)

	r = run(t, "get", db, "--vmid", "999")
	requireCode(t, r, 0)
	require.Equal(t, "no ops touched guest 999\n", r.stdout)
	r = run(t, "get", "--json", db, "--vmid", "999")
	requireCode(t, r, 0)
	require.Equal(t, "[]\n", r.stdout)

	upid := fixtureRecords()[3].UPID
	r = run(t, "get", "--json", db, "--upid", upid)
	requireCode(t, r, 0)
	var e store.JournalEntry
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &e))
	require.Equal(t, "op-b", e.OpID)

	r = run(t, "get", db, "--upid", "UPID:none")
	requireCode(t, r, 1)
	require.Equal(t, `opjournal: no op carried task "UPID:none" in `+db+"\n", r.stderr)

	for _, args := range [][]string{
		{"get", db, "--vmid", "101", "--upid", upid},
		{"get", db, "op-a", "--vmid", "101"},
		{"get", db, "--history", "--vmid", "101"},
		{"get", db},
	} {
		r := run(t, args...)
		requireCode(t, r, 2)
	}
}

// A store of an older schema (2): reads say how to upgrade it, and
// compact does.
func TestOlderSchemaStore(t *testing.T) {
	db := newStore(t, fixtureRecords())
	require.NoError(t, schematest.Downgrade(db, 2))

	r := run(t, "get", db, "op-a")
	requireCode(t, r, 1)
	require.Contains(t, r.stderr, "has an older schema (2); upgrade it once: stop the agent and run opjournal compact")
	r = run(t, "compact", db)
	requireCode(t, r, 0)
	r = run(t, "get", db, "--vmid", "101")
	requireCode(t, r, 0)
	require.Contains(t, r.stdout, "op-a")
}
