package bench

import (
	"context"

	"github.com/felhom/opjournal/store"
	"github.com/felhom/opjournal/store/jsonl"
)

// Journal is what the workloads drive: the legacy journal's API, which both
// the store and the JSONL journal keep. Implementations must be safe for
// concurrent use by multiple goroutines, and Append must return only once
// its record is durable.
type Journal interface {
	Append(e store.JournalEntry) error
	Latest(opID string) (store.JournalEntry, bool)
	InFlight() []store.JournalEntry
	AlreadyApplied(idempKey string) bool
	Close() error
}

var (
	_ Journal = (*store.Journal)(nil)
	_ Journal = (*jsonl.Journal)(nil)
)

// The names of the two implementations compared by default.
const (
	ImplBBolt = "bbolt" // package store with default (durable) options
	ImplJSONL = "jsonl" // store/jsonl: the legacy semantics, the baseline
)

// Impl is a journal implementation under test. An Impl is a plain value:
// copy it to change a field.
type Impl struct {
	// Name identifies the impl in results, e.g. "bbolt". Names are
	// unique in a run and end up in benchmark names (impl=<Name>), so
	// they hold no spaces or slashes.
	Name string

	// Open opens the journal at path, creating it if it does not exist,
	// with durable settings: an Append must be on stable storage when it
	// returns.
	Open func(path string) (Journal, error)

	// Load writes a journal at path (which does not exist yet) holding
	// every record of the legacy JSONL log at log, as fast as it can: it
	// builds the fixtures of the size workloads and is not timed. nil
	// leaves the impl out of the size workloads.
	Load func(ctx context.Context, log, path string) error
}

// BBolt is package store opened with default options (durable, group
// commit). Its fixtures are bulk loaded: many records per transaction,
// without fsync until the end, as migration does.
func BBolt() Impl {
	return Impl{
		Name: ImplBBolt,
		Open: func(path string) (Journal, error) {
			j, err := store.Open(path, nil)
			if err != nil {
				return nil, err
			}
			return j, nil
		},
		Load: loadStore,
	}
}

// JSONL is the JSONL journal with the legacy semantics (store/jsonl): one
// write and one fsync per Append, the whole log replayed at open. A legacy
// log is its own journal, so its fixture is a link to the log.
func JSONL() Impl {
	return Impl{
		Name: ImplJSONL,
		Open: func(path string) (Journal, error) {
			j, err := jsonl.OpenJournal(path)
			if err != nil {
				return nil, err
			}
			return j, nil
		},
		Load: linkLog,
	}
}

// DefaultImpls are the store and its baseline, in that order.
func DefaultImpls() []Impl { return []Impl{BBolt(), JSONL()} }
