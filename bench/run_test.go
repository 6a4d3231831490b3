package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/felhom/opjournal/migrate"
	"github.com/felhom/opjournal/store"
)

// migrateVerified is what the CLI passes as Config.Migrate.
func migrateVerified(ctx context.Context, log, dst string) error {
	_, err := migrate.Migrate(ctx, log, dst, nil)
	return err
}

// tinyConfig is a whole run in a second or two: every workload, a few
// dozen calls each.
func tinyConfig(t *testing.T) Config {
	t.Helper()
	return Config{
		Dir:              t.TempDir(),
		Reps:             2,
		Writers:          []int{1, 4},
		LifecycleWriters: []int{1, 2},
		Sizes:            []int{100},
		RunOps:           24,
		RunTime:          5 * time.Second, // RunOps ends each run first
		LookupTime:       5 * time.Second,
		Migrate:          migrateVerified,
	}
}

func TestRunTiny(t *testing.T) {
	cfg := tinyConfig(t)
	var progress bytes.Buffer
	cfg.Progress = &progress
	res, err := Run(context.Background(), cfg)
	require.NoError(t, err, "progress:\n%s", progress.String())

	require.Equal(t, []string{ImplBBolt, ImplJSONL}, res.Impls)
	require.Equal(t, ImplJSONL, res.Baseline)
	require.Equal(t, 2, res.Env.Reps)
	require.Positive(t, res.Env.Elapsed)

	require.NotNil(t, res.Floor(FloorFsync))
	require.NotNil(t, res.Floor(FloorBoltUpdate))
	for _, f := range res.Floors {
		require.Len(t, f.Reps, 2, "floor %s", f.Kind)
		require.Equal(t, 48, f.All.N, "floor %s: 24 calls a rep", f.Kind)
	}
	for _, impl := range res.Impls {
		for _, w := range cfg.Writers {
			a := res.Append(w, impl)
			require.NotNil(t, a, "append writers=%d impl=%s", w, impl)
			require.Len(t, a.Reps, 2)
			require.Equal(t, 48, a.All.N, "append writers=%d impl=%s", w, impl)
			require.Positive(t, a.Rate())
		}
		for _, w := range cfg.LifecycleWriters {
			l := res.Lifecycle(w, impl)
			require.NotNil(t, l, "lifecycle writers=%d impl=%s", w, impl)
			require.Equal(t, 48, l.All.N)
		}
		z := res.Size(100, impl)
		require.NotNil(t, z, "size impl=%s", impl)
		require.Len(t, z.Open.Reps, 2)
		require.Len(t, z.Heap, 2)
		require.Positive(t, z.FileBytes)
		require.Positive(t, z.DiskBytes)
		require.Equal(t, 48, z.Latest.All.N)
		require.Equal(t, 48, z.AlreadyApplied.All.N)
		require.Equal(t, 48, z.InFlight.All.N)
	}
	log := res.Log(100)
	require.NotNil(t, log)
	require.Equal(t, 100, log.Ops)
	require.NotNil(t, log.Migrate)
	require.Len(t, log.Migrate.Reps, 2)
	require.Equal(t, log.InFlight, res.Size(100, ImplBBolt).InFlightOps)
	require.Equal(t, log.InFlight, res.Size(100, ImplJSONL).InFlightOps)
	for _, w := range res.Env.Warnings {
		require.NotContains(t, w, "in flight", "the impls agree on what they hold")
	}

	// Every section of every output.
	var table, md, js, bs bytes.Buffer
	require.NoError(t, res.WriteTable(&table))
	require.NoError(t, res.WriteMarkdown(&md))
	require.NoError(t, res.WriteJSON(&js))
	require.NoError(t, res.WriteBenchstat(&bs))
	for _, title := range []string{"Floor", "Durable Append", "Agent lifecycle", "Open and heap", "Bytes on disk", "Lookups", "Migration"} {
		require.Contains(t, table.String(), title)
		require.Contains(t, md.String(), "### "+title)
	}
	var back Results
	require.NoError(t, json.Unmarshal(js.Bytes(), &back))
	require.Equal(t, *res, back)
	for _, name := range []string{"Floor/kind=fsync", "Append/writers=4/impl=bbolt", "Lifecycle/writers=2/impl=jsonl",
		"Open/ops=100/impl=bbolt", "Latest/ops=100/impl=jsonl", "AlreadyApplied/ops=100/impl=bbolt",
		"InFlight/ops=100/impl=jsonl", "Migrate/ops=100/impl=bbolt", "Migrate/ops=100/impl=jsonl"} {
		require.Contains(t, bs.String(), "Benchmark"+name+" \t")
	}
	for _, line := range strings.Split(strings.TrimSpace(bs.String()), "\n") {
		if strings.HasPrefix(line, "Benchmark") {
			require.Regexp(t, benchLine, line)
		}
	}
	paths, err := res.WritePlots(t.TempDir())
	require.NoError(t, err)
	require.Len(t, paths, 4)

	// Progress told each step, and the run left nothing behind.
	for _, step := range []string{"durable pass:", "floor fsync", "append writers=4 ", "lifecycle writers=2 ", "ops=100: generated", "ops=100: migrate rep 2/2", "done in"} {
		require.Contains(t, progress.String(), step)
	}
	entries, err := os.ReadDir(cfg.Dir)
	require.NoError(t, err)
	require.Empty(t, entries, "the run's directory is removed")
}

func TestRunKeepFiles(t *testing.T) {
	cfg := tinyConfig(t)
	cfg.KeepFiles = true
	cfg.Writers, cfg.LifecycleWriters, cfg.Reps, cfg.RunOps = []int{1}, []int{1}, 1, 4
	res, err := Run(context.Background(), cfg)
	require.NoError(t, err)
	require.Equal(t, cfg.Dir, filepath.Dir(res.Env.WorkDir))
	require.FileExists(t, filepath.Join(res.Env.WorkDir, "ops-100.jsonl"))
	require.FileExists(t, filepath.Join(res.Env.WorkDir, "ops-100-bbolt.journal"))
}

func TestRunCancelled(t *testing.T) {
	t.Run("before it starts", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		res, err := Run(ctx, tinyConfig(t))
		require.ErrorIs(t, err, context.Canceled)
		require.NotNil(t, res, "what was measured so far")
		require.Empty(t, res.Floors)
	})
	t.Run("during a measured run", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cfg := tinyConfig(t)
		cfg.RunOps = 0 // runs would last RunTime, 5s, unless cancelled
		var progress lineWatcher
		progress.on = func(line string) {
			if strings.Contains(line, "durable pass:") {
				cancel()
			}
		}
		cfg.Progress = &progress
		start := time.Now()
		res, err := Run(ctx, cfg)
		require.ErrorIs(t, err, context.Canceled)
		require.Less(t, time.Since(start), 4*time.Second, "the run stopped before its 5s measured run ended")
		require.Empty(t, res.Appends)
		entries, err := os.ReadDir(cfg.Dir)
		require.NoError(t, err)
		require.Empty(t, entries, "the run's directory is removed")
	})
}

// lineWatcher calls on for each progress line.
type lineWatcher struct{ on func(string) }

func (l *lineWatcher) Write(p []byte) (int, error) {
	l.on(string(p))
	return len(p), nil
}

func TestRunRejectsBadConfig(t *testing.T) {
	for _, tc := range []struct {
		name   string
		modify func(*Config)
		want   string
	}{
		{"missing dir", func(c *Config) { c.Dir = filepath.Join(c.Dir, "absent") }, "no such file"},
		{"zero writers", func(c *Config) { c.Writers = []int{0} }, "writers must be positive"},
		{"negative size", func(c *Config) { c.Sizes = []int{-1} }, "sizes must be positive"},
		{"unnamed impl", func(c *Config) { c.Impls = []Impl{{Open: BBolt().Open}} }, "impl name"},
		{"impl twice", func(c *Config) { c.Impls = []Impl{BBolt(), BBolt()} }, "given twice"},
		{"impl without Open", func(c *Config) { c.Impls = []Impl{{Name: "x"}} }, "has no Open"},
		{"negative RunOps", func(c *Config) { c.RunOps = -1 }, "RunOps"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tinyConfig(t)
			tc.modify(&cfg)
			res, err := Run(context.Background(), cfg)
			require.ErrorContains(t, err, tc.want)
			require.Nil(t, res)
		})
	}
}

func TestConfigDefaults(t *testing.T) {
	dir := t.TempDir()
	full, err := Config{Dir: dir}.withDefaults()
	require.NoError(t, err)
	require.Equal(t, 6, full.Reps)
	require.Equal(t, DefaultSizes, full.Sizes)
	require.Equal(t, time.Second, full.RunTime)
	require.Equal(t, []string{ImplBBolt, ImplJSONL}, []string{full.Impls[0].Name, full.Impls[1].Name})
	require.Equal(t, ImplJSONL, full.Baseline)

	quick, err := Config{Dir: dir, Quick: true, Writers: []int{16, 1, 16}}.withDefaults()
	require.NoError(t, err)
	require.Equal(t, 3, quick.Reps)
	require.Equal(t, DefaultQuickSizes, quick.Sizes)
	require.Equal(t, []int{1, 16}, quick.Writers, "sorted, without repeats")
	require.Equal(t, 300*time.Millisecond, quick.RunTime)
}

// idRecorder is a journal that notes the op id of every Append and Latest.
type idRecorder struct {
	Journal
	mu  *sync.Mutex
	ids map[string]bool
}

func (j idRecorder) Append(e store.JournalEntry) error {
	j.mu.Lock()
	j.ids[e.OpID] = true
	j.mu.Unlock()
	return j.Journal.Append(e)
}

func (j idRecorder) Latest(op string) (store.JournalEntry, bool) {
	j.mu.Lock()
	j.ids[op] = true
	j.mu.Unlock()
	return j.Journal.Latest(op)
}

func TestRunScatteredOpIDs(t *testing.T) {
	uuid := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	for _, scattered := range []bool{false, true} {
		var mu sync.Mutex
		ids := map[string]bool{}
		cfg := tinyConfig(t)
		cfg.Migrate = nil
		cfg.ScatteredOpIDs = scattered
		rec := JSONL()
		rec.Name = "recorder"
		open := rec.Open
		rec.Open = func(path string) (Journal, error) {
			j, err := open(path)
			return idRecorder{Journal: j, mu: &mu, ids: ids}, err
		}
		cfg.Impls = []Impl{rec}
		cfg.Baseline = rec.Name
		res, err := Run(context.Background(), cfg)
		require.NoError(t, err)
		require.Equal(t, scattered, res.Env.ScatteredOpIDs)
		require.NotEmpty(t, ids)
		for id := range ids {
			require.Equal(t, scattered, uuid.MatchString(id), "op id %q with ScatteredOpIDs %v", id, scattered)
		}
	}
}
