package command

import (
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/felhom/opjournal/store"
)

type getFlags struct {
	history     bool
	json        bool
	lockTimeout time.Duration
}

func newGetCommand() *cobra.Command {
	var f getFlags
	cmd := &cobra.Command{
		Use:   "get DB OPID",
		Short: "Show an op's latest record, or its whole history",
		Long: `Get prints the latest record of the op OPID in the store DB: the record
appended last, which decides whether the op is in flight. With --history it
prints every record of the op in append order.

Times are RFC 3339 in UTC; an empty field is shown as "-". An unknown op is an
error (exit 1).`,
		Example: `  opjournal get ops.db op-00000042-1a2b3c4d
  opjournal get --history --json ops.db op-00000042-1a2b3c4d`,
		Args: exactArgs("DB", "OPID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runGet(cmd, args[0], args[1], &f)
		},
	}
	cmd.Flags().BoolVar(&f.history, "history", false, "print every record of the op, in append order")
	cmd.Flags().BoolVar(&f.json, "json", false, "print JSON: the record, or with --history an array of records")
	addLockTimeoutFlag(cmd, &f.lockTimeout)
	return cmd
}

func runGet(cmd *cobra.Command, db, opID string, f *getFlags) error {
	j, err := openReadOnly(db, f.lockTimeout)
	if err != nil {
		return err
	}
	defer j.Close()
	var records []store.JournalEntry
	if f.history {
		records, err = j.History(opID)
	} else {
		var e store.JournalEntry
		var ok bool
		if e, ok, err = j.Get(opID); ok {
			records = []store.JournalEntry{e}
		}
	}
	if err != nil {
		return err
	}
	if len(records) == 0 {
		return fmt.Errorf("op %s not found in %s", strconv.Quote(opID), db)
	}
	out := cmd.OutOrStdout()
	switch {
	case f.json && f.history:
		return writeJSON(out, records)
	case f.json:
		return writeJSON(out, records[0])
	case f.history:
		return printHistory(out, records)
	}
	return printRecord(out, &records[0])
}

// printRecord prints one record as field/value rows.
func printRecord(w io.Writer, e *store.JournalEntry) error {
	t := newTable(w)
	row := entryRow(e)
	for i, name := range []string{"op id", "vmid", "kind", "state", "upid", "key", "at"} {
		t.row(name, row[i])
	}
	t.row("params", formatParams(e.Params))
	return t.flush()
}

// printHistory prints records as a table, one per row.
func printHistory(w io.Writer, records []store.JournalEntry) error {
	t := newTable(w)
	t.row(append(entryHeader, "PARAMS")...)
	for i := range records {
		t.row(append(entryRow(&records[i]), formatParams(records[i].Params))...)
	}
	return t.flush()
}
