package store

import (
	"reflect"
	bolt "go.etcd.io/bbolt"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	
)

func scatter(id string) string {
	h := sha256.Sum256([]byte(id))
	s := hex.EncodeToString(h[:16])
	return s[:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:32]
}

func rec(op string, n int, state OpState, key string) JournalEntry {
	e := JournalEntry{OpID: op, VMID: 100 + n%900, Kind: "set_config", State: state, At: time.Now().UTC(),
		Params: map[string]string{"node": "pve-node1", "reason": "reconcile", "cores": "4", "memory": "8192"}, IdempKey: key}
	if key != "" {
		e.Params["reason"] = "signed-job"
	}
	if state != OpStarted {
		e.UPID = fmt.Sprintf("UPID:pve-node1:%08X:%08X:%08X:qmset_config:%d:root@pam:", n, n*7, 0x65a1b2c3+n, e.VMID)
	}
	return e
}

func TestZZRun(t *testing.T) {
	writers, _ := strconv.Atoi(os.Getenv("W"))
	if writers == 0 {
		writers = 64
	}
	scat := os.Getenv("SCAT") != ""
	d := t.TempDir()
	if os.Getenv("DIR") != "" {
		d = os.Getenv("DIR")
	}
	j, err := Open(filepath.Join(d, "j.db"), &Options{NoEndpoint: true})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	var total atomic.Int64
	stop := time.Now().Add(4 * time.Second)
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; time.Now().Before(stop); i++ {
				n := i / 3
				op := "op-append-0-" + strconv.Itoa(w) + "-" + strconv.Itoa(n)
				if scat {
					op = scatter(op)
				}
				key := ""
				if n%3 == 0 {
					key = "job-" + op
				}
				st := []OpState{OpStarted, OpTaskRunning, OpSucceeded}[i%3]
				if err := j.Append(rec(op, n, st, key)); err != nil {
					t.Error(err)
					return
				}
				total.Add(1)
			}
		}()
	}
	wg.Wait()
	t.Logf("writers=%d scattered=%v appends/s=%.0f", writers, scat, float64(total.Load())/4)
	for i := range dbgNodes { t.Logf("%s nodes/commit %.1f", allBuckets[i], float64(dbgNodes[i].Load())/float64(j.counters.commits.Load())) }
	st := j.db.Stats().TxStats
	m, _ := j.Metrics()
	c := float64(m.Commits)
	t.Logf("commits=%d appends/commit=%.1f pages/commit=%.1f spills/commit=%.1f writes/commit=%.1f spilltime/commit=%v writetime/commit=%v rebalance=%v file=%d", m.Commits, float64(m.Appends)/c, float64(st.GetPageCount())/c, float64(st.GetSpill())/c, float64(st.GetWrite())/c, time.Duration(float64(st.GetSpillTime())/c), time.Duration(float64(st.GetWriteTime())/c), st.GetRebalanceTime(), m.FileSize)
}

func init() { debugCountFn = func(bs *buckets) {
	for i, b := range bs.open {
		if b == nil { continue }
		v := reflect.ValueOf(b).Elem().FieldByName("nodes")
		dbgNodes[i].Add(int64(v.Len()))
	}
	for i, b := range bs.open { if b != nil { countBranch(b, i) } }
}}
var dbgNodes [slotCount]atomic.Int64
func countBranch(b *bolt.Bucket, i int) {}
