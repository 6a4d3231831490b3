package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"
)

// MigrateFunc migrates the legacy log at log into a new store at dst, the
// way users will: the CLI passes migrate.Migrate with verification on.
type MigrateFunc func(ctx context.Context, log, dst string) error

// Config configures Run. Zero fields take the defaults documented on each;
// Quick changes some of them.
type Config struct {
	// Dir is where the run's files go, in a fresh directory removed at
	// the end (unless KeepFiles). It must exist and should be on the disk
	// the journals will live on: fsync costs are the disk's. Default
	// os.TempDir(). See FsyncFree.
	Dir string

	// Quick makes a short run (about a minute on a small machine):
	// sizes up to 10^5 ops and shorter measured runs.
	Quick bool

	// Reps is how many times each measurement is repeated, alternating
	// impls (and rotating which goes first) so that machine noise hits
	// all of them. Default 6 (benchstat's minimum for a confidence
	// interval), 3 with Quick.
	Reps int

	// Writers are the goroutines appending at once in the Append
	// workload; 1 is the sequential case. Default 1, 4, 16, 64, 256.
	Writers []int

	// LifecycleWriters are the goroutines running op lifecycles at once
	// in the lifecycle workload. Default 1 and 16.
	LifecycleWriters []int

	// Sizes are the journal sizes, in ops, of the open, heap, lookup,
	// bytes-on-disk and migration workloads. Default 10^3 to 10^6, up to
	// 10^5 with Quick.
	Sizes []int

	// Impls are the implementations compared. Default DefaultImpls():
	// bbolt and jsonl.
	Impls []Impl

	// Baseline names the impl every figure is also given as a ratio to.
	// Default "jsonl".
	Baseline string

	// Migrate, if set, is timed against the baseline's open (the legacy
	// replay) for each size. Package bench cannot call migrate.Migrate
	// itself: migrate's tests import bench. Default nil: not measured.
	Migrate MigrateFunc

	// RunTime bounds each measured run of the floor, Append and
	// lifecycle workloads. Default 1s, 300ms with Quick.
	RunTime time.Duration

	// LookupTime bounds each measured run of Latest, AlreadyApplied and
	// InFlight. Default 300ms, 80ms with Quick.
	LookupTime time.Duration

	// RunOps, if positive, also caps the calls (appends, lifecycles,
	// lookups) of each measured run: a run stops at whichever bound
	// comes first. Default 0: time only.
	RunOps int

	// ScatteredOpIDs, if set, gives the ops of the Append and lifecycle
	// workloads and of the generated logs ids scattered over the key space
	// (ScatterOpID of the usual ones, shaped like random UUIDv4s), as an
	// agent that makes its op ids at random would. Default false: ids that
	// sort in the order the ops start, from a counter.
	ScatteredOpIDs bool

	// Progress receives a line per step. Default nil: silent.
	Progress io.Writer

	// KeepFiles leaves the run's directory in place and names it in
	// Results.Env.WorkDir. Default false.
	KeepFiles bool
}

// Default values of Config; see each field.
var (
	DefaultWriters          = []int{1, 4, 16, 64, 256}
	DefaultLifecycleWriters = []int{1, 16}
	DefaultSizes            = []int{1_000, 10_000, 100_000, 1_000_000}
	DefaultQuickSizes       = []int{1_000, 10_000, 100_000}
)

// withDefaults returns a copy of c with its defaults applied, or an error
// for a config that cannot run. It is the one place defaults are applied.
func (c Config) withDefaults() (Config, error) {
	pick := func(quick, full time.Duration) time.Duration {
		if c.Quick {
			return quick
		}
		return full
	}
	if c.Dir == "" {
		c.Dir = os.TempDir()
	}
	if c.Reps <= 0 {
		c.Reps = 6
		if c.Quick {
			c.Reps = 3
		}
	}
	if len(c.Writers) == 0 {
		c.Writers = DefaultWriters
	}
	if len(c.LifecycleWriters) == 0 {
		c.LifecycleWriters = DefaultLifecycleWriters
	}
	if len(c.Sizes) == 0 {
		c.Sizes = DefaultSizes
		if c.Quick {
			c.Sizes = DefaultQuickSizes
		}
	}
	if len(c.Impls) == 0 {
		c.Impls = DefaultImpls()
	}
	if c.Baseline == "" {
		c.Baseline = ImplJSONL
	}
	if c.RunTime <= 0 {
		c.RunTime = pick(300*time.Millisecond, time.Second)
	}
	if c.LookupTime <= 0 {
		c.LookupTime = pick(80*time.Millisecond, 300*time.Millisecond)
	}
	c.Writers = sortedSet(c.Writers)
	c.LifecycleWriters = sortedSet(c.LifecycleWriters)
	c.Sizes = sortedSet(c.Sizes)
	c.Impls = slices.Clone(c.Impls)
	return c, c.check()
}

func (c *Config) check() error {
	if fi, err := os.Stat(c.Dir); err != nil {
		return fmt.Errorf("bench: %w", err)
	} else if !fi.IsDir() {
		return fmt.Errorf("bench: %s is not a directory", c.Dir)
	}
	for _, list := range []struct {
		name string
		ns   []int
	}{{"writers", c.Writers}, {"lifecycle writers", c.LifecycleWriters}, {"sizes", c.Sizes}} {
		for _, n := range list.ns {
			if n <= 0 {
				return fmt.Errorf("bench: %s must be positive, got %d", list.name, n)
			}
		}
	}
	seen := map[string]bool{}
	for _, im := range c.Impls {
		switch {
		case im.Name == "" || strings.ContainsAny(im.Name, " \t/="):
			return fmt.Errorf("bench: impl name %q: want a non-empty name without spaces, '/' or '='", im.Name)
		case seen[im.Name]:
			return fmt.Errorf("bench: impl %q given twice", im.Name)
		case im.Open == nil:
			return fmt.Errorf("bench: impl %q has no Open", im.Name)
		}
		seen[im.Name] = true
	}
	if c.RunOps < 0 {
		return errors.New("bench: RunOps must not be negative")
	}
	return nil
}

// sortedSet returns ns sorted, without repeats, in a new slice.
func sortedSet(ns []int) []int {
	out := slices.Clone(ns)
	slices.Sort(out)
	return slices.Compact(out)
}
