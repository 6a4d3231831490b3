package command

import (
	"errors"
	"fmt"
	"io"
	"io/fs"

	"github.com/spf13/cobra"

	"github.com/felhom/opjournal/store"
)

func newBackupCommand() *cobra.Command {
	var (
		asJSON bool
		src    sourceFlags
	)
	cmd := &cobra.Command{
		Use:   "backup DB FILE",
		Short: "Copy a store consistently into a new file",
		Long: `Backup writes a consistent copy of the store DB to FILE, a new file: written
under a temporary name beside FILE, synced, opened and checked, then linked
into place and the directory synced. A crash leaves no FILE or a complete,
checked one. An existing FILE is never replaced (exit 1). With FILE "-" the
copy goes to stdout, unchecked.

When an agent holds DB open, the copy comes from the agent through its live
endpoint (DB.sock): one read transaction while appends go on, so FILE is the
journal as of one moment, checked like any other. Otherwise DB is opened
read-only. Restore by putting the copy in DB's place while the agent is
stopped.`,
		Example: `  opjournal backup ops.db /backup/ops-2026-11-28.db
  opjournal backup ops.db - | gzip > ops.db.gz`,
		Args: exactArgs("DB", "FILE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			db, dst := args[0], args[1]
			if dst != "-" {
				if err := requireParentDir(dst); err != nil {
					return err
				}
			}
			j, err := openLongSource(cmd, db, &src)
			if err != nil {
				return err
			}
			defer j.Close()
			var n int64
			if dst == "-" {
				n, err = j.Backup(cmd.Context(), cmd.OutOrStdout())
			} else {
				n, err = store.WriteBackupFile(dst, func(w io.Writer) (int64, error) { return j.Backup(cmd.Context(), w) })
			}
			if errors.Is(err, fs.ErrExist) {
				return explain(err, "%s exists; backup never replaces a file: choose another name or remove it", dst)
			}
			if err != nil {
				return err
			}
			if dst == "-" {
				fmt.Fprintf(cmd.ErrOrStderr(), "wrote %d bytes (%s)\n", n, humanBytes(n))
				return nil
			}
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), struct {
					File  string `json:"file"`
					Bytes int64  `json:"bytes"`
				}{dst, n})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: %d bytes (%s), checked\n", dst, n, humanBytes(n))
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the file and its size as JSON")
	addSourceFlags(cmd, &src)
	return cmd
}
