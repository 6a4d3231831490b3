// Package codec defines how opjournal stores a value on disk. Package store
// encodes every record with EncodeRecord and every applied key with
// EncodeApplied, and decodes them with DecodeRecord and DecodeApplied, which
// return ErrCorrupt for any value that is not exactly what was encoded.
//
// Every value the store writes into bbolt is an envelope:
//
//	+---------+------------------------+-----------------------------+
//	| version | body (msgpack)         | CRC32C (Castagnoli), 4 bytes |
//	| 1 byte  | variable               | big-endian, over version+body |
//	+---------+------------------------+-----------------------------+
//
// bbolt checksums only its meta pages, so the CRC is what detects a damaged
// value: a value whose checksum, version or body does not check out is
// reported with [ErrCorrupt] and never returned as if it were good.
//
// Version 1 (the only version; persisted constants are never
// renumbered) has two bodies, told apart by the bucket they are stored in:
//
//	record:  array(9) [op_id str, vmid int, kind str, params map[str]str|nil,
//	                   upid str, state str, idemp_key str, at_sec int, at_nsec int]
//	applied: array(3) [op_id str, at_sec int, at_nsec int]
//
// Times are stored as seconds and nanoseconds since the Unix epoch, so every
// instant from year 1 to 9999 round-trips exactly to the nanosecond. The
// location is not stored: decoded times are in UTC and equal the encoded ones
// by [time.Time.Equal]. An empty params map decodes as nil, as the legacy
// JSONL journal returns it after a restart.
//
// Params keys are written, and must be read, in strictly increasing byte
// order. Decoding never trusts a length prefix: every string, map and array header
// is checked against the bytes that remain before anything is allocated, so
// decoding arbitrary input never panics and allocates at most a small
// multiple of the input's size. Decoded values never alias the input.
//
// Values are written with the msgpack library and read by the codec's own
// parser of the few msgpack types above (every string and integer encoding
// msgpack defines), which a fuzz property holds to the library's reading of
// the same bytes. It parses in place: with the checksum and every check, a
// record decodes about as fast as the library's decoder reads its fields
// unchecked (BenchmarkDecodeRecord).
package codec
