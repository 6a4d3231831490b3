package command

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/felhom/opjournal/migrate"
)

type exportFlags struct {
	output string
	src    sourceFlags
}

func newExportCommand() *cobra.Command {
	var f exportFlags
	cmd := &cobra.Command{
		Use:   "export DB [-o FILE]",
		Short: "Write a store's records as a legacy JSONL journal",
		Long: `Export writes every record of the store DB as legacy JSONL (one JSON object
per line, the legacy journal's own format) in commit order (for a migrated
store, the order of the legacy log's lines), as the store held them when the
export began. JSONL is its only format, so it takes no
--json: for one op as a JSON object use opjournal get --json. The legacy journal
replaying the output reaches the same state as the store: it is the way back
to an older agent.

Output goes to stdout, or with -o to FILE, written atomically (a temporary
file beside it, fsync'd, then renamed): FILE is either left as it was or
replaced by the complete export. DB is opened read-only, or read through its
live endpoint when an agent holds it.`,
		Example: `  opjournal export ops.db > journal.jsonl
  opjournal export ops.db -o /var/lib/felhom/journal.jsonl`,
		Args: exactArgs("DB"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runExport(cmd, args[0], &f)
		},
	}
	cmd.Flags().StringVarP(&f.output, "output", "o", "-", `write to FILE instead of stdout ("-")`)
	addSourceFlags(cmd, &f.src)
	return cmd
}

func runExport(cmd *cobra.Command, db string, f *exportFlags) error {
	if f.output == "" {
		return usagef("--output is empty")
	}
	if f.output != "-" && sameFile(db, f.output) {
		return usagef("--output %s is the store itself", f.output)
	}
	j, err := openLongSource(cmd, db, &f.src)
	if err != nil {
		return err
	}
	defer j.Close()

	stderr := cmd.ErrOrStderr()
	var bar *progress
	if isTerminal(stderr) {
		// Export reports records written but not the total: count them.
		if s, err := j.Stats(cmd.Context()); err == nil {
			bar = newProgress(stderr, int64(s.Records), false, "exporting")
		}
	}
	var rep migrate.ExportReport
	err = createOutput(f.output, cmd.OutOrStdout(), func(w io.Writer) error {
		var err error
		rep.Records, rep.Bytes, err = j.Export(cmd.Context(), w, func(n int) { bar.set(int64(n)) })
		return err
	})
	bar.done()
	if err != nil {
		return err
	}
	to := "stdout"
	if f.output != "-" {
		to = f.output
	}
	fmt.Fprintf(stderr, "exported %s (%d bytes) to %s\n", plural(rep.Records, "record", "records"), rep.Bytes, to)
	return nil
}

// sameFile reports whether a and b name the same existing file.
func sameFile(a, b string) bool {
	fa, err := os.Stat(a)
	if err != nil {
		return false
	}
	fb, err := os.Stat(b)
	return err == nil && os.SameFile(fa, fb)
}
