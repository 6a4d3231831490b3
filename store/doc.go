// Package store is opjournal's durable operation journal: an agent records
// each step of an operation (started, task running, succeeded, failed)
// before acting on it, and after a crash or restart asks what was in flight
// and which one-shot jobs already ran.
//
// Open a journal with Open (or OpenJournal, the legacy signature), start an
// op at most once with BeginOnce, record each later step with Append, and on
// start-up resume or roll back every op that InFlight returns:
//
//	j, err := store.Open("/var/lib/felhom/ops.db", nil)
//	if err != nil {
//		return err
//	}
//	defer j.Close()
//	start := store.JournalEntry{OpID: id, VMID: 101, Kind: "start",
//		State: store.OpStarted, IdempKey: jobKey, At: time.Now()}
//	switch err := j.BeginOnce(start); {
//	case errors.Is(err, store.ErrAlreadyApplied):
//		return nil // the job already succeeded, maybe before a restart
//	case err != nil:
//		return err // another op holds the key (*KeyInFlightError), or the journal failed
//	}
//
// Example_runOnce shows the whole cycle.
//
// The journal keeps the felhom agent's legacy JSONL journal API
// (OpenJournal, Append, Latest, InFlight, AlreadyApplied, Close, with the same
// semantics) on a bbolt file, and adds Options, History, BeginOnce,
// AppendBatch, Stats, Check, ByVMID and ByUPID, a change feed (Follow,
// Changes, Tail), Prune and background Retention, Backup, Compact,
// Metrics, a live endpoint for reading the journal from other processes,
// and an error for every failure.
// Package migrate moves a legacy log into a store; the design notes in the
// repository's docs directory explain the layout and its trade-offs.
//
// # Semantics
//
// The latest record of an op is the one appended last (not the one with the
// latest At). An op is in flight while its latest state is neither succeeded
// nor failed. An idempotency key is applied once any record carrying it
// reaches succeeded, and stays applied forever, even if a later record of the
// op says failed; the empty key never is. Times come back in UTC, equal to
// the appended ones by time.Time.Equal; an empty Params map comes back nil.
//
// # Durability
//
// Append returns after its transaction is committed and fsync'd (bbolt does
// two fdatasyncs per commit: data pages, then the meta page). Concurrent
// Appends share one transaction: the first caller commits at once, callers
// arriving meanwhile share the next commit. A commit that fails has an
// unknown outcome on disk (the kernel may have dropped the dirty pages), so
// the handle is poisoned: every later call fails with ErrPoisoned until the
// journal is closed and opened again. Damage found in the file poisons the
// handle the same way. A damaged file never makes a call run forever: bbolt
// follows its page ids blindly, so a tree that loops back on itself would
// make its lookups loop until memory or stack runs out, and its walks never
// end. Open therefore first checks that the file's page trees are trees
// (shape.go), and every walk over a bucket checks that its keys come in
// order and stops past the most entries the file can hold (walk.go), with
// ErrCorrupt naming the bucket. New files are created under a temporary name,
// initialised, fsync'd, linked into place and the directory fsync'd.
//
// # On disk (schema 5)
//
// One bbolt file with nine top-level buckets. Every record value is a codec
// envelope (version byte, msgpack body, CRC32C; see package codec), so a
// damaged value is detected: bbolt checksums only its meta pages.
//
//	bucket    key                                          value
//	meta      "schema", "codec", "created",                ASCII: "5", "1", RFC 3339 time,
//	          "migrated_from"                              JSON: legacy log path, size, time (migrations)
//	          "pruned_before", "applied_dropped_before"    RFC 3339: latest Prune cutoffs (absent if never)
//	          "pruned_seq"                                 ASCII: highest seq Prune deleted (absent if never)
//	          "prune_gen"                                  ASCII: Prune transactions that deleted records
//	          "upgrade_records_after"                      an unfinished upgrade's mark (see below)
//	records   seq (uint64 BE)                              every record, in commit order (codec record)
//	opseqs    op id                                        the op's seqs up to the merge mark (the bucket's
//	                                                       sequence), in append order: uvarint deltas,
//	                                                       then their CRC32C (uint32 BE)
//	inflight  op id                                        empty: ops whose latest state is not terminal
//	applied   idempotency key                              codec applied: op id and At of the first success
//	keys      len16(key) ‖ key ‖ op id                     empty: (key, op) for each in-flight op whose
//	                                                       latest record carries a non-empty key
//	vmids     vmid (uint64 BE, sign bit flipped) ‖ op id   seq (uint64 BE) of the op's first record with
//	                                                       that vmid: every (vmid, op) pair in the history
//	upids     len16(upid) ‖ upid ‖ op id                   seq (uint64 BE) of the op's first record with
//	                                                       that upid: every non-empty (upid, op) pair
//	pending   seq (uint64 BE) ‖ 'v' or 'u'                 a vmids or upids key not merged yet: the
//	                                                       (vmid, op) or (upid, op) pair first seen at seq
//
// len16(s) is len(s) as a big-endian uint16, which keeps composite keys
// prefix-free: the legacy format allows any string as an op id or key, 0x00
// included. seq is the records bucket's own sequence, global to the
// journal: records are numbered 1, 2, 3, ... in commit order. Limits
// (MaxStringSize, MaxParamsSize) keep every key far below bbolt's 32 KiB.
//
// Each record is stored once, under its sequence number, so the records of
// one commit share the rightmost leaf of records whatever their op ids, and
// the change feed (Follow, Changes, Tail) and export read records in
// order. An op's latest record is the last of its records: Latest,
// InFlight and the legacy semantics find its sequence number, then read
// the record. opseqs lists each op's sequence numbers (a byte or two per
// record: deltas) up to its bucket sequence, the merge mark; the records
// after the mark, the tail, are listed only by the op ids they carry. An
// Append therefore writes its record into the shared rightmost leaf and
// nothing keyed by its op id (besides inflight and keys, which hold only
// the ops in flight, and applied): rewriting the op's list would dirty a
// leaf of opseqs per op in the commit, wherever the op ids fall. When the
// tail reaches Options.OpMergeEvery records (4096), the commit that adds
// the last one merges it into opseqs, op by op in key order, so that each
// leaf is written once per merge, and moves the mark; Prune and
// MergeIndexes merge first too, and Close merges what is left. A Journal
// keeps the tail's lists in memory: Open builds them by reading the tail
// (at most OpMergeEvery records, none after a Close), each commit extends
// them once it returns, and a lookup reads
// from the file only the records its read transaction sees that they do
// not hold yet (a commit that has not finished adding its records, or a
// merge since the transaction began). The checksum of an opseqs value makes
// a damaged list an error rather than a wrong answer (a flipped bit could
// point at another of the op's records, which the record's own op id
// cannot tell); a record a list names must also carry the list's op id.
// A damaged record in the tail could be any op's latest (its op id may be
// what is damaged), so every lookup by op fails with ErrCorrupt, naming the
// record and the op id it seems to hold. bbolt keeps the two sequences
// appends trust unchecked in bucket headers: a merge mark past records' is
// refused as damage, and an append refuses a sequence number already
// taken. Listing the ops (ForEachOp, Prune, Stats) walks opseqs and
// the tail.
//
// inflight makes InFlight cost O(ops in flight); keys lets BeginOnce find an
// in-flight holder of a key in O(holders); vmids and upids make ByVMID and
// ByUPID cost O(result): their values order the hits by append order.
// Appends do not write vmids and upids directly: ops touch many guests at
// once, so each new pair would dirty a random leaf. They add the pair to
// pending, keyed by seq, where a commit's pairs share a leaf, without
// looking in vmids or upids first (a pair already listed, added again by an
// op that comes back to an earlier vmid or upid, is dropped by the merge);
// when pending has received Options.IndexMergeEvery pairs (16384), the
// commit that adds the last one merges them into vmids and upids, in key
// order, and empties it. Lookups read both, so they also walk pending: at
// most that many small entries. Bulk loads (migration) merge once at the
// end instead, with MergeIndexes.
//
// inflight and keys are derived from the latest records, applied, vmids and
// upids from the records: one Append updates all of them in its
// transaction, and an Append writes a vmids or upids entry only when its
// record's vmid or upid differs from the op's previous record.
//
// Prune deletes an op's records and its opseqs, vmids, upids and pending
// entries together, raises pruned_seq, and keeps its applied keys (the
// at-most-once guarantee outlives the records): after a prune, an applied
// key may name an op that is gone, or whose id was reused since.
//
// A read-write Open upgrades an older schema in place. Every older schema
// keeps the records in a history bucket, keyed by len16(op id) ‖ op id ‖
// seq; schema 3 and 4 also keep a copy of each op's latest record there,
// under len16(op id) ‖ op id, and schema 1 and 2 in a bucket of its own,
// ops; schema 4 lists the records' op ids in seqs; schema 1 has no vmids,
// upids and pending. The first transaction builds the three index buckets
// from one pass over the history (schema 1), creates records and opseqs
// with a mark in meta (upgrade_records_after: 0, or 1 followed by the last
// history key moved) and sets the schema to 5, so that an older build
// refuses the file from then on. Then the records move from history into
// records, 16,384 history keys per transaction, each added to its op's
// list (history lists an op's records together, in order), the mark moving
// along; the last transaction drops history, ops and seqs and removes the
// mark. A crash in between leaves a schema 5 file that still has its
// history: it reads as the schema it is upgraded from, and the next
// read-write Open carries on from the mark. A read-only Open of an older
// schema fails with a *SchemaError (ErrSchema) that says an upgrade is
// required.
//
// # The change feed
//
// Follow delivers every committed record after a sequence number, in
// commit order, then each new one as its commit returns; a consumer that
// keeps the last sequence number it handled resumes from it after its own
// restart or the journal's. It reads from the file, at most 256 records per
// read transaction, so a slow consumer costs memory for one batch and holds
// no transaction while it works; a commit only stores its last sequence
// number and wakes the followers (an atomic store and an uncontended mutex),
// which wait a millisecond for the commits that follow before they read.
// It delivers nothing past the last commit that returned, so never a record
// of a transaction whose commit failed.
//
// # The live endpoint
//
// A read-write journal serves its records to other processes on a Unix
// socket beside it (EndpointPath: the path with ".sock" appended; see
// Options.Endpoint and NoEndpoint): read-only HTTP/1.1 with JSON, the
// routes listed in endpoint_http.go, so that package live, the opjournal
// command and curl --unix-socket read a journal that an agent holds. The
// socket has mode 0600, and each connection's peer credentials
// (SO_PEERCRED) must be root or the journal file's owner, else every request
// gets 403. Connections (1024), concurrent requests (32), request heads
// (8 KiB, read within 5 s) and each write to a client (30 s) are bounded;
// handlers only read, and a stream holds no read transaction while it waits
// for its client. A stale socket (nothing answers) is replaced; a live one,
// a symlink or any other file is left alone and the journal opens without
// an endpoint, logging why, as it does when the socket cannot be made. The
// endpoint needs Linux (peer credentials); elsewhere it is not served.
//
// # Concurrency
//
// A Journal is safe for concurrent use. One file is open in one read-write
// Journal at a time: bbolt's flock excludes other openers, in this process
// or another, and Open gives up with ErrLocked after Options.LockTimeout.
// Read-only openers share the file with each other but not with a writer;
// a read-write Open that finds only readers waits for them for up to
// Options.ReaderWait more, so that an operator's read never keeps an agent
// from starting. OpenCopy reads a private copy and holds the file only
// while it copies it.
package store
