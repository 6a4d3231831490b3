package store_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/felhom/opjournal/live"
	"github.com/felhom/opjournal/store"
)

// BenchmarkEndpoint appends lifecycles at 1 and 64 writers with the live
// endpoint off, on and idle, and on with one client following every record
// through it (store.Journal.Follow behind HTTP and JSON, as opjournal tail
// -f does). Run it with -count N: the three modes then alternate, so each
// round compares them under the same machine load. Besides appends/s, the
// follower mode reports the time from the start of an Append to the
// follower's receipt of its record (feed-p50-us, feed-p99-us: it includes
// the commit), and from the Append's return to that receipt
// (ack-to-feed-p50-us, ack-to-feed-p99-us: negative when the record
// arrived before the appender was woken); append-p50-us is the Append's
// own latency, for reference.
func BenchmarkEndpoint(b *testing.B) {
	for _, writers := range []int{1, 64} {
		for _, mode := range []string{"off", "idle", "follower"} {
			b.Run(fmt.Sprintf("writers=%d/endpoint=%s", writers, mode), func(b *testing.B) {
				benchEndpoint(b, writers, mode)
			})
		}
	}
}

func benchEndpoint(b *testing.B, writers int, mode string) {
	path := filepath.Join(b.TempDir(), "j.db")
	j, err := store.Open(path, &store.Options{NoEndpoint: mode == "off"})
	require.NoError(b, err)
	defer j.Close()

	// When each Append began and returned, and when the follower got its
	// record, in nanoseconds, by the append's index (carried in the
	// record's params in every mode, so that every mode appends the same).
	started := make([]atomic.Int64, b.N)
	returned := make([]atomic.Int64, b.N)
	arrived := make([]int64, b.N)
	var nReceived atomic.Int64
	followerDone := make(chan error, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if mode == "follower" {
		c, err := live.Dial(ctx, store.EndpointPath(path))
		require.NoError(b, err)
		defer c.Close()
		from := j.LastSeq()
		go func() {
			followerDone <- c.Follow(ctx, from, func(ch store.Change) error {
				if i, err := strconv.Atoi(ch.Record.Params["i"]); err == nil && i < len(arrived) {
					arrived[i] = time.Now().UnixNano()
				}
				nReceived.Add(1)
				return nil
			})
		}()
	}
	var next atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(b.N) {
					return
				}
				op := fmt.Sprintf("w%d-%d", w, i/3)
				state := []store.OpState{store.OpStarted, store.OpTaskRunning, store.OpSucceeded}[i%3]
				e := store.JournalEntry{OpID: op, VMID: 100 + w, Kind: "set_config", State: state, At: time.Now(),
					IdempKey: "job-" + op, Params: map[string]string{"cores": "4", "node": "pve-node1", "i": strconv.FormatInt(i, 10)}}
				started[i].Store(time.Now().UnixNano())
				if err := j.Append(e); err != nil {
					b.Error(err)
					return
				}
				returned[i].Store(time.Now().UnixNano())
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "appends/s")
	appendLat := make([]time.Duration, b.N)
	for i := range appendLat {
		appendLat[i] = time.Duration(returned[i].Load() - started[i].Load())
	}
	b.ReportMetric(percentile(appendLat, 0.5), "append-p50-us")
	if mode != "follower" {
		return
	}
	for deadline := time.Now().Add(time.Minute); nReceived.Load() < int64(b.N) && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	cancel()
	<-followerDone
	require.Equal(b, int64(b.N), nReceived.Load(), "the follower received every record")
	feedLat := make([]time.Duration, b.N)
	afterAck := make([]time.Duration, b.N)
	for i := range feedLat {
		feedLat[i] = time.Duration(arrived[i] - started[i].Load())
		afterAck[i] = time.Duration(arrived[i] - returned[i].Load())
	}
	b.ReportMetric(percentile(feedLat, 0.5), "feed-p50-us")
	b.ReportMetric(percentile(feedLat, 0.99), "feed-p99-us")
	b.ReportMetric(percentile(afterAck, 0.5), "ack-to-feed-p50-us")
	b.ReportMetric(percentile(afterAck, 0.99), "ack-to-feed-p99-us")
}

// percentile returns the q-quantile of ds in microseconds.
func percentile(ds []time.Duration, q float64) float64 {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	return float64(ds[int(q*float64(len(ds)-1))].Microseconds())
}
