// Package peers holds the journals a user would pick instead of opjournal's
// store, with the same semantics (every record, the latest record of each
// op, the ops in flight, the applied idempotency keys; Append durable before
// it returns), as bench.Impls for package bench's workloads: SQLite (plain
// and batched) and Pebble. It is a module of its own, so that neither
// opjournal nor its users depend on SQLite or Pebble; cmd/bench-peers runs
// them side by side with the store and the legacy JSONL journal.
package peers

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"

	"github.com/felhom/opjournal/bench"
	"github.com/felhom/opjournal/store"
	"github.com/felhom/opjournal/store/jsonl"
)

// The peers' names in results.
const (
	ImplSQLite        = "sqlite"
	ImplSQLiteBatched = "sqlite-batched"
	ImplPebble        = "pebble"
)

var (
	_ bench.Journal = (*SQLite)(nil)
	_ bench.Journal = (*Pebble)(nil)
)

// loadBatch is the records per transaction (or batch) of a bulk load, as
// the store's.
const loadBatch = 4096

// SQLiteImpl is the SQLite journal; batched selects the variant whose
// waiting appends share a transaction. Its fixtures are bulk loaded,
// loadBatch records per transaction, then checkpointed.
func SQLiteImpl(batched bool) bench.Impl {
	name := ImplSQLite
	if batched {
		name = ImplSQLiteBatched
	}
	return bench.Impl{
		Name: name,
		Open: func(path string) (bench.Journal, error) { return OpenSQLite(path, batched) },
		Load: func(ctx context.Context, log, path string) (err error) {
			j, err := OpenSQLite(path, false)
			if err != nil {
				return err
			}
			defer func() { err = errors.Join(err, j.Close()) }()
			if err := readLog(ctx, log, j.appendBatch); err != nil {
				return err
			}
			return j.checkpoint()
		},
	}
}

// PebbleImpl is the Pebble journal. Its fixtures are bulk loaded,
// loadBatch records per batch without sync, then flushed to sstables.
func PebbleImpl() bench.Impl {
	return bench.Impl{
		Name: ImplPebble,
		Open: func(path string) (bench.Journal, error) { return OpenPebble(path) },
		Load: func(ctx context.Context, log, path string) (err error) {
			j, err := OpenPebble(path)
			if err != nil {
				return err
			}
			defer func() { err = errors.Join(err, j.Close()) }()
			if err := readLog(ctx, log, j.appendBatch); err != nil {
				return err
			}
			return j.db.Flush()
		},
	}
}

// Impls are the store, the legacy JSONL journal and the peers, in the
// order of the comparison.
func Impls() []bench.Impl {
	return []bench.Impl{bench.BBolt(), bench.JSONL(), SQLiteImpl(false), SQLiteImpl(true), PebbleImpl()}
}

// readLog passes the records of every line of the legacy log at log that
// parses to load, loadBatch at a time.
func readLog(ctx context.Context, log string, load func([]store.JournalEntry) error) error {
	in, err := os.Open(log)
	if err != nil {
		return fmt.Errorf("peers: load: %w", err)
	}
	defer in.Close()
	batch := make([]store.JournalEntry, 0, loadBatch)
	flush := func() error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if len(batch) == 0 {
			return nil
		}
		err := load(batch)
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
				return fmt.Errorf("peers: load %s line %d: %w", log, n, err)
			}
		}
		if errors.Is(rerr, io.EOF) {
			break
		}
		if rerr != nil {
			return fmt.Errorf("peers: load %s: %w", log, rerr)
		}
	}
	if err := flush(); err != nil {
		return fmt.Errorf("peers: load %s: %w", log, err)
	}
	return nil
}

// Settings describes each impl of Impls as it is run: engine, version and
// the settings that matter for durability and speed, one line each.
func Settings() []string {
	sqliteV, err := SQLiteVersion()
	if err != nil {
		sqliteV = "unknown (" + err.Error() + ")"
	}
	tables := "tables records (integer primary key), latest (keyed by op id, partial index on the ops in flight), " +
		"applied (keyed by idempotency key); values are the store's codec records"
	return []string{
		fmt.Sprintf("%s: opjournal's store %s on bbolt %s, default options (durable; concurrent appends share a commit)",
			bench.ImplBBolt, moduleVersion("github.com/felhom/opjournal"), moduleVersion("go.etcd.io/bbolt")),
		fmt.Sprintf("%s: the legacy JSONL journal (store/jsonl): one write and one fsync per append under a mutex, the whole log replayed at open",
			bench.ImplJSONL),
		fmt.Sprintf("%s: modernc.org/sqlite %s (SQLite %s, pure Go), WAL, synchronous=FULL, one write connection, each append its own transaction; %s",
			ImplSQLite, moduleVersion("modernc.org/sqlite"), sqliteV, tables),
		fmt.Sprintf("%s: the same, but the appends of callers waiting for the write connection share one transaction (leader/follower group commit)",
			ImplSQLiteBatched),
		fmt.Sprintf("%s: github.com/cockroachdb/pebble %s, default options (Snappy), each append one batch committed with pebble.Sync "+
			"(its WAL syncs concurrent commits together); keys: records by sequence, latest and in-flight by op id, applied by key",
			ImplPebble, moduleVersion("github.com/cockroachdb/pebble")),
	}
}

// moduleVersion is the version of module path in this binary's build, or
// "(this checkout)" for one replaced by a directory.
func moduleVersion(path string) string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	for _, m := range append([]*debug.Module{&bi.Main}, bi.Deps...) {
		if m.Path != path {
			continue
		}
		if m.Replace != nil {
			if m.Replace.Version == "" || m.Replace.Version == "(devel)" {
				return "(this checkout)"
			}
			return m.Replace.Version
		}
		return m.Version
	}
	return "unknown"
}
