package store_test

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/felhom/opjournal/store"
	"github.com/felhom/opjournal/store/jsonl"
)

// legacyAPI is the legacy journal's public API, which store.Journal and the
// project's JSONL journal both implement.
type legacyAPI interface {
	Append(store.JournalEntry) error
	Latest(string) (store.JournalEntry, bool)
	InFlight() []store.JournalEntry
	AlreadyApplied(string) bool
	Close() error
}

var (
	_ legacyAPI = (*store.Journal)(nil)
	_ legacyAPI = (*jsonl.Journal)(nil)
)

// workload generates seeded random entries that stress the semantics: few
// op ids reused often, states in any order (regressions out of terminal
// states, failed after succeeded), keys shared across ops, zero and zoned
// times, odd strings.
type workload struct {
	rng  *rand.Rand
	ops  []string
	keys []string
}

func newWorkload(seed uint64) *workload {
	w := &workload{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
	odd := []string{"a", "ab", "a\x00b", "ü-ñ", "quote\"back\\slash", "new\nline", "tab\t", "😀", "<html>&", " sp "}
	for i := range 12 {
		w.ops = append(w.ops, fmt.Sprintf("op-%d-%s", i%6, odd[i%len(odd)]))
	}
	w.keys = []string{"", "", "job-1", "job-2", "job-3", odd[2], odd[7]}
	return w
}

var states = []store.OpState{store.OpStarted, store.OpTaskRunning, store.OpSucceeded, store.OpFailed}

func (w *workload) next() store.JournalEntry {
	r := w.rng
	e := store.JournalEntry{
		OpID:     w.ops[r.IntN(len(w.ops))],
		VMID:     100 + r.IntN(5),
		Kind:     []string{"start", "stop", "set_config", ""}[r.IntN(4)],
		State:    states[r.IntN(len(states))],
		IdempKey: w.keys[r.IntN(len(w.keys))],
	}
	switch r.IntN(5) {
	case 0: // zero time
	case 1:
		e.At = time.Date(2026, 1, 1, 0, 0, r.IntN(1000), r.IntN(1e9), time.FixedZone("odd", -(3*3600+1800)))
	default:
		e.At = time.Unix(1.7e9+r.Int64N(1e8), r.Int64N(1e9))
	}
	if r.IntN(3) == 0 {
		e.Params = map[string]string{"cores": fmt.Sprint(r.IntN(64)), "odd\x00": "v\n\"", "empty": ""}
	}
	if r.IntN(4) == 0 {
		e.Params = map[string]string{}
	}
	if r.IntN(4) == 0 {
		e.UPID = fmt.Sprintf("UPID:pve:%08X", r.Uint32())
	}
	return e
}

func requireSameState(t *testing.T, w *workload, want, got legacyAPI, step string) {
	t.Helper()
	for _, op := range w.ops {
		we, wok := want.Latest(op)
		ge, gok := got.Latest(op)
		require.Equalf(t, wok, gok, "%s: Latest(%q) found", step, op)
		if wok {
			requireSameEntry(t, we, ge)
		}
	}
	sorted := func(es []store.JournalEntry) []store.JournalEntry {
		es = slices.Clone(es)
		slices.SortFunc(es, func(a, b store.JournalEntry) int { return cmpString(a.OpID, b.OpID) })
		return es
	}
	wi, gi := sorted(want.InFlight()), sorted(got.InFlight())
	require.Equalf(t, opIDs(wi), opIDs(gi), "%s: InFlight", step)
	for i := range wi {
		requireSameEntry(t, wi[i], gi[i])
	}
	for _, k := range w.keys {
		require.Equalf(t, want.AlreadyApplied(k), got.AlreadyApplied(k), "%s: AlreadyApplied(%q)", step, k)
	}
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func TestDifferentialAgainstLegacySemantics(t *testing.T) {
	seeds := []uint64{1, 2, 3, 4, 5, 6, 7, 8}
	if testing.Short() {
		seeds = seeds[:2]
	}
	for _, seed := range seeds {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			dir := t.TempDir()
			opts := &store.Options{UnsafeNoSync: true} // the semantics, not durability, are under test
			s, err := store.Open(filepath.Join(dir, "ops.db"), opts)
			require.NoError(t, err)
			legacyPath := filepath.Join(dir, "ops.jsonl")
			l, err := jsonl.OpenJournal(legacyPath)
			require.NoError(t, err)
			w := newWorkload(seed)
			for step := range 300 {
				e := w.next()
				require.NoError(t, l.Append(e))
				require.NoError(t, s.Append(e))
				requireSameState(t, w, l, s, fmt.Sprintf("step %d", step))
				if step%100 == 99 {
					require.NoError(t, s.Close())
					require.NoError(t, l.Close())
					s, err = store.Open(filepath.Join(dir, "ops.db"), opts)
					require.NoError(t, err)
					l, err = jsonl.OpenJournal(legacyPath)
					require.NoError(t, err)
					requireSameState(t, w, l, s, fmt.Sprintf("reopen after step %d", step))
				}
			}
			require.NoError(t, s.Close())
			require.NoError(t, l.Close())
		})
	}
}

// Where the legacy journal accepts what it cannot read back, the store
// refuses it: invalid UTF-8 became U+FFFD on the legacy's replay, so the
// record came back under another op id or key.
func TestStoreRefusesWhatTheLegacyMangles(t *testing.T) {
	dir := t.TempDir()
	l, err := jsonl.OpenJournal(filepath.Join(dir, "ops.jsonl"))
	require.NoError(t, err)
	e := entry("op\xff", store.OpSucceeded, "key\xfe", 1)
	require.NoError(t, l.Append(e))
	require.NoError(t, l.Close())
	l, err = jsonl.OpenJournal(filepath.Join(dir, "ops.jsonl"))
	require.NoError(t, err)
	defer l.Close()
	_, ok := l.Latest("op\xff")
	require.False(t, ok, "the legacy journal loses the op id on replay")

	s, _ := openTemp(t, nil)
	require.ErrorIs(t, s.Append(e), store.ErrInvalidEntry)
}
