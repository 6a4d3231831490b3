package store_test

import (
	"cmp"
	"context"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/felhom/opjournal/store"
)

func TestByVMIDAndByUPID(t *testing.T) {
	j, _ := openTemp(t, nil)
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	appendAll(t, j,
		store.JournalEntry{OpID: "b", VMID: 101, State: store.OpStarted, At: at(0)},
		store.JournalEntry{OpID: "a", VMID: 101, State: store.OpStarted, At: at(1)},
		store.JournalEntry{OpID: "c", VMID: 102, State: store.OpStarted, At: at(2)},
		store.JournalEntry{OpID: "a", VMID: 101, State: store.OpTaskRunning, UPID: "UPID:1", At: at(3)},
		store.JournalEntry{OpID: "b", VMID: 101, State: store.OpTaskRunning, UPID: "UPID:2", At: at(4)},
		// c moves to guest 101 (a migration), later back to 102.
		store.JournalEntry{OpID: "c", VMID: 101, State: store.OpTaskRunning, UPID: "UPID:3", At: at(5)},
		store.JournalEntry{OpID: "c", VMID: 102, State: store.OpSucceeded, UPID: "UPID:3", At: at(6)},
		store.JournalEntry{OpID: "a", VMID: 101, State: store.OpSucceeded, UPID: "UPID:1", At: at(7)},
	)
	got, err := j.ByVMID(101)
	require.NoError(t, err)
	require.Equal(t, []string{"b", "a", "c"}, opIDs(got), "in the order the ops first touched the guest")
	require.Equal(t, store.OpSucceeded, got[1].State, "the latest record of each")
	require.Equal(t, 102, got[2].VMID)

	got, err = j.ByVMID(102)
	require.NoError(t, err)
	require.Equal(t, []string{"c"}, opIDs(got), "listed once although it came back")

	got, err = j.ByVMID(999)
	require.NoError(t, err)
	require.Empty(t, got)

	e, ok, err := j.ByUPID("UPID:2")
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, "b", e.OpID)
	require.Equal(t, store.OpTaskRunning, e.State)
	_, ok, err = j.ByUPID("UPID:none")
	require.NoError(t, err)
	require.False(t, ok)
	_, ok, err = j.ByUPID("")
	require.NoError(t, err)
	require.False(t, ok)

	// A later op carrying the same task id wins.
	appendAll(t, j, store.JournalEntry{OpID: "d", VMID: 103, State: store.OpTaskRunning, UPID: "UPID:2", At: at(8)})
	e, ok, err = j.ByUPID("UPID:2")
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, "d", e.OpID)

	j = reopen(t, j)
	got, err = j.ByVMID(101)
	require.NoError(t, err)
	require.Equal(t, []string{"b", "a", "c"}, opIDs(got))
	_, err = j.Check(context.Background())
	require.NoError(t, err)
}

// scanIndexes computes ByVMID and ByUPID answers from a full scan of every
// record, in append order.
func scanIndexes(t *testing.T, j *store.Journal) (byVMID map[int][]string, byUPID map[string]string) {
	t.Helper()
	type rec struct {
		seq uint64
		e   store.JournalEntry
	}
	var all []rec
	require.NoError(t, j.ForEachRecord(func(seq uint64, e store.JournalEntry) error {
		all = append(all, rec{seq, e})
		return nil
	}))
	slices.SortFunc(all, func(a, b rec) int { return cmp.Compare(a.seq, b.seq) })
	byVMID, byUPID = map[int][]string{}, map[string]string{}
	firstUPID := map[[2]string]uint64{}
	for _, r := range all {
		if !slices.Contains(byVMID[r.e.VMID], r.e.OpID) {
			byVMID[r.e.VMID] = append(byVMID[r.e.VMID], r.e.OpID)
		}
		if k := [2]string{r.e.UPID, r.e.OpID}; r.e.UPID != "" {
			if _, seen := firstUPID[k]; !seen {
				firstUPID[k] = r.seq
				byUPID[r.e.UPID] = r.e.OpID // the op that first carried it latest
			}
		}
	}
	return byVMID, byUPID
}

// TestIndexesAgreeWithScan runs random workloads, with prunes among the
// appends, and compares the vmids and upids indexes with a full scan.
func TestIndexesAgreeWithScan(t *testing.T) {
	pruned := 0
	defer store.SetMergeChunk(store.SetMergeChunk(5))
	for seed := range uint64(8) {
		// Merge pending index entries every few appends (5 at a time),
		// or never.
		j, _ := openTemp(t, &store.Options{IndexMergeEvery: []int{1, 3, 17, 1 << 40}[seed%4]})
		w := newWorkload(seed)
		for step := range 400 {
			e := w.next()
			e.VMID = 100 + w.rng.IntN(4)
			require.NoError(t, j.Append(e))
			if step%97 == 96 {
				rep, err := j.Prune(context.Background(), store.PruneOptions{Before: time.Unix(1.7e9+w.rng.Int64N(1e8), 0), BatchSize: 3})
				require.NoError(t, err)
				pruned += rep.Ops
			}
		}
		if seed%2 == 1 {
			j = reopen(t, j)
		}
		if seed == 7 {
			require.NoError(t, j.MergeIndexes(context.Background()))
		}
		byVMID, byUPID := scanIndexes(t, j)
		for vmid := 99; vmid < 105; vmid++ {
			got, err := j.ByVMID(vmid)
			require.NoError(t, err)
			require.Equalf(t, byVMID[vmid], nilIfEmpty(opIDs(got)), "seed %d vmid %d", seed, vmid)
			for _, e := range got {
				latest, ok := j.Latest(e.OpID)
				require.True(t, ok)
				requireSameEntry(t, latest, e)
			}
		}
		for upid, op := range byUPID {
			e, ok, err := j.ByUPID(upid)
			require.NoError(t, err)
			require.True(t, ok)
			require.Equalf(t, op, e.OpID, "seed %d upid %s", seed, upid)
		}
		_, err := j.Check(context.Background())
		require.NoErrorf(t, err, "seed %d", seed)
	}
	require.Positive(t, pruned, "the workloads must exercise pruning")
}

func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}
