package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/felhom/opjournal/store"
)

var (
	yearAgo = t0.AddDate(-1, 0, 0)
	cutoff  = t0.AddDate(0, -6, 0)
)

func lifecycle(op string, vmid int, key string, end store.OpState, endAt time.Time) []store.JournalEntry {
	start := endAt.Add(-time.Minute)
	upid := "UPID:" + op
	return []store.JournalEntry{
		{OpID: op, VMID: vmid, Kind: "start", State: store.OpStarted, IdempKey: key, At: start},
		{OpID: op, VMID: vmid, Kind: "start", State: store.OpTaskRunning, IdempKey: key, UPID: upid, At: start},
		{OpID: op, VMID: vmid, Kind: "start", State: end, IdempKey: key, UPID: upid, At: endAt},
	}
}

func TestPrune(t *testing.T) {
	ctx := context.Background()
	j, _ := openTemp(t, nil)
	appendAll(t, j, lifecycle("old-ok", 101, "k-old", store.OpSucceeded, yearAgo)...)
	appendAll(t, j, lifecycle("old-failed", 101, "k-failed", store.OpFailed, yearAgo)...)
	appendAll(t, j, lifecycle("new-ok", 101, "k-new", store.OpSucceeded, t0)...)
	appendAll(t, j, lifecycle("old-stuck", 102, "k-stuck", store.OpTaskRunning, yearAgo)[:2]...)
	// An op whose latest record is recent although earlier ones are old.
	appendAll(t, j, lifecycle("revived", 103, "", store.OpSucceeded, yearAgo)...)
	appendAll(t, j, store.JournalEntry{OpID: "revived", VMID: 103, State: store.OpFailed, At: t0})

	_, err := j.Prune(ctx, store.PruneOptions{})
	require.ErrorContains(t, err, "Before is required")

	rep, err := j.Prune(ctx, store.PruneOptions{Before: cutoff, BatchSize: 1})
	require.NoError(t, err)
	require.Equal(t, store.PruneReport{Scanned: 5, Ops: 2, Records: 6, Transactions: 2, FreedBytes: rep.FreedBytes}, rep)
	require.Positive(t, rep.FreedBytes)

	for _, op := range []string{"old-ok", "old-failed"} {
		_, ok := j.Latest(op)
		require.False(t, ok, op)
		h, err := j.History(op)
		require.NoError(t, err)
		require.Empty(t, h, op)
	}
	for op, n := range map[string]int{"new-ok": 3, "old-stuck": 2, "revived": 4} {
		h, err := j.History(op)
		require.NoError(t, err)
		require.Len(t, h, n, op)
	}
	require.Equal(t, []string{"old-stuck"}, opIDs(j.InFlight()), "in-flight ops are never pruned")
	require.True(t, j.AlreadyApplied("k-old"), "applied keys outlive their ops")
	require.True(t, j.AlreadyApplied("k-new"))
	err = j.BeginOnce(store.JournalEntry{OpID: "again", State: store.OpStarted, IdempKey: "k-old", At: t0})
	require.ErrorIs(t, err, store.ErrAlreadyApplied, "a pruned one-shot op still cannot run twice")

	byVMID, err := j.ByVMID(101)
	require.NoError(t, err)
	require.Equal(t, []string{"new-ok"}, opIDs(byVMID))
	_, ok, err := j.ByUPID("UPID:old-ok")
	require.NoError(t, err)
	require.False(t, ok)
	_, err = j.Check(ctx)
	require.NoError(t, err)

	// The pruned op id can be used again, and the journal stays sound.
	appendAll(t, j, store.JournalEntry{OpID: "old-failed", VMID: 104, State: store.OpStarted, At: t0})
	_, err = j.Check(ctx)
	require.NoError(t, err)

	// Pruning again removes nothing more.
	rep, err = j.Prune(ctx, store.PruneOptions{Before: cutoff})
	require.NoError(t, err)
	require.Zero(t, rep.Ops)

	// Dropping applied keys is explicit, and only for ops gone.
	rep, err = j.Prune(ctx, store.PruneOptions{Before: cutoff, DropAppliedBefore: t0.Add(time.Hour)})
	require.NoError(t, err)
	require.Equal(t, 1, rep.AppliedKeys, "k-old only: k-new's op is still there")
	require.False(t, j.AlreadyApplied("k-old"))
	require.True(t, j.AlreadyApplied("k-new"))
	require.NoError(t, j.BeginOnce(store.JournalEntry{OpID: "again", State: store.OpStarted, IdempKey: "k-old", At: t0}))

	j = reopen(t, j)
	_, err = j.Check(ctx)
	require.NoError(t, err)
	st, err := j.Stats()
	require.NoError(t, err)
	require.Equal(t, 5, st.Ops) // new-ok, old-stuck, revived, old-failed (again), again
}

func TestPruneStopsOnContext(t *testing.T) {
	j, _ := openTemp(t, &store.Options{UnsafeNoSync: true})
	for i := range 10 {
		appendAll(t, j, lifecycle(fmt.Sprint("op", i), 100, "", store.OpSucceeded, yearAgo)...)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rep, err := j.Prune(ctx, store.PruneOptions{Before: cutoff})
	require.ErrorIs(t, err, context.Canceled)
	require.Zero(t, rep.Ops)
}

// TestPruneUnderConcurrentAppends prunes over and over while writers run
// op lifecycles, some ending long ago (prunable) and some now: nothing
// recent or in flight is lost, every applied key stays applied, and the
// journal checks clean.
func TestPruneUnderConcurrentAppends(t *testing.T) {
	ctx := context.Background()
	j, _ := openTemp(t, &store.Options{UnsafeNoSync: true})
	const writers, opsEach = 8, 60
	var wg sync.WaitGroup
	acked := make([][]store.JournalEntry, writers)
	for w := range writers {
		wg.Go(func() {
			for i := range opsEach {
				op := fmt.Sprintf("w%d-op%d", w, i)
				endAt, end := t0, store.OpSucceeded
				if i%2 == 0 {
					endAt = yearAgo
				}
				if i%7 == 0 {
					end = store.OpFailed
				}
				recs := lifecycle(op, 100+w, "key-"+op, end, endAt)
				if i%5 == 0 {
					recs = recs[:2] // left in flight, with an old At
				}
				for _, e := range recs {
					if err := j.Append(e); err != nil {
						t.Error(err)
						return
					}
					acked[w] = append(acked[w], e)
				}
			}
		})
	}
	done := make(chan struct{})
	var pruned int
	go func() {
		defer close(done)
		for {
			rep, err := j.Prune(ctx, store.PruneOptions{Before: cutoff, BatchSize: 5})
			if err != nil {
				t.Error(err)
				return
			}
			pruned += rep.Ops
			select {
			case <-ctx.Done():
			default:
			}
			if allDone(&wg) {
				return
			}
		}
	}()
	wg.Wait()
	<-done
	rep, err := j.Prune(ctx, store.PruneOptions{Before: cutoff})
	require.NoError(t, err)
	pruned += rep.Ops
	require.Positive(t, pruned)

	byOp := map[string][]store.JournalEntry{}
	for _, recs := range acked {
		for _, e := range recs {
			byOp[e.OpID] = append(byOp[e.OpID], e)
		}
	}
	removed := 0
	for op, recs := range byOp {
		last := recs[len(recs)-1]
		if last.State == store.OpSucceeded {
			require.True(t, j.AlreadyApplied(last.IdempKey), op)
		}
		h, err := j.History(op)
		require.NoError(t, err)
		if !last.State.Terminal() || !last.At.Before(cutoff) {
			require.Len(t, h, len(recs), "live op %s lost records", op)
			for i := range recs {
				requireSameEntry(t, recs[i], h[i])
			}
			continue
		}
		require.Empty(t, h, "old finished op %s not pruned", op)
		removed++
	}
	require.Equal(t, pruned, removed)
	_, err = j.Check(ctx)
	require.NoError(t, err)
}

// TestDropAppliedKeepsKeysStillSucceeded: a key whose first op is pruned
// stays applied while another op that succeeded with it (through Append,
// which does not refuse applied keys) remains.
func TestDropAppliedKeepsKeysStillSucceeded(t *testing.T) {
	ctx := context.Background()
	j, _ := openTemp(t, nil)
	appendAll(t, j, lifecycle("first", 101, "k", store.OpSucceeded, yearAgo)...)
	appendAll(t, j, lifecycle("second", 101, "k", store.OpSucceeded, t0)...)
	// A key whose op is still there although its first success is old.
	appendAll(t, j, lifecycle("slow", 102, "k-slow", store.OpSucceeded, yearAgo)[:2]...)
	appendAll(t, j, store.JournalEntry{OpID: "slow", VMID: 102, State: store.OpSucceeded, IdempKey: "k-slow", At: yearAgo})
	appendAll(t, j, store.JournalEntry{OpID: "slow", VMID: 102, State: store.OpFailed, IdempKey: "k-slow", At: t0})

	rep, err := j.Prune(ctx, store.PruneOptions{Before: cutoff, DropAppliedBefore: t0.Add(time.Hour)})
	require.NoError(t, err)
	require.Equal(t, 1, rep.Ops, "first")
	require.Zero(t, rep.AppliedKeys)
	require.True(t, j.AlreadyApplied("k"), "op second succeeded with k and is still there")
	require.True(t, j.AlreadyApplied("k-slow"))
	_, err = j.Check(ctx)
	require.NoError(t, err)

	// Once second is pruned too, k goes.
	rep, err = j.Prune(ctx, store.PruneOptions{Before: t0.Add(time.Hour), DropAppliedBefore: t0.Add(time.Hour)})
	require.NoError(t, err)
	require.Equal(t, 2, rep.Ops, "second and slow")
	require.Equal(t, 2, rep.AppliedKeys)
	require.False(t, j.AlreadyApplied("k"))
	_, err = j.Check(ctx)
	require.NoError(t, err)
}

// TestDropAppliedUnderConcurrentSuccesses drops old keys while writers
// succeed with those same keys in new ops: whatever the interleaving, every
// key that a live record succeeded with ends applied, and Check agrees.
func TestDropAppliedUnderConcurrentSuccesses(t *testing.T) {
	ctx := context.Background()
	j, _ := openTemp(t, &store.Options{UnsafeNoSync: true})
	const keys = 600
	for i := range keys {
		appendAll(t, j, lifecycle(fmt.Sprint("old", i), 100, fmt.Sprint("k", i), store.OpSucceeded, yearAgo)...)
	}
	rep, err := j.Prune(ctx, store.PruneOptions{Before: cutoff})
	require.NoError(t, err)
	require.Equal(t, keys, rep.Ops)

	var wg sync.WaitGroup
	for w := range 2 {
		wg.Go(func() {
			for i := w; i < keys; i += 2 {
				if err := j.Append(store.JournalEntry{OpID: fmt.Sprint("new", i), VMID: 100, State: store.OpSucceeded, IdempKey: fmt.Sprint("k", i), At: t0}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	dropped := 0
	for !allDone(&wg) {
		rep, err := j.Prune(ctx, store.PruneOptions{Before: cutoff, DropAppliedBefore: cutoff, BatchSize: 3})
		require.NoError(t, err)
		dropped += rep.AppliedKeys
	}
	wg.Wait()
	t.Logf("%d keys dropped before their new op succeeded", dropped)
	for i := range keys {
		require.True(t, j.AlreadyApplied(fmt.Sprint("k", i)), "k%d", i)
	}
	_, err = j.Check(ctx)
	require.NoError(t, err)
}

func allDone(wg *sync.WaitGroup) bool {
	c := make(chan struct{})
	go func() { wg.Wait(); close(c) }()
	select {
	case <-c:
		return true
	case <-time.After(time.Millisecond):
		return false
	}
}

func TestRetentionRunsInBackgroundAndStopsOnClose(t *testing.T) {
	_, err := store.Open(t.TempDir()+"/x.db", &store.Options{Retention: &store.Retention{}})
	require.ErrorContains(t, err, "MaxAge")

	path := t.TempDir() + "/ops.db"
	j, err := store.Open(path, &store.Options{Retention: &store.Retention{MaxAge: 24 * time.Hour, Every: 5 * time.Millisecond}})
	require.NoError(t, err)
	now := time.Now()
	appendAll(t, j, lifecycle("old", 100, "k", store.OpSucceeded, now.AddDate(0, 0, -2))...)
	appendAll(t, j, lifecycle("fresh", 100, "", store.OpSucceeded, now)...)
	require.Eventually(t, func() bool { _, ok := j.Latest("old"); return !ok }, 10*time.Second, 5*time.Millisecond)
	_, ok := j.Latest("fresh")
	require.True(t, ok)
	require.True(t, j.AlreadyApplied("k"))
	require.NoError(t, j.Close())
	// Close stopped the background work: the file can be opened again at once.
	j, err = store.Open(path, &store.Options{LockTimeout: 100 * time.Millisecond})
	require.NoError(t, err)
	require.NoError(t, j.Close())
}
