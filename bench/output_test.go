package bench

import (
	"bufio"
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// rep is one repetition of n calls over elapsed, every call taking p50
// except the slowest (p99 = p999 = max).
func rep(n int, elapsed, p50, max time.Duration) Latency {
	return Latency{N: n, Elapsed: elapsed, Min: p50, Mean: p50, P50: p50, P99: max, P999: max, Max: max}
}

// sample is reps repetitions of rep(...), pooled as their own summary.
func sample(reps int, n int, elapsed, p50, max time.Duration) Sample {
	s := Sample{All: rep(n*reps, elapsed*time.Duration(reps), p50, max)}
	for range reps {
		s.Reps = append(s.Reps, rep(n, elapsed, p50, max))
	}
	return s
}

// handResults are small results with known ratios: bbolt appends at half
// the legacy's rate with 1 writer and 15 times it with 64; the fsync floor
// does 5,000/s.
func handResults() *Results {
	return &Results{
		Env: Env{
			GOOS: "linux", GOARCH: "amd64", CPU: "Test CPU @ 1.00GHz", NumCPU: 2, GOMAXPROCS: 2, GoVersion: "go1.99",
			Dir: "/var/tmp", FileSystem: "ext2/ext3/ext4", Quick: true, Reps: 2,
			RunTime: 200 * time.Millisecond, LookupTime: 80 * time.Millisecond,
			Started: time.Date(2026, 2, 1, 10, 0, 0, 0, time.UTC), Elapsed: 61 * time.Second,
			Warnings: []string{"a warning | with a pipe"},
		},
		Baseline: ImplJSONL,
		Impls:    []string{ImplBBolt, ImplJSONL},
		Floors: []FloorResult{
			{Kind: FloorFsync, Sample: sample(2, 1000, 200*time.Millisecond, 190*time.Microsecond, time.Millisecond)},
			{Kind: FloorBoltUpdate, Sample: sample(2, 600, 200*time.Millisecond, 320*time.Microsecond, 2*time.Millisecond)},
		},
		Appends: []WriterResult{
			{Writers: 1, Impl: ImplBBolt, Sample: sample(2, 500, 200*time.Millisecond, 400*time.Microsecond, 3*time.Millisecond)},
			{Writers: 1, Impl: ImplJSONL, Sample: sample(2, 1000, 200*time.Millisecond, 195*time.Microsecond, time.Millisecond)},
			{Writers: 64, Impl: ImplBBolt, Sample: sample(2, 15000, 200*time.Millisecond, 800*time.Microsecond, 5*time.Millisecond)},
			{Writers: 64, Impl: ImplJSONL, Sample: sample(2, 1000, 200*time.Millisecond, 12*time.Millisecond, 20*time.Millisecond)},
		},
		Lifecycles: []WriterResult{
			{Writers: 1, Impl: ImplBBolt, Sample: sample(2, 150, 200*time.Millisecond, 1300*time.Microsecond, 4*time.Millisecond)},
			{Writers: 1, Impl: ImplJSONL, Sample: sample(2, 300, 200*time.Millisecond, 650*time.Microsecond, 2*time.Millisecond)},
		},
		Logs: []LogResult{{Ops: 1000, Records: 2990, Lines: 2990, InFlight: 10, Bytes: 700_000,
			Migrate: ptr(sample(2, 1, 60*time.Millisecond, 60*time.Millisecond, 60*time.Millisecond))}},
		Sizes: []SizeResult{
			{Ops: 1000, Impl: ImplBBolt, Open: sample(2, 1, time.Millisecond, time.Millisecond, time.Millisecond),
				Heap: []int64{10_000, 12_000}, FileBytes: 2 << 20, DiskBytes: 1 << 20,
				Latest:         sample(2, 100, time.Millisecond, 2*time.Microsecond, 5*time.Microsecond),
				AlreadyApplied: sample(2, 100, time.Millisecond, 1500*time.Nanosecond, 5*time.Microsecond),
				InFlight:       sample(2, 10, time.Millisecond, 30*time.Microsecond, 50*time.Microsecond), InFlightOps: 10},
			{Ops: 1000, Impl: ImplJSONL, Open: sample(2, 1, 20*time.Millisecond, 20*time.Millisecond, 20*time.Millisecond),
				Heap: []int64{1_000_000, 1_100_000}, FileBytes: 700_000, DiskBytes: 704_512,
				Latest:         sample(2, 100, time.Millisecond, 100*time.Nanosecond, time.Microsecond),
				AlreadyApplied: sample(2, 100, time.Millisecond, 80*time.Nanosecond, time.Microsecond),
				InFlight:       sample(2, 10, time.Millisecond, 20*time.Microsecond, 40*time.Microsecond), InFlightOps: 10},
		},
	}
}

func ptr[T any](v T) *T { return &v }

// tableRow finds the line of text whose whitespace-separated fields start
// with prefix.
func tableRow(t *testing.T, text string, prefix ...string) []string {
	t.Helper()
	for _, line := range strings.Split(text, "\n") {
		f := strings.Fields(line)
		if len(f) >= len(prefix) && slicesEqual(f[:len(prefix)], prefix) {
			return f
		}
	}
	require.Failf(t, "row not found", "no row starting with %q in:\n%s", prefix, text)
	return nil
}

func slicesEqual(a, b []string) bool {
	return strings.Join(a, "\x00") == strings.Join(b, "\x00")
}

func TestWriteTable(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, handResults().WriteTable(&buf))
	out := buf.String()
	for _, want := range []string{
		"Floor: durable write", "Durable Append", "Agent lifecycle", "Open and heap after open",
		"Bytes on disk", "Lookups", "Migration next to the legacy replay",
		"linux/amd64, Test CPU @ 1.00GHz", "WARNING: a warning | with a pipe",
	} {
		require.Contains(t, out, want)
	}
	// writers, impl, appends/s, xjsonl, xfsync, p50, p99, p99.9, calls
	require.Equal(t, []string{"1", "bbolt", "2,500", "0.50x", "0.50x", "400µs", "3.00ms", "3.00ms", "1,000"},
		tableRow(t, out, "1", "bbolt"))
	require.Equal(t, []string{"64", "bbolt", "75,000", "15.0x", "15.0x", "800µs", "5.00ms", "5.00ms", "30,000"},
		tableRow(t, out, "64", "bbolt"))
	require.Equal(t, "-", tableRow(t, out, "64", "jsonl")[3], "the baseline's ratio to itself")
	require.Equal(t, []string{"bolt-update", "3,000", "0.60x", "320µs", "2.00ms", "2.00ms", "1,200"},
		tableRow(t, out, "bolt-update"))
	// ops, impl, open, xjsonl, heap, xjsonl
	require.Equal(t, []string{"1,000", "bbolt", "1.00ms", "0.05x", "10.7", "KiB", "0.01x"},
		tableRow(t, out, "1,000", "bbolt", "1.00ms"))
	require.Equal(t, []string{"Latest", "1,000", "bbolt", "2.00µs", "5.00µs", "5.00µs", "20.0x", "200"},
		tableRow(t, out, "Latest", "1,000", "bbolt"))
	require.Equal(t, []string{"InFlight", "(10)", "1,000", "bbolt", "30.0µs", "50.0µs", "50.0µs", "1.50x", "20"},
		tableRow(t, out, "InFlight", "(10)", "1,000", "bbolt"))
	// ops, records, log, replay, migrate, xreplay
	require.Equal(t, []string{"1,000", "2,990", "684", "KiB", "20.0ms", "60.0ms", "3.00x"},
		tableRow(t, out, "1,000", "2,990"))
}

func TestWriteMarkdown(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, handResults().WriteMarkdown(&buf))
	out := buf.String()
	require.Contains(t, out, "### Durable Append\n")
	require.Contains(t, out, "| writers | impl | appends/s | xjsonl | xfsync | p50 | p99 | p99.9 | calls |\n")
	require.Contains(t, out, "| 64 | bbolt | 75,000 | 15.0x | 15.0x | 800µs | 5.00ms | 5.00ms | 30,000 |\n")
	require.Contains(t, out, `- WARNING: a warning \| with a pipe`)
	// Every table row has as many cells as its header.
	var cells int
	for _, line := range strings.Split(out, "\n") {
		if !strings.HasPrefix(line, "|") {
			cells = 0
			continue
		}
		n := strings.Count(strings.ReplaceAll(line, `\|`, ""), "|")
		if cells == 0 {
			cells = n
		}
		require.Equal(t, cells, n, "cells of %q", line)
	}
}

func TestWriteJSONRoundTrips(t *testing.T) {
	in := handResults()
	var buf bytes.Buffer
	require.NoError(t, in.WriteJSON(&buf))
	var out Results
	require.NoError(t, json.Unmarshal(buf.Bytes(), &out))
	require.Equal(t, *in, out)

	var raw struct {
		Comparisons []Comparison `json:"comparisons"`
	}
	require.NoError(t, json.Unmarshal(buf.Bytes(), &raw))
	require.Contains(t, raw.Comparisons, Comparison{
		Figure: "appends/s", Params: "writers=64", Impl: ImplBBolt, Against: ImplJSONL,
		Value: 75000, Base: 5000, Ratio: 15,
	})
	require.Contains(t, raw.Comparisons, Comparison{
		Figure: "migrate", Params: "ops=1000", Impl: "migrate", Against: "jsonl open (replay)",
		Value: 6e7, Base: 2e7, Ratio: 3,
	})
}

// benchLine is the Go benchmark format: a name of key=value parts, N, then
// value-unit pairs.
var benchLine = regexp.MustCompile(`^Benchmark[A-Z][A-Za-z]*(/[a-z]+=[^/\s]+)+ \t[0-9]+(\t-?[0-9.e+-]+ [^\s]+)+$`)

func TestWriteBenchstat(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, handResults().WriteBenchstat(&buf))
	sc := bufio.NewScanner(&buf)
	var header []string
	names := map[string]int{}
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "Benchmark") {
			header = append(header, line)
			continue
		}
		require.Regexp(t, benchLine, line)
		names[strings.Fields(line)[0]]++
	}
	require.Equal(t, []string{"goos: linux", "goarch: amd64", "pkg: " + BenchstatPkg, "cpu: Test CPU @ 1.00GHz"}, header)
	for _, name := range []string{
		"BenchmarkFloor/kind=fsync", "BenchmarkAppend/writers=64/impl=bbolt", "BenchmarkLifecycle/writers=1/impl=jsonl",
		"BenchmarkOpen/ops=1000/impl=bbolt", "BenchmarkLatest/ops=1000/impl=jsonl",
		"BenchmarkAlreadyApplied/ops=1000/impl=bbolt", "BenchmarkInFlight/ops=1000/impl=bbolt",
		"BenchmarkMigrate/ops=1000/impl=bbolt", "BenchmarkMigrate/ops=1000/impl=jsonl",
	} {
		require.Equal(t, 2, names[name], "lines of %s (one per rep); got %v", name, names)
	}
	var again bytes.Buffer // the scanner drained buf
	require.NoError(t, handResults().WriteBenchstat(&again))
	require.Contains(t, again.String(),
		"BenchmarkAppend/writers=64/impl=bbolt \t15000\t13333 ns/op\t75000 appends/s\t800000 p50-ns\t5000000 p99-ns\t5000000 p99.9-ns\n")
	require.Contains(t, again.String(),
		"BenchmarkOpen/ops=1000/impl=jsonl \t1\t20000000 ns/op\t1000000 heap-bytes\t705 disk-bytes/op\t700 file-bytes/op\n")
}

func TestComparisonsSkipMissingReferences(t *testing.T) {
	r := handResults()
	r.Floors = nil
	r.Baseline = "absent"
	require.Empty(t, r.Comparisons())
	var buf bytes.Buffer
	require.NoError(t, r.WriteTable(&buf))
	require.Equal(t, []string{"1", "bbolt", "2,500", "-", "-", "400µs", "3.00ms", "3.00ms", "1,000"},
		tableRow(t, buf.String(), "1", "bbolt"))
}

func TestWriteBenchstatPutsTheBaselineFirst(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, handResults().WriteBenchstat(&buf))
	var order []string
	for _, line := range strings.Split(buf.String(), "\n") {
		if strings.HasPrefix(line, "Benchmark") {
			order = append(order, strings.Fields(line)[0])
		}
	}
	require.Equal(t, "BenchmarkAppend/writers=1/impl=jsonl", order[0], "benchstat's base column is the first impl it sees")
	require.Equal(t, "BenchmarkFloor/kind=bolt-update", order[len(order)-1], "floors, without an impl, come last")
}
