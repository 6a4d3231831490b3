package migrate

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/felhom/opjournal/bench"
	"github.com/felhom/opjournal/store/jsonl"
)

// benchLog writes a generated legacy log of n ops into dir.
func benchLog(b *testing.B, dir string, n int) string {
	b.Helper()
	path := filepath.Join(dir, fmt.Sprintf("ops-%d.jsonl", n))
	f, err := os.Create(path)
	require.NoError(b, err)
	_, err = bench.Generate(context.Background(), f, bench.GenOptions{Ops: n})
	require.NoError(b, err)
	require.NoError(b, f.Close())
	return path
}

// peakHeap samples HeapAlloc while f runs and returns the peak.
func peakHeap(f func()) uint64 {
	var peak atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			if m.HeapAlloc > peak.Load() {
				peak.Store(m.HeapAlloc)
			}
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	})
	f()
	close(stop)
	wg.Wait()
	return peak.Load()
}

// BenchmarkMigrate compares migrating a log into the store (with and without
// its verify pass) with the legacy journal's replay of the same file, and
// reports the peak heap of each.
func BenchmarkMigrate(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		dir := b.TempDir()
		src := benchLog(b, dir, n)
		fi, err := os.Stat(src)
		require.NoError(b, err)
		for _, impl := range []string{"legacy-replay", "migrate-noverify", "migrate"} {
			b.Run(fmt.Sprintf("ops=%d/impl=%s", n, impl), func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(fi.Size())
				var peak uint64
				for i := range b.N {
					runtime.GC()
					dst := filepath.Join(dir, fmt.Sprintf("%s-%d.db", impl, i))
					p := peakHeap(func() {
						switch impl {
						case "legacy-replay":
							j, err := jsonl.OpenJournal(src)
							require.NoError(b, err)
							require.NoError(b, j.Close())
						default:
							_, err := Migrate(context.Background(), src, dst, &Options{NoVerify: impl == "migrate-noverify"})
							require.NoError(b, err)
						}
					})
					peak = max(peak, p)
					_ = os.Remove(dst)
				}
				b.ReportMetric(float64(peak), "peak-heap-bytes")
			})
		}
	}
}
