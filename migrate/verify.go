package migrate

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/felhom/opjournal/store"
)

// MaxDifferences caps VerifyReport.Differences.
const MaxDifferences = 20

// VerifyReport is what Verify compared and the first differences it found.
type VerifyReport struct {
	Lines       int        `json:"lines"`
	Records     int        `json:"records"`
	Recovered   []LineNote `json:"recovered"` // lines whose record followed a torn fragment
	Skipped     []LineNote `json:"skipped"`   // lines it could not read: torn or bad
	Differences []string   `json:"differences"`
}

// Verify replays the legacy log at src with the same reading rules as
// Migrate (skipping bad lines rather than failing on them) and compares it
// with the store at dst: the k-th record of the log must be the store's
// record number k, field for field, and the store must hold no other. Then
// it runs the store's Check, which proves each op's latest record is the
// last of its history and that the in-flight, key and applied indexes are
// exactly what the records imply. Together these give the same Latest,
// InFlight, AlreadyApplied and History as the log. Memory stays bounded:
// nothing of the log is held beyond one line.
//
// A difference is reported with ErrMismatch; the report lists the first
// MaxDifferences. Opening dst read-only, it fails with store.ErrLocked while
// an agent has the store open.
func Verify(ctx context.Context, src, dst string) (*VerifyReport, error) {
	in, err := os.Open(src)
	if err != nil {
		return nil, fmt.Errorf("migrate: verify: %w", err)
	}
	defer in.Close()
	j, err := store.Open(dst, &store.Options{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("migrate: verify: %w", err)
	}
	defer j.Close()

	rep := &VerifyReport{}
	differ := func(format string, args ...any) {
		if len(rep.Differences) < MaxDifferences {
			rep.Differences = append(rep.Differences, fmt.Sprintf(format, args...))
		}
	}
	// Check reads only the store: it runs beside the comparison, which
	// spends its time parsing the log.
	type checked struct {
		rep store.CheckReport
		err error
	}
	checkDone := make(chan checked, 1)
	go func() {
		r, err := j.Check(ctx)
		checkDone <- checked{r, err}
	}()
	err = compareRecords(ctx, in, j, rep, differ)
	check := <-checkDone
	for _, p := range check.rep.Problems {
		differ("store: %s", p)
	}
	switch {
	case len(check.rep.Problems) == 0 && check.err != nil:
		return rep, fmt.Errorf("migrate: verify: %w", check.err)
	case len(check.rep.Problems) == 0 && err != nil:
		return rep, err
	case err == nil && check.rep.Records != rep.Records:
		differ("the store holds %d records, the log %d", check.rep.Records, rep.Records)
	}
	if len(rep.Differences) > 0 {
		if check.err != nil { // damage, not only a difference: say both
			return rep, fmt.Errorf("%w: %s vs %s: %s: %w", ErrMismatch, src, dst, rep.Differences[0], check.err)
		}
		return rep, fmt.Errorf("%w: %s vs %s: %s", ErrMismatch, src, dst, rep.Differences[0])
	}
	return rep, nil
}

func compareRecords(ctx context.Context, in io.Reader, j *store.Journal, rep *VerifyReport, differ func(string, ...any)) error {
	var lines int
	err := j.View(func(s *store.Snapshot) error {
		var err error
		lines, _, err = readLines(ctx, in, func(l *line) error { return compareLine(ctx, s, l, rep, differ) })
		return err
	})
	rep.Lines = lines
	return err
}

// compareLine checks that the k-th record of the log is the store's record k.
func compareLine(ctx context.Context, s *store.Snapshot, l *line, rep *VerifyReport, differ func(string, ...any)) error {
	switch l.kind {
	case torn, bad:
		rep.Skipped = append(rep.Skipped, LineNote{l.num, l.offset, l.reason})
		return nil
	case recovered:
		rep.Recovered = append(rep.Recovered, LineNote{l.num, l.offset, l.reason})
	case record:
	default:
		return nil
	}
	rep.Records++
	if rep.Records%4096 == 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	seq := uint64(rep.Records)
	if same, err := s.RecordIs(seq, &l.entry); err != nil || same {
		return err
	}
	got, ok, err := s.Record(l.entry.OpID, seq)
	switch {
	case err != nil:
		return fmt.Errorf("migrate: verify: %w", err)
	case !ok:
		differ("line %d: record %d (op %q, %s) is missing from the store", l.num, rep.Records, l.entry.OpID, l.entry.State)
	default:
		if d := diffEntry(l.entry, got); d != "" {
			differ("line %d: record %d (op %q) differs: %s", l.num, rep.Records, l.entry.OpID, d)
		}
	}
	return nil
}

// diffEntry names the first field where got differs from want, or "".
func diffEntry(want, got store.JournalEntry) string {
	switch {
	case want.OpID != got.OpID:
		return fmt.Sprintf("op_id %q, store %q", want.OpID, got.OpID)
	case want.VMID != got.VMID:
		return fmt.Sprintf("vmid %d, store %d", want.VMID, got.VMID)
	case want.Kind != got.Kind:
		return fmt.Sprintf("kind %q, store %q", want.Kind, got.Kind)
	case !sameParams(want.Params, got.Params):
		return fmt.Sprintf("params %v, store %v", want.Params, got.Params)
	case want.UPID != got.UPID:
		return fmt.Sprintf("upid %q, store %q", want.UPID, got.UPID)
	case want.State != got.State:
		return fmt.Sprintf("state %s, store %s", want.State, got.State)
	case want.IdempKey != got.IdempKey:
		return fmt.Sprintf("idemp_key %q, store %q", want.IdempKey, got.IdempKey)
	case !want.At.Equal(got.At):
		return fmt.Sprintf("at %s, store %s", want.At.Format(time.RFC3339Nano), got.At.Format(time.RFC3339Nano))
	}
	return ""
}

func sameParams(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
