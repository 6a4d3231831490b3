package store

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"
)

// optionVariants are the bbolt settings the defaults were chosen from.
var optionVariants = []struct {
	name string
	opts Options
}{
	{"freelist=array/sync=on", Options{}},
	{"freelist=map/sync=on", Options{FreelistType: bolt.FreelistMapType}},
	{"freelist=array/sync=off", Options{NoFreelistSync: true}},
	{"freelist=map/sync=off", Options{FreelistType: bolt.FreelistMapType, NoFreelistSync: true}},
	{"freelist=array/sync=on/mmap=256MiB", Options{InitialMmapSize: 256 << 20}},
}

// optionsFixture builds a journal of n ops (three records each) and, if
// fragmented, deletes two thirds of the ops with their history, as a
// retention pass would, leaving a large freelist.
func optionsFixture(b *testing.B, dir string, n int, fragmented bool) string {
	b.Helper()
	path := filepath.Join(dir, fmt.Sprintf("fixture-%d-%v.db", n, fragmented))
	j, err := Open(path, &Options{UnsafeNoSync: true})
	require.NoError(b, err)
	batch := make([]JournalEntry, 0, 3000)
	for i := range n {
		op := fmt.Sprintf("op-%08d", i)
		at := time.Unix(1.7e9+int64(i), 0)
		for _, s := range []OpState{OpStarted, OpTaskRunning, OpSucceeded} {
			batch = append(batch, JournalEntry{OpID: op, VMID: 100 + i%900, Kind: "set_config", State: s, At: at,
				Params: map[string]string{"cores": "4", "memory": "4096", "node": "pve-node1"}, UPID: "UPID:pve-node1:0001F2A3:00B3C4D5:65A1B2C3:qmstart:101:root@pam:"})
		}
		if len(batch) >= 3000 {
			require.NoError(b, j.AppendBatch(batch))
			batch = batch[:0]
		}
	}
	require.NoError(b, j.AppendBatch(batch))
	if fragmented {
		for start := 0; start < n; start += 5000 {
			require.NoError(b, j.db.Update(func(tx *bolt.Tx) error {
				w := &writer{bs: newBuckets(tx, nil)}
				for i := start; i < min(start+5000, n); i++ {
					if i%3 == 0 {
						continue
					}
					if err := w.removeOp([]byte(fmt.Sprintf("op-%08d", i)), &PruneReport{}); err != nil {
						return err
					}
				}
				return nil
			}))
		}
	}
	require.NoError(b, j.Sync())
	require.NoError(b, j.Close())
	return path
}

func copyFile(b *testing.B, src, dst string) {
	b.Helper()
	in, err := os.Open(src)
	require.NoError(b, err)
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	require.NoError(b, err)
	_, err = io.Copy(out, in)
	require.NoError(b, err)
	require.NoError(b, out.Close())
}

// BenchmarkOptions measures Open and a durable single-writer Append for each
// bbolt setting, on a plain and on a fragmented journal of 10^5 ops.
func BenchmarkOptions(b *testing.B) {
	dir := b.TempDir()
	for _, fragmented := range []bool{false, true} {
		fixture := optionsFixture(b, dir, 100_000, fragmented)
		fi, err := os.Stat(fixture)
		require.NoError(b, err)
		for _, v := range optionVariants {
			path := filepath.Join(dir, "variant.db")
			copyFile(b, fixture, path)
			opts := v.opts
			// One untimed commit puts the file in the variant's state:
			// with NoFreelistSync the meta page stops pointing at a
			// freelist, and every later open rebuilds it by a scan.
			j, err := Open(path, &opts)
			require.NoError(b, err)
			require.NoError(b, j.Append(JournalEntry{OpID: "first", State: OpStarted}))
			require.NoError(b, j.Close())
			name := fmt.Sprintf("file=%s/%s", map[bool]string{false: "plain", true: "fragmented"}[fragmented], v.name)
			b.Run(name+"/op=open", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					j, err := Open(path, &opts)
					require.NoError(b, err)
					require.NoError(b, j.Close())
				}
			})
			b.Run(name+"/op=append", func(b *testing.B) {
				b.ReportAllocs()
				j, err := Open(path, &opts)
				require.NoError(b, err)
				defer j.Close()
				i := 0
				for b.Loop() {
					i++
					require.NoError(b, j.Append(JournalEntry{OpID: fmt.Sprintf("new-%d", i), State: OpStarted, Kind: "start", At: time.Now()}))
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "appends/s")
			})
			after, err := os.Stat(path)
			require.NoError(b, err)
			b.Logf("%s: fixture %d bytes, after appends %d bytes", name, fi.Size(), after.Size())
			require.NoError(b, os.Remove(path))
		}
	}
}
