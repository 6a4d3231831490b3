package migrate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/felhom/opjournal/internal/install"
	"github.com/felhom/opjournal/store"
)

// Options configure Migrate. A nil *Options means the defaults.
type Options struct {
	// Replace lets Migrate replace an existing destination (atomically, and
	// only if no process has it open). Default false: ErrExists.
	Replace bool

	// SkipBadLines skips and reports bad lines instead of failing, as the
	// legacy replay skipped them. Default false.
	SkipBadLines bool

	// NoVerify skips the Verify pass that Migrate runs on the new store
	// before moving it into place. Default false.
	NoVerify bool

	// RefuseEmpty fails the migration with ErrEmpty, leaving no
	// destination, when the log yields no record (it is empty, or every
	// line was skipped): most likely the wrong file. Default false.
	RefuseEmpty bool

	// BatchSize is the number of records per transaction. Default 4096.
	BatchSize int

	// Progress, if set, is called now and then with the bytes of the log
	// read so far and its size.
	Progress func(done, total int64)
}

// DefaultBatchSize is the records per transaction when Options.BatchSize is 0.
const DefaultBatchSize = 4096

func (o *Options) withDefaults() Options {
	var out Options
	if o != nil {
		out = *o
	}
	if out.BatchSize <= 0 {
		out.BatchSize = DefaultBatchSize
	}
	return out
}

// LineNote reports a line that was recovered or skipped.
type LineNote struct {
	Line   int    `json:"line"`
	Offset int64  `json:"offset"`
	Reason string `json:"reason"`
}

// Report is what Migrate did.
type Report struct {
	Source      string        `json:"source"`
	Dest        string        `json:"dest"`
	Lines       int           `json:"lines"`
	Records     int           `json:"records"`
	Ops         int           `json:"ops"`
	InFlight    int           `json:"in_flight"`
	AppliedKeys int           `json:"applied_keys"`
	Recovered   []LineNote    `json:"recovered"`
	Skipped     []LineNote    `json:"skipped"`
	Bytes       int64         `json:"bytes"`
	Duration    time.Duration `json:"duration_ns"`
	Verified    bool          `json:"verified"`
}

// Migrate streams the legacy JSONL log at src into a new store at dst.
//
// It reads src once to load it, once more to verify it (unless NoVerify),
// and never modifies it. Memory is bounded by records,
// not by the log: at most one raw line, the batch being built and committed,
// and the parser's queue of up to 4,096 parsed records (records with params
// near store.MaxParamsSize take the most). The final merge of the store's
// indexes, in transactions of up to 65,536 entries, is the peak for ordinary
// records. The store is written under a temporary name beside dst, many
// records per transaction without fsync, then synced, verified against src
// (unless NoVerify), linked (or, with Replace, renamed) into place and the
// directory synced: an error, a cancelled ctx or a crash at any point before
// that leaves no dst (or, with Replace, the old one), never a half store. If
// only the final directory sync fails, dst is in place and the error says
// its name may not be durable.
//
// Replace checks that no process holds dst before and just before the
// rename; an agent opening dst in between keeps the old file open. Stop
// agents before replacing their journal.
func Migrate(ctx context.Context, src, dst string, opts *Options) (*Report, error) {
	o := opts.withDefaults()
	start := time.Now()
	if err := checkDest(src, dst, o.Replace); err != nil {
		return nil, err
	}
	if o.Replace {
		// Fail before the work, not only after it (install checks again).
		if err := checkNotInUse(dst); err != nil {
			return nil, err
		}
	}
	tmp, err := tempPath(dst, "migrate")
	if err != nil {
		return nil, err
	}
	rep := &Report{Source: src, Dest: dst}
	err = load(ctx, src, tmp, &o, rep)
	if err == nil && rep.Records == 0 && o.RefuseEmpty {
		err = fmt.Errorf("%w: %s (%d lines, %d skipped)", ErrEmpty, src, rep.Lines, len(rep.Skipped))
	}
	if err == nil && !o.NoVerify {
		_, err = Verify(ctx, src, tmp)
		rep.Verified = err == nil
	}
	if err == nil {
		hook("verified")
		err = installStore(tmp, dst, o.Replace)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return nil, err
	}
	rep.Duration = time.Since(start)
	return rep, nil
}

// skipSync names one sync to leave out, for the power-loss trials to show
// that they catch it missing. Set only by tests; empty in the product.
var skipSync string

// hook is called between the steps of Migrate and OpenOrMigrate; tests set
// it to simulate a crash there.
var hook = func(step string) {}

func checkDest(src, dst string, replace bool) error {
	fi, err := os.Lstat(dst)
	if filepath.Clean(src) == filepath.Clean(dst) || sameFile(src, fi) {
		return fmt.Errorf("migrate: source and destination are the same file: %s", src)
	}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("migrate: %w", err)
	case !replace:
		return fmt.Errorf("%w: %s (pass Replace to overwrite it)", ErrExists, dst)
	case !fi.Mode().IsRegular():
		return fmt.Errorf("migrate: destination %s is not a regular file", dst)
	}
	return nil
}

func sameFile(src string, dst os.FileInfo) bool {
	si, err := os.Stat(src)
	return err == nil && dst != nil && os.SameFile(si, dst)
}

// tempPath returns an unused name beside dst for work in progress.
func tempPath(dst, what string) (string, error) {
	f, err := install.Temp(dst, "."+what+"-")
	if err != nil {
		return "", fmt.Errorf("migrate: %w", err)
	}
	name := f.Name()
	_ = f.Close()
	// The store creates the file itself, crash-safely.
	if err := os.Remove(name); err != nil {
		return "", fmt.Errorf("migrate: %w", err)
	}
	return name, nil
}

// load writes every record of src into a new store at tmp and fills rep.
func load(ctx context.Context, src, tmp string, o *Options, rep *Report) error {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	// Index pairs are merged once, at the end, in large sorted chunks:
	// a merge writes about one page per guest however many pairs it
	// carries (10^5 ops: 1.6 s instead of 2.8 s without verify).
	j, err := store.Open(tmp, &store.Options{UnsafeNoSync: true, IndexMergeEvery: math.MaxInt, NoEndpoint: true})
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	err = copyRecords(ctx, src, in, fi.Size(), j, o, rep)
	if err == nil {
		err = j.MergeIndexes(ctx)
	}
	if err == nil {
		err = markMigrated(j, src, fi.Size())
	}
	if err == nil && skipSync != "install-filesync" {
		err = j.Sync()
	}
	if err == nil {
		var s store.Stats
		s, err = j.Stats()
		rep.Ops, rep.InFlight, rep.AppliedKeys = s.Ops, s.InFlight, s.AppliedKeys
	}
	if cerr := j.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("migrate %s: %w", src, err)
	}
	hook("loaded")
	return nil
}

func copyRecords(ctx context.Context, src string, in io.Reader, size int64, j *store.Journal, o *Options, rep *Report) error {
	batch := make([]store.JournalEntry, 0, o.BatchSize)
	var read int64
	flush := func() error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := j.AppendBatch(batch); err != nil {
			return err
		}
		batch = batch[:0]
		if o.Progress != nil {
			o.Progress(read, size)
		}
		return nil
	}
	lines, n, err := readLines(ctx, in, func(l *line) error {
		read = l.end
		switch l.kind {
		case recovered:
			rep.Recovered = append(rep.Recovered, LineNote{l.num, l.offset, l.reason})
			fallthrough
		case record:
			batch = append(batch, l.entry)
			rep.Records++
		case torn:
			rep.Skipped = append(rep.Skipped, LineNote{l.num, l.offset, l.reason})
		case bad:
			if !o.SkipBadLines {
				return &LineError{Path: src, Line: l.num, Offset: l.offset, Reason: l.reason}
			}
			rep.Skipped = append(rep.Skipped, LineNote{l.num, l.offset, l.reason})
		}
		if len(batch) == cap(batch) {
			return flush()
		}
		return nil
	})
	if err != nil {
		return err
	}
	rep.Lines, rep.Bytes = lines, n
	return flush()
}

// installStore moves the finished store at tmp to dst and makes the name
// durable. Replacing refuses a destination that a process holds open.
func installStore(tmp, dst string, replace bool) error {
	if replace {
		if err := checkNotInUse(dst); err != nil {
			return err
		}
		if err := install.Rename(tmp, dst); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
	} else {
		// Link fails rather than replace a dst created meanwhile.
		if err := install.Link(tmp, dst); err != nil {
			if errors.Is(err, fs.ErrExist) {
				return fmt.Errorf("%w: %s", ErrExists, dst)
			}
			return fmt.Errorf("migrate: %w", err)
		}
		if err := os.Remove(tmp); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
	}
	if err := install.SyncDir(filepath.Dir(dst)); err != nil {
		return fmt.Errorf("migrate: sync %s: %w", filepath.Dir(dst), err)
	}
	return nil
}

// checkNotInUse fails if dst exists and a process holds it open.
func checkNotInUse(dst string) error {
	j, err := store.Open(dst, &store.Options{ReadOnly: true, LockTimeout: 50 * time.Millisecond})
	switch {
	case errors.Is(err, store.ErrLocked):
		return fmt.Errorf("%w: %s", ErrInUse, dst)
	case err == nil:
		return j.Close()
	}
	return nil // missing or not a journal: nothing runs on it
}

func markMigrated(j *store.Journal, src string, size int64) error {
	abs, err := filepath.Abs(src)
	if err != nil {
		return err
	}
	return j.MarkMigrated(store.Migration{Source: abs, Size: size, At: time.Now().UTC()})
}
