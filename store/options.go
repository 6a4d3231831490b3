package store

import (
	"log/slog"
	"os"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Options configure Open. A nil *Options, or a zero field, means the default
// documented on the field.
type Options struct {
	// LockTimeout is how long Open waits for another opener of the file
	// (another process, or another Journal in this one) to let go before
	// returning ErrLocked. Default 1s. bbolt itself would wait forever.
	LockTimeout time.Duration

	// ReaderWait is how much longer than LockTimeout a read-write Open
	// waits while only read-only openers hold the file (an operator's
	// command reading it): a reader must not keep an agent from
	// starting. It logs the readers it waits for. Default 30s.
	ReaderWait time.Duration

	// ReadOnly opens an existing journal for reading only, under a shared
	// lock: several read-only openers may share the file, but not with a
	// writer. Append and BeginOnce return an error. Default false.
	ReadOnly bool

	// MaxBatch is the most Appends that share one transaction (and its
	// fsyncs) in group commit. Default 1024.
	MaxBatch int

	// FreelistType is bbolt's in-memory freelist structure. Default
	// bolt.FreelistArrayType, bbolt's own default.
	FreelistType bolt.FreelistType

	// NoFreelistSync skips writing bbolt's freelist on every commit, which
	// makes commits cheaper and every Open rescan the whole file. The
	// rescan runs in a goroutine of bbolt's own: on a damaged file it can
	// panic where no recover reaches (the process dies) or leave that
	// goroutine blocked, so ErrCorrupt is no longer guaranteed. For
	// benchmarks. Default false.
	NoFreelistSync bool

	// InitialMmapSize is the initial size of bbolt's memory map, in bytes;
	// a map large enough for the file's growth avoids remapping, which
	// blocks readers. Default 0 (bbolt sizes it from the file).
	InitialMmapSize int

	// MaxSize caps the file's size in bytes: a commit that would grow the
	// file past it fails (and poisons the handle, as any failed commit
	// does). Default 0: no cap.
	MaxSize int

	// Logger receives the journal's messages: info (an upgrade, a
	// retention run, a file replaced while Open waited for its lock, the
	// live endpoint's socket), warnings (a world-writable directory, an
	// endpoint that could not start, a wait for readers) and errors (a
	// poisoned handle, a failed retention run). Default nil: silent.
	Logger *slog.Logger

	// IndexMergeEvery is how many new (vmid, op) and (upid, op) pairs
	// appends collect in the pending bucket before the commit that adds
	// the last one merges them into the vmids and upids indexes (see
	// doc.go). ByVMID and ByUPID walk the pairs not merged yet. Bulk
	// loads set it high and call MergeIndexes at the end: a merge costs
	// about one page write per guest, however many pairs it carries.
	// Default 16384.
	IndexMergeEvery int

	// OpMergeEvery is how many records the journal holds past the last
	// merge of the op lists (see doc.go) before the commit that adds the
	// last one merges them: appends do not rewrite their op's list each,
	// and lookups by op read the records not merged yet from a list the
	// Journal keeps in memory, which Open builds by reading them (Close
	// merges them, so only an Open after a crash has any to read). Higher
	// makes concurrent appends cheaper and such an Open dearer (it reads up
	// to this many records). Default 4096.
	OpMergeEvery int

	// Retention, when not nil, prunes old finished ops in the background
	// of a read-write journal (see Prune and Retention) until Close.
	// Default nil: nothing is ever removed unless Prune is called.
	Retention *Retention

	// Endpoint is the path of the Unix socket on which a read-write
	// journal serves its live endpoint: read-only HTTP with JSON, for
	// operators and tools to read the journal while this process holds
	// it (see EndpointPath and package live). Default EndpointPath(path),
	// the journal's path with ".sock" appended. If the socket cannot be
	// made, the journal opens without it and logs why.
	Endpoint string

	// NoEndpoint turns the live endpoint off. Default false: a read-write
	// journal serves it. Read-only journals never do.
	NoEndpoint bool

	// UnsafeNoSync skips every fsync: a crash of the machine (not only of
	// the process) can lose acknowledged appends or damage the file. For
	// tests, benchmarks and bulk loads that call Sync themselves. Default
	// false.
	UnsafeNoSync bool
}

// Retention is an automatic retention policy: every Every, the journal
// prunes the ops that finished more than MaxAge ago, as Prune does.
type Retention struct {
	// MaxAge is how long a finished op is kept, measured from its latest
	// record's At. Required: more than zero.
	MaxAge time.Duration

	// Every is how often retention runs; the first run starts at Open.
	// Default 1h.
	Every time.Duration

	// DropAppliedAfter, when not zero, also drops applied keys whose first
	// success is older than this and that no remaining record succeeded
	// with (their ops have been pruned), which gives up the at-most-once
	// guarantee for them (see PruneOptions.DropAppliedBefore). Default
	// zero: keys are kept.
	DropAppliedAfter time.Duration

	// BatchSize is PruneOptions.BatchSize. Default 1000.
	BatchSize int
}

// DefaultRetentionEvery is Retention.Every's default.
const DefaultRetentionEvery = time.Hour

// Defaults applied by withDefaults.
const (
	DefaultLockTimeout     = time.Second
	DefaultReaderWait      = 30 * time.Second
	DefaultMaxBatch        = 1024
	DefaultIndexMergeEvery = 16384
	DefaultOpMergeEvery    = 4096
)

// defaultOpMergeEvery is OpMergeEvery's default; the package's tests lower
// it, so that their journals merge often.
var defaultOpMergeEvery = DefaultOpMergeEvery

// withDefaults returns a copy of o with every zero field set to its default.
// It is the one place defaults are applied.
func (o *Options) withDefaults() Options {
	var out Options
	if o != nil {
		out = *o
	}
	if out.LockTimeout <= 0 {
		out.LockTimeout = DefaultLockTimeout
	}
	if out.ReaderWait <= 0 {
		out.ReaderWait = DefaultReaderWait
	}
	if out.MaxBatch <= 0 {
		out.MaxBatch = DefaultMaxBatch
	}
	if out.IndexMergeEvery <= 0 {
		out.IndexMergeEvery = DefaultIndexMergeEvery
	}
	if out.OpMergeEvery <= 0 {
		out.OpMergeEvery = defaultOpMergeEvery
	}
	if out.Logger == nil {
		out.Logger = slog.New(slog.DiscardHandler)
	}
	if out.FreelistType == "" {
		out.FreelistType = bolt.FreelistArrayType
	}
	if out.Retention != nil {
		r := *out.Retention
		if r.Every <= 0 {
			r.Every = DefaultRetentionEvery
		}
		out.Retention = &r
	}
	return out
}

func (o *Options) bolt(openFile func(string, int, os.FileMode) (*os.File, error)) *bolt.Options {
	return &bolt.Options{
		Timeout:  o.LockTimeout,
		ReadOnly: o.ReadOnly,
		// bbolt loads the freelist lazily on read-only opens, from
		// tx.Check's goroutine, racing with other transactions' close
		// (seen with -race in bbolt v1.5.0). Loading it at open avoids
		// that; writers always load it anyway.
		PreLoadFreelist: true,
		NoSync:          o.UnsafeNoSync,
		NoFreelistSync:  o.NoFreelistSync,
		FreelistType:    o.FreelistType,
		InitialMmapSize: o.InitialMmapSize,
		MaxSize:         o.MaxSize,
		OpenFile:        openFile,
	}
}
