package store_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/felhom/opjournal/internal/schematest"
	"github.com/felhom/opjournal/store"
)

// collect follows j from from until it has n changes, then cancels.
func collect(t *testing.T, j *store.Journal, from uint64, n int) []store.Change {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var got []store.Change
	err := j.Follow(ctx, from, func(c store.Change) error {
		got = append(got, c)
		if len(got) == n {
			cancel()
		}
		return nil
	})
	require.ErrorIs(t, err, context.Canceled)
	return got
}

// records returns every record with its sequence number, in commit order.
func records(t *testing.T, j *store.Journal) []store.Change {
	t.Helper()
	var all []store.Change
	require.NoError(t, j.ForEachRecord(func(seq uint64, e store.JournalEntry) error {
		all = append(all, store.Change{Seq: seq, Record: e})
		return nil
	}))
	slicesSortBySeq(all)
	return all
}

func slicesSortBySeq(cs []store.Change) {
	for i := 1; i < len(cs); i++ {
		for k := i; k > 0 && cs[k].Seq < cs[k-1].Seq; k-- {
			cs[k], cs[k-1] = cs[k-1], cs[k]
		}
	}
}

func requireSameChanges(t *testing.T, want, got []store.Change) {
	t.Helper()
	require.Equal(t, len(want), len(got))
	for i := range want {
		require.Equal(t, want[i].Seq, got[i].Seq, "change %d", i)
		requireSameEntry(t, want[i].Record, got[i].Record)
	}
}

func TestFollowDeliversHistoryThenLiveInCommitOrder(t *testing.T) {
	j, _ := openTemp(t, nil)
	appendAll(t, j, lifecycle("a", 101, "k", store.OpSucceeded, t0)...)
	require.Equal(t, uint64(3), j.LastSeq())

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const writers, each = 8, 50
	total := 3 + writers*each + 1
	var got []store.Change
	done := make(chan error, 1)
	go func() {
		done <- j.Follow(ctx, 0, func(c store.Change) error {
			got = append(got, c)
			if len(got) == total {
				cancel()
			}
			return nil
		})
	}()
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				op := fmt.Sprintf("w%d-%d", w, i)
				require.NoError(t, j.Append(entry(op, store.OpStarted, "", i)))
			}
		}()
	}
	wg.Wait()
	require.NoError(t, j.AppendBatch([]store.JournalEntry{entry("batch", store.OpStarted, "", 0)}))
	require.ErrorIs(t, <-done, context.Canceled)
	want := records(t, j)
	require.Len(t, want, total)
	requireSameChanges(t, want, got)
	for i, c := range got {
		require.Equal(t, uint64(i+1), c.Seq, "no gaps, no repeats")
	}
	// Each op's records, as History reads them through the op's list,
	// come in the feed in the same order.
	byOp := map[string][]store.JournalEntry{}
	for _, c := range got {
		byOp[c.Record.OpID] = append(byOp[c.Record.OpID], c.Record)
	}
	for op, recs := range byOp {
		h, err := j.History(op)
		require.NoError(t, err)
		require.Equal(t, h, recs, "op %q", op)
	}
}

func TestFollowResumesAfterTheLastSeqHandled(t *testing.T) {
	j, _ := openTemp(t, nil)
	for i := range 600 {
		appendAll(t, j, entry(fmt.Sprintf("op-%03d", i), store.OpStarted, "", i))
	}
	first := collect(t, j, 0, 300)
	j = reopen(t, j)
	rest := collect(t, j, first[len(first)-1].Seq, 300)
	requireSameChanges(t, records(t, j), append(first, rest...))

	page, err := j.Changes(590, 100)
	require.NoError(t, err)
	require.Len(t, page, 10)
	require.Equal(t, uint64(591), page[0].Seq)

	tail, err := j.Tail(3)
	require.NoError(t, err)
	require.Equal(t, []uint64{598, 599, 600}, seqs(tail))
	tail, err = j.Tail(1000)
	require.NoError(t, err)
	require.Len(t, tail, 600)
}

func seqs(cs []store.Change) []uint64 {
	out := []uint64{}
	for _, c := range cs {
		out = append(out, c.Seq)
	}
	return out
}

func TestFollowEnds(t *testing.T) {
	t.Run("on Close", func(t *testing.T) {
		j, _ := openTemp(t, nil)
		appendAll(t, j, entry("a", store.OpStarted, "", 0))
		done := make(chan error, 1)
		delivered := make(chan struct{})
		go func() {
			done <- j.Follow(context.Background(), 0, func(store.Change) error { close(delivered); return nil })
		}()
		<-delivered
		require.NoError(t, j.Close())
		require.ErrorIs(t, <-done, store.ErrClosed)
	})
	t.Run("with fn's error", func(t *testing.T) {
		j, _ := openTemp(t, nil)
		appendAll(t, j, entry("a", store.OpStarted, "", 0))
		stop := errors.New("enough")
		require.Equal(t, stop, j.Follow(context.Background(), 0, func(store.Change) error { return stop }))
	})
	t.Run("ahead of the journal", func(t *testing.T) {
		j, _ := openTemp(t, nil)
		appendAll(t, j, entry("a", store.OpStarted, "", 0))
		err := j.Follow(context.Background(), 2, func(store.Change) error { return nil })
		require.ErrorIs(t, err, store.ErrSeqAhead)
		_, err = j.Changes(5, 1)
		require.ErrorIs(t, err, store.ErrSeqAhead)
	})
	t.Run("when records it has not seen were pruned", func(t *testing.T) {
		j, _ := openTemp(t, nil)
		appendAll(t, j, lifecycle("old", 101, "k", store.OpSucceeded, t0)...)      // 1-3
		appendAll(t, j, lifecycle("new", 102, "", store.OpTaskRunning, t0)[:2]...) // 4-5
		_, err := j.Prune(context.Background(), store.PruneOptions{Before: t0.Add(time.Hour)})
		require.NoError(t, err)
		err = j.Follow(context.Background(), 1, func(store.Change) error { return nil })
		require.ErrorIs(t, err, store.ErrPruned)
		var pe *store.PrunedError
		require.ErrorAs(t, err, &pe)
		require.Equal(t, uint64(3), pe.Through)
		got := collect(t, j, pe.Through, 2)
		require.Equal(t, []uint64{4, 5}, seqs(got))
		tail, err := j.Tail(10)
		require.NoError(t, err)
		require.Equal(t, []uint64{4, 5}, seqs(tail))
	})
	t.Run("on a failed commit, without its record", func(t *testing.T) {
		j, _ := openTemp(t, nil)
		appendAll(t, j, entry("a", store.OpStarted, "", 0))
		m, err := j.Metrics()
		require.NoError(t, err)
		j = reopenWith(t, j, &store.Options{MaxSize: int(m.FileSize)})
		var got []store.Change
		done := make(chan error, 1)
		delivered := make(chan struct{})
		go func() {
			done <- j.Follow(context.Background(), 0, func(c store.Change) error {
				got = append(got, c)
				if len(got) == 1 {
					close(delivered)
				}
				return nil
			})
		}()
		<-delivered
		big := entry("b", store.OpStarted, "", 0)
		big.Params = map[string]string{"blob": strings.Repeat("x", 3000)}
		for j.Append(big) == nil {
		}
		require.ErrorIs(t, <-done, store.ErrPoisoned)
		require.Equal(t, []uint64{1}, seqs(got), "nothing from a failed commit")
	})
}

// A commit that failed after bbolt wrote it (its pages, meta page included,
// may be in the file and in the memory map) is never read back: not by a
// follower, not by Changes or Tail, even before the handle is poisoned.
func TestFailedCommitIsNeverDelivered(t *testing.T) {
	j, _ := openTemp(t, nil)
	appendAll(t, j, entry("a", store.OpStarted, "", 0))
	var inWindow [][]uint64
	store.SetTestHook(func(step string) {
		if step != "commit-failing" {
			return
		}
		page, err := j.Changes(0, 100)
		require.NoError(t, err)
		tail, err := j.Tail(10)
		require.NoError(t, err)
		inWindow = append(inWindow, seqs(page), seqs(tail))
	})
	defer store.SetTestHook(nil)
	store.SetFailCommit(true)
	defer store.SetFailCommit(false)
	require.Error(t, j.Append(entry("b", store.OpStarted, "", 1)))
	require.Equal(t, [][]uint64{{1}, {1}}, inWindow, "between the failed commit and the poison, only record 1 is visible")
	require.ErrorIs(t, j.Follow(context.Background(), 0, func(store.Change) error { return nil }), store.ErrPoisoned)
}

// reopenWith closes j and opens its file again with opts.
func reopenWith(t *testing.T, j *store.Journal, opts *store.Options) *store.Journal {
	t.Helper()
	require.NoError(t, j.Close())
	j2, err := store.Open(j.Path(), opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = j2.Close() })
	return j2
}

// A consumer that does not return holds no read transaction and no buffer:
// appends go on.
func TestSlowFollowerDoesNotHoldAppends(t *testing.T) {
	j, _ := openTemp(t, nil)
	appendAll(t, j, entry("a", store.OpStarted, "", 0))
	block := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- j.Follow(context.Background(), 0, func(store.Change) error { <-block; return nil })
	}()
	for i := range 2000 {
		require.NoError(t, j.Append(entry(fmt.Sprintf("op-%d", i), store.OpStarted, "", i)))
	}
	close(block)
	require.NoError(t, j.Close())
	require.ErrorIs(t, <-done, store.ErrClosed)
}

func TestSchema3IsUpgradedWithItsRecordsInCommitOrder(t *testing.T) {
	j, path := openTemp(t, nil)
	for i := range 40 {
		appendAll(t, j, entry(fmt.Sprintf("op-%02d", 39-i), store.OpStarted, "", i))
	}
	appendAll(t, j, entry("op-05", store.OpSucceeded, "", 50))
	want := records(t, j)
	require.NoError(t, j.Close())
	require.NoError(t, schematest.Downgrade(path, 3))

	_, err := store.Open(path, &store.Options{ReadOnly: true})
	require.ErrorIs(t, err, store.ErrSchema)
	defer store.SetUpgradeChunk(store.SetUpgradeChunk(7))
	j, err = store.Open(path, nil)
	require.NoError(t, err)
	defer j.Close()
	requireSameChanges(t, want, collect(t, j, 0, len(want)))
	_, err = j.Check(context.Background())
	require.NoError(t, err)
}
