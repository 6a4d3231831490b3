package store_test

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/felhom/opjournal/store"
)

// answers renders what the journal answers about ops: each op's latest
// record and history, InFlight, ForEachOp and Stats' counts.
func answers(t *testing.T, j *store.Journal, ops []string) string {
	t.Helper()
	var b bytes.Buffer
	for _, op := range ops {
		e, ok, err := j.Get(op)
		require.NoError(t, err)
		h, err := j.History(op)
		require.NoError(t, err)
		fmt.Fprintf(&b, "%s: %v %+v %d records\n", op, ok, e, len(h))
		for _, r := range h {
			fmt.Fprintf(&b, "  %+v\n", r)
		}
	}
	fmt.Fprintf(&b, "inflight %v\n", opIDs(j.InFlight()))
	var all []string
	require.NoError(t, j.ForEachOp(func(e store.JournalEntry) error { all = append(all, e.OpID); return nil }))
	fmt.Fprintf(&b, "ops %v\n", all)
	s, err := j.Stats()
	require.NoError(t, err)
	fmt.Fprintf(&b, "stats %d ops %d records %d in flight %d keys\n", s.Ops, s.Records, s.InFlight, s.AppliedKeys)
	return b.String()
}

// Records past the merge mark answer the same before and after a reopen
// (which lists them again from the file), before and after the merge that
// moves them into opseqs, whatever the merge interval.
func TestTailAnswersLikeMergedLists(t *testing.T) {
	for _, every := range []int{1, 2, 5, 64, 100000} {
		t.Run(fmt.Sprintf("every=%d", every), func(t *testing.T) {
			opts := &store.Options{OpMergeEvery: every, UnsafeNoSync: true}
			j, path := openTemp(t, opts)
			var ops []string
			for i := range 40 {
				op := fmt.Sprintf("op-%02d", (i*7)%13)
				if len(ops) < 13 {
					ops = append(ops, fmt.Sprintf("op-%02d", len(ops)))
				}
				state := []store.OpState{store.OpStarted, store.OpTaskRunning, store.OpSucceeded, store.OpFailed}[i%4]
				appendAll(t, j, entry(op, state, fmt.Sprint("k", i%5), i))
			}
			require.NoError(t, j.AppendBatch([]store.JournalEntry{entry("op-00", store.OpStarted, "", 50), entry("new", store.OpStarted, "", 51)}))
			ops = append(ops, "new", "unknown")
			want := answers(t, j, ops)
			old := store.SetMergeOnClose(false) // the reopen reads the tail
			require.NoError(t, j.Close())
			store.SetMergeOnClose(old)

			j, err := store.Open(path, opts)
			require.NoError(t, err)
			require.Equal(t, want, answers(t, j, ops), "after a reopen")
			require.NoError(t, j.MergeIndexes(context.Background()))
			require.Equal(t, want, answers(t, j, ops), "after merging the tail")
			_, err = j.Check(context.Background())
			require.NoError(t, err)
			require.NoError(t, j.Close())
			j, err = store.Open(path, opts)
			require.NoError(t, err)
			require.Equal(t, want, answers(t, j, ops), "after a reopen of the merged journal")
			require.NoError(t, j.Close())
		})
	}
}

// Lookups while appends merge the tail again and again: a reader never sees
// an op's records go backwards, and its latest record is always the last of
// its history.
func TestLookupsDuringMerges(t *testing.T) {
	j, _ := openTemp(t, &store.Options{OpMergeEvery: 3, UnsafeNoSync: true})
	const ops, rounds = 8, 60
	var done atomic.Bool
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range rounds {
				if i%4 == w {
					continue
				}
				op := fmt.Sprintf("op-%d", (w*rounds+i)%ops)
				require.NoError(t, j.Append(entry(op, store.OpTaskRunning, "", i)))
			}
		})
	}
	errs := make(chan error, ops)
	for r := range ops {
		go func() {
			op := fmt.Sprintf("op-%d", r)
			seen := 0
			for !done.Load() {
				_, ok, err := j.Get(op)
				h, herr := j.History(op)
				if err == nil {
					err = herr
				}
				if err == nil && len(h) < seen {
					err = fmt.Errorf("%s: %d records after %d", op, len(h), seen)
				}
				seen = max(seen, len(h))
				if err == nil && ok && len(h) == 0 {
					err = fmt.Errorf("%s: a latest record, then no history", op)
				}
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	wg.Wait()
	done.Store(true)
	for range ops {
		require.NoError(t, <-errs)
	}
	total := 0
	for r := range ops {
		h, err := j.History(fmt.Sprintf("op-%d", r))
		require.NoError(t, err)
		total += len(h)
		e, ok := j.Latest(fmt.Sprintf("op-%d", r))
		require.True(t, ok)
		require.Equal(t, h[len(h)-1], e, "the latest record is the last of the history")
	}
	require.Equal(t, 4*rounds*3/4, total)
	_, err := j.Check(context.Background())
	require.NoError(t, err)
}

// crashedWithTail writes entries to a new journal that keeps them past the
// merge mark (closed without merging them, as a crash leaves it), applies
// damage to the file with bbolt, and returns its path.
func crashedWithTail(t *testing.T, damage func(tx *bolt.Tx) error, entries ...store.JournalEntry) string {
	t.Helper()
	j, path := openTemp(t, &store.Options{OpMergeEvery: 1000})
	appendAll(t, j, entries...)
	defer store.SetMergeOnClose(store.SetMergeOnClose(false))
	require.NoError(t, j.Close())
	db, err := bolt.Open(path, 0o600, nil)
	require.NoError(t, err)
	require.NoError(t, db.Update(damage))
	require.NoError(t, db.Close())
	return path
}

// changeLastRecord applies edit to a copy of the last record's value and
// stores it in its place.
func changeLastRecord(edit func(v []byte)) func(tx *bolt.Tx) error {
	return func(tx *bolt.Tx) error {
		r := tx.Bucket([]byte("records"))
		k, v := r.Cursor().Last()
		v = bytes.Clone(v)
		edit(v)
		return r.Put(bytes.Clone(k), v)
	}
}

// A damaged record past the merge mark whose op id cannot be read could be
// any op's latest: the journal opens, and every lookup by op fails with
// ErrCorrupt rather than answering from the records it can read.
func TestUnplaceableTailRecordFailsLookups(t *testing.T) {
	path := crashedWithTail(t, changeLastRecord(func(v []byte) {
		v[1] = 0xc1 // msgpack's never-used code, where the record's array starts
	}), entry("a", store.OpStarted, "", 1), entry("b", store.OpStarted, "", 2))

	j, err := store.Open(path, nil)
	require.NoError(t, err, "damage inside a value does not stop Open")
	defer j.Close()
	_, _, err = j.Get("a")
	require.ErrorIs(t, err, store.ErrCorrupt)
	require.ErrorContains(t, err, "record 2: past the merge mark, so lookups by op cannot be answered")
	require.ErrorIs(t, j.Append(entry("c", store.OpStarted, "", 3)), store.ErrPoisoned, "the damage poisoned the handle")
}

// Close merges the tail, so that the next Open has none to read; a journal
// closed without it (as after a crash) reads it at Open.
func TestCloseMergesTheTail(t *testing.T) {
	j, path := openTemp(t, &store.Options{OpMergeEvery: 1000})
	appendAll(t, j, entry("a", store.OpStarted, "", 1), entry("b", store.OpStarted, "", 2))
	require.NoError(t, j.Close())
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	require.NoError(t, err)
	require.NoError(t, db.View(func(tx *bolt.Tx) error {
		require.Equal(t, tx.Bucket([]byte("records")).Sequence(), tx.Bucket([]byte("opseqs")).Sequence(), "no tail")
		require.NotNil(t, tx.Bucket([]byte("opseqs")).Get([]byte("a")))
		return nil
	}))
	require.NoError(t, db.Close())
	j, err = store.Open(path, &store.Options{ReadOnly: true})
	require.NoError(t, err)
	require.NoError(t, j.Close(), "a read-only journal closes without writing")
}

// A damaged op id in a record past the merge mark must not file the record
// under another op: the op whose latest record it is would answer with an
// older one. Every lookup by op fails instead, naming the record.
func TestDamagedOpIDInTailFailsLookups(t *testing.T) {
	path := crashedWithTail(t, changeLastRecord(func(v []byte) {
		i := bytes.Index(v, []byte("bbbb"))
		require.Positive(t, i)
		v[i+3] = 'c' // the record now names op "bbbc"
	}), entry("aaaa", store.OpStarted, "", 1), entry("bbbb", store.OpStarted, "", 2), entry("bbbb", store.OpSucceeded, "", 3))

	j, err := store.Open(path, nil)
	require.NoError(t, err)
	defer j.Close()
	e, ok, err := j.Get("bbbb")
	require.ErrorIs(t, err, store.ErrCorrupt, "not the older record %+v (%v)", e, ok)
	require.ErrorContains(t, err, `record 3: past the merge mark`)
	require.ErrorContains(t, err, `"bbbc"`, "the op id it seems to hold")
}

// The sequences in the records and opseqs bucket headers, which bbolt does
// not checksum: a records sequence below the last record must not make an
// append overwrite it, and a merge mark past it must not leave the records
// after it in no list. The journal refuses to open, or the append fails,
// with ErrCorrupt.
func TestDamagedSequencesAreRefused(t *testing.T) {
	sequences := func(records, mark uint64) func(tx *bolt.Tx) error {
		return func(tx *bolt.Tx) error {
			if err := tx.Bucket([]byte("records")).SetSequence(records); err != nil {
				return err
			}
			return tx.Bucket([]byte("opseqs")).SetSequence(mark)
		}
	}
	for name, tc := range map[string]struct {
		damage      func(tx *bolt.Tx) error
		openRefused bool
	}{
		"merge mark raised":                       {sequences(3, 99), true},
		"records sequence lowered below the mark": {sequences(1, 3), true},
		"records sequence lowered":                {sequences(1, 0), false},
	} {
		t.Run(name, func(t *testing.T) {
			path := crashedWithTail(t, tc.damage,
				entry("a", store.OpStarted, "", 1), entry("b", store.OpStarted, "", 2), entry("a", store.OpSucceeded, "", 3))
			j, err := store.Open(path, nil)
			if tc.openRefused {
				require.ErrorIs(t, err, store.ErrCorrupt)
				require.ErrorContains(t, err, "merge mark")
				return
			}
			require.NoError(t, err)
			defer j.Close()
			err = j.Append(entry("b", store.OpSucceeded, "", 4))
			require.ErrorIs(t, err, store.ErrCorrupt)
			require.ErrorContains(t, err, "record 2: already stored")
		})
	}
}
