package migrate

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/felhom/opjournal/store"
	"github.com/felhom/opjournal/store/jsonl"
)

// MaxLineSize is the longest line read, in bytes. A valid record is at most
// about 7 MiB of JSON (store.MaxParamsSize of params, escaped); a longer
// line is bad.
const MaxLineSize = 16 << 20

// kind classifies a line; see the package documentation.
type kind int

const (
	blank kind = iota
	record
	recovered
	torn
	bad
)

// line is one classified line of a legacy log.
type line struct {
	num    int
	offset int64 // of its first byte
	end    int64 // offset after its newline
	kind   kind
	entry  store.JournalEntry // record and recovered
	reason string             // recovered, torn, bad
}

// recordStart is how the legacy writer begins every record.
var recordStart = []byte(`{"op_id":`)

// classify applies the reading rules to one line (without its newline).
func classify(raw []byte, terminated bool) (kind, store.JournalEntry, string) {
	e, ok, err := jsonl.ParseLine(raw)
	if err == nil && !ok {
		return blank, e, ""
	}
	if err == nil {
		if verr := e.Validate(); verr != nil {
			return bad, e, verr.Error()
		}
		return record, e, ""
	}
	// The record starts at one of the anchors after the first byte; an
	// anchor inside a record (params whose first key is "op_id") never
	// parses to the end of the line, so try them from the right.
	for end := len(raw); ; {
		i := bytes.LastIndex(raw[:end], recordStart)
		if i <= 0 {
			break
		}
		if e, ok, rerr := jsonl.ParseLine(raw[i:]); rerr == nil && ok && e.Validate() == nil {
			return recovered, e, fmt.Sprintf("kept the complete record after %d bytes of %s", i, describe(raw[:i]))
		}
		end = i
	}
	if !terminated {
		return torn, e, fmt.Sprintf("torn final line of %d bytes without a newline: %v", len(raw), err)
	}
	return bad, e, fmt.Sprintf("not a record: %v", err)
}

// describe says what precedes a recovered record.
func describe(prefix []byte) string {
	switch {
	case len(bytes.Trim(prefix, "\x00")) == 0:
		return "NUL bytes"
	case bytes.HasPrefix(bytes.TrimLeft(prefix, "\x00"), recordStart):
		return "torn record fragment"
	}
	return "garbage"
}

// lineReader reads lines of any length up to MaxLineSize, reusing its buffer.
type lineReader struct {
	r      *bufio.Reader
	buf    []byte
	num    int
	offset int64 // of the next line
}

func newLineReader(r io.Reader) *lineReader {
	return &lineReader{r: bufio.NewReaderSize(r, 256<<10)}
}

// next reads and classifies the next line. It returns io.EOF after the last.
func (lr *lineReader) next() (line, error) {
	lr.buf = lr.buf[:0]
	start := lr.offset
	tooLong := false
	for {
		chunk, err := lr.r.ReadSlice('\n')
		lr.offset += int64(len(chunk))
		if !tooLong && len(lr.buf)+len(chunk) > MaxLineSize+1 {
			tooLong = true
			lr.buf = lr.buf[:0]
		}
		if !tooLong {
			lr.buf = append(lr.buf, chunk...)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err != nil && err != io.EOF {
			return line{}, err
		}
		if err == io.EOF && lr.offset == start {
			return line{}, io.EOF
		}
		lr.num++
		l := line{num: lr.num, offset: start, end: lr.offset}
		if tooLong {
			l.kind, l.reason = bad, fmt.Sprintf("%d bytes is longer than the %d-byte limit", lr.offset-start, MaxLineSize)
			return l, nil
		}
		raw, terminated := bytes.CutSuffix(lr.buf, []byte{'\n'})
		l.kind, l.entry, l.reason = classify(raw, terminated)
		return l, nil
	}
}

// readLines reads and classifies the lines of r in a goroutine and calls fn
// with each, in order, in the caller's goroutine: parsing overlaps with what
// fn does. fn must not keep the *line after it returns: its chunk is reused.
// An error from fn, from reading, or ctx stops it; it returns the number of
// lines and bytes read.
func readLines(ctx context.Context, r io.Reader, fn func(*line) error) (int, int64, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	lr := newLineReader(r)
	const queued = 16                   // 4096 lines: a batch, parsed while the one before commits
	chunks := make(chan []line, queued) // parsed, in order
	free := make(chan []line, queued+2) // handled, for reuse: every chunk in use fits
	done := make(chan error, 1)
	go func() {
		defer close(chunks)
		done <- lr.produce(ctx, chunks, free)
	}()
	var err error
	for chunk := range chunks {
		for i := 0; err == nil && i < len(chunk); i++ {
			if err = fn(&chunk[i]); err != nil {
				cancel() // the producer stops; keep draining until it closes
			}
		}
		clear(chunk) // drop its records' strings while it waits for reuse
		select {
		case free <- chunk[:0]:
		default:
		}
	}
	if perr := <-done; err == nil {
		err = perr
	}
	return lr.num, lr.offset, err
}

// chunkSize is the lines per chunk that produce sends.
const chunkSize = 256

// produce sends the classified lines in chunks until EOF or an error,
// filling chunks taken from free when there are any.
func (lr *lineReader) produce(ctx context.Context, out chan<- []line, free <-chan []line) error {
	for {
		var chunk []line
		select {
		case chunk = <-free:
		default:
			chunk = make([]line, 0, chunkSize)
		}
		var err error
		for len(chunk) < chunkSize {
			var l line
			if l, err = lr.next(); err != nil {
				break
			}
			chunk = append(chunk, l)
		}
		if len(chunk) > 0 {
			select {
			case out <- chunk:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}
