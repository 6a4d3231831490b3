// Package store is opjournal's durable operation journal: the felhom agent's
// legacy JSONL journal API (OpenJournal, Append, Latest, InFlight,
// AlreadyApplied, Close, with the same semantics) on a bbolt file, plus what
// the legacy could not do: Open with Options, History, BeginOnce, Stats,
// AppendBatch, ByVMID and ByUPID, Prune and background Retention, Backup,
// Compact, Metrics, and errors for every failure.
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
// # On disk (schema 3)
//
// One bbolt file with eight top-level buckets. Every record value is a codec
// envelope (version byte, msgpack body, CRC32C; see package codec), so a
// damaged value is detected: bbolt checksums only its meta pages.
//
//	bucket    key                                          value
//	meta      "schema", "codec", "created",                ASCII: "3", "1", RFC 3339 time,
//	          "migrated_from"                              JSON: legacy log path, size, time (migrations)
//	          "pruned_before", "applied_dropped_before"    RFC 3339: latest Prune cutoffs (absent if never)
//	history   len16(op id) ‖ op id                         the op's latest record (codec record)
//	          len16(op id) ‖ op id ‖ seq (uint64 BE)       every record, in append order (codec record)
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
// len16(s) is len(s) as a big-endian uint16. The legacy format allows any
// string as an op id, 0x00 included, so the "op id, 0x00, sequence" layout
// of the first design would let one op's history keys fall in another's
// range ("a" and "a\x00b"); a length prefix is prefix-free. seq is the
// history bucket's own sequence, global to the journal, so one op's records
// sort in append order. Limits (MaxStringSize, MaxParamsSize) keep every key
// far below bbolt's 32 KiB.
//
// An op's latest record (a copy of its last record, what Latest, InFlight
// and the legacy semantics read) sorts just before its records: its key is
// their prefix, and the two kinds differ in length. Schema 2 kept it in a
// bucket of its own, ops, keyed by op id; every Append then rewrote a leaf
// (and its parent) in two trees. Beside its records it mostly shares their
// leaf: a one-writer append writes two pages fewer (8.4 -> 6.5 per commit,
// 5.6 -> 4.0 separate runs of pages; counted with strace) and is about 20%
// faster, since on this kind of disk each separate run of pages that an
// fdatasync flushes costs about as much as a small fsync. Listing the ops
// (ForEachOp, Prune, Stats) walks the records too.
//
// inflight makes InFlight cost O(ops in flight); keys lets BeginOnce find an
// in-flight holder of a key in O(holders); vmids and upids make ByVMID and
// ByUPID cost O(result): their values order the hits by append order.
// Appends do not write vmids and upids directly: ops touch many guests at
// once, so each new pair would dirty a random leaf (measured: half the
// 64-writer throughput). They add the pair to pending, keyed by seq, where a
// commit's pairs share a leaf, without looking in vmids or upids first (a
// pair already listed, added again by an op that comes back to an earlier
// vmid or upid, is dropped by the merge); when pending has received
// Options.IndexMergeEvery pairs (16384), the commit that adds the last one
// merges them into vmids and upids, in key order, and empties it (that
// commit takes some 30 ms longer). Lookups read both, so they also walk
// pending: at most that many small entries. Bulk loads (migration) merge
// once at the end instead, with MergeIndexes.
// inflight and keys are derived from the latest records, applied, vmids and
// upids from the records: one Append updates all of them in its transaction, and an Append
// writes a vmids or upids entry only when its record's vmid or upid differs
// from the op's previous record.
//
// Prune deletes an op's history (latest record and records), vmids and upids
// entries together, and keeps its applied keys (the at-most-once guarantee
// outlives the records): after a prune, an applied key may name an op that
// is gone, or whose id was reused since.
//
// A read-write Open upgrades an older schema in place: schema 1 (the first
// release) lacked vmids, upids and pending, built in the first transaction
// from one pass over the history, which also sets the schema to 3 (so an
// older build refuses the file from then on); schema 1 and 2's ops bucket
// is then moved into history, 16,384 latest records per transaction, and
// dropped. A crash in between leaves a schema 3 file that still has an ops
// bucket: it reads as schema 2 and the next read-write Open carries on. A
// read-only Open of an older schema fails with ErrSchema.
//
// # Concurrency
//
// A Journal is safe for concurrent use. One file is open in one read-write
// Journal at a time: bbolt's flock excludes other openers, in this process
// or another, and Open gives up with ErrLocked after Options.LockTimeout.
// Read-only openers share the file with each other but not with a writer.
package store
