package jsonl

import (
	"bytes"
	"encoding/json"

	"github.com/felhom/opjournal/store"
)

// MarshalLine returns e as one JSONL line, newline included, exactly as the
// legacy journal writes it.
func MarshalLine(e *store.JournalEntry) ([]byte, error) {
	b, err := json.Marshal(e)
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// ParseLine parses one line (with or without its newline) as the legacy
// replay does: surrounding white space is trimmed and the rest must be one
// JSON value that unmarshals into a JournalEntry. ok is false for a blank
// line.
func ParseLine(line []byte) (e store.JournalEntry, ok bool, err error) {
	line = bytes.TrimSpace(line)
	if len(line) == 0 {
		return e, false, nil
	}
	if e, ok := parseFast(line); ok {
		return e, true, nil
	}
	if err := json.Unmarshal(line, &e); err != nil {
		return store.JournalEntry{}, false, err
	}
	return e, true, nil
}
