package peers

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble"
	"github.com/stretchr/testify/require"

	"github.com/felhom/opjournal/bench"
	"github.com/felhom/opjournal/store"
	"github.com/felhom/opjournal/store/jsonl"
)

// smokeWriters append at once in the semantics test, each to its own ops.
const smokeWriters = 6

// smokeOp is the lifecycle of one op of the semantics test: its records,
// appended in order.
func smokeOp(w, n int) []store.JournalEntry {
	op := fmt.Sprintf("op-%d-%03d", w, n)
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC).Add(time.Duration(w*1000+n) * time.Second)
	rec := func(state store.OpState, key string) store.JournalEntry {
		e := store.JournalEntry{OpID: op, VMID: 100 + n, Kind: "set_config", State: state, At: at,
			Params: map[string]string{"node": "pve-node1", "cores": fmt.Sprint(n % 8)}, IdempKey: key}
		if state != store.OpStarted {
			e.UPID = "UPID:pve-node1:" + op
		}
		at = at.Add(time.Second)
		return e
	}
	key := fmt.Sprintf("job-%d-%03d", w, n)
	switch n % 6 {
	case 0: // succeeds with a key, then a later record fails: the key stays applied
		return []store.JournalEntry{rec(store.OpStarted, key), rec(store.OpTaskRunning, key),
			rec(store.OpSucceeded, key), rec(store.OpFailed, key)}
	case 1: // fails with a key: never applied
		return []store.JournalEntry{rec(store.OpStarted, key), rec(store.OpFailed, key)}
	case 2: // left in flight, started
		return []store.JournalEntry{rec(store.OpStarted, "")}
	case 3: // left in flight, task_running with a key
		return []store.JournalEntry{rec(store.OpStarted, key), rec(store.OpTaskRunning, key)}
	case 4: // in flight again after a failure (a retry)
		return []store.JournalEntry{rec(store.OpStarted, ""), rec(store.OpFailed, ""), rec(store.OpStarted, "")}
	default:
		return []store.JournalEntry{rec(store.OpStarted, ""), rec(store.OpTaskRunning, ""), rec(store.OpSucceeded, "")}
	}
}

// smokeModel is what a journal must answer after the appends of smokeOp.
type smokeModel struct {
	latest  map[string]store.JournalEntry
	applied map[string]bool // every key used, and whether it is applied
	records int
}

func (m *smokeModel) add(ops [][]store.JournalEntry) {
	for _, rs := range ops {
		for _, e := range rs {
			m.latest[e.OpID] = e
			if e.IdempKey != "" {
				m.applied[e.IdempKey] = m.applied[e.IdempKey] || e.State == store.OpSucceeded
			}
			m.records++
		}
	}
}

// appendAll appends each writer's ops from its own goroutine, so that
// concurrent appends (and the batched variant's shared transactions) are
// exercised while each op's records stay in order.
func appendAll(t *testing.T, j bench.Journal, ops [][][]store.JournalEntry) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make([]error, len(ops))
	for w := range ops {
		wg.Go(func() {
			for _, rs := range ops[w] {
				for _, e := range rs {
					if err := j.Append(e); err != nil {
						errs[w] = err
						return
					}
				}
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
}

func requireAnswers(t *testing.T, j bench.Journal, m *smokeModel, when string) {
	t.Helper()
	for op, want := range m.latest {
		got, ok := j.Latest(op)
		require.True(t, ok, "%s: Latest(%q) found nothing", when, op)
		require.True(t, want.At.Equal(got.At), "%s: Latest(%q).At = %v, want %v", when, op, got.At, want.At)
		got.At = want.At
		require.Equal(t, want, got, "%s: Latest(%q) is the record appended last", when, op)
	}
	_, ok := j.Latest("op-absent")
	require.False(t, ok, "%s: Latest of an unknown op", when)
	var wantFlight, gotFlight []string
	for op, e := range m.latest {
		if !e.State.Terminal() {
			wantFlight = append(wantFlight, op+"/"+string(e.State))
		}
	}
	for _, e := range j.InFlight() {
		gotFlight = append(gotFlight, e.OpID+"/"+string(e.State))
	}
	slices.Sort(wantFlight)
	slices.Sort(gotFlight)
	require.NotEmpty(t, wantFlight)
	require.Equal(t, wantFlight, gotFlight, "%s: InFlight", when)
	for key, want := range m.applied {
		require.Equal(t, want, j.AlreadyApplied(key), "%s: AlreadyApplied(%q)", when, key)
	}
	require.False(t, j.AlreadyApplied(""), "%s: the empty key is never applied", when)
	require.False(t, j.AlreadyApplied("job-absent"), "%s: an unknown key", when)
}

// records counts the records a peer holds, or returns -1 for another impl.
func records(t *testing.T, j bench.Journal) int {
	t.Helper()
	switch j := j.(type) {
	case *SQLite:
		var n int
		require.NoError(t, j.r.QueryRow("SELECT count(*) FROM records").Scan(&n))
		return n
	case *Pebble:
		it, err := j.db.NewIter(&pebble.IterOptions{LowerBound: []byte{pebbleRecord}, UpperBound: []byte{pebbleRecord + 1}})
		require.NoError(t, err)
		n := 0
		for ok := it.First(); ok; ok = it.Next() {
			n++
		}
		require.NoError(t, it.Close())
		return n
	}
	return -1
}

// TestSemantics checks each impl, the store and the legacy journal included
// (the reference), on a few hundred appends from concurrent writers: the
// latest record is the one appended last, InFlight is the ops whose latest
// record is not terminal, a key that reached succeeded stays applied after
// a later failed record, and a reopened journal keeps all of it and takes
// more appends.
func TestSemantics(t *testing.T) {
	batch := func(from, to int) [][][]store.JournalEntry {
		ops := make([][][]store.JournalEntry, smokeWriters)
		for w := range ops {
			for n := from; n < to; n++ {
				ops[w] = append(ops[w], smokeOp(w, n))
			}
		}
		return ops
	}
	for _, im := range Impls() {
		t.Run(im.Name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "journal")
			m := &smokeModel{latest: map[string]store.JournalEntry{}, applied: map[string]bool{}}
			j, err := im.Open(path)
			require.NoError(t, err)
			first := batch(0, 24)
			appendAll(t, j, first)
			for _, w := range first {
				m.add(w)
			}
			require.Greater(t, m.records, 300)
			requireAnswers(t, j, m, "after appends")
			if n := records(t, j); n >= 0 {
				require.Equal(t, m.records, n, "every record kept")
			}
			require.NoError(t, j.Close())

			j, err = im.Open(path)
			require.NoError(t, err)
			requireAnswers(t, j, m, "after reopen")
			// More records of the ops so far (ids reused: later lifecycles)
			// and new ops, after the reopen.
			more := batch(18, 30)
			appendAll(t, j, more)
			for _, w := range more {
				m.add(w)
			}
			requireAnswers(t, j, m, "after appends after reopen")
			if n := records(t, j); n >= 0 {
				require.Equal(t, m.records, n, "every record kept, none overwritten after the reopen")
			}
			require.NoError(t, j.Close())

			j, err = im.Open(path)
			require.NoError(t, err)
			requireAnswers(t, j, m, "after the second reopen")
			if s, ok := j.(*SQLite); ok {
				requireInFlightIndex(t, s)
			}
			require.NoError(t, j.Close())
		})
	}
}

// requireInFlightIndex checks that InFlight's query reads the partial
// index of the ops in flight, not the whole latest table.
func requireInFlightIndex(t *testing.T, j *SQLite) {
	t.Helper()
	rows, err := j.r.Query("EXPLAIN QUERY PLAN SELECT body FROM latest WHERE in_flight = 1")
	require.NoError(t, err)
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		require.NoError(t, rows.Scan(&id, &parent, &unused, &detail))
		plan = append(plan, detail)
	}
	require.NoError(t, rows.Err())
	require.Len(t, plan, 1)
	require.Contains(t, plan[0], "USING INDEX latest_in_flight", "plan %q", plan)
}

// TestLoad checks each impl's bulk load against the legacy replay of the
// same generated log: every op's latest record, the ops in flight and the
// applied keys.
func TestLoad(t *testing.T) {
	dir := t.TempDir()
	var buf bytes.Buffer
	rep, err := bench.Generate(context.Background(), &buf, bench.GenOptions{Ops: 1500, KeyShare: 0.5, ScatteredOpIDs: true})
	require.NoError(t, err)
	log := filepath.Join(dir, "ops.jsonl")
	require.NoError(t, os.WriteFile(log, buf.Bytes(), 0o600))
	legacy, err := jsonl.OpenJournal(log)
	require.NoError(t, err)
	defer legacy.Close()
	m := &smokeModel{latest: map[string]store.JournalEntry{}, applied: map[string]bool{}}
	for _, line := range bytes.Split(buf.Bytes(), []byte("\n")) {
		if e, ok, err := jsonl.ParseLine(line); err == nil && ok {
			m.add([][]store.JournalEntry{{e}})
		}
	}
	require.Len(t, m.latest, rep.Ops)
	require.Len(t, legacy.InFlight(), rep.InFlight)
	for _, im := range Impls() {
		t.Run(im.Name, func(t *testing.T) {
			path := filepath.Join(dir, im.Name)
			require.NoError(t, im.Load(context.Background(), log, path))
			j, err := im.Open(path)
			require.NoError(t, err)
			defer func() { require.NoError(t, j.Close()) }()
			requireAnswers(t, j, m, "after the load")
			require.Len(t, j.InFlight(), rep.InFlight)
			if n := records(t, j); n >= 0 {
				require.Equal(t, rep.Records, n)
			}
		})
	}
}

func TestSettingsNameVersions(t *testing.T) {
	s := Settings()
	require.Len(t, s, len(Impls()))
	for i, im := range Impls() {
		require.Regexp(t, "^"+im.Name+": ", s[i])
	}
	v, err := SQLiteVersion()
	require.NoError(t, err)
	require.Regexp(t, `^3\.\d+\.\d+$`, v)
}
