package command

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/felhom/opjournal/migrate"
	"github.com/felhom/opjournal/store"
)

func newVerifyCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "verify SRC DST",
		Short: "Check that a store holds exactly the records of a legacy journal",
		Long: `Verify replays the legacy JSONL journal SRC with migrate's reading rules
(recovering what migrate recovers, skipping what it may skip) and checks that
the store DST holds the same records in the same order, field for field, and
nothing else; then it checks the store's indexes (latest record, in flight,
applied keys) against its records.

It prints "ok: N records match", or the first differences and exits 1, then
the lines of SRC it recovered (a record after a torn fragment) or could not
read (skipped, as migrate --skip-bad-lines skips them).`,
		Example: `  opjournal verify journal.jsonl ops.db`,
		Args:    exactArgs("SRC", "DST"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runVerify(cmd, args[0], args[1], asJSON)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	return cmd
}

func runVerify(cmd *cobra.Command, src, dst string, asJSON bool) error {
	if err := requireExists(src, "log"); err != nil {
		return err
	}
	if err := requireExists(dst, "store"); err != nil {
		return err
	}
	// migrate.Verify reports no progress: there is no bar to draw.
	rep, err := migrate.Verify(cmd.Context(), src, dst)
	switch {
	case errors.Is(err, store.ErrLocked):
		return inUse(err, dst, "it serves no live endpoint (store.Options.NoEndpoint), so only stopping it frees the file")
	case errors.Is(err, store.ErrNotJournal):
		return notAStore(err, dst)
	case err != nil && !errors.Is(err, migrate.ErrMismatch):
		return err
	}
	out := cmd.OutOrStdout()
	if asJSON {
		rep.Differences = nonNil(rep.Differences)
		rep.Recovered, rep.Skipped = nonNil(rep.Recovered), nonNil(rep.Skipped)
		if werr := writeJSON(out, rep); werr != nil {
			return werr
		}
	} else if err == nil {
		fmt.Fprintf(out, "ok: %s\n", plural(rep.Records, "record matches", "records match"))
	} else {
		for _, d := range rep.Differences {
			fmt.Fprintln(out, d)
		}
	}
	if !asJSON {
		printLineNotes(out, rep.Recovered, rep.Skipped)
	}
	if err != nil {
		return mismatch(err, src, dst, len(rep.Differences))
	}
	return nil
}

// mismatch explains migrate.ErrMismatch once the differences are printed.
func mismatch(err error, src, dst string, n int) error {
	shown := plural(n, "difference", "differences")
	if n >= migrate.MaxDifferences {
		shown = "the first " + shown
	}
	return explain(err, "%s differs from %s (%s listed)", dst, src, shown)
}
