package bench

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func durations(ns ...int) []time.Duration {
	out := make([]time.Duration, len(ns))
	for i, n := range ns {
		out[i] = time.Duration(n)
	}
	return out
}

func TestPercentileNearestRank(t *testing.T) {
	ten := durations(10, 20, 30, 40, 50, 60, 70, 80, 90, 100)
	thousand := make([]time.Duration, 1000)
	for i := range thousand {
		thousand[i] = time.Duration(i + 1)
	}
	for _, tc := range []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one value, any p", durations(7), 99.9, 7},
		{"p0 is the minimum", ten, 0, 10},
		{"negative p is the minimum", ten, -5, 10},
		{"p10 of ten is the first", ten, 10, 10},
		{"p11 of ten rounds up to the second", ten, 11, 20},
		{"p50 of ten is the fifth, not interpolated", ten, 50, 50},
		{"p90 of ten", ten, 90, 90},
		{"p99 of ten is the maximum", ten, 99, 100},
		{"p100 is the maximum", ten, 100, 100},
		{"p above 100 is the maximum", ten, 150, 100},
		{"p50 of four is the second", durations(1, 2, 3, 4), 50, 2},
		{"p99.9 of 1000 is rank 999 despite float error", thousand, 99.9, 999},
		{"p99 of 1000 is rank 990", thousand, 99, 990},
		{"p99.9 of 999 is the maximum", thousand[:999], 99.9, 999},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Percentile(tc.sorted, tc.p)
			require.Equal(t, tc.want, got, "Percentile(%d values, %v)", len(tc.sorted), tc.p)
		})
	}
}

func TestSummarize(t *testing.T) {
	samples := durations(50, 10, 40, 20, 30) // unsorted on purpose
	l := Summarize(samples, 1000*time.Nanosecond)
	require.Equal(t, Latency{
		N: 5, Elapsed: 1000, Min: 10, Mean: 30, P50: 30, P99: 50, P999: 50, Max: 50,
	}, l)
	require.Equal(t, durations(10, 20, 30, 40, 50), samples, "Summarize sorts in place")
	require.InDelta(t, 5e6, l.Rate(), 1e-6, "5 calls in 1 µs")
	require.Equal(t, 200*time.Nanosecond, l.PerOp())

	empty := Summarize(nil, time.Second)
	require.Equal(t, Latency{Elapsed: time.Second}, empty)
	require.Zero(t, empty.Rate())
	require.Zero(t, empty.PerOp())
}

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		xs   []float64
		want float64
	}{
		{nil, 0},
		{[]float64{3}, 3},
		{[]float64{3, 1, 2}, 2},
		{[]float64{4, 1, 3, 2}, 2.5},
		{[]float64{10, 10, 1000}, 10},
	} {
		t.Run(fmt.Sprint(tc.xs), func(t *testing.T) {
			in := append([]float64(nil), tc.xs...)
			require.Equal(t, tc.want, Median(in))
			require.Equal(t, tc.xs, in, "Median leaves its input alone")
		})
	}
}

func TestRatio(t *testing.T) {
	for _, tc := range []struct {
		v, base float64
		want    float64
		ok      bool
	}{
		{3000, 6000, 0.5, true},
		{75000, 5000, 15, true},
		{0, 5, 0, true},
		{5, 0, 0, false},
		{5, -1, 0, false},
		{math.NaN(), 1, 0, false},
		{1, math.Inf(1), 0, false},
	} {
		t.Run(fmt.Sprintf("%v/%v", tc.v, tc.base), func(t *testing.T) {
			got, ok := Ratio(tc.v, tc.base)
			require.Equal(t, tc.ok, ok)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestSampleRateIsTheMedianRepetition(t *testing.T) {
	var s sampler
	s.add(durations(1, 1), time.Second)     // 2/s
	s.add(durations(1, 1, 1, 1), 1e9)       // 4/s
	s.add(durations(1, 1, 1, 1, 1, 1), 1e8) // 60/s: the outlier
	got := s.sample()
	require.Len(t, got.Reps, 3)
	require.Equal(t, 4.0, got.Rate())
	require.Equal(t, 12, got.All.N)
	require.Equal(t, 2100*time.Millisecond, got.All.Elapsed)
}
