package bench

import (
	"math"
	"slices"
	"time"
)

// Latency summarises the timed calls of one measured run (or of several
// runs pooled): how many, over what wall time, and their distribution.
//
// Percentiles use the nearest-rank method (see Percentile), so each one is a
// latency that was actually observed; with fewer than 1,000 calls P999 is
// the maximum.
type Latency struct {
	N       int           `json:"n"`          // calls timed
	Elapsed time.Duration `json:"elapsed_ns"` // wall time of the run, all writers together
	Min     time.Duration `json:"min_ns"`
	Mean    time.Duration `json:"mean_ns"`
	P50     time.Duration `json:"p50_ns"`
	P99     time.Duration `json:"p99_ns"`
	P999    time.Duration `json:"p999_ns"`
	Max     time.Duration `json:"max_ns"`
}

// Rate is calls per second of wall time: N / Elapsed, 0 if nothing was
// timed. With several writers it is their combined throughput.
func (l Latency) Rate() float64 {
	if l.N == 0 || l.Elapsed <= 0 {
		return 0
	}
	return float64(l.N) / l.Elapsed.Seconds()
}

// PerOp is wall time per call, Elapsed / N: what `go test -bench` reports
// as ns/op (for concurrent runs, like b.RunParallel, not a call's latency).
func (l Latency) PerOp() time.Duration {
	if l.N == 0 {
		return 0
	}
	return l.Elapsed / time.Duration(l.N)
}

// Summarize returns the Latency of calls that took samples and ran over
// elapsed wall time. It sorts samples in place.
func Summarize(samples []time.Duration, elapsed time.Duration) Latency {
	l := Latency{N: len(samples), Elapsed: elapsed}
	if len(samples) == 0 {
		return l
	}
	slices.Sort(samples)
	var sum time.Duration
	for _, s := range samples {
		sum += s
	}
	l.Min, l.Max = samples[0], samples[len(samples)-1]
	l.Mean = sum / time.Duration(len(samples))
	l.P50 = Percentile(samples, 50)
	l.P99 = Percentile(samples, 99)
	l.P999 = Percentile(samples, 99.9)
	return l
}

// Percentile returns the p-th percentile of sorted (ascending) by the
// nearest-rank method, without interpolation: the smallest value such that
// at least p percent of the values are less than or equal to it, which is
// sorted[ceil(p/100*n)-1]. p <= 0 gives the minimum, p >= 100 the maximum,
// and no values give 0.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	// The small slack keeps float error from pushing an exact rank up
	// by one (99.9% of 1,000 is rank 999, not 1,000).
	rank := int(math.Ceil(p*float64(n)/100 - 1e-9))
	return sorted[min(max(rank, 1), n)-1]
}

// Median returns the middle of xs, or the mean of the two middle values
// when len(xs) is even (this one interpolates), and 0 for none. It does not
// modify xs.
func Median(xs []float64) float64 {
	n := len(xs)
	if n == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// Ratio returns v / base, and false when base is not positive or either
// value is not finite (there is nothing to compare with).
func Ratio(v, base float64) (float64, bool) {
	if base <= 0 || math.IsInf(base, 0) || math.IsNaN(base) || math.IsInf(v, 0) || math.IsNaN(v) {
		return 0, false
	}
	return v / base, true
}

// Sample is one measured figure (a workload, its parameters, one impl)
// over every repetition of a run.
type Sample struct {
	Reps []Latency `json:"reps"` // one per repetition, in the order run
	All  Latency   `json:"all"`  // every call of every repetition pooled
}

// Rate is the median over repetitions of each one's calls per second
// (robust to one noisy repetition), 0 for none.
func (s Sample) Rate() float64 {
	rates := make([]float64, len(s.Reps))
	for i, l := range s.Reps {
		rates[i] = l.Rate()
	}
	return Median(rates)
}

// sampler collects a Sample's repetitions while a workload runs.
type sampler struct {
	reps    []Latency
	all     []time.Duration
	elapsed time.Duration
}

// add records one repetition: its calls' latencies and its wall time.
func (s *sampler) add(samples []time.Duration, elapsed time.Duration) Latency {
	s.all = append(s.all, samples...)
	s.elapsed += elapsed
	l := Summarize(samples, elapsed)
	s.reps = append(s.reps, l)
	return l
}

func (s *sampler) sample() Sample {
	return Sample{Reps: s.reps, All: Summarize(s.all, s.elapsed)}
}
