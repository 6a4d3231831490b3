package migrate

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/felhom/opjournal/store"
	"github.com/felhom/opjournal/store/jsonl"
)

var t0 = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

// lifecycle returns the records of n ops: started, task_running, then
// succeeded or failed, with keys on every third op and every tenth op left
// in flight.
func lifecycle(n int) []store.JournalEntry {
	var out []store.JournalEntry
	for i := range n {
		op := fmt.Sprintf("op-%05d", i)
		key := ""
		if i%3 == 0 {
			key = fmt.Sprintf("job-%d", i)
		}
		at := t0.Add(time.Duration(i) * time.Second)
		e := store.JournalEntry{OpID: op, VMID: 100 + i%7, Kind: "set_config", Params: map[string]string{"cores": "2"}, IdempKey: key, At: at, State: store.OpStarted}
		out = append(out, e)
		e.State, e.UPID = store.OpTaskRunning, fmt.Sprintf("UPID:pve:%08X", i)
		out = append(out, e)
		if i%10 == 9 {
			continue
		}
		e.State = store.OpSucceeded
		if i%4 == 0 {
			e.State = store.OpFailed
		}
		out = append(out, e)
	}
	return out
}

// lines renders entries as legacy JSONL.
func lines(t *testing.T, entries ...store.JournalEntry) []byte {
	t.Helper()
	var b []byte
	for i := range entries {
		l, err := jsonl.MarshalLine(&entries[i])
		require.NoError(t, err)
		b = append(b, l...)
	}
	return b
}

func writeFile(t *testing.T, path string, parts ...[]byte) {
	t.Helper()
	f, err := os.Create(path)
	require.NoError(t, err)
	w := bufio.NewWriter(f)
	for _, p := range parts {
		_, err := w.Write(p)
		require.NoError(t, err)
	}
	require.NoError(t, w.Flush())
	require.NoError(t, f.Close())
}

// state is what the legacy API answers, gathered for comparison.
type state struct {
	latest   map[string]store.JournalEntry
	inflight []string
	applied  map[string]bool
}

type legacyReader interface {
	Latest(string) (store.JournalEntry, bool)
	InFlight() []store.JournalEntry
	AlreadyApplied(string) bool
}

func stateOf(j legacyReader, ops, keys []string) state {
	s := state{latest: map[string]store.JournalEntry{}, applied: map[string]bool{}}
	for _, op := range ops {
		if e, ok := j.Latest(op); ok {
			e.At = e.At.UTC()
			if len(e.Params) == 0 {
				e.Params = nil
			}
			s.latest[op] = e
		}
	}
	for _, e := range j.InFlight() {
		s.inflight = append(s.inflight, e.OpID)
	}
	slices.Sort(s.inflight)
	for _, k := range keys {
		s.applied[k] = j.AlreadyApplied(k)
	}
	return s
}

func idsAndKeys(entries []store.JournalEntry) (ops, keys []string) {
	for _, e := range entries {
		ops = append(ops, e.OpID)
		keys = append(keys, e.IdempKey)
	}
	return slices.Compact(slices.Sorted(slices.Values(ops))), slices.Compact(slices.Sorted(slices.Values(keys)))
}

// legacyState replays path with the project's legacy-semantics journal.
func legacyState(t *testing.T, path string, ops, keys []string) state {
	t.Helper()
	// Replay a copy: opening creates and syncs, and the source must stay untouched.
	cp := filepath.Join(t.TempDir(), "copy.jsonl")
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(cp, b, 0o600))
	l, err := jsonl.OpenJournal(cp)
	require.NoError(t, err)
	defer l.Close()
	return stateOf(l, ops, keys)
}

func storeState(t *testing.T, path string, ops, keys []string) state {
	t.Helper()
	j, err := store.Open(path, &store.Options{ReadOnly: true})
	require.NoError(t, err)
	defer j.Close()
	return stateOf(j, ops, keys)
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, d := range des {
		names = append(names, d.Name())
	}
	return names
}

func jsonlLine(e store.JournalEntry) ([]byte, error) { return jsonl.MarshalLine(&e) }
