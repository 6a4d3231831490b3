package command

import (
	"fmt"
	"io"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/felhom/opjournal/store"
)

type getFlags struct {
	history bool
	vmid    int
	upid    string
	json    bool
	src     sourceFlags
}

func newGetCommand() *cobra.Command {
	var f getFlags
	cmd := &cobra.Command{
		Use:   "get DB (OPID | --vmid VMID | --upid UPID)",
		Short: "Show an op's latest record or history, or the ops of a guest or task",
		Long: `Get prints the latest record of the op OPID in the store DB: the record
appended last, which decides whether the op is in flight. With --history it
prints every record of the op in append order.

With --vmid instead of OPID it lists every op that touched the guest VMID,
the latest record of each, in the order they first touched it. With --upid
it prints the op that carried the Proxmox task UPID (after a crash: which op
was awaiting this task). Both are index lookups, not scans.

Times are RFC 3339 in UTC; an empty field is shown as "-". An unknown op or
task is an error (exit 1); a guest with no ops is an empty list.`,
		Example: `  opjournal get ops.db op-00000042-1a2b3c4d
  opjournal get --history --json ops.db op-00000042-1a2b3c4d
  opjournal get ops.db --vmid 101
  opjournal get ops.db --upid 'UPID:pve-node1:0000A1B2:00C3D4E5:695B6F00:qmstart:101:root@pam:'`,
		Args: func(cmd *cobra.Command, args []string) error {
			byIndex := cmd.Flags().Changed("vmid") || cmd.Flags().Changed("upid")
			switch {
			case cmd.Flags().Changed("vmid") && cmd.Flags().Changed("upid"):
				return usagef("--vmid and --upid: give one of them")
			case byIndex && f.history:
				return usagef("--history goes with OPID, not with --vmid or --upid")
			case byIndex:
				return exactArgs("DB")(cmd, args)
			}
			return exactArgs("DB", "OPID")(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			switch {
			case cmd.Flags().Changed("vmid"):
				return runGetVMID(cmd, args[0], &f)
			case cmd.Flags().Changed("upid"):
				return runGetUPID(cmd, args[0], &f)
			}
			return runGet(cmd, args[0], args[1], &f)
		},
	}
	cmd.Flags().BoolVar(&f.history, "history", false, "print every record of the op, in append order")
	cmd.Flags().IntVar(&f.vmid, "vmid", 0, "list the ops that touched this guest, instead of one op")
	cmd.Flags().StringVar(&f.upid, "upid", "", "show the op that carried this Proxmox task id, instead of one op")
	cmd.Flags().BoolVar(&f.json, "json", false, "print JSON: the record, or with --history an array of records")
	addSourceFlags(cmd, &f.src)
	return cmd
}

func runGet(cmd *cobra.Command, db, opID string, f *getFlags) error {
	j, err := openSource(cmd, db, &f.src)
	if err != nil {
		return err
	}
	defer j.Close()
	var records []store.JournalEntry
	if f.history {
		records, err = j.History(cmd.Context(), opID)
	} else {
		var e store.JournalEntry
		var ok bool
		if e, ok, err = j.Get(cmd.Context(), opID); ok {
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

func runGetVMID(cmd *cobra.Command, db string, f *getFlags) error {
	j, err := openSource(cmd, db, &f.src)
	if err != nil {
		return err
	}
	defer j.Close()
	ops, err := j.ByVMID(cmd.Context(), f.vmid)
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	if f.json {
		return writeJSON(out, nonNil(ops))
	}
	if len(ops) == 0 {
		fmt.Fprintf(out, "no ops touched guest %d\n", f.vmid)
		return nil
	}
	return printHistory(out, ops)
}

func runGetUPID(cmd *cobra.Command, db string, f *getFlags) error {
	if f.upid == "" {
		return usagef("--upid: want a task id")
	}
	j, err := openSource(cmd, db, &f.src)
	if err != nil {
		return err
	}
	defer j.Close()
	e, ok, err := j.ByUPID(cmd.Context(), f.upid)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("no op carried task %s in %s", strconv.Quote(f.upid), db)
	}
	if f.json {
		return writeJSON(cmd.OutOrStdout(), e)
	}
	return printRecord(cmd.OutOrStdout(), &e)
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
