package command

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/felhom/opjournal/migrate"
	"github.com/felhom/opjournal/store"
)

type migrateFlags struct {
	replace      bool
	skipBadLines bool
	noVerify     bool
	allowEmpty   bool
	json         bool
}

func newMigrateCommand() *cobra.Command {
	var f migrateFlags
	cmd := &cobra.Command{
		Use:   "migrate SRC DST",
		Short: "Migrate a legacy JSONL journal into a new store",
		Long: `Migrate reads the legacy JSONL journal SRC (never modifying it) and writes a
new store at DST, then verifies DST against SRC record by record.

The store is built under a temporary name beside DST and moved into place only
when complete and verified: an error or Ctrl-C leaves no DST (or, with
--replace, the old one).

A line a crash left with a torn fragment followed by a complete record is
recovered (the record is kept); a torn final line is skipped. Both are listed
in the summary. Any other unreadable line fails the migration, naming the
line, unless --skip-bad-lines is given.

A log that yields no record (empty, or every line skipped) is most likely the
wrong file: migrate writes nothing and exits 1, unless --allow-empty is given.`,
		Example: `  opjournal migrate /var/lib/felhom/journal.jsonl /var/lib/felhom/ops.db
  opjournal migrate --replace --json journal.jsonl ops.db`,
		Args: exactArgs("SRC", "DST"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runMigrate(cmd, args[0], args[1], &f)
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&f.replace, "replace", false, "replace DST if it exists (refused while an agent has it open)")
	fl.BoolVar(&f.skipBadLines, "skip-bad-lines", false, "skip and report unreadable lines instead of failing, as the legacy replay did")
	fl.BoolVar(&f.noVerify, "no-verify", false, "skip verifying the new store against SRC")
	fl.BoolVar(&f.allowEmpty, "allow-empty", false, "create an empty store from a log that yields no record")
	fl.BoolVar(&f.json, "json", false, "print the report as JSON")
	return cmd
}

func runMigrate(cmd *cobra.Command, src, dst string, f *migrateFlags) error {
	if err := requireExists(src, "log"); err != nil {
		return err
	}
	if err := requireParentDir(dst); err != nil {
		return err
	}
	if f.replace {
		// Migrate checks only at the end, after all the work, that no
		// agent holds DST: check first too, to fail fast.
		if err := checkNotInUse(dst); err != nil {
			return err
		}
	}
	var bar *progress
	opts := &migrate.Options{Replace: f.replace, SkipBadLines: f.skipBadLines, NoVerify: f.noVerify, RefuseEmpty: !f.allowEmpty}
	opts.Progress = func(done, total int64) {
		if bar == nil {
			bar = newProgress(cmd.ErrOrStderr(), total, true, "migrating")
		}
		bar.set(done)
		if done == total && !f.noVerify {
			bar.then("verifying") // Verify reports no progress
		}
	}
	rep, err := migrate.Migrate(cmd.Context(), src, dst, opts)
	bar.done()
	var lineErr *migrate.LineError
	switch {
	case errors.Is(err, migrate.ErrExists):
		return explain(err, "%s exists; pass --replace to replace it", dst)
	case errors.Is(err, migrate.ErrInUse):
		return inUse(err, dst, "stop it before replacing the store")
	case errors.Is(err, migrate.ErrEmpty):
		return explain(err, "%s yields no record (empty, or every line skipped); nothing written: pass --allow-empty to create an empty store", src)
	case errors.As(err, &lineErr):
		return explain(err, "%v (pass --skip-bad-lines to skip such lines)", err)
	case err != nil:
		return err
	}
	out := cmd.OutOrStdout()
	if f.json {
		rep.Recovered, rep.Skipped = nonNil(rep.Recovered), nonNil(rep.Skipped)
		return writeJSON(out, rep)
	}
	return printMigrateReport(out, rep)
}

// checkNotInUse fails if dst exists and a process holds it open.
func checkNotInUse(dst string) error {
	if _, err := os.Lstat(dst); err != nil {
		return nil // missing: nothing holds it; other problems are Migrate's to report
	}
	j, err := store.Open(dst, &store.Options{ReadOnly: true, LockTimeout: 100 * time.Millisecond})
	if errors.Is(err, store.ErrLocked) {
		return inUse(err, dst, "stop it before replacing the store")
	}
	if err == nil {
		return j.Close()
	}
	return nil // not a journal: Migrate replaces it
}

func printMigrateReport(w io.Writer, rep *migrate.Report) error {
	verified := "no (--no-verify)"
	if rep.Verified {
		verified = "yes"
	}
	t := newTable(w)
	for _, r := range [][2]string{
		{"source", cell(rep.Source)},
		{"dest", cell(rep.Dest)},
		{"lines", strconv.Itoa(rep.Lines)},
		{"records", strconv.Itoa(rep.Records)},
		{"ops", strconv.Itoa(rep.Ops)},
		{"in flight", strconv.Itoa(rep.InFlight)},
		{"applied keys", strconv.Itoa(rep.AppliedKeys)},
		{"recovered", plural(len(rep.Recovered), "line", "lines")},
		{"skipped", plural(len(rep.Skipped), "line", "lines")},
		{"bytes", strconv.FormatInt(rep.Bytes, 10)},
		{"duration", rep.Duration.Round(time.Millisecond).String()},
		{"verified", verified},
	} {
		t.row(r[0], r[1])
	}
	if err := t.flush(); err != nil {
		return err
	}
	printLineNotes(w, rep.Recovered, rep.Skipped)
	return nil
}

// printLineNotes lists the lines of a log that were recovered or skipped.
func printLineNotes(w io.Writer, recovered, skipped []migrate.LineNote) {
	for _, notes := range []struct {
		what  string
		lines []migrate.LineNote
	}{{"recovered", recovered}, {"skipped", skipped}} {
		if len(notes.lines) > 0 {
			fmt.Fprintf(w, "%s lines:\n", notes.what)
		}
		for _, n := range notes.lines {
			fmt.Fprintf(w, "  line %d (byte %d): %s\n", n.Line, n.Offset, n.Reason)
		}
	}
}
