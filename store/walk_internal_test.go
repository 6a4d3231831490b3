package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"
)

// loopedJournal writes a journal whose bucket tree has a branch root, then
// points the root's middle element back at the root: a cursor walking
// forward from the first key comes back to it, while descents from the
// root (First, and Seek of the first keys) still end.
func loopedJournal(t *testing.T, bucket []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "j.db")
	j, err := Open(path, &Options{UnsafeNoSync: true})
	require.NoError(t, err)
	for i := range 300 {
		e := JournalEntry{OpID: fmt.Sprintf("op-%04d", i), VMID: i, State: OpStarted, Params: map[string]string{"pad": strings.Repeat("p", 40)}}
		require.NoError(t, j.Append(e))
	}
	require.NoError(t, j.Close())
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	require.NoError(t, err)
	var root uint64
	require.NoError(t, db.View(func(tx *bolt.Tx) error { root = uint64(tx.Bucket(bucket).RootPage()); return nil }))
	ps := uint64(db.Info().PageSize)
	require.NoError(t, db.Close())
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	page := b[root*ps : (root+1)*ps]
	require.Equal(t, uint16(pageBranch), binary.LittleEndian.Uint16(page[8:]), "the root is a branch")
	n := int(binary.LittleEndian.Uint16(page[10:]))
	require.GreaterOrEqual(t, n, 3)
	binary.LittleEndian.PutUint64(page[pageHeaderSize+(n/2)*pageElementSize+8:], root)
	require.NoError(t, os.WriteFile(path, b, 0o600))
	return path
}

// openUnshaped opens the journal at path as Open does, but without the
// shape check: what the walks and Check meet if damage gets past Open.
func openUnshaped(t *testing.T, path string) *Journal {
	t.Helper()
	j := &Journal{path: path, opts: (&Options{}).withDefaults()}
	j.counters.init()
	require.NoError(t, j.openCurrent())
	t.Cleanup(func() { _ = j.Close() })
	return j
}

// Open refuses a looping tree; past Open, every walk over it ends with
// ErrCorrupt naming the bucket and poisons the handle, and Check reports
// the loop from its page check without reaching bbolt's (which recurses
// over a loop until the stack overflows).
func TestWalksEndOnALoopingTree(t *testing.T) {
	// Each walk over the bucket whose tree loops; the other bucket's
	// lookups would descend into the loop, which only Open's page check
	// stops.
	walks := map[string]map[string]func(j *Journal) error{
		"records": {
			"ForEachRecord": func(j *Journal) error { return j.ForEachRecord(func(uint64, JournalEntry) error { return nil }) },
			"Stats":         func(j *Journal) error { _, err := j.Stats(); return err },
		},
		"opseqs": {
			"ForEachOp": func(j *Journal) error { return j.ForEachOp(func(JournalEntry) error { return nil }) },
			"Stats":     func(j *Journal) error { _, err := j.Stats(); return err },
			"Prune": func(j *Journal) error {
				_, err := j.Prune(context.Background(), PruneOptions{Before: time.Now().Add(time.Hour)})
				return err
			},
		},
	}
	for bucket, walks := range walks {
		t.Run(bucket, func(t *testing.T) {
			path := loopedJournal(t, []byte(bucket))
			_, err := Open(path, nil)
			require.ErrorIs(t, err, ErrCorrupt)
			require.ErrorContains(t, err, fmt.Sprintf(`bucket %q: page`, bucket))
			require.ErrorContains(t, err, "reached twice")
			for name, walk := range walks {
				t.Run(name, func(t *testing.T) {
					j := openUnshaped(t, path)
					err := walk(j)
					require.ErrorIs(t, err, ErrCorrupt)
					require.ErrorContains(t, err, fmt.Sprintf(`bucket %q`, bucket))
					require.ErrorIs(t, j.Err(), ErrPoisoned, "the damage poisons the handle")
				})
			}
			t.Run("Check", func(t *testing.T) {
				j := openUnshaped(t, path)
				rep, err := j.Check(context.Background())
				require.ErrorIs(t, err, ErrCorrupt)
				require.NotEmpty(t, rep.Problems)
				// The page check meets the loop as a page reached twice,
				// or as a branch where the tree's leaves are.
				require.Regexp(t, fmt.Sprintf(`^pages: bucket %q: page \d+, .*(reached twice|is a branch at depth \d+, where the tree's leaves are at depth \d+)`, bucket), rep.Problems[0])
				require.ErrorIs(t, j.Err(), ErrPoisoned)
			})
		})
	}
}

// The step bound stops a walk that passes more entries than the file can
// hold, and a sound file's entries all fit within it.
func TestWalkBound(t *testing.T) {
	j := checkedJournal(t)
	total := 0
	err := j.view(func(bs *buckets) error {
		for slot := range slotCount {
			total += bs.count(slot)
		}
		require.LessOrEqual(t, total, walkLimit(bs.tx), "a sound file's entries exceed the bound")
		c := bs.cursor(slotRecords)
		c.limit = 10
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
		}
		return nil
	})
	require.Greater(t, total, 10)
	require.ErrorIs(t, err, ErrCorrupt)
	require.ErrorContains(t, err, `bucket "records": a walk passed 10 entries, more than the file can hold`)
	require.ErrorIs(t, j.Err(), ErrPoisoned)
}

// Check stops when its context is cancelled, and that is not damage.
func TestCheckStopsOnCancel(t *testing.T) {
	j, err := Open(filepath.Join(t.TempDir(), "j.db"), &Options{UnsafeNoSync: true})
	require.NoError(t, err)
	t.Cleanup(func() { _ = j.Close() })
	batch := make([]JournalEntry, 0, 2000)
	for i := range 2000 {
		batch = append(batch, JournalEntry{OpID: fmt.Sprintf("op-%d", i), State: OpStarted})
	}
	require.NoError(t, j.AppendBatch(batch))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = j.Check(ctx)
	require.True(t, errors.Is(err, context.Canceled), "got %v, want context.Canceled", err)
	require.NoError(t, j.Err(), "a cancelled check does not poison the handle")
}

// An inline bucket (one that lives in its parent's leaf) whose page says it
// is a branch would make bbolt index past the value: Open refuses it, and
// Check reports it.
func TestInlineBucketPageMustBeALeaf(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.db")
	j, err := Open(path, &Options{UnsafeNoSync: true})
	require.NoError(t, err)
	require.NoError(t, j.Append(JournalEntry{OpID: "a", State: OpSucceeded}))
	require.NoError(t, j.Close())
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	// The empty keys bucket is inline: its name, its header (root page 0,
	// sequence), then its page (id, flags, count, overflow).
	name := append([]byte("keys"), make([]byte, 8)...)
	i := bytes.LastIndex(b, name)
	require.Positive(t, i, "the inline keys bucket")
	flags := i + 4 + inBucketSize + 8
	require.Equal(t, uint16(pageLeaf), binary.LittleEndian.Uint16(b[flags:]))
	binary.LittleEndian.PutUint16(b[flags:], pageBranch)
	require.NoError(t, os.WriteFile(path, b, 0o600))

	_, err = Open(path, nil)
	require.ErrorIs(t, err, ErrCorrupt)
	require.ErrorContains(t, err, `bucket "keys": page`)
	require.ErrorContains(t, err, "the bucket's inline page is not a leaf")
	j = openUnshaped(t, path)
	rep, err := j.Check(context.Background())
	require.ErrorIs(t, err, ErrCorrupt)
	require.NotEmpty(t, rep.Problems)
	require.Contains(t, rep.Problems[0], "inline page is not a leaf")
}
