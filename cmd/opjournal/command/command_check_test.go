package command_test

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

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

	// The damage (in the op's latest record) is reported by the other
	// readers too.
	r = run(t, "get", db, "op-e\tx")
	requireCode(t, r, 1)
	require.Contains(t, r.stderr, "journal corrupt")
}

// A store whose records tree loops back on itself (a branch element points
// to the root) is reported as damaged by check, stats and export, which end
// at once instead of walking the loop forever.
func TestCheckLoopingTree(t *testing.T) {
	var records []store.JournalEntry
	for i := range 400 {
		records = append(records, store.JournalEntry{OpID: fmt.Sprintf("op-%04d", i), VMID: 100 + i, Kind: "start",
			State: store.OpStarted, Params: map[string]string{"pad": strings.Repeat("p", 40)}, At: t0.Add(time.Duration(i) * time.Second)})
	}
	db := newStore(t, records)
	loopRecordsRoot(t, db)

	for _, args := range [][]string{{"check", db}, {"check", "--json", db}, {"stats", db}, {"export", db, "-o", filepath.Join(t.TempDir(), "out.jsonl")}} {
		r := run(t, args...)
		requireCode(t, r, 1)
		require.Contains(t, r.stderr, "journal corrupt", "%v", args)
		require.Contains(t, r.stderr, `bucket "records"`, "%v: the error names the bucket", args)
		require.Contains(t, r.stderr, "reached twice", "%v: the error says what is wrong", args)
	}
}

// loopRecordsRoot makes the middle element of the records bucket's root
// page (a branch) point to the root itself. bbolt's page header is id
// uint64, flags uint16, count uint16, overflow uint32; a branch element is
// pos uint32, ksize uint32, pgid uint64; little-endian.
func loopRecordsRoot(t *testing.T, path string) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	require.NoError(t, err)
	var root uint64
	require.NoError(t, db.View(func(tx *bolt.Tx) error {
		root = uint64(tx.Bucket([]byte("records")).RootPage())
		return nil
	}))
	ps := uint64(db.Info().PageSize)
	require.NoError(t, db.Close())
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	page := b[root*ps : (root+1)*ps]
	require.Equal(t, uint16(0x01), binary.LittleEndian.Uint16(page[8:]), "the records root is a branch")
	n := int(binary.LittleEndian.Uint16(page[10:]))
	binary.LittleEndian.PutUint64(page[16+(n/2)*16+8:], root)
	require.NoError(t, os.WriteFile(path, b, 0o600))
}
