package store_test

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/felhom/opjournal/store"
	"github.com/felhom/opjournal/store/jsonl"
)

// journalImpl opens one of the compared journals.
type journalImpl struct {
	name string
	open func(dir string) (legacyAPI, error)
}

var compared = []journalImpl{
	{"bbolt", func(dir string) (legacyAPI, error) { return store.Open(filepath.Join(dir, "ops.db"), nil) }},
	{"jsonl", func(dir string) (legacyAPI, error) { return jsonl.OpenJournal(filepath.Join(dir, "ops.jsonl")) }},
}

func benchEntry(i int64) store.JournalEntry {
	e := store.JournalEntry{
		OpID: fmt.Sprintf("op-%08d", i/3), VMID: 100 + int(i%900), Kind: "set_config",
		State:  []store.OpState{store.OpStarted, store.OpTaskRunning, store.OpSucceeded}[i%3],
		Params: map[string]string{"cores": "4", "memory": "4096", "node": "pve-node1"},
		At:     time.Unix(1.7e9+i, 0).UTC(),
	}
	if i%3 != 0 {
		e.UPID = "UPID:pve-node1:0001F2A3:00B3C4D5:65A1B2C3:qmstart:101:root@pam:"
	}
	if (i/3)%3 == 0 {
		e.IdempKey = fmt.Sprintf("job-%08d", i/3)
	}
	return e
}

// BenchmarkCompareAppend: durable appends from 1 to 256 goroutines into the
// store and the legacy-semantics JSONL journal, side by side on the same
// disk, and at one writer two floors: a bare one-record bbolt db.Update
// into a growing bucket (what the store's single writer is held to) and
// bbolt's smallest commit.
func BenchmarkCompareAppend(b *testing.B) {
	for _, writers := range []int{1, 16, 64, 256} {
		for _, impl := range compared {
			b.Run(fmt.Sprintf("writers=%d/impl=%s", writers, impl.name), func(b *testing.B) {
				j, err := impl.open(b.TempDir())
				require.NoError(b, err)
				defer j.Close()
				runParallelAppends(b, writers, func(i int64) error { return j.Append(benchEntry(i)) })
			})
		}
		if writers == 1 {
			// The store's hardest one-writer workload: every append starts
			// a new op that carries a key, so it adds an op's list, an
			// in-flight entry, a key holder and a guest and a task index
			// entry.
			b.Run("writers=1/impl=bbolt-newop", func(b *testing.B) {
				j, err := store.Open(filepath.Join(b.TempDir(), "ops.db"), nil)
				require.NoError(b, err)
				defer j.Close()
				runParallelAppends(b, 1, func(i int64) error {
					e := benchEntry(3 * i)
					e.IdempKey = fmt.Sprintf("job-%08d", i)
					e.UPID = "UPID:pve-node1:0001F2A3:00B3C4D5:65A1B2C3:qmstart:101:root@pam:"
					return j.Append(e)
				})
			})
			b.Run("writers=1/impl=bolt-update", func(b *testing.B) {
				boltFloor(b, func(bk *bolt.Bucket, i int64, value []byte) error {
					return bk.Put(fmt.Appendf(nil, "op-%08d", i), value)
				})
			})
			// The smallest commit bbolt makes: one 250-byte value overwritten
			// under one key, in a bucket small enough to live inline in its
			// parent's page, so a commit writes that page, the freelist and
			// the meta page. No journal built on bbolt commits can do less.
			b.Run("writers=1/impl=bolt-minimal", func(b *testing.B) {
				boltFloor(b, func(bk *bolt.Bucket, i int64, value []byte) error {
					value[0] = byte(i)
					return bk.Put([]byte("op"), value)
				})
			})
		}
	}
}

// boltFloor times one durable db.Update per iteration, from one writer, on a
// fresh bbolt file with one bucket; put writes a 250-byte value into it.
func boltFloor(b *testing.B, put func(bk *bolt.Bucket, i int64, value []byte) error) {
	db, err := bolt.Open(filepath.Join(b.TempDir(), "floor.db"), 0o600, nil)
	require.NoError(b, err)
	defer db.Close()
	require.NoError(b, db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("b")); return err }))
	value := make([]byte, 250)
	runParallelAppends(b, 1, func(i int64) error {
		return db.Update(func(tx *bolt.Tx) error { return put(tx.Bucket([]byte("b")), i, value) })
	})
}

func runParallelAppends(b *testing.B, writers int, appendOne func(i int64) error) {
	b.ReportAllocs()
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	for range writers {
		wg.Go(func() {
			for i := next.Add(1) - 1; i < int64(b.N); i = next.Add(1) - 1 {
				if err := appendOne(i); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "appends/s")
}

// comparedFixture writes n ops (3 records each, 1% left in flight) as a
// legacy log and as a store, in dir.
func comparedFixture(b *testing.B, dir string, n int) {
	b.Helper()
	f, err := os.Create(filepath.Join(dir, "ops.jsonl"))
	require.NoError(b, err)
	w := bufio.NewWriter(f)
	s, err := store.Open(filepath.Join(dir, "ops.db"), &store.Options{UnsafeNoSync: true})
	require.NoError(b, err)
	batch := make([]store.JournalEntry, 0, 4096)
	for i := int64(0); i < int64(3*n); i++ {
		if (i/3)%100 == 0 && i%3 == 2 {
			continue // in flight
		}
		e := benchEntry(i)
		line, err := jsonl.MarshalLine(&e)
		require.NoError(b, err)
		_, err = w.Write(line)
		require.NoError(b, err)
		if batch = append(batch, e); len(batch) == cap(batch) {
			require.NoError(b, s.AppendBatch(batch))
			batch = batch[:0]
		}
	}
	require.NoError(b, s.AppendBatch(batch))
	require.NoError(b, s.Sync())
	require.NoError(b, s.Close())
	require.NoError(b, w.Flush())
	require.NoError(b, f.Close())
}

// BenchmarkCompareReads: Open (the legacy's is its replay) with the heap it
// leaves, Latest, AlreadyApplied and InFlight on journals of 10^5 ops
// (OPJOURNAL_BENCH_OPS), and the bare bbolt read under the store's Latest.
func BenchmarkCompareReads(b *testing.B) {
	n := benchOps(b)
	dir := b.TempDir()
	comparedFixture(b, dir, n)
	for _, impl := range compared {
		b.Run(fmt.Sprintf("op=open/ops=%d/impl=%s", n, impl.name), func(b *testing.B) {
			b.ReportAllocs()
			var heap uint64
			for b.Loop() {
				var before, after runtime.MemStats
				b.StopTimer() // only the open is timed, not the collections
				runtime.GC()
				runtime.ReadMemStats(&before)
				b.StartTimer()
				j, err := impl.open(dir)
				require.NoError(b, err)
				b.StopTimer()
				runtime.GC()
				runtime.ReadMemStats(&after)
				heap = max(heap, after.HeapAlloc-min(after.HeapAlloc, before.HeapAlloc))
				require.NoError(b, j.Close())
				b.StartTimer()
			}
			b.ReportMetric(float64(heap), "heap-bytes")
		})
		j, err := impl.open(dir)
		require.NoError(b, err)
		b.Run(fmt.Sprintf("op=latest/ops=%d/impl=%s", n, impl.name), func(b *testing.B) {
			b.ReportAllocs()
			ids := make([]string, 1024)
			for i := range ids {
				ids[i] = fmt.Sprintf("op-%08d", (i*7919)%n)
			}
			i := 0
			for b.Loop() {
				if _, ok := j.Latest(ids[i%len(ids)]); !ok {
					b.Fatal("missing op")
				}
				i++
			}
		})
		b.Run(fmt.Sprintf("op=already-applied/ops=%d/impl=%s", n, impl.name), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if !j.AlreadyApplied("job-00000003") {
					b.Fatal("key not applied")
				}
			}
		})
		b.Run(fmt.Sprintf("op=inflight/ops=%d/inflight=%d/impl=%s", n, n/100, impl.name), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if got := len(j.InFlight()); got != n/100 {
					b.Fatalf("%d in flight, want %d", got, n/100)
				}
			}
		})
		require.NoError(b, j.Close())
	}
	// The floor under the store's Latest: a bare bbolt read transaction
	// making the same two lookups (the op's entry in opseqs, then a record
	// by sequence number) with nothing decoded.
	db, err := bolt.Open(filepath.Join(dir, "ops.db"), 0o600, &bolt.Options{ReadOnly: true})
	require.NoError(b, err)
	defer db.Close()
	b.Run(fmt.Sprintf("op=latest/ops=%d/impl=bolt-2get", n), func(b *testing.B) {
		ids := make([]string, 1024)
		for i := range ids {
			ids[i] = fmt.Sprintf("op-%08d", (i*7919)%n)
		}
		i := 0
		for b.Loop() {
			err := db.View(func(tx *bolt.Tx) error {
				if tx.Bucket([]byte("opseqs")).Get([]byte(ids[i%len(ids)])) == nil {
					return fmt.Errorf("op %s missing", ids[i%len(ids)])
				}
				seq := binary.BigEndian.AppendUint64(nil, uint64(i*7919%(2*n)+1))
				if tx.Bucket([]byte("records")).Get(seq) == nil {
					return fmt.Errorf("record %x missing", seq)
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}
