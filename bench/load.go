package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/felhom/opjournal/store"
	"github.com/felhom/opjournal/store/jsonl"
)

// loadBatch is the records per transaction of a bulk load, as migration's
// default.
const loadBatch = 4096

// loadStore bulk loads the legacy log at log into a new store at path: the
// records of every line that parses, loadBatch per transaction, without
// fsync until one Sync at the end. It is migration's load step (package
// migrate cannot be imported here: its tests import this package) without
// torn-line recovery, which generated logs do not need, and without
// verification.
func loadStore(ctx context.Context, log, path string) (err error) {
	in, err := os.Open(log)
	if err != nil {
		return fmt.Errorf("bench: load: %w", err)
	}
	defer in.Close()
	j, err := store.Open(path, &store.Options{UnsafeNoSync: true, NoEndpoint: true})
	if err != nil {
		return fmt.Errorf("bench: load: %w", err)
	}
	defer func() {
		if cerr := j.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("bench: load: %w", cerr)
		}
	}()
	batch := make([]store.JournalEntry, 0, loadBatch)
	flush := func() error {
		if err := ctx.Err(); err != nil {
			return err
		}
		err := j.AppendBatch(batch)
		batch = batch[:0]
		return err
	}
	r := bufio.NewReaderSize(in, 1<<20)
	for n := 1; ; n++ {
		line, rerr := r.ReadBytes('\n')
		if e, ok, perr := jsonl.ParseLine(line); perr == nil && ok {
			batch = append(batch, e)
		}
		if len(batch) == cap(batch) {
			if err := flush(); err != nil {
				return fmt.Errorf("bench: load %s line %d: %w", log, n, err)
			}
		}
		if errors.Is(rerr, io.EOF) {
			break
		}
		if rerr != nil {
			return fmt.Errorf("bench: load %s: %w", log, rerr)
		}
	}
	if err := flush(); err != nil {
		return fmt.Errorf("bench: load %s: %w", log, err)
	}
	if err := j.Sync(); err != nil {
		return fmt.Errorf("bench: load %s: %w", log, err)
	}
	return nil
}

// linkLog makes path name the legacy log (a hard link, or a copy where
// links are refused): for the JSONL journal the log is the journal.
func linkLog(ctx context.Context, log, path string) error {
	if err := os.Link(log, path); err == nil {
		return nil
	}
	in, err := os.Open(log)
	if err != nil {
		return fmt.Errorf("bench: copy log: %w", err)
	}
	defer in.Close()
	out, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("bench: copy log: %w", err)
	}
	_, err = io.Copy(out, ctxReader{ctx, in})
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("bench: copy log: %w", err)
	}
	return nil
}

// ctxReader stops reading once its context is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
