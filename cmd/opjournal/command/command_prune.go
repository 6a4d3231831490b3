package command

import (
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/felhom/opjournal/store"
)

type pruneFlags struct {
	before, olderThan         string
	dropBefore, dropOlderThan string
	batch                     int
	json                      bool
	lockTimeout               time.Duration
	now                       func() time.Time
}

func newPruneCommand() *cobra.Command {
	f := pruneFlags{now: time.Now}
	cmd := &cobra.Command{
		Use:   "prune DB (--before TIME | --older-than AGE)",
		Short: "Remove old finished ops from a store",
		Long: `Prune removes from the store DB every op whose latest state is succeeded or
failed and whose latest record's time is before the cutoff, with its history
and index entries. Ops in flight are never removed. It works in transactions
of --batch ops, so an agent could keep appending; but this command opens the
store read-write, so stop the agent first (an agent prunes itself with
store.Options.Retention).

Applied idempotency keys are kept, even for removed ops: the agent must never
run a one-shot op twice. --drop-applied-before / --drop-applied-older-than
also forget applied keys whose first success is older and that no remaining
record succeeded with (their ops are gone). That gives up the at-most-once
guarantee for them: AlreadyApplied answers false from then on, and an agent
that retries such an op runs it again.

The file does not shrink: its freed pages are reused by new records.
opjournal compact returns them to the file system.

TIME is RFC 3339 (2025-06-01T00:00:00Z). AGE is a Go duration (36h) or a
number of days (90d) or years of 365 days (1y).`,
		Example: `  opjournal prune ops.db --older-than 90d
  opjournal prune ops.db --before 2025-01-01T00:00:00Z --json
  opjournal prune ops.db --older-than 90d --drop-applied-older-than 5y`,
		Args: exactArgs("DB"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runPrune(cmd, args[0], &f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.before, "before", "", "remove finished ops whose latest record is before TIME (RFC 3339)")
	fl.StringVar(&f.olderThan, "older-than", "", "remove finished ops whose latest record is older than AGE (90d, 1y, 36h)")
	fl.StringVar(&f.dropBefore, "drop-applied-before", "", "also forget applied keys of removed ops that first succeeded before TIME")
	fl.StringVar(&f.dropOlderThan, "drop-applied-older-than", "", "also forget applied keys of removed ops that first succeeded more than AGE ago")
	fl.IntVar(&f.batch, "batch", store.DefaultPruneBatch, "ops removed per transaction")
	fl.BoolVar(&f.json, "json", false, "print the report as JSON")
	addLockTimeoutFlag(cmd, &f.lockTimeout)
	return cmd
}

func runPrune(cmd *cobra.Command, db string, f *pruneFlags) error {
	now := f.now()
	before, err := cutoff(now, "before", f.before, "older-than", f.olderThan, true)
	if err != nil {
		return err
	}
	dropBefore, err := cutoff(now, "drop-applied-before", f.dropBefore, "drop-applied-older-than", f.dropOlderThan, false)
	if err != nil {
		return err
	}
	if f.batch <= 0 {
		return usagef("--batch %d: want a positive number", f.batch)
	}
	if f.lockTimeout <= 0 {
		return usagef("--lock-timeout %s: want a positive duration", f.lockTimeout)
	}
	j, err := openReadWrite(db, f.lockTimeout)
	if err != nil {
		return err
	}
	defer j.Close()
	rep, err := j.Prune(cmd.Context(), store.PruneOptions{Before: before, DropAppliedBefore: dropBefore, BatchSize: f.batch})
	if err != nil {
		return err
	}
	if err := j.Close(); err != nil {
		return err
	}
	if f.json {
		return writeJSON(cmd.OutOrStdout(), struct {
			Before            time.Time  `json:"before"`
			DropAppliedBefore *time.Time `json:"drop_applied_before,omitempty"`
			store.PruneReport
		}{before.UTC(), timePtr(dropBefore), rep})
	}
	return printPrune(cmd.OutOrStdout(), before, dropBefore, &rep)
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

func printPrune(w io.Writer, before, dropBefore time.Time, rep *store.PruneReport) error {
	t := newTable(w)
	t.row("before", formatTime(before))
	t.row("ops scanned", strconv.Itoa(rep.Scanned))
	t.row("ops removed", strconv.Itoa(rep.Ops))
	t.row("records removed", strconv.Itoa(rep.Records))
	if !dropBefore.IsZero() {
		t.row("applied keys dropped", fmt.Sprintf("%d (first success before %s)", rep.AppliedKeys, formatTime(dropBefore)))
	} else {
		t.row("applied keys dropped", "0 (kept: see --drop-applied-before)")
	}
	t.row("transactions", strconv.Itoa(rep.Transactions))
	t.row("bytes freed in the file", fmt.Sprintf("%d (%s)", rep.FreedBytes, humanBytes(int64(rep.FreedBytes))))
	return t.flush()
}

// cutoff turns a TIME flag or an AGE flag (at most one of them) into a time.
// required: one of them must be given.
func cutoff(now time.Time, timeFlag, timeVal, ageFlag, ageVal string, required bool) (time.Time, error) {
	switch {
	case timeVal != "" && ageVal != "":
		return time.Time{}, usagef("--%s and --%s: give one of them", timeFlag, ageFlag)
	case timeVal != "":
		t, err := time.Parse(time.RFC3339Nano, timeVal)
		if err != nil {
			return time.Time{}, usagef("--%s %q: want an RFC 3339 time such as 2025-06-01T00:00:00Z", timeFlag, timeVal)
		}
		return t, nil
	case ageVal != "":
		d, err := parseAge(ageVal)
		if err != nil {
			return time.Time{}, usagef("--%s %q: %v", ageFlag, ageVal, err)
		}
		return now.Add(-d), nil
	case required:
		return time.Time{}, usagef("give --%s TIME or --%s AGE", timeFlag, ageFlag)
	}
	return time.Time{}, nil
}

// parseAge reads a positive Go duration, or a whole number of days ("90d")
// or of 365-day years ("1y").
func parseAge(s string) (time.Duration, error) {
	var d time.Duration
	var err error
	if unit := s[max(len(s)-1, 0):]; unit == "d" || unit == "y" {
		n, perr := strconv.ParseInt(strings.TrimSuffix(s, unit), 10, 64)
		if perr != nil {
			return 0, errors.New("want a duration such as 90d, 1y or 36h")
		}
		if n <= 0 {
			return 0, errors.New("want a positive duration")
		}
		days := int64(1)
		if unit == "y" {
			days = 365
		}
		const maxDays = int64(math.MaxInt64 / (24 * time.Hour))
		if n > maxDays/days {
			return 0, fmt.Errorf("too long: at most %dd (292y)", maxDays)
		}
		d = time.Duration(n*days) * 24 * time.Hour
	} else if d, err = time.ParseDuration(s); err != nil {
		return 0, errors.New("want a duration such as 90d, 1y or 36h")
	}
	if d <= 0 {
		return 0, errors.New("want a positive duration")
	}
	return d, nil
}
