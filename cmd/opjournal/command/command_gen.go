package command

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/felhom/opjournal/bench"
)

type genFlags struct {
	ops                                int
	seed                               uint64
	keyShare, failShare, inFlightShare float64
	resumed, tornTail                  bool
}

func newGenCommand() *cobra.Command {
	var f genFlags
	cmd := &cobra.Command{
		Use:   "gen FILE",
		Short: "Generate a realistic legacy JSONL journal",
		Long: `Gen writes a legacy JSONL journal such as the agent writes: ops going through
started, task_running (with a Proxmox UPID), then succeeded or failed, several
at once so their records interleave, some with idempotency keys, some left in
flight. The same flags give the same bytes.

FILE "-" is stdout; a file is written atomically. A summary goes to stderr.`,
		Example: `  opjournal gen --ops 100000 journal.jsonl
  opjournal gen --resumed --torn-tail --seed 7 - | head`,
		Args: exactArgs("FILE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runGen(cmd, args[0], &f)
		},
	}
	fl := cmd.Flags()
	fl.IntVar(&f.ops, "ops", 1000, "ops to write")
	fl.Uint64Var(&f.seed, "seed", 1, "random seed: the same seed gives the same log (0 means 1)")
	fl.Float64Var(&f.keyShare, "key-share", 0.3, "share of ops with an idempotency key, 0 to 1")
	fl.Float64Var(&f.failShare, "fail-share", 0.1, "share of finished ops that fail, 0 to 1")
	fl.Float64Var(&f.inFlightShare, "inflight-share", 0.01, "share of ops left in flight, 0 to 1")
	fl.BoolVar(&f.resumed, "resumed", false, "write a crash halfway: a torn record, then the restarted agent's record on the same line")
	fl.BoolVar(&f.tornTail, "torn-tail", false, "end with a torn record without newline, as a crash mid-append leaves")
	return cmd
}

func runGen(cmd *cobra.Command, file string, f *genFlags) error {
	if f.ops <= 0 {
		return usagef("--ops %d: want at least 1", f.ops)
	}
	for _, s := range []struct {
		name string
		v    float64
	}{{"key-share", f.keyShare}, {"fail-share", f.failShare}, {"inflight-share", f.inFlightShare}} {
		if err := checkShare(s.name, s.v); err != nil {
			return err
		}
	}
	opts := bench.GenOptions{
		Ops: f.ops, Seed: f.seed, Resumed: f.resumed, TornTail: f.tornTail,
		KeyShare: genShare(f.keyShare), FailShare: genShare(f.failShare), InFlightShare: genShare(f.inFlightShare),
	}
	var rep bench.GenReport
	err := createOutput(file, cmd.OutOrStdout(), func(w io.Writer) error {
		var err error
		rep, err = bench.Generate(cmd.Context(), w, opts)
		return err
	})
	if err != nil {
		return err
	}
	to := "stdout"
	if file != "-" {
		to = file
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "wrote %s, %s on %s, %d in flight, %d bytes to %s\n",
		plural(rep.Ops, "op", "ops"), plural(rep.Records, "record", "records"),
		plural(rep.Lines, "line", "lines"), rep.InFlight, rep.Bytes, to)
	return nil
}

// genShare maps a share flag to GenOptions, where 0 means the default: a
// share of 0 becomes -1, which Generate's draws (rng.Float64() < share)
// never meet.
func genShare(v float64) float64 {
	if v == 0 {
		return -1
	}
	return v
}
