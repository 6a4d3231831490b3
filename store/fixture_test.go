package store_test

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/felhom/opjournal/store"
)

// Each schema's fixture is written by the build of that schema, and later
// builds prove they upgrade it:
//
//	go test ./store -update
//
// writes testdata/schemaN (N is store.SchemaVersion): journal.db, from
// fixtureWorkload, and journal.dump, fixtureDump of that journal as this
// build reads it; then it exits without running the tests. It refuses to
// overwrite a fixture. This file uses only the API every released schema's
// build has, so that an older checkout can take it to write its fixture:
// testdata/schema2 was written by the schema 2 release (commit f9c3b49); the
// upgrade tests open a copy with this build and compare the dumps.

var update = flag.Bool("update", false, "write testdata/schemaN with this build (N = store.SchemaVersion) instead of running the tests")

// writeFixture writes this build's fixture for -update and returns the exit
// code.
func writeFixture() int {
	dir := filepath.Join("testdata", fmt.Sprintf("schema%d", store.SchemaVersion))
	if err := os.Mkdir(dir, 0o755); err != nil {
		fmt.Fprintf(os.Stderr, "-update: %v (remove it first to write it again)\n", err)
		return 1
	}
	t := &exitT{}
	path := filepath.Join(dir, "journal.db")
	fixtureWorkload(t, path)
	j, err := store.Open(path, &store.Options{ReadOnly: true})
	require.NoError(t, err)
	defer j.Close()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "journal.dump"), []byte(fixtureDump(t, j)), 0o644))
	fmt.Printf("wrote %s\n", dir)
	return 0
}

// exitT is the require.TestingT of writeFixture, outside any test: a failed
// requirement prints it and exits.
type exitT struct{}

func (exitT) Errorf(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) }
func (exitT) FailNow()                          { os.Exit(1) }

// fixtureWorkload appends a varied journal: reused op ids, odd ids, keys
// shared across ops, failed after succeeded, vmid and upid changes, ops in
// flight, index entries both merged and pending, and a prune.
func fixtureWorkload(t require.TestingT, path string) {
	j, err := store.Open(path, &store.Options{UnsafeNoSync: true, IndexMergeEvery: 97})
	require.NoError(t, err)
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	states := []store.OpState{store.OpStarted, store.OpTaskRunning, store.OpSucceeded, store.OpFailed}
	for i := range 30 { // early ops, finished: the prune removes them, keeping their keys
		for k, st := range []store.OpState{store.OpStarted, store.OpTaskRunning, states[2+i%2]} {
			require.NoError(t, j.Append(store.JournalEntry{
				OpID: fmt.Sprintf("early-%02d", i), VMID: 300 + i%4, State: st, IdempKey: fmt.Sprintf("early-%d", i),
				UPID: fmt.Sprintf("UPID:early:%d", i*k), At: at.Add(-time.Duration(30-i) * time.Hour),
			}))
		}
	}
	for i := range 600 {
		op := fmt.Sprintf("op-%03d", (i*7)%150)
		switch i % 50 {
		case 3:
			op = "odd\x00id"
		case 4:
			op = "ünï/çødé " + fmt.Sprint(i%3)
		}
		e := store.JournalEntry{
			OpID: op, VMID: 100 + (i*13)%40, Kind: []string{"create", "start", "set_config"}[i%3],
			State: states[(i/3)%4], At: at.Add(time.Duration(i) * time.Hour),
		}
		if i%2 == 0 {
			e.UPID = fmt.Sprintf("UPID:pve:%04X:qm:%d:", i%60, e.VMID)
		}
		if i%5 != 0 {
			e.IdempKey = fmt.Sprintf("k-%d", (i*3)%70)
		}
		if i%4 == 1 {
			e.Params = map[string]string{"cores": fmt.Sprint(i % 8), "memory": "4096"}
		}
		require.NoError(t, j.Append(e))
	}
	_, err = j.Prune(context.Background(), store.PruneOptions{Before: at.Add(-10 * time.Hour)})
	require.NoError(t, err)
	for i := range 40 { // after the prune: more pending entries, some ops back
		require.NoError(t, j.Append(store.JournalEntry{
			OpID: fmt.Sprintf("op-%03d", i*3), VMID: 200 + i%5, State: states[i%4],
			UPID: fmt.Sprintf("UPID:late:%d", i), IdempKey: fmt.Sprintf("late-%d", i%9), At: at.AddDate(1, 0, i),
		}))
	}
	require.NoError(t, j.Close())
}

// fixtureDump renders everything the journal answers: every record, every
// op's latest record, InFlight, applied keys, lookups by vmid and upid,
// Stats (without the file size) and Meta (without the schema).
func fixtureDump(t require.TestingT, j *store.Journal) string {
	var b strings.Builder
	upids := map[string]bool{}
	keys := map[string]bool{}
	// Records in the order of older schemas' history: by op id (shorter
	// first, then bytewise), then sequence number, so that one dump serves
	// every schema.
	type rec struct {
		seq  uint64
		op   string
		line string
	}
	var recs []rec
	require.NoError(t, j.ForEachRecord(func(seq uint64, e store.JournalEntry) error {
		recs = append(recs, rec{seq, e.OpID, fmt.Sprintf("record %d %q\n", seq, fmt.Sprintf("%+v", e))})
		upids[e.UPID] = true
		keys[e.IdempKey] = true
		return nil
	}))
	slices.SortFunc(recs, func(a, b rec) int {
		return cmp.Or(cmp.Compare(len(a.op), len(b.op)), strings.Compare(a.op, b.op), cmp.Compare(a.seq, b.seq))
	})
	for _, r := range recs {
		b.WriteString(r.line)
	}
	var latest []string // sorted: ForEachOp's order differs between schemas
	require.NoError(t, j.ForEachOp(func(e store.JournalEntry) error {
		latest = append(latest, fmt.Sprintf("latest %q\n", fmt.Sprintf("%+v", e)))
		return nil
	}))
	slices.Sort(latest)
	b.WriteString(strings.Join(latest, ""))
	for _, e := range j.InFlight() {
		fmt.Fprintf(&b, "inflight %q\n", e.OpID)
	}
	for i := range 110 {
		k := fmt.Sprintf("k-%d", i)
		if i >= 80 {
			k = fmt.Sprintf("early-%d", i-80)
		} else if i >= 70 {
			k = fmt.Sprintf("late-%d", i-70)
		}
		a, ok, err := j.Applied(k)
		require.NoError(t, err)
		fmt.Fprintf(&b, "applied %s %v %q\n", k, ok, fmt.Sprintf("%+v", a))
	}
	for vmid := 99; vmid < 305; vmid++ {
		got, err := j.ByVMID(vmid)
		require.NoError(t, err)
		for _, e := range got {
			fmt.Fprintf(&b, "vmid %d %q %s\n", vmid, e.OpID, e.State)
		}
	}
	for i := range 60 {
		for _, u := range []string{fmt.Sprintf("UPID:late:%d", i), fmt.Sprintf("UPID:early:%d", i), fmt.Sprintf("UPID:pve:%04X:qm:%d:", i, 100+(i*13)%40)} {
			e, ok, err := j.ByUPID(u)
			require.NoError(t, err)
			fmt.Fprintf(&b, "upid %s %v %q\n", u, ok, e.OpID)
		}
	}
	s, err := j.Stats()
	require.NoError(t, err)
	s.FileSize = 0
	fmt.Fprintf(&b, "stats %+v\n", s)
	meta, err := j.Meta()
	require.NoError(t, err)
	for _, k := range []string{"codec", "created", "pruned_before", "applied_dropped_before"} {
		fmt.Fprintf(&b, "meta %s %q\n", k, meta[k])
	}
	return b.String()
}

// copyFixture copies testdata/NAME/journal.db into a temporary directory.
func copyFixture(t *testing.T, name string) string {
	t.Helper()
	in, err := os.Open(filepath.Join("testdata", name, "journal.db"))
	require.NoError(t, err)
	defer in.Close()
	path := filepath.Join(t.TempDir(), "journal.db")
	out, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o600)
	require.NoError(t, err)
	_, err = io.Copy(out, in)
	require.NoError(t, err)
	require.NoError(t, out.Close())
	return path
}
