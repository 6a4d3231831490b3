package command

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/felhom/opjournal/store"
)

func newCheckCommand() *cobra.Command {
	var (
		asJSON bool
		src    sourceFlags
	)
	cmd := &cobra.Command{
		Use:   "check DB",
		Short: "Check a store for damage",
		Long: `Check reads the whole store DB: every record's checksum and format, that each
op's latest record is the last of its history, that the in-flight, key and
applied indexes are exactly what the records imply, then bbolt's own page
consistency. When an agent holds DB open, its live endpoint checks a
consistent snapshot of it (a copy beside DB, removed after), so the check
never holds the agent's appends off.

It prints "ok" with the counts, or the problems found (at most 100) and exits 1.`,
		Example: `  opjournal check ops.db`,
		Args:    exactArgs("DB"),
		RunE: func(cmd *cobra.Command, args []string) error {
			j, err := openLongSource(cmd, args[0], &src)
			if err != nil {
				return err
			}
			defer j.Close()
			rep, err := j.Check(cmd.Context())
			if err != nil && (len(rep.Problems) == 0 || !errors.Is(err, store.ErrCorrupt)) {
				return err
			}
			out := cmd.OutOrStdout()
			switch {
			case asJSON:
				rep.Problems = nonNil(rep.Problems)
				if err := writeJSON(out, rep); err != nil {
					return err
				}
			case len(rep.Problems) == 0:
				fmt.Fprintf(out, "ok: %s, %s, %d in flight, %s\n", plural(rep.Ops, "op", "ops"),
					plural(rep.Records, "record", "records"), rep.InFlight, plural(rep.AppliedKeys, "applied key", "applied keys"))
			default:
				for _, p := range rep.Problems {
					fmt.Fprintln(out, p)
				}
			}
			if n := len(rep.Problems); n > 0 {
				shown := plural(n, "problem", "problems")
				if n >= store.MaxCheckProblems {
					shown = "the first " + shown
				}
				return explain(err, "%s is damaged (%s listed)", args[0], shown)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	addSourceFlags(cmd, &src)
	return cmd
}
