package jsonl

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/felhom/opjournal/store"
)

// Journal is a JSONL journal with the legacy semantics: the whole log is
// replayed into memory at open, and each Append is one write and one fsync
// under a mutex. It is safe for concurrent use by multiple goroutines.
type Journal struct {
	mu      sync.Mutex
	f       *os.File
	latest  map[string]store.JournalEntry
	applied map[string]struct{}
}

// OpenJournal opens or creates the log at path and replays it. The parent
// directory must exist.
func OpenJournal(path string) (*Journal, error) {
	j := &Journal{latest: map[string]store.JournalEntry{}, applied: map[string]struct{}{}}
	if err := j.replay(path); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	j.f = f
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return j, nil
}

// replay reads the log the way the legacy journal does, costs included: the
// whole file into memory, split on newlines, each line through
// encoding/json (not ParseLine's fast path), unparseable lines skipped.
func (j *Journal) replay(path string) error {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, line := range bytes.Split(b, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		var e store.JournalEntry
		if json.Unmarshal(line, &e) != nil {
			continue
		}
		j.index(e)
	}
	return nil
}

func (j *Journal) index(e store.JournalEntry) {
	j.latest[e.OpID] = e
	if e.State == store.OpSucceeded && e.IdempKey != "" {
		j.applied[e.IdempKey] = struct{}{}
	}
}

// Append writes e as one line and fsyncs before returning.
func (j *Journal) Append(e store.JournalEntry) error {
	line, err := MarshalLine(&e)
	if err != nil {
		return err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return os.ErrClosed
	}
	if _, err := j.f.Write(line); err != nil {
		return err
	}
	if err := j.f.Sync(); err != nil {
		return err
	}
	j.index(e)
	return nil
}

// Latest returns the record of opID appended last.
func (j *Journal) Latest(opID string) (store.JournalEntry, bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	e, ok := j.latest[opID]
	return e, ok
}

// InFlight returns the ops whose latest state is not terminal, in no
// particular order. It scans every op.
func (j *Journal) InFlight() []store.JournalEntry {
	j.mu.Lock()
	defer j.mu.Unlock()
	var out []store.JournalEntry
	for _, e := range j.latest {
		if !e.State.Terminal() {
			out = append(out, e)
		}
	}
	return out
}

// AlreadyApplied reports whether idempKey reached succeeded. The empty key
// never has.
func (j *Journal) AlreadyApplied(idempKey string) bool {
	if idempKey == "" {
		return false
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	_, ok := j.applied[idempKey]
	return ok
}

// Close closes the file. It is idempotent.
func (j *Journal) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return nil
	}
	err := j.f.Close()
	j.f = nil
	return err
}
