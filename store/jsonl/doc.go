// Package jsonl is the legacy journal's JSONL format and a journal with the
// legacy semantics: those of the felhom agent's reconcile journal
// (v0.4.0-rc1), which package store replaces.
//
// ParseLine reads one line as the legacy replay reads it and MarshalLine
// writes one as the legacy writer does; OpenJournal opens a journal that
// behaves as the legacy one, for comparison.
//
// The format: one JSON object per line (the JSON encoding of
// store.JournalEntry), each appended with a single write and fsync'd before
// Append returns. On open the whole file is replayed into memory: the latest
// record of an op is the one appended last, an op is in flight while its
// latest state is neither succeeded nor failed, a key is applied once any
// record carrying it reaches succeeded, and lines that do not parse are
// skipped.
//
// Journal is the baseline for benchmarks and the reference for differential
// tests of package store; ParseLine and MarshalLine are the line format used
// by migration and export. Nothing here is meant for new agents: it keeps
// the legacy's costs (replay at open, memory proportional to the journal)
// and its flaw (a record appended after a torn line is lost on replay).
package jsonl
