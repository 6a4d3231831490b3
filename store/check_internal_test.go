package store

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"
)

func checkedJournal(t *testing.T) *Journal {
	t.Helper()
	j, err := Open(filepath.Join(t.TempDir(), "j.db"), &Options{UnsafeNoSync: true})
	require.NoError(t, err)
	t.Cleanup(func() { _ = j.Close() })
	for i := range 50 {
		op := fmt.Sprintf("op-%d", i%20)
		key := fmt.Sprintf("k-%d", i%7)
		state := []OpState{OpStarted, OpTaskRunning, OpSucceeded, OpFailed}[i%4]
		e := JournalEntry{OpID: op, VMID: 100 + i%3, State: state, IdempKey: key}
		if i%2 == 1 {
			e.UPID = fmt.Sprintf("UPID:%d", i%5)
		}
		require.NoError(t, j.Append(e))
	}
	return j
}

// seqsOfOp returns the sequence numbers opseqs lists for op.
func seqsOfOp(t *testing.T, tx *bolt.Tx, op string) []uint64 {
	t.Helper()
	seqs, err := parseOpSeqs([]byte(op), tx.Bucket(bucketOpSeqs).Get([]byte(op)))
	require.NoError(t, err)
	require.NotEmpty(t, seqs)
	return seqs
}

// lastSeqOf returns the sequence number of op's latest record.
func lastSeqOf(t *testing.T, tx *bolt.Tx, op string) uint64 {
	seqs := seqsOfOp(t, tx, op)
	return seqs[len(seqs)-1]
}

func TestCheckPassesASoundJournal(t *testing.T) {
	j := checkedJournal(t)
	require.NoError(t, j.db.View(func(tx *bolt.Tx) error {
		require.Equal(t, uint64(49), tx.Bucket(bucketOpSeqs).Sequence(), "the journal has merged op lists")
		require.Equal(t, uint64(50), tx.Bucket(bucketRecords).Sequence(), "and a tail")
		return nil
	}))
	rep, err := j.Check(context.Background())
	require.NoError(t, err)
	require.Empty(t, rep.Problems)
	require.Equal(t, 20, rep.Ops)
	require.Equal(t, 50, rep.Records)
	// The same once the pending index entries are merged.
	require.NoError(t, j.MergeIndexes(context.Background()))
	rep, err = j.Check(context.Background())
	require.NoError(t, err)
	require.Empty(t, rep.Problems)
}

func TestCheckFindsInconsistencies(t *testing.T) {
	// Each case damages a sound journal one way; want matches the problem
	// Check must name for it (one of those it reports).
	tests := map[string]struct {
		damage func(tx *bolt.Tx) error
		want   string
	}{
		"inflight entry missing": {func(tx *bolt.Tx) error {
			k, _ := tx.Bucket(bucketInFlight).Cursor().First()
			return tx.Bucket(bucketInFlight).Delete(k)
		}, `^inflight: op "op-0" is started but not listed$`},
		"stray inflight entry": {func(tx *bolt.Tx) error { return tx.Bucket(bucketInFlight).Put([]byte("ghost"), nil) }, `^inflight "ghost": the op has no record$`},
		"applied key missing": {func(tx *bolt.Tx) error {
			k, _ := tx.Bucket(bucketApplied).Cursor().First()
			return tx.Bucket(bucketApplied).Delete(k)
		}, `^applied: key "k-0" succeeded in op "op-\d+" but is not applied$`},
		"damaged latest record": {func(tx *bolt.Tx) error {
			return tx.Bucket(bucketRecords).Put(seqKey(lastSeqOf(t, tx, "op-3")), []byte{1, 2, 3, 4, 5, 6})
		}, `^store: journal corrupt: record \d+ of op "op-3": codec: corrupt value: checksum`},
		"op list lost": {func(tx *bolt.Tx) error { return tx.Bucket(bucketOpSeqs).Delete([]byte("op-3")) }, `^records: record \d+ of op "op-3" is not in the op's list$`},
		"op list damaged": {func(tx *bolt.Tx) error {
			v := bytes.Clone(tx.Bucket(bucketOpSeqs).Get([]byte("op-3")))
			v[0] ^= 1
			return tx.Bucket(bucketOpSeqs).Put([]byte("op-3"), v)
		}, `^store: journal corrupt: record list of op "op-3": checksum mismatch$`},
		"op list naming another op's record": {func(tx *bolt.Tx) error {
			return tx.Bucket(bucketOpSeqs).Put([]byte("op-3"), encodeOpSeqs(seqsOfOp(t, tx, "op-4")))
		}, `^opseqs: op "op-3" lists record \d+, a record of op "op-4"$`},
		"op list naming a missing record": {func(tx *bolt.Tx) error {
			return tx.Bucket(bucketOpSeqs).Put([]byte("op-3"), encodeOpSeqs(append(seqsOfOp(t, tx, "op-3"), 1<<40)))
		}, `^opseqs: op "op-3" lists record 1099511627776, which is missing$`},
		"record missing from its op's list": {func(tx *bolt.Tx) error {
			seqs := seqsOfOp(t, tx, "op-3")
			return tx.Bucket(bucketOpSeqs).Put([]byte("op-3"), encodeOpSeqs(seqs[:len(seqs)-1]))
		}, `^records: record \d+ of op "op-3" is not in the op's list$`},
		"malformed records key": {func(tx *bolt.Tx) error {
			return tx.Bucket(bucketRecords).Put([]byte("x"), []byte{1})
		}, `^store: journal corrupt: records "x": malformed key$`},
		"record past the sequence": {func(tx *bolt.Tx) error {
			r := tx.Bucket(bucketRecords)
			return r.Put(seqKey(1<<40), bytes.Clone(r.Get(seqKey(lastSeqOf(t, tx, "op-1")))))
		}, `^records: record 1099511627776 is past the bucket's sequence \d+$`},
		"ops bucket left over": {func(tx *bolt.Tx) error { _, err := tx.CreateBucket(bucketOps); return err }, `^root: unknown top-level key "ops"$`},
		"stray key holder":     {func(tx *bolt.Tx) error { return tx.Bucket(bucketKeys).Put(holderKey("k-1", "op-0"), nil) }, `^keys: op "op-0" listed as holding key "k-1", but its latest record does not$`},
		"vmids entry missing": {func(tx *bolt.Tx) error {
			if _, err := mergePending(newBuckets(tx, nil), 1<<30); err != nil {
				return err
			}
			k, _ := tx.Bucket(bucketVMIDs).Cursor().First()
			return tx.Bucket(bucketVMIDs).Delete(k)
		}, `^vmids: op "op-0": entry ".*op-0" should hold record 1, holds $`},
		"stray vmids entry": {func(tx *bolt.Tx) error {
			return tx.Bucket(bucketVMIDs).Put(vmidKey(999, "op-1"), seqValue(1))
		}, `^vmids: 1 entries, the history implies 0 \(besides those still pending\)$`},
		"upids entry with another seq": {func(tx *bolt.Tx) error {
			if _, err := mergePending(newBuckets(tx, nil), 1<<30); err != nil {
				return err
			}
			k, _ := tx.Bucket(bucketUPIDs).Cursor().First()
			return tx.Bucket(bucketUPIDs).Put(k, seqValue(1<<40))
		}, `^upids: op "op-\d+": entry ".*" should hold record \d+, holds 0000010000000000$`},
		"pending entry lost": {func(tx *bolt.Tx) error {
			k, _ := tx.Bucket(bucketPending).Cursor().First()
			return tx.Bucket(bucketPending).Delete(k)
		}, `^vmids: op "op-0": entry ".*op-0" should hold record 1, holds $`},
		"stray pending entry": {func(tx *bolt.Tx) error {
			return tx.Bucket(bucketPending).Put(pendingKey(7, pendingVMID), vmidKey(101, "op-19"))
		}, `^pending 000000000000000776: op "op-19" has no record 7$`},
		"malformed pending key": {func(tx *bolt.Tx) error {
			return tx.Bucket(bucketPending).Put([]byte("x"), vmidKey(101, "op-1"))
		}, `^store: journal corrupt: pending "x": malformed key$`},
		"merged record lost": {func(tx *bolt.Tx) error {
			return tx.Bucket(bucketRecords).Delete(seqKey(tx.Bucket(bucketOpSeqs).Sequence()))
		}, `^opseqs: op "op-\d+" lists record 49, which is missing$`},
		"tail record lost": {func(tx *bolt.Tx) error {
			c := tx.Bucket(bucketRecords).Cursor()
			k, _ := c.Last()
			return tx.Bucket(bucketRecords).Delete(k)
		}, `^records: records 50 to 50 are missing, past the merge mark 49$`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			j := checkedJournal(t)
			require.NoError(t, j.db.Update(tc.damage))
			rep, err := j.Check(context.Background())
			require.ErrorIs(t, err, ErrCorrupt)
			want := regexp.MustCompile(tc.want)
			require.True(t, slices.ContainsFunc(rep.Problems, want.MatchString), "no problem matches %s: %q", tc.want, rep.Problems)
		})
	}
}

// One damaged value is one problem, not a cascade through the indexes.
func TestCheckReportsDamageOnce(t *testing.T) {
	j := checkedJournal(t)
	require.NoError(t, j.db.Update(func(tx *bolt.Tx) error {
		k, _ := tx.Bucket(bucketInFlight).Cursor().First()
		return tx.Bucket(bucketRecords).Put(seqKey(lastSeqOf(t, tx, string(k))), []byte{1, 2, 3, 4, 5, 6, 7})
	}))
	rep, err := j.Check(context.Background())
	require.ErrorIs(t, err, ErrCorrupt)
	require.Len(t, rep.Problems, 1, "problems: %v", rep.Problems)
}

// A damaged index value is reported in the bucket it is in.
func TestIndexDamageNamesItsBucket(t *testing.T) {
	for _, ix := range []struct {
		bucket []byte
		key    []byte
		lookup func(j *Journal) error
	}{
		{bucketVMIDs, vmidKey(101, "op-1"), func(j *Journal) error { _, err := j.ByVMID(101); return err }},
		{bucketUPIDs, upidKey("UPID:1", "op-1"), func(j *Journal) error { _, _, err := j.ByUPID("UPID:1"); return err }},
	} {
		j := checkedJournal(t)
		require.NoError(t, j.MergeIndexes(context.Background()))
		require.NoError(t, j.db.Update(func(tx *bolt.Tx) error {
			b := tx.Bucket(ix.bucket)
			require.NotNil(t, b.Get(ix.key), "fixture has %q", ix.key)
			return b.Put(ix.key, []byte{1, 2, 3})
		}))
		err := ix.lookup(j)
		require.ErrorIs(t, err, ErrCorrupt)
		require.ErrorContains(t, err, "corrupt: "+string(ix.bucket)+" ")
	}
}
