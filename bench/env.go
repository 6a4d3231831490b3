package bench

import (
	"bufio"
	"os"
	"runtime"
	"strings"
)

// newEnv describes this machine and the run's settings.
func newEnv(c *Config) Env {
	free, fs := FsyncFree(c.Dir)
	e := Env{
		GOOS: runtime.GOOS, GOARCH: runtime.GOARCH, CPU: cpuModel(),
		NumCPU: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0), GoVersion: runtime.Version(),
		Dir: c.Dir, FileSystem: fs, FsyncFree: free,
		Quick: c.Quick, Reps: c.Reps, RunTime: c.RunTime, LookupTime: c.LookupTime, RunOps: c.RunOps,
		ScatteredOpIDs: c.ScatteredOpIDs,
	}
	if free {
		e.Warnings = append(e.Warnings, "fsync is free on "+c.Dir+" ("+fs+": memory, not a disk): "+
			"durable appends are measured as if syncs cost nothing; run on the journal's real disk")
	}
	return e
}

// cpuModel is the processor's name as the kernel reports it, as `go test
// -bench` prints it, or "" where unknown.
func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		k, v, ok := strings.Cut(s.Text(), ":")
		if ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
