package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/felhom/opjournal/store"
)

// Many appenders, BeginOnce callers and readers, with Close racing them. Run
// under -race. Every acknowledged append must be readable after reopen.
func TestConcurrentAppendersReadersAndClose(t *testing.T) {
	j, path := openTemp(t, nil)
	const writers, perWriter = 16, 30
	type ack struct {
		state store.OpState
		key   string
	}
	var acked sync.Map // op id -> ack of the record acknowledged last
	var wg sync.WaitGroup
	var closed atomic.Bool
	for w := range writers {
		wg.Go(func() {
			for i := range perWriter {
				op := fmt.Sprintf("w%d-op%d", w, i)
				for _, st := range []store.OpState{store.OpStarted, store.OpSucceeded} {
					var err error
					key := ""
					if w%2 == 0 {
						key = "key-" + op
						err = j.BeginOnce(entry(op, st, key, i))
					} else {
						err = j.Append(entry(op, st, "", i))
					}
					if err != nil {
						assert.True(t, closed.Load() && errors.Is(err, store.ErrClosed), "unexpected error %v", err)
						return
					}
					acked.Store(op, ack{st, key})
				}
			}
		})
	}
	for range 4 {
		wg.Go(func() {
			for !closed.Load() {
				j.InFlight()
				j.Latest("w1-op1")
				j.AlreadyApplied("key-w0-op1")
				_, _ = j.History("w2-op2")
			}
		})
	}
	// Close once about half of the appends have been acknowledged.
	for n := 0; n < writers*perWriter; {
		n = 0
		acked.Range(func(any, any) bool { n++; return true })
		if n >= writers*perWriter/2 {
			break
		}
	}
	closed.Store(true)
	require.NoError(t, j.Close())
	wg.Wait()

	j2, err := store.Open(path, nil)
	require.NoError(t, err)
	defer j2.Close()
	n := 0
	acked.Range(func(k, v any) bool {
		n++
		a := v.(ack)
		e, ok := j2.Latest(k.(string))
		require.True(t, ok, "acknowledged op %s lost", k)
		require.Equal(t, a.state, e.State, "op %s", k)
		if a.state == store.OpSucceeded && a.key != "" {
			require.True(t, j2.AlreadyApplied(a.key), "key %s of an acknowledged success lost", a.key)
		}
		return true
	})
	require.Positive(t, n)
}

// Concurrent appends share commits: fewer transactions than appends.
func TestGroupCommitSharesTransactions(t *testing.T) {
	j, _ := openTemp(t, nil)
	const writers, each = 32, 20
	before := store.CommitCount(j)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				assert.NoError(t, j.Append(entry(fmt.Sprintf("%d-%d", w, i), store.OpStarted, "", i)))
			}
		})
	}
	wg.Wait()
	commits := store.CommitCount(j) - before
	t.Logf("%d appends in %d commits", writers*each, commits)
	require.Less(t, commits, uint64(writers*each))
	s, err := j.Stats()
	require.NoError(t, err)
	require.Equal(t, writers*each, s.Records)
}

// Check while appends go on finds nothing on a sound journal and leaves the
// handle usable (bbolt's page check must not see the live freelist move).
func TestCheckDuringAppends(t *testing.T) {
	j, _ := openTemp(t, &store.Options{UnsafeNoSync: true})
	for i := range 2000 {
		require.NoError(t, j.Append(entry(fmt.Sprintf("op%05d", i), store.OpStarted, "", i)))
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			assert.NoError(t, j.Append(entry(fmt.Sprintf("op%05d", i%2000), store.OpTaskRunning, "", i)))
		}
	})
	for range 5 {
		rep, err := j.Check(context.Background())
		require.NoError(t, err, "problems: %v", rep.Problems)
	}
	close(stop)
	wg.Wait()
	require.NoError(t, j.Err())
}

// A panic in the caller's function is the caller's: it propagates, and the
// journal is neither called corrupt nor poisoned.
func TestCallerPanicIsNotDamage(t *testing.T) {
	j, _ := openTemp(t, nil)
	appendAll(t, j, entry("a", store.OpStarted, "", 1))
	require.PanicsWithValue(t, "boom", func() {
		_ = j.View(func(s *store.Snapshot) error { panic("boom") })
	})
	require.Panics(t, func() {
		_ = j.ForEachOp(func(store.JournalEntry) error { panic("boom") })
	})
	err := j.View(func(s *store.Snapshot) error { return store.ErrCorrupt })
	require.ErrorIs(t, err, store.ErrCorrupt, "the caller's error comes back")
	require.NoError(t, j.Err(), "but does not poison the handle")
	require.NoError(t, j.Append(entry("b", store.OpStarted, "", 2)))
}
