package bench

import (
	"fmt"
	"time"
)

// Results is everything a Run measured. Its fields are plain data (it is
// what WriteJSON writes); the ratios to the baseline and to the fsync floor
// are derived from them (Comparisons). A Results is not safe for concurrent
// mutation; reading and writing it out from several goroutines is fine.
type Results struct {
	Env      Env      `json:"env"`
	Baseline string   `json:"baseline"` // impl the ratios compare with
	Impls    []string `json:"impls"`    // in the order given

	Floors     []FloorResult  `json:"floors"`
	Appends    []WriterResult `json:"appends"`
	Lifecycles []WriterResult `json:"lifecycles"`
	Logs       []LogResult    `json:"logs"`  // one per size: the legacy log and its migration
	Sizes      []SizeResult   `json:"sizes"` // one per size and impl
}

// Env describes where and how the run happened.
type Env struct {
	GOOS       string `json:"goos"`
	GOARCH     string `json:"goarch"`
	CPU        string `json:"cpu"`
	NumCPU     int    `json:"num_cpu"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	GoVersion  string `json:"go_version"`

	Dir        string `json:"dir"`                // Config.Dir
	WorkDir    string `json:"work_dir,omitempty"` // the run's files, when kept
	FileSystem string `json:"file_system"`        // of Dir, as FsyncFree names it
	FsyncFree  bool   `json:"fsync_free"`         // see FsyncFree

	Quick      bool          `json:"quick"`
	Reps       int           `json:"reps"`
	RunTime    time.Duration `json:"run_time_ns"`
	LookupTime time.Duration `json:"lookup_time_ns"`
	RunOps     int           `json:"run_ops,omitempty"`

	ScatteredOpIDs bool `json:"scattered_op_ids,omitempty"` // Config.ScatteredOpIDs

	Started time.Time     `json:"started"`
	Elapsed time.Duration `json:"elapsed_ns"`

	// Warnings say why some figures may not mean what they seem: fsync
	// that costs nothing, impls that disagree on what they hold.
	Warnings []string `json:"warnings,omitempty"`
}

// The floors: what the disk and bbolt cost without any journal on top.
const (
	FloorFsync      = "fsync"       // write a 250-byte record to an O_APPEND file, then fsync (the legacy's Append)
	FloorFdatasync  = "fdatasync"   // the same with fdatasync (what bbolt calls)
	FloorBoltUpdate = "bolt-update" // one bbolt db.Update putting one 250-byte value, default options
)

// FloorResult is one floor, 1 writer.
type FloorResult struct {
	Kind string `json:"kind"` // FloorFsync, FloorFdatasync or FloorBoltUpdate
	Sample
}

// WriterResult is one impl at one number of concurrent writers: of the
// Append workload (a call is one Append) or of the lifecycle workload (a
// call is one op's whole lifecycle).
type WriterResult struct {
	Writers int    `json:"writers"`
	Impl    string `json:"impl"`
	Sample
}

// LogResult is the generated legacy log of one size.
type LogResult struct {
	Ops      int   `json:"ops"`
	Records  int   `json:"records"`
	Lines    int   `json:"lines"`
	InFlight int   `json:"in_flight"`
	Bytes    int64 `json:"bytes"`

	// Migrate times Config.Migrate on this log, one call per
	// repetition; nil when Config.Migrate is nil.
	Migrate *Sample `json:"migrate,omitempty"`
}

// SizeResult is one impl opened on a journal of Ops ops, a fixture holding
// the records of the legacy log of that size. Every figure has one value
// per repetition; each repetition opens the fixture again.
type SizeResult struct {
	Ops  int    `json:"ops"`
	Impl string `json:"impl"`

	// Open times Impl.Open, one call per repetition: for the legacy,
	// the replay of the whole log.
	Open Sample `json:"open"`
	// Heap is runtime.MemStats.HeapAlloc after runtime.GC() with the
	// journal open, minus the same before the open, per repetition.
	Heap []int64 `json:"heap_bytes"`

	FileBytes int64 `json:"file_bytes"` // the fixture's size
	DiskBytes int64 `json:"disk_bytes"` // blocks allocated to it (files may be sparse)

	Latest         Sample `json:"latest"`          // ops sampled from the log, all present
	AlreadyApplied Sample `json:"already_applied"` // half applied keys, half unknown
	InFlight       Sample `json:"in_flight"`
	InFlightOps    int    `json:"in_flight_ops"` // what InFlight returned
}

// HeapMedian is the median of Heap.
func (s *SizeResult) HeapMedian() float64 {
	xs := make([]float64, len(s.Heap))
	for i, h := range s.Heap {
		xs[i] = float64(h)
	}
	return Median(xs)
}

// DiskPerOp is DiskBytes per op.
func (s *SizeResult) DiskPerOp() float64 { return float64(s.DiskBytes) / float64(s.Ops) }

// FilePerOp is FileBytes per op.
func (s *SizeResult) FilePerOp() float64 { return float64(s.FileBytes) / float64(s.Ops) }

// Floor returns the floor of that kind, or nil.
func (r *Results) Floor(kind string) *FloorResult {
	for i := range r.Floors {
		if r.Floors[i].Kind == kind {
			return &r.Floors[i]
		}
	}
	return nil
}

// Append returns the Append result of impl at writers, or nil.
func (r *Results) Append(writers int, impl string) *WriterResult {
	return findWriter(r.Appends, writers, impl)
}

// Lifecycle returns the lifecycle result of impl at writers, or nil.
func (r *Results) Lifecycle(writers int, impl string) *WriterResult {
	return findWriter(r.Lifecycles, writers, impl)
}

func findWriter(rs []WriterResult, writers int, impl string) *WriterResult {
	for i := range rs {
		if rs[i].Writers == writers && rs[i].Impl == impl {
			return &rs[i]
		}
	}
	return nil
}

// Size returns the result of impl at ops, or nil.
func (r *Results) Size(ops int, impl string) *SizeResult {
	for i := range r.Sizes {
		if r.Sizes[i].Ops == ops && r.Sizes[i].Impl == impl {
			return &r.Sizes[i]
		}
	}
	return nil
}

// Log returns the log of that size, or nil.
func (r *Results) Log(ops int) *LogResult {
	for i := range r.Logs {
		if r.Logs[i].Ops == ops {
			return &r.Logs[i]
		}
	}
	return nil
}

// Comparison is one figure next to the same figure of a reference: the
// baseline impl, or the fsync floor.
type Comparison struct {
	Figure  string  `json:"figure"` // e.g. "appends/s", "open", "Latest p50"
	Params  string  `json:"params"` // e.g. "writers=64", "ops=100000"
	Impl    string  `json:"impl"`
	Against string  `json:"against"` // the baseline's name, or "fsync floor"
	Value   float64 `json:"value"`
	Base    float64 `json:"base"`
	Ratio   float64 `json:"ratio"` // Value / Base
}

// Comparisons derives every ratio: each figure of each impl other than the
// baseline against the baseline's, every append rate against the fsync
// floor (and the 1-writer rates against the bolt-update floor), and every migration against the baseline's open (its replay).
// Figures the reference lacks are left out. Rates, times and bytes are
// compared as they are (Value / Base), so for a rate more is better and for
// a time or a size less is.
func (r *Results) Comparisons() []Comparison {
	var out []Comparison
	add := func(figure, params, impl, against string, v, base float64) {
		if q, ok := Ratio(v, base); ok {
			out = append(out, Comparison{figure, params, impl, against, v, base, q})
		}
	}
	floor := r.Floor(FloorFsync)
	for _, f := range r.Floors {
		if floor != nil && f.Kind != FloorFsync {
			add("ops/s", "kind="+f.Kind, "", "fsync floor", f.Rate(), floor.Rate())
		}
	}
	for _, a := range r.Appends {
		p := fmt.Sprintf("writers=%d", a.Writers)
		if b := r.Append(a.Writers, r.Baseline); b != nil && a.Impl != r.Baseline {
			add("appends/s", p, a.Impl, r.Baseline, a.Rate(), b.Rate())
			add("append p50", p, a.Impl, r.Baseline, float64(a.All.P50), float64(b.All.P50))
			add("append p99", p, a.Impl, r.Baseline, float64(a.All.P99), float64(b.All.P99))
		}
		if floor != nil {
			add("appends/s", p, a.Impl, "fsync floor", a.Rate(), floor.Rate())
		}
		if bolt := r.Floor(FloorBoltUpdate); bolt != nil && a.Writers == 1 {
			add("appends/s", p, a.Impl, "bolt-update floor", a.Rate(), bolt.Rate())
		}
	}
	for _, l := range r.Lifecycles {
		p := fmt.Sprintf("writers=%d", l.Writers)
		if b := r.Lifecycle(l.Writers, r.Baseline); b != nil && l.Impl != r.Baseline {
			add("lifecycles/s", p, l.Impl, r.Baseline, l.Rate(), b.Rate())
			add("lifecycle p50", p, l.Impl, r.Baseline, float64(l.All.P50), float64(b.All.P50))
		}
	}
	for i := range r.Sizes {
		s := &r.Sizes[i]
		b := r.Size(s.Ops, r.Baseline)
		if b == nil || s.Impl == r.Baseline {
			continue
		}
		p := fmt.Sprintf("ops=%d", s.Ops)
		add("open", p, s.Impl, r.Baseline, float64(s.Open.All.P50), float64(b.Open.All.P50))
		// A heap that shrank across the open is noise: no growth.
		add("heap after open", p, s.Impl, r.Baseline, max(s.HeapMedian(), 0), b.HeapMedian())
		add("disk bytes/op", p, s.Impl, r.Baseline, s.DiskPerOp(), b.DiskPerOp())
		add("Latest p50", p, s.Impl, r.Baseline, float64(s.Latest.All.P50), float64(b.Latest.All.P50))
		add("AlreadyApplied p50", p, s.Impl, r.Baseline, float64(s.AlreadyApplied.All.P50), float64(b.AlreadyApplied.All.P50))
		add("InFlight p50", p, s.Impl, r.Baseline, float64(s.InFlight.All.P50), float64(b.InFlight.All.P50))
	}
	for _, l := range r.Logs {
		if b := r.Size(l.Ops, r.Baseline); b != nil && l.Migrate != nil {
			add("migrate", fmt.Sprintf("ops=%d", l.Ops), "migrate", r.Baseline+" open (replay)",
				float64(l.Migrate.All.P50), float64(b.Open.All.P50))
		}
	}
	return out
}
