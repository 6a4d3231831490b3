package store

import (
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"
)

func mustRequest(t *testing.T, once bool, entries ...JournalEntry) *request {
	t.Helper()
	r, err := newRequest(entries, once)
	require.NoError(t, err)
	return r
}

// Within one group, a rejected BeginOnce fails only itself, and later
// entries of the group see earlier ones.
func TestGroupRejectionDoesNotFailOthers(t *testing.T) {
	j, err := Open(filepath.Join(t.TempDir(), "j.db"), nil)
	require.NoError(t, err)
	defer j.Close()
	batch := []*request{
		mustRequest(t, true, JournalEntry{OpID: "a", State: OpStarted, IdempKey: "k"}),
		mustRequest(t, true, JournalEntry{OpID: "b", State: OpStarted, IdempKey: "k"}),
		mustRequest(t, false, JournalEntry{OpID: "c", State: OpStarted}),
	}
	before := j.group.commits.Load()
	j.commit(batch)
	require.Equal(t, before+1, j.group.commits.Load(), "one transaction for the group")
	require.NoError(t, batch[0].err)
	require.ErrorIs(t, batch[1].err, ErrKeyInFlight)
	require.NoError(t, batch[2].err)
	require.ElementsMatch(t, []string{"a", "c"}, []string{j.InFlight()[0].OpID, j.InFlight()[1].OpID})
}

// If the transaction fails, every caller in it gets the error.
func TestGroupTransactionFailureFailsAll(t *testing.T) {
	j, err := Open(filepath.Join(t.TempDir(), "j.db"), nil)
	require.NoError(t, err)
	defer j.Close()
	batch := []*request{
		mustRequest(t, false, JournalEntry{OpID: "a", State: OpStarted}),
		mustRequest(t, false, JournalEntry{OpID: "x", State: OpTaskRunning}),
	}
	// x's latest record is damaged in the file: the transaction fails there.
	require.NoError(t, j.Append(JournalEntry{OpID: "x", State: OpStarted}))
	require.NoError(t, j.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketRecords).Put(seqKey(1), []byte("garbage")) }))
	j.commit(batch)
	for _, r := range batch {
		require.ErrorIs(t, r.err, ErrCorrupt)
	}
	require.NoError(t, j.db.View(func(tx *bolt.Tx) error {
		require.Nil(t, tx.Bucket(bucketRecords).Get(seqKey(2)), "a was rolled back with its group")
		return nil
	}))
}

// A caller that queues while the leader is still writing its transaction
// joins it: one commit for both, and both are durable when Append returns.
// A caller that queues once the commit has begun waits for the next one.
func TestLateCallerJoinsTheTransactionBeingWritten(t *testing.T) {
	j, err := Open(filepath.Join(t.TempDir(), "j.db"), nil)
	require.NoError(t, err)
	defer j.Close()
	queued := func(n int) bool {
		j.group.mu.Lock()
		defer j.group.mu.Unlock()
		return len(j.group.queue) == n
	}
	late := make(chan error, 1)
	var hooked sync.Once
	setTestHook(func(step hookStep) {
		if step != hookApplied {
			return
		}
		hooked.Do(func() {
			go func() { late <- j.Append(JournalEntry{OpID: "late", State: OpStarted}) }()
			for !queued(1) {
				runtime.Gosched()
			}
		})
	})
	defer setTestHook(nil)

	before := j.group.commits.Load()
	require.NoError(t, j.Append(JournalEntry{OpID: "first", State: OpStarted}))
	require.NoError(t, <-late)
	require.Equal(t, before+1, j.group.commits.Load(), "one transaction for both")
	m, err := j.Metrics()
	require.NoError(t, err)
	require.Equal(t, uint64(1), m.GroupSize.Count)
	require.Equal(t, uint64(0), m.GroupSize.Buckets[0], "the group had 2 callers")
	require.Equal(t, uint64(1), m.GroupSize.Buckets[1])
	_, ok := j.Latest("late")
	require.True(t, ok)
}
