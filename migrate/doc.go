// Package migrate moves legacy JSONL journals into the store, proves the
// result equal to the log, and writes a store back as JSONL.
//
// An agent calls OpenOrMigrate once at start, in place of store.Open: it
// migrates the legacy log if the store does not exist yet, verifies the
// result, retires the log (renamed to <log>.migrated) and opens the store,
// each step crash-safe. Migrate and Verify do the same steps one at a time
// (the opjournal migrate and verify commands), and Export writes a store
// back as a legacy log.
//
// # Reading a legacy log
//
// A log is read line by line, streaming, whatever its size or the length of
// its lines (up to MaxLineSize). Each line is one of:
//
//   - blank: ignored, as the legacy replay ignores it;
//   - a record: it parses (as the legacy replay parses it) and is a valid
//     entry (see store.JournalEntry.Validate);
//   - recovered: it does not parse as a whole, but ends in a complete record
//     that begins at one of the line's `{"op_id":` (the rightmost that parses
//     to the end of the line and is a valid entry), after a torn fragment,
//     a run of NUL bytes or other garbage. This is the line a crash leaves:
//     the agent died mid-append leaving a fragment with no newline (or the
//     file's new size persisted before its data, leaving NULs), and after the
//     restart its next record, fsync'd and acknowledged, was appended onto
//     the same line. The legacy replay skips the whole line and so loses an
//     acknowledged record (and, for a succeeded record with a key, the key);
//     migration keeps it and reports the line. The anchor is sound because
//     the legacy writer always begins a record with `{"op_id":`; the same
//     sequence inside a record (params whose first key is "op_id") is
//     followed by the rest of that record, so parsing from it never reaches
//     the end of the line as one value;
//   - torn: the final line, with no newline, neither parses nor ends in a
//     complete record. It was never acknowledged; it is skipped and
//     reported;
//   - bad: anything else (garbage mid-file, a JSON value that is not a valid
//     entry, a line over MaxLineSize). Migration fails naming the line,
//     unless Options.SkipBadLines is set, in which case the line is skipped
//     and reported, as the legacy replay skipped it.
//
// Records keep their order: the store numbers them 1, 2, 3, ... in the
// order of their lines, which is what Verify checks against.
//
// One deliberate difference from the legacy replay besides recovery: a line
// that parses but is not a valid entry (an empty op id, an unknown state) is
// bad, where the legacy indexed it (as an op in flight forever, for an
// unknown state). The store cannot hold such entries.
package migrate
