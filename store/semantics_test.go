package store_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/felhom/opjournal/store"
)

// The legacy semantics, one by one, each checked before and after reopen.
func TestLegacySemantics(t *testing.T) {
	tests := []struct {
		name    string
		entries []store.JournalEntry
		check   func(t *testing.T, j *store.Journal)
	}{
		{
			name: "latest is the record appended last, not the latest At",
			entries: []store.JournalEntry{
				entry("a", store.OpStarted, "", 10),
				entry("a", store.OpTaskRunning, "", 5),
			},
			check: func(t *testing.T, j *store.Journal) {
				e, ok := j.Latest("a")
				require.True(t, ok)
				require.Equal(t, store.OpTaskRunning, e.State)
			},
		},
		{
			name: "unknown op",
			check: func(t *testing.T, j *store.Journal) {
				_, ok := j.Latest("nope")
				require.False(t, ok)
				_, ok = j.Latest("")
				require.False(t, ok)
			},
		},
		{
			name: "in flight while the latest state is not terminal",
			entries: []store.JournalEntry{
				entry("started", store.OpStarted, "", 1),
				entry("running", store.OpStarted, "", 1),
				entry("running", store.OpTaskRunning, "", 2),
				entry("done", store.OpStarted, "", 1),
				entry("done", store.OpSucceeded, "", 2),
				entry("failed", store.OpFailed, "", 1),
				entry("revived", store.OpFailed, "", 1),
				entry("revived", store.OpStarted, "", 2),
			},
			check: func(t *testing.T, j *store.Journal) {
				require.ElementsMatch(t, []string{"started", "running", "revived"}, opIDs(j.InFlight()))
			},
		},
		{
			name: "a key is applied once any record carrying it succeeds, forever",
			entries: []store.JournalEntry{
				entry("a", store.OpStarted, "k1", 1),
				entry("a", store.OpSucceeded, "k1", 2),
				entry("a", store.OpFailed, "k1", 3),
				entry("b", store.OpStarted, "k2", 1),
				entry("c", store.OpFailed, "k3", 1),
			},
			check: func(t *testing.T, j *store.Journal) {
				require.True(t, j.AlreadyApplied("k1"))
				require.False(t, j.AlreadyApplied("k2"), "started is not applied")
				require.False(t, j.AlreadyApplied("k3"), "failed is not applied")
				require.False(t, j.AlreadyApplied("unknown"))
			},
		},
		{
			name: "the empty key is never applied",
			entries: []store.JournalEntry{
				entry("a", store.OpSucceeded, "", 1),
			},
			check: func(t *testing.T, j *store.Journal) {
				require.False(t, j.AlreadyApplied(""))
			},
		},
		{
			name: "every field survives",
			entries: []store.JournalEntry{{
				OpID: "op\x00\"x", VMID: -7, Kind: "set_config", Params: map[string]string{"cores": "4", "": "\n"},
				UPID: "UPID:pve:1", State: store.OpTaskRunning, IdempKey: "job-1",
				At: time.Date(2026, 3, 4, 5, 6, 7, 891011121, time.FixedZone("EET", 7200)),
			}},
			check: func(t *testing.T, j *store.Journal) {
				e, ok := j.Latest("op\x00\"x")
				require.True(t, ok)
				requireSameEntry(t, store.JournalEntry{
					OpID: "op\x00\"x", VMID: -7, Kind: "set_config", Params: map[string]string{"cores": "4", "": "\n"},
					UPID: "UPID:pve:1", State: store.OpTaskRunning, IdempKey: "job-1",
					At: time.Date(2026, 3, 4, 5, 6, 7, 891011121, time.FixedZone("EET", 7200)),
				}, e)
				require.Equal(t, time.UTC, e.At.Location(), "times are returned in UTC")
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j, _ := openTemp(t, nil)
			appendAll(t, j, tt.entries...)
			tt.check(t, j)
			tt.check(t, reopen(t, j))
		})
	}
}

// Op ids that are prefixes of each other, or contain 0x00, keep separate
// histories.
func TestHistoryInAppendOrder(t *testing.T) {
	j, _ := openTemp(t, nil)
	ids := []string{"a", "a\x00", "a\x00b", "ab", "b"}
	for round, state := range []store.OpState{store.OpStarted, store.OpTaskRunning, store.OpSucceeded} {
		for _, id := range ids {
			appendAll(t, j, entry(id, state, "", round))
		}
	}
	check := func(jj *store.Journal) {
		for _, id := range ids {
			h, err := jj.History(id)
			require.NoError(t, err)
			require.Len(t, h, 3, "history of %q", id)
			for i, state := range []store.OpState{store.OpStarted, store.OpTaskRunning, store.OpSucceeded} {
				require.Equal(t, id, h[i].OpID)
				require.Equal(t, state, h[i].State)
			}
		}
		h, err := jj.History("missing")
		require.NoError(t, err)
		require.Empty(t, h)
	}
	check(j)
	check(reopen(t, j))
}

func TestStats(t *testing.T) {
	j, path := openTemp(t, nil)
	appendAll(t, j,
		entry("a", store.OpStarted, "k", 1),
		entry("a", store.OpSucceeded, "k", 2),
		entry("b", store.OpStarted, "", 1),
		entry("c", store.OpTaskRunning, "k2", 1),
	)
	s, err := j.Stats()
	require.NoError(t, err)
	require.Equal(t, 3, s.Ops)
	require.Equal(t, 4, s.Records)
	require.Equal(t, 2, s.InFlight)
	require.Equal(t, 1, s.AppliedKeys)
	require.Positive(t, s.FileSize)
	_ = path
}

func TestAppliedRecordsFirstSuccess(t *testing.T) {
	j, _ := openTemp(t, nil)
	appendAll(t, j,
		entry("a", store.OpSucceeded, "k", 1),
		entry("b", store.OpSucceeded, "k", 2),
	)
	a, ok, err := j.Applied("k")
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, "a", a.OpID)
	require.True(t, a.At.Equal(t0.Add(time.Minute)))
}

func TestAppendBatchIsAtomic(t *testing.T) {
	j, _ := openTemp(t, nil)
	err := j.AppendBatch([]store.JournalEntry{entry("a", store.OpStarted, "", 1), {OpID: "b", State: "bogus"}})
	require.ErrorIs(t, err, store.ErrInvalidEntry)
	require.ErrorContains(t, err, "entry 1")
	_, ok := j.Latest("a")
	require.False(t, ok, "nothing of a rejected batch is written")

	require.NoError(t, j.AppendBatch([]store.JournalEntry{
		entry("a", store.OpStarted, "k", 1), entry("a", store.OpSucceeded, "k", 2), entry("b", store.OpStarted, "", 1),
	}))
	require.True(t, j.AlreadyApplied("k"))
	require.Equal(t, []string{"b"}, opIDs(j.InFlight()))
}
