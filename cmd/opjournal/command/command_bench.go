package command

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/felhom/opjournal/bench"
	"github.com/felhom/opjournal/migrate"
)

type benchFlags struct {
	quick   bool
	sizes   []int
	writers []int
	reps    int
	dir     string
	format  string
	plot    string
}

func newBenchCommand() *cobra.Command {
	var f benchFlags
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Compare the legacy JSONL journal and the store side by side on this disk",
		Long: `Bench runs the same workloads against the legacy-semantics JSONL journal and
the store, on the same disk, in one run, alternating them so that machine
noise hits both:

  - the disk's floor: a bare write+fsync, and a bare one-record bbolt update;
  - durable Append at each --writers count: appends/s and p50/p99/p99.9;
  - the agent's lifecycle: AlreadyApplied, started, task_running,
    succeeded with a key, Latest;
  - open time and heap after open at each --sizes (the legacy's open is its
    replay), Latest/AlreadyApplied/InFlight latency, bytes on disk per op,
    and migration time next to the legacy replay.

Every figure is also a ratio to the JSONL journal (and, for appends, to the
fsync floor). Run it on the disk the journal lives on (--dir): on tmpfs,
where fsync is free, the numbers mean nothing, and bench says so.

The report goes to stdout in --format; progress to stderr.`,
		Example: `  opjournal bench --quick
  opjournal bench --dir /var/lib/felhom --writers 1,16,64 --sizes 1000,100000 --plot charts
  opjournal bench --format benchstat > new.txt && benchstat -col /impl new.txt`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, args []string) error { return runBench(cmd, &f) },
	}
	fl := cmd.Flags()
	fl.BoolVar(&f.quick, "quick", false, "a short run (about a minute): sizes up to 10^5, shorter measurements")
	fl.IntSliceVar(&f.sizes, "sizes", nil, "journal sizes in ops (default 1000,10000,100000,1000000; up to 100000 with --quick)")
	fl.IntSliceVar(&f.writers, "writers", nil, "concurrent appenders (default 1,4,16,64,256)")
	fl.IntVar(&f.reps, "reps", 0, "repetitions of each measurement (default 6, 3 with --quick)")
	fl.StringVar(&f.dir, "dir", ".", "directory on the disk to measure; the run's files go in a temporary directory inside it")
	fl.StringVar(&f.format, "format", "table", "report format: table, markdown, json or benchstat")
	fl.StringVar(&f.plot, "plot", "", "also write charts (SVG and PNG) into this directory")
	return cmd
}

func runBench(cmd *cobra.Command, f *benchFlags) error {
	write := map[string]func(*bench.Results) func(w io.Writer) error{
		"table": func(r *bench.Results) func(w io.Writer) error {
			return func(w io.Writer) error { return r.WriteTable(w) }
		},
		"markdown": func(r *bench.Results) func(w io.Writer) error {
			return func(w io.Writer) error { return r.WriteMarkdown(w) }
		},
		"json": func(r *bench.Results) func(w io.Writer) error {
			return func(w io.Writer) error { return r.WriteJSON(w) }
		},
		"benchstat": func(r *bench.Results) func(w io.Writer) error {
			return func(w io.Writer) error { return r.WriteBenchstat(w) }
		},
	}[f.format]
	if write == nil {
		return usagef("--format %q: want table, markdown, json or benchstat", f.format)
	}
	for _, n := range append(append([]int(nil), f.sizes...), f.writers...) {
		if n <= 0 {
			return usagef("--sizes and --writers take positive counts, got %d", n)
		}
	}
	if fi, err := os.Stat(f.dir); err != nil || !fi.IsDir() {
		return usagef("--dir %s: not an existing directory", f.dir)
	}
	stderr := cmd.ErrOrStderr()
	if free, fs := bench.FsyncFree(f.dir); free {
		fmt.Fprintf(stderr, "opjournal: warning: %s is on %s, where fsync costs nothing: these numbers say nothing about a disk\n", f.dir, fs)
	}
	res, err := bench.Run(cmd.Context(), bench.Config{
		Dir: f.dir, Quick: f.quick, Sizes: f.sizes, Writers: f.writers, Reps: f.reps,
		Progress: stderr,
		Migrate: func(ctx context.Context, log, dst string) error {
			_, err := migrate.Migrate(ctx, log, dst, nil)
			return err
		},
	})
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	if err := write(res)(cmd.OutOrStdout()); err != nil {
		return err
	}
	if f.plot != "" {
		if err := os.MkdirAll(f.plot, 0o755); err != nil {
			return err
		}
		paths, err := res.WritePlots(f.plot)
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "charts: %s\n", strings.Join(paths, ", "))
	}
	return nil
}
