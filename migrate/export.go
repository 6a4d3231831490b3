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

// Export writes every record of the store to w as legacy JSONL, op by op and
// each op's history in append order, from one consistent snapshot taken
// while appends may go on. The legacy journal replaying the output reaches
// the same state (Latest, InFlight, AlreadyApplied) as the store: it is the
// way back to an older agent. Times are written in UTC. progress, if not
// nil, is called now and then with the records written so far.
func Export(ctx context.Context, j *store.Journal, w io.Writer, progress func(records int)) (*ExportReport, error) {
	rep := &ExportReport{}
	if err := ctx.Err(); err != nil {
		return rep, err
	}
	bw := bufio.NewWriterSize(w, 256<<10)
	err := j.ForEachRecord(func(_ uint64, e store.JournalEntry) error {
		line, err := jsonl.MarshalLine(&e)
		if err != nil {
			return err
		}
		n, err := bw.Write(line)
		rep.Bytes += int64(n)
		if err != nil {
			return err
		}
		rep.Records++
		if rep.Records%4096 == 0 {
			if progress != nil {
				progress(rep.Records)
			}
			return ctx.Err()
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
