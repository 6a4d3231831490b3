package store

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Between a commit and the moment the tail's lists have its records, a
// read transaction that began after the commit sees the records in the
// file: lookups must find them there, whether the commit appended to the
// tail or merged it into opseqs.
func TestLookupsBetweenCommitAndTailLists(t *testing.T) {
	for _, merge := range []bool{false, true} {
		t.Run(fmt.Sprintf("merge=%v", merge), func(t *testing.T) {
			every := 1000
			if merge {
				every = 4
			}
			j, err := Open(filepath.Join(t.TempDir(), "j.db"), &Options{OpMergeEvery: every, UnsafeNoSync: true})
			require.NoError(t, err)
			defer j.Close()
			for i := range 3 {
				require.NoError(t, j.Append(JournalEntry{OpID: "a", State: OpStarted, Kind: fmt.Sprint(i)}))
			}
			// The fourth append commits (merging the tail when every is
			// 4), then waits before the lists take its record.
			inGap, release := make(chan struct{}), make(chan struct{})
			var once sync.Once
			free := func() { once.Do(func() { close(release) }) }
			defer free() // a failed check must not leave the append waiting
			setTestHook(func(s hookStep) {
				if s == hookCommitted {
					setTestHook(nil)
					close(inGap)
					<-release
				}
			})
			defer setTestHook(nil)
			done := make(chan error)
			go func() { done <- j.Append(JournalEntry{OpID: "a", State: OpSucceeded, Kind: "3"}) }()
			<-inGap
			e, ok, err := j.Get("a")
			require.NoError(t, err)
			require.True(t, ok)
			require.Equal(t, OpSucceeded, e.State, "the committed record is the latest")
			h, err := j.History("a")
			require.NoError(t, err)
			require.Len(t, h, 4, "every record once")
			free()
			require.NoError(t, <-done)
			h, err = j.History("a")
			require.NoError(t, err)
			require.Len(t, h, 4)
		})
	}
}

// A write outside group commit (MergeIndexes, Prune, Close) that merges the
// tail must update the lists before the next transaction begins: if an
// Append committed in between, the merge's reset of the lists would drop
// its record, and lookups would answer with the op's older one.
func TestMergeAndAppendUpdateTheListsInCommitOrder(t *testing.T) {
	j, err := Open(filepath.Join(t.TempDir(), "j.db"), &Options{OpMergeEvery: 1000, UnsafeNoSync: true})
	require.NoError(t, err)
	defer j.Close()
	require.NoError(t, j.Append(JournalEntry{OpID: "b", State: OpStarted, Kind: "v1"}))
	var armed atomic.Bool
	armed.Store(true)
	inGap, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	free := func() { once.Do(func() { close(release) }) }
	defer free()
	setTestHook(func(s hookStep) {
		if s == hookCommitted && armed.CompareAndSwap(true, false) {
			close(inGap)
			<-release
		}
	})
	defer setTestHook(nil)
	merged := make(chan error)
	go func() { merged <- j.MergeIndexes(context.Background()) }()
	<-inGap // the merge committed; its lists are not updated yet
	appended := make(chan error)
	go func() { appended <- j.Append(JournalEntry{OpID: "b", State: OpSucceeded, Kind: "v2"}) }()
	// A build that lets the Append commit in the gap does so now; this one
	// holds it until the merge's lists are updated.
	select {
	case err := <-appended:
		require.NoError(t, err)
		appended = nil
	case <-time.After(200 * time.Millisecond):
	}
	free()
	require.NoError(t, <-merged)
	if appended != nil {
		require.NoError(t, <-appended)
	}
	require.NoError(t, j.Append(JournalEntry{OpID: "c", State: OpStarted, Kind: "x"}))
	e, ok, err := j.Get("b")
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, "v2", e.Kind, "b's latest record")
	h, err := j.History("b")
	require.NoError(t, err)
	require.Len(t, h, 2)
}
