package store

import (
	"fmt"
	"path/filepath"
	"sync"
	"testing"

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
