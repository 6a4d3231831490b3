package command

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/felhom/opjournal/store"
)

func newCompactCommand() *cobra.Command {
	var (
		asJSON      bool
		lockTimeout time.Duration
	)
	cmd := &cobra.Command{
		Use:   "compact DB",
		Short: "Rewrite a store with only its live pages, shrinking the file",
		Long: `Compact rewrites the store DB into a new file holding only live pages, packed
full, and swaps it in: the file shrinks by the space pruning and rewritten
pages freed, which bbolt never returns to the file system by itself.

The store must be closed (stop the agent). The new file is written beside
DB, synced, compared key by key with the old one and checked, then renamed
over DB and the directory synced: a crash leaves the old file or the new one,
never neither. A damaged store is left alone (exit 1; see opjournal check).
A store of an older schema is upgraded on the way.`,
		Example: `  opjournal compact ops.db
  opjournal compact --json ops.db`,
		Args: exactArgs("DB"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if lockTimeout <= 0 {
				return usagef("--lock-timeout %s: want a positive duration", lockTimeout)
			}
			db := args[0]
			if err := requireExists(db, "store"); err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "compacting %s\n", db)
			rep, err := store.Compact(cmd.Context(), db, &store.CompactOptions{LockTimeout: lockTimeout})
			if errors.Is(err, store.ErrLocked) {
				return inUse(err, db, "stop it first: compaction needs the store closed")
			}
			if errors.Is(err, store.ErrNotJournal) {
				return notAStore(err, db)
			}
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				return writeJSON(out, rep)
			}
			saved := 0.0
			if rep.SizeBefore > 0 {
				saved = 100 * float64(rep.SizeBefore-rep.SizeAfter) / float64(rep.SizeBefore)
			}
			t := newTable(out)
			t.row("size before", fmt.Sprintf("%d bytes (%s)", rep.SizeBefore, humanBytes(rep.SizeBefore)))
			t.row("size after", fmt.Sprintf("%d bytes (%s)", rep.SizeAfter, humanBytes(rep.SizeAfter)))
			t.row("saved", fmt.Sprintf("%.1f%%", saved))
			t.row("ops", fmt.Sprint(rep.Ops))
			t.row("records", fmt.Sprint(rep.Records))
			return t.flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the sizes and counts as JSON")
	addLockTimeoutFlag(cmd, &lockTimeout)
	return cmd
}

// humanBytes is n in B, KiB, MiB or GiB.
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v, i := float64(n), -1
	for v >= unit && i < 2 {
		v /= unit
		i++
	}
	return fmt.Sprintf("%.1f %ciB", v, "KMG"[i])
}
