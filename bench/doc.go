// Package bench compares journals side by side on the same disk: the store
// and the JSONL journal with the legacy semantics. It also generates
// realistic legacy logs (Generate) for benchmarks, demos and tests.
//
// Run measures, for each implementation (Impl) of the legacy journal API
// (Journal), the same workloads in one process, alternating the
// implementations within each repetition so that machine noise hits them
// all: the disk's floor (a bare write and fsync), durable Append at 1 to 256
// concurrent writers, the agent's lifecycle of an op, and, against journal
// size, open time, heap after open, bytes on disk, Latest, AlreadyApplied and
// InFlight latency and migration time. Every figure comes with its ratio to
// the baseline (the JSONL journal) and, for appends, to the fsync floor.
//
// Results write themselves as a terminal table (WriteTable), Markdown
// (WriteMarkdown), JSON (WriteJSON), the Go benchmark format that benchstat
// reads (WriteBenchstat), and SVG and PNG charts (WritePlots).
//
// Latency percentiles are nearest-rank (see Percentile): every reported
// percentile was observed. Each call is timed with time.Now on both sides,
// which adds a few tens of nanoseconds: figures below a microsecond (the
// legacy's map lookups) are mostly that.
//
// Fsync figures mean something only on the disk the journals will live on:
// FsyncFree tells a file system in memory, and Run warns about it and about
// an fsync too fast to reach stable storage.
//
// Package bench imports store and store/jsonl, not migrate (whose tests
// import bench): the caller passes the migration to time as
// Config.Migrate.
package bench
