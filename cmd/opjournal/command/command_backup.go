package command

import (
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/spf13/cobra"
)

func newBackupCommand() *cobra.Command {
	var (
		asJSON      bool
		lockTimeout time.Duration
	)
	cmd := &cobra.Command{
		Use:   "backup DB FILE",
		Short: "Copy a store consistently into a new file",
		Long: `Backup writes a consistent copy of the store DB to FILE, a new file: written
under a temporary name beside FILE, synced, opened and checked, then linked
into place and the directory synced. A crash leaves no FILE or a complete,
checked one. An existing FILE is never replaced (exit 1). With FILE "-" the
copy goes to stdout, unchecked.

This command opens DB read-only, which a running agent's lock forbids. To back
up a journal an agent has open, the agent calls (*store.Journal).Backup or
BackupFile itself: the copy is taken in a read transaction while appends go
on. Restore by putting the copy in DB's place while the agent is stopped.`,
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
			j, err := openReadOnly(db, lockTimeout)
			if err != nil {
				return err
			}
			defer j.Close()
			var n int64
			if dst == "-" {
				n, err = j.Backup(cmd.Context(), cmd.OutOrStdout())
			} else {
				n, err = j.BackupFile(cmd.Context(), dst)
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
	addLockTimeoutFlag(cmd, &lockTimeout)
	return cmd
}
