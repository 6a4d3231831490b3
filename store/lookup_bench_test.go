package store

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

// BenchmarkLookup measures Latest and AlreadyApplied from disk on a journal
// of 10^5 ops (the target: at most 2 us each), and ByVMID, ByUPID.
func BenchmarkLookup(b *testing.B) {
	path := optionsFixture(b, b.TempDir(), 100_000, false)
	j, err := Open(path, nil)
	require.NoError(b, err)
	defer j.Close()
	require.NoError(b, j.Append(JournalEntry{OpID: "k", State: OpSucceeded, IdempKey: "applied-key"}))
	b.Run("op=latest", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			i = (i + 7919) % 100_000
			if _, ok := j.Latest(fmt.Sprintf("op-%08d", i)); !ok {
				b.Fatal("missing op")
			}
		}
	})
	// A guest's ops: about 111 per vmid; ByVMID walks the pending index
	// entries too, of which it reports how many there were.
	b.Run("op=by-vmid", func(b *testing.B) {
		var pending int
		require.NoError(b, j.view(func(bs *buckets) error { pending = bs.pending().Stats().KeyN; return nil }))
		b.ReportAllocs()
		n, i := 0, 0
		for b.Loop() {
			i = (i + 37) % 900
			got, err := j.ByVMID(100 + i)
			if err != nil || len(got) == 0 {
				b.Fatal("no ops for the guest", err)
			}
			n += len(got)
		}
		b.ReportMetric(float64(n)/float64(b.N), "results/op")
		b.ReportMetric(float64(pending), "pending")
	})
	require.NoError(b, j.Append(JournalEntry{OpID: "task", State: OpTaskRunning, UPID: "UPID:pve-node1:0001F2A3:00B3C4D5:65A1B2C4:qmstart:101:root@pam:"}))
	b.Run("op=by-upid", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, ok, err := j.ByUPID("UPID:pve-node1:0001F2A3:00B3C4D5:65A1B2C4:qmstart:101:root@pam:"); !ok || err != nil {
				b.Fatal("task not found", err)
			}
		}
	})
	b.Run("op=already-applied", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if !j.AlreadyApplied("applied-key") {
				b.Fatal("key not applied")
			}
		}
	})
}
