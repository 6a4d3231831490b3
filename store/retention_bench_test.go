package store_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/felhom/opjournal/store"
	"github.com/felhom/opjournal/store/jsonl"
)

// benchOps is the journal size of BenchmarkRetention and
// BenchmarkCompareReads: OPJOURNAL_BENCH_OPS, default 10^5 (make
// bench-retention runs 10^6).
func benchOps(b *testing.B) int {
	if s := os.Getenv("OPJOURNAL_BENCH_OPS"); s != "" {
		n, err := strconv.Atoi(s)
		require.NoError(b, err, "OPJOURNAL_BENCH_OPS")
		return n
	}
	return 100_000
}

// BenchmarkRetention is a scenario, run once per iteration: a journal of N
// ops (3 records each, 1% in flight) spread evenly over two years; durable
// appends and file size on it; a Backup; Prune of the older year; appends
// and size after; Compact; appends and size after that. Sizes are taken
// before each stage's appends (600 from one writer, 30,000 from 64), which
// are new ops. The legacy JSONL log of the initial records is reported for
// scale: it can only grow.
func BenchmarkRetention(b *testing.B) {
	n := benchOps(b)
	ctx := context.Background()
	now := time.Now().UTC()
	span := 2 * 365 * 24 * time.Hour
	for range b.N {
		b.StopTimer()
		dir := b.TempDir()
		path := filepath.Join(dir, "ops.db")
		j, err := store.Open(path, &store.Options{UnsafeNoSync: true})
		require.NoError(b, err)
		var jsonlBytes int64
		batch := make([]store.JournalEntry, 0, 3000)
		for i := range n {
			at := now.Add(-span + time.Duration(i)*(span/time.Duration(n)))
			recs := lifecycle(fmt.Sprintf("op-%08d", i), 100+i%900, fmt.Sprintf("job-%08d", i), store.OpSucceeded, at)
			if i%100 == 0 {
				recs = recs[:2]
			}
			for k := range recs {
				line, err := jsonl.MarshalLine(&recs[k])
				require.NoError(b, err)
				jsonlBytes += int64(len(line))
			}
			if batch = append(batch, recs...); len(batch) >= 3000 {
				require.NoError(b, j.AppendBatch(batch))
				batch = batch[:0]
			}
		}
		require.NoError(b, j.AppendBatch(batch))
		require.NoError(b, j.Sync())
		require.NoError(b, j.Close())
		b.StartTimer()

		j, err = store.Open(path, nil)
		require.NoError(b, err)
		report := func(stage string) {
			b.StopTimer()
			defer b.StartTimer()
			fi, err := os.Stat(path)
			require.NoError(b, err)
			b.ReportMetric(float64(fi.Size())/(1<<20), "MiB_"+stage)
			m, err := j.Metrics()
			require.NoError(b, err)
			b.ReportMetric(float64(m.FreePages*m.PageSize)/(1<<20), "MiB_free_"+stage)
			for _, writers := range []int{1, 64} {
				b.ReportMetric(durableAppends(b, j, stage, writers), fmt.Sprintf("appends/s_%s_w%d", stage, writers))
			}
		}
		b.ReportMetric(float64(jsonlBytes)/(1<<20), "MiB_jsonl")
		report("full")

		f, err := os.Create(filepath.Join(dir, "backup.db"))
		require.NoError(b, err)
		start := time.Now()
		written, err := j.Backup(ctx, f)
		require.NoError(b, err)
		require.NoError(b, f.Sync())
		b.ReportMetric(float64(written)/(1<<20)/time.Since(start).Seconds(), "backup_MiB/s")
		require.NoError(b, f.Close())
		start = time.Now()
		_, err = j.Backup(ctx, io.Discard)
		require.NoError(b, err)
		b.ReportMetric(float64(written)/(1<<20)/time.Since(start).Seconds(), "backup_discard_MiB/s")

		start = time.Now()
		rep, err := j.Prune(ctx, store.PruneOptions{Before: now.Add(-span / 2)})
		require.NoError(b, err)
		b.ReportMetric(time.Since(start).Seconds(), "prune_s")
		b.ReportMetric(float64(rep.Ops), "pruned_ops")
		// Then forget the pruned ops' applied keys: a scan of the
		// applied keys and of every remaining record.
		start = time.Now()
		rep, err = j.Prune(ctx, store.PruneOptions{Before: now.Add(-span / 2), DropAppliedBefore: now.Add(-span / 2)})
		require.NoError(b, err)
		b.ReportMetric(time.Since(start).Seconds(), "drop_applied_s")
		b.ReportMetric(float64(rep.AppliedKeys), "dropped_keys")
		report("pruned")
		require.NoError(b, j.Close())

		start = time.Now()
		_, err = store.Compact(ctx, path, nil)
		require.NoError(b, err)
		b.ReportMetric(time.Since(start).Seconds(), "compact_s")
		j, err = store.Open(path, nil)
		require.NoError(b, err)
		report("compacted")
		require.NoError(b, j.Close())
	}
}

// durableAppends appends new op lifecycles from writers goroutines for a
// fixed count and returns appends/s.
func durableAppends(b *testing.B, j *store.Journal, stage string, writers int) float64 {
	count := int64(600)
	if writers > 1 {
		count = 30_000
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range writers {
		wg.Go(func() {
			for i := next.Add(1) - 1; i < count; i = next.Add(1) - 1 {
				e := benchEntry(i)
				e.OpID = fmt.Sprintf("%s-w%d-%s", stage, writers, e.OpID)
				if err := j.Append(e); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	return float64(count) / time.Since(start).Seconds()
}
