package store_test

import (
	"context"
	"os"
	"testing"

	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/felhom/opjournal/store"
)

// downgrade turns a journal into a schema 1 file, as the first release wrote
// it: no vmids and upids buckets, meta schema "1".
func downgrade(t *testing.T, path string) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	require.NoError(t, err)
	require.NoError(t, db.Update(func(tx *bolt.Tx) error {
		for _, b := range []string{"vmids", "upids"} {
			if err := tx.DeleteBucket([]byte(b)); err != nil {
				return err
			}
		}
		return tx.Bucket([]byte("meta")).Put([]byte("schema"), []byte("1"))
	}))
	require.NoError(t, db.Close())
}

func TestSchema1IsUpgradedOnReadWriteOpen(t *testing.T) {
	j, path := openTemp(t, nil)
	appendAll(t, j, lifecycle("a", 101, "k", store.OpSucceeded, t0)...)
	appendAll(t, j, lifecycle("b", 102, "", store.OpTaskRunning, t0)[:2]...)
	appendAll(t, j, store.JournalEntry{OpID: "a", VMID: 103, State: store.OpFailed, At: t0})
	require.NoError(t, j.Close())
	downgrade(t, path)

	_, err := store.Open(path, &store.Options{ReadOnly: true})
	require.ErrorIs(t, err, store.ErrSchema)
	require.ErrorContains(t, err, "open the journal read-write once")

	j, err = store.Open(path, nil)
	require.NoError(t, err)
	defer j.Close()
	meta, err := j.Meta()
	require.NoError(t, err)
	require.Equal(t, "2", meta["schema"])
	got, err := j.ByVMID(101)
	require.NoError(t, err)
	require.Equal(t, []string{"a"}, opIDs(got))
	got, err = j.ByVMID(103)
	require.NoError(t, err)
	require.Equal(t, []string{"a"}, opIDs(got))
	e, ok, err := j.ByUPID("UPID:b")
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, "b", e.OpID)
	_, err = j.Check(context.Background())
	require.NoError(t, err)
}

func TestNewerSchemaIsRefused(t *testing.T) {
	j, path := openTemp(t, nil)
	require.NoError(t, j.Close())
	db, err := bolt.Open(path, 0o600, nil)
	require.NoError(t, err)
	require.NoError(t, db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("meta")).Put([]byte("schema"), []byte("3"))
	}))
	require.NoError(t, db.Close())
	_, err = store.Open(path, nil)
	require.ErrorIs(t, err, store.ErrSchema)
}

func TestMetrics(t *testing.T) {
	j, _ := openTemp(t, nil)
	appendAll(t, j, lifecycle("a", 101, "k", store.OpSucceeded, t0)...)
	appendAll(t, j, lifecycle("b", 101, "", store.OpSucceeded, t0)[:2]...)
	require.ErrorIs(t, j.BeginOnce(store.JournalEntry{OpID: "c", State: store.OpStarted, IdempKey: "k", At: t0}), store.ErrAlreadyApplied)
	require.NoError(t, j.AppendBatch(lifecycle("d", 101, "", store.OpSucceeded, t0)))
	m, err := j.Metrics()
	require.NoError(t, err)
	require.Equal(t, uint64(8), m.Appends)
	require.Equal(t, uint64(1), m.Rejected)
	require.Equal(t, uint64(7), m.Commits, "5 appends, 1 rejected BeginOnce, 1 batch; no write at open")
	require.Equal(t, 2*m.Commits, m.Fsyncs)
	require.Equal(t, m.Commits, m.CommitSeconds.Count)
	require.Equal(t, m.Commits, m.GroupSize.Count, "every commit was a group of one")
	require.Equal(t, m.Commits, m.GroupSize.Buckets[0])
	require.Positive(t, m.CommitSeconds.Sum)
	require.Equal(t, 1, m.InFlight)
	require.Positive(t, m.FileSize)
	require.Equal(t, os.Getpagesize(), m.PageSize)
	require.NoError(t, j.Close())
	after, err := j.Metrics()
	require.ErrorIs(t, err, store.ErrClosed)
	require.Equal(t, m.Commits, after.Commits, "the counters outlive Close")
	require.Zero(t, after.FileSize)
}
