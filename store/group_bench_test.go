package store

import (
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// BenchmarkGroupCommit appends lifecycles from many goroutines on a journal
// that already holds 10^5 ops, and reports appends/s, appends per commit
// and the pages each commit wrote (Metrics.PagesWritten).
func BenchmarkGroupCommit(b *testing.B) {
	fixture := optionsFixture(b, b.TempDir(), 100_000, false)
	for _, writers := range []int{1, 16, 64, 256} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "j.db")
			copyFile(b, fixture, path)
			j, err := Open(path, nil)
			require.NoError(b, err)
			defer j.Close()
			b.ReportAllocs()
			var next atomic.Int64
			commits := j.group.commits.Load()
			pages := j.counters.pagesWritten.Load()
			b.ResetTimer()
			var wg sync.WaitGroup
			for w := range writers {
				wg.Go(func() {
					for {
						i := next.Add(1) - 1
						if i >= int64(b.N) {
							return
						}
						op := fmt.Sprintf("w%d-%x", w, i*2654435761%1000003)
						state := []OpState{OpStarted, OpTaskRunning, OpSucceeded}[i%3]
						e := JournalEntry{OpID: op, VMID: 100 + w, Kind: "set_config", State: state, At: time.Now(),
							Params: map[string]string{"cores": "4", "node": "pve-node1"}, UPID: "UPID:pve-node1:0001F2A3:00B3C4D5:65A1B2C3:qmstart:101:root@pam:"}
						if i%3 == 0 {
							e.IdempKey = "job-" + op
						}
						if err := j.Append(e); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "appends/s")
			n := float64(j.group.commits.Load() - commits)
			b.ReportMetric(float64(b.N)/n, "appends/commit")
			b.ReportMetric(float64(j.counters.pagesWritten.Load()-pages)/n, "pages/commit")
		})
	}
}
