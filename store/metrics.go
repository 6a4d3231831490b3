package store

import (
	"math"
	"slices"
	"sync/atomic"
	"time"
)

// Metrics is a snapshot of a journal's counters (since Open) and gauges, for
// monitoring: package github.com/felhom/opjournal/metrics turns it into a
// Prometheus collector, so that this package does not depend on Prometheus.
// Counters only grow while the Journal is open.
type Metrics struct {
	Appends        uint64 `json:"appends"`         // records committed (Append, BeginOnce, AppendBatch)
	Rejected       uint64 `json:"rejected"`        // BeginOnce calls refused: ErrAlreadyApplied, ErrKeyInFlight
	Commits        uint64 `json:"commits"`         // read-write transactions committed
	CommitFailures uint64 `json:"commit_failures"` // transactions whose commit failed (each poisons the handle)
	// Fsyncs counts the fsyncs of the journal's commits: two per commit
	// (data pages, then the meta page) unless UnsafeNoSync, and one per
	// Sync. It is a count of what bbolt does by design, not a trace: the
	// rare commit that grows the file adds a third that is not counted.
	Fsyncs uint64 `json:"fsyncs"`
	// PagesWritten counts the page writes of committed transactions:
	// one per data page (a page with overflow counts once) and one for
	// the meta page of each. Divided by Commits, it is what a commit costs
	// the disk beside its fsyncs.
	PagesWritten uint64 `json:"pages_written"`
	// CommitSeconds is the latency of committed read-write transactions,
	// from begin to the end of the commit's last fsync.
	CommitSeconds Histogram `json:"commit_seconds"`
	// GroupSize is the number of calls (Append, BeginOnce, AppendBatch)
	// that shared each group commit.
	GroupSize Histogram `json:"group_size"`

	InFlight  int   `json:"in_flight"`  // ops whose latest state is not terminal
	FileSize  int64 `json:"file_size"`  // bytes, as bbolt sees the file
	PageSize  int   `json:"page_size"`  // bytes
	FreePages int   `json:"free_pages"` // pages free for reuse, or pending until older readers finish
}

// Histogram is a cumulative histogram: Buckets[i] counts the observations
// less than or equal to Bounds[i]; Count counts all of them (the +Inf
// bucket), Sum adds them up.
type Histogram struct {
	Bounds  []float64 `json:"bounds"`
	Buckets []uint64  `json:"buckets"`
	Count   uint64    `json:"count"`
	Sum     float64   `json:"sum"`
}

// Bucket bounds of the journal's histograms.
var (
	commitBounds = []float64{50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 50e-3, 100e-3, 250e-3, 500e-3, 1, 2.5, 5, 10}
	groupBounds  = []float64{1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024}
)

// counters are the journal's live metrics, updated without locks.
type counters struct {
	appends, rejected, commits, failures, fsyncs atomic.Uint64
	pagesWritten                                 atomic.Uint64
	commitSeconds                                histogram
	groupSize                                    histogram
}

func (c *counters) init() {
	c.commitSeconds.bounds = commitBounds
	c.commitSeconds.counts = make([]atomic.Uint64, len(commitBounds)+1)
	c.groupSize.bounds = groupBounds
	c.groupSize.counts = make([]atomic.Uint64, len(groupBounds)+1)
}

// histogram counts observations per bucket (not cumulatively; the last
// count is for values above every bound). Sum is kept as float64 bits.
type histogram struct {
	bounds []float64
	counts []atomic.Uint64
	sum    atomic.Uint64
}

func (h *histogram) observe(v float64) {
	i, _ := slices.BinarySearch(h.bounds, v) // first bound >= v
	h.counts[i].Add(1)
	for {
		old := h.sum.Load()
		if h.sum.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+v)) {
			return
		}
	}
}

func (h *histogram) snapshot() Histogram {
	out := Histogram{Bounds: slices.Clone(h.bounds), Buckets: make([]uint64, len(h.bounds))}
	for i := range h.counts {
		out.Count += h.counts[i].Load()
		if i < len(h.bounds) {
			out.Buckets[i] = out.Count
		}
	}
	out.Sum = math.Float64frombits(h.sum.Load())
	return out
}

// committed records one committed read-write transaction.
func (c *counters) committed(began time.Time, sync bool) {
	c.commits.Add(1)
	if sync {
		c.fsyncs.Add(2)
	}
	c.commitSeconds.observe(time.Since(began).Seconds())
}

// Metrics returns the journal's counters and its current gauges. The gauges
// cost one read transaction and a walk of the in-flight index: O(ops in
// flight), cheap enough for every scrape. Once the journal is closed or
// poisoned it returns that error with the counters still filled in (so the
// failure that poisoned it shows in CommitFailures) and the gauges zero.
func (j *Journal) Metrics() (Metrics, error) {
	c := &j.counters
	m := Metrics{
		Appends:        c.appends.Load(),
		Rejected:       c.rejected.Load(),
		Commits:        c.commits.Load(),
		CommitFailures: c.failures.Load(),
		Fsyncs:         c.fsyncs.Load(),
		PagesWritten:   c.pagesWritten.Load(),
		CommitSeconds:  c.commitSeconds.snapshot(),
		GroupSize:      c.groupSize.snapshot(),
	}
	err := j.view(func(bs *buckets) error {
		m.InFlight = bs.count(slotInFlight)
		m.FileSize = bs.tx.Size()
		st := j.db.Stats()
		m.FreePages = st.FreePageN + st.PendingPageN
		m.PageSize = j.db.Info().PageSize
		return nil
	})
	if err != nil {
		m.InFlight, m.FileSize, m.PageSize, m.FreePages = 0, 0, 0, 0
	}
	return m, err
}
