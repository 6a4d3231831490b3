package bench

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"time"
)

// BenchstatPkg is the pkg line of WriteBenchstat's output.
const BenchstatPkg = "github.com/felhom/opjournal/bench"

// WriteBenchstat writes the results in the Go benchmark format, which
// benchstat reads (`benchstat -col /impl bench.txt` puts the impls side by
// side, the baseline's lines coming first to make it the base column): a
// goos/goarch/pkg/cpu header, then one line per repetition of each
// measurement, so that benchstat sees Reps samples:
//
//	BenchmarkAppend/writers=64/impl=bbolt 	 12345	 24300 ns/op	 41152 appends/s	 1480000 p50-ns	 ...
//
// The names are Floor/kind=K, Append/writers=W/impl=I,
// Lifecycle/writers=W/impl=I, and Open, Latest, AlreadyApplied, InFlight
// and Migrate with /ops=N/impl=I. N is the calls of that repetition and
// ns/op its wall time per call (for concurrent writers, like
// b.RunParallel). Migrate/ops=N/impl=bbolt is Config.Migrate (into a
// store); Migrate/ops=N/impl=<baseline> repeats the baseline's open, the
// legacy replay: the time each takes to serve from the same log.
func (r *Results) WriteBenchstat(w io.Writer) error {
	ew := &errWriter{w: w}
	e := &r.Env
	fmt.Fprintf(ew, "goos: %s\ngoarch: %s\npkg: %s\n", e.GOOS, e.GOARCH, BenchstatPkg)
	if e.CPU != "" {
		fmt.Fprintf(ew, "cpu: %s\n", e.CPU)
	}
	if e.FsyncFree {
		fmt.Fprintf(ew, "fsync-free: true\n")
	}
	for _, a := range r.baselineFirst(r.Appends) {
		writeReps(ew, fmt.Sprintf("Append/writers=%d/impl=%s", a.Writers, a.Impl), a.Reps, "appends/s")
	}
	for _, l := range r.baselineFirst(r.Lifecycles) {
		writeReps(ew, fmt.Sprintf("Lifecycle/writers=%d/impl=%s", l.Writers, l.Impl), l.Reps, "lifecycles/s")
	}
	sizes := slices.Clone(r.Sizes)
	slices.SortStableFunc(sizes, func(a, b SizeResult) int { return r.firstIfBaseline(a.Impl, b.Impl) })
	for i := range sizes {
		z := &sizes[i]
		name := fmt.Sprintf("/ops=%d/impl=%s", z.Ops, z.Impl)
		for k, l := range z.Open.Reps {
			fmt.Fprintf(ew, "BenchmarkOpen%s \t%d\t%s ns/op", name, l.N, value(float64(l.PerOp())))
			if k < len(z.Heap) {
				fmt.Fprintf(ew, "\t%s heap-bytes", value(float64(z.Heap[k])))
			}
			fmt.Fprintf(ew, "\t%s disk-bytes/op\t%s file-bytes/op\n", value(z.DiskPerOp()), value(z.FilePerOp()))
		}
		writeReps(ew, "Latest"+name, z.Latest.Reps, "")
		writeReps(ew, "AlreadyApplied"+name, z.AlreadyApplied.Reps, "")
		writeReps(ew, "InFlight"+name, z.InFlight.Reps, "")
	}
	for _, l := range r.Logs {
		if l.Migrate == nil {
			continue
		}
		writeReps(ew, fmt.Sprintf("Migrate/ops=%d/impl=%s", l.Ops, ImplBBolt), l.Migrate.Reps, "")
		if b := r.Size(l.Ops, r.Baseline); b != nil {
			writeReps(ew, fmt.Sprintf("Migrate/ops=%d/impl=%s", l.Ops, r.Baseline), b.Open.Reps, "")
		}
	}
	// The floors come last: they have no impl, and benchstat makes the
	// first column it sees the base.
	for _, f := range r.Floors {
		writeReps(ew, "Floor/kind="+f.Kind, f.Reps, "ops/s")
	}
	return ew.err
}

// baselineFirst returns rs with the baseline's results first, the others
// in their order: benchstat -col /impl makes the first impl it sees the
// base of its comparisons.
func (r *Results) baselineFirst(rs []WriterResult) []WriterResult {
	out := slices.Clone(rs)
	slices.SortStableFunc(out, func(a, b WriterResult) int { return r.firstIfBaseline(a.Impl, b.Impl) })
	return out
}

func (r *Results) firstIfBaseline(a, b string) int {
	switch {
	case a == b:
		return 0
	case a == r.Baseline:
		return -1
	case b == r.Baseline:
		return 1
	}
	return 0
}

// writeReps writes one benchmark line per repetition: N, ns/op, the rate
// in rateUnit (if any) and the latency percentiles.
func writeReps(w io.Writer, name string, reps []Latency, rateUnit string) {
	for _, l := range reps {
		if l.N == 0 {
			continue
		}
		fmt.Fprintf(w, "Benchmark%s \t%d\t%s ns/op", name, l.N, value(float64(l.PerOp())))
		if rateUnit != "" {
			fmt.Fprintf(w, "\t%s %s", value(l.Rate()), rateUnit)
		}
		for _, p := range []struct {
			d    time.Duration
			unit string
		}{{l.P50, "p50-ns"}, {l.P99, "p99-ns"}, {l.P999, "p99.9-ns"}} {
			fmt.Fprintf(w, "\t%s %s", value(float64(p.d)), p.unit)
		}
		fmt.Fprintln(w)
	}
}

// value formats a measurement as `go test -bench` does: whole numbers from
// 100 up, a few decimals below.
func value(x float64) string {
	switch y := math.Abs(x); {
	case y == 0 || y >= 99.95:
		return strconv.FormatFloat(x, 'f', 0, 64)
	case y >= 9.995:
		return strconv.FormatFloat(x, 'f', 1, 64)
	case y >= 0.9995:
		return strconv.FormatFloat(x, 'f', 2, 64)
	default:
		return strconv.FormatFloat(x, 'g', 3, 64)
	}
}
