package migrate

import (
	"bufio"
	"context"
	"fmt"
	"io"

	"github.com/felhom/opjournal/store"
	"github.com/felhom/opjournal/store/jsonl"
)

// ExportReport is what Export wrote.
type ExportReport struct {
	Records int   `json:"records"`
	Bytes   int64 `json:"bytes"`
}

// Export writes every record of the store to w as legacy JSONL, in commit
// order (for a migrated store, the order of the legacy log's lines), as the
// store held them when Export began, while appends may go on: the records
// are read in short transactions (store.Journal.ForEachChange), so a slow w
// holds none for long. The legacy journal replaying the output reaches the
// same state (Latest, InFlight, AlreadyApplied) as the store: it is the way
// back to an older agent. Times are written in UTC. progress, if not nil,
// is called now and then with the records written so far.
func Export(ctx context.Context, j *store.Journal, w io.Writer, progress func(records int)) (*ExportReport, error) {
	rep := &ExportReport{}
	if err := ctx.Err(); err != nil {
		return rep, err
	}
	bw := bufio.NewWriterSize(w, 256<<10)
	err := j.ForEachChange(ctx, func(c store.Change) error {
		line, err := jsonl.MarshalLine(&c.Record)
		if err != nil {
			return err
		}
		n, err := bw.Write(line)
		rep.Bytes += int64(n)
		if err != nil {
			return err
		}
		rep.Records++
		if rep.Records%4096 == 0 && progress != nil {
			progress(rep.Records)
		}
		return nil
	})
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		return rep, fmt.Errorf("migrate: export %s: %w", j.Path(), err)
	}
	return rep, nil
}
