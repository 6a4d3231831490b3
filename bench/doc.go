// Package bench compares journals side by side on the same disk: the store
// and the JSONL journal with the legacy semantics. It also generates
// realistic legacy logs (Generate) for benchmarks, demos and tests.
package bench
