// Command bench-peers measures opjournal's store against the journals a
// user would pick instead, with the same semantics and workload: the legacy
// JSONL journal, SQLite (each append its own transaction, and batched) and
// Pebble. It prints a table of medians over interleaved rounds (or, with
// -json, the whole report) and can draw a chart of the appends.
//
//	go run ./cmd/bench-peers -rounds 5 -chart bench-peers.png
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"time"

	"github.com/felhom/opjournal/bench/peers"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench-peers:", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		cfg     peers.Config
		writers string
		chart   string
		asJSON  bool
		quiet   bool
	)
	flag.StringVar(&cfg.Dir, "dir", os.TempDir(), "directory for the journals: put it on the disk under test")
	flag.IntVar(&cfg.Rounds, "rounds", 5, "interleaved rounds of every measurement")
	flag.StringVar(&writers, "writers", "1,16,64", "concurrent appenders, comma-separated")
	flag.IntVar(&cfg.Ops, "ops", 100_000, "ops in the journals of the open, lookup and size figures")
	flag.DurationVar(&cfg.RunTime, "runtime", time.Second, "length of each measured append run")
	flag.DurationVar(&cfg.LookupTime, "lookuptime", 300*time.Millisecond, "length of each measured lookup run")
	flag.StringVar(&chart, "chart", "", "write a chart of the appends to this path (.png, .svg or .pdf)")
	flag.BoolVar(&asJSON, "json", false, "print the whole report as JSON instead of the table")
	flag.BoolVar(&quiet, "q", false, "no progress lines on stderr")
	flag.Parse()
	if flag.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", flag.Args())
	}
	for _, s := range strings.Split(writers, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n <= 0 {
			return fmt.Errorf("-writers %q: want positive counts separated by commas", writers)
		}
		cfg.Writers = append(cfg.Writers, n)
	}
	if cfg.Rounds <= 0 || cfg.Ops <= 0 {
		return fmt.Errorf("-rounds and -ops must be positive")
	}
	if fi, err := os.Stat(cfg.Dir); err != nil || !fi.IsDir() {
		return fmt.Errorf("-dir %s: not an existing directory", cfg.Dir)
	}
	if !quiet {
		cfg.Progress = os.Stderr
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	rep, err := peers.Compare(ctx, cfg)
	if err != nil {
		return err
	}
	if asJSON {
		err = rep.WriteJSON(os.Stdout)
	} else {
		err = rep.WriteTable(os.Stdout)
	}
	if err != nil {
		return err
	}
	if chart != "" {
		if err := rep.WriteChart(chart); err != nil {
			return err
		}
		fmt.Fprintln(os.Stderr, "chart:", chart)
	}
	return nil
}
