package store

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"unsafe"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// lookupKey returns s's bytes without copying them, for a lookup key that
// bbolt only reads (Get, Seek): never for a key a write keeps (Put keeps
// its key until the transaction ends), and never modified.
func lookupKey(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// This file builds and parses every key kind of the layout in doc.go:
// nothing else slices a key's bytes.

// prefixed returns uint16 big-endian len(s) followed by s: a prefix-free
// encoding, so that no op id's keys fall inside another op id's range even
// when ids contain 0x00 (the legacy format allows any string).
func prefixed(s string, extra int) []byte {
	k := make([]byte, 2, 2+len(s)+extra)
	binary.BigEndian.PutUint16(k, uint16(len(s)))
	return append(k, s...)
}

// splitPrefixed splits k into the string a prefixed() encoding at its start
// holds and the bytes after it; ok is false when k is too short to hold
// the length and the string.
func splitPrefixed(k []byte) (s, rest []byte, ok bool) {
	if len(k) < 2 {
		return nil, nil, false
	}
	n := 2 + int(binary.BigEndian.Uint16(k))
	if len(k) < n {
		return nil, nil, false
	}
	return k[2:n], k[n:], true
}

// Keys of older schemas' history bucket, which an upgrade reads: len16(op
// id) ‖ op id for an op's latest record (schema 3 and 4), followed by the
// record's seq (uint64 BE) for each of its records. History key kinds,
// told apart by length.
const (
	keyMalformed = iota
	keyLatest    // prefixed(op)
	keyRecord    // prefixed(op) ‖ seq
)

// historyKeyKind returns what a history key is and the op id it names.
func historyKeyKind(k []byte) (int, []byte) {
	op, rest, ok := splitPrefixed(k)
	switch {
	case !ok:
		return keyMalformed, nil
	case len(rest) == 0:
		return keyLatest, op
	case len(rest) == 8:
		return keyRecord, op
	}
	return keyMalformed, nil
}

// recordSeq returns the sequence number of a record's history key, whose
// kind the caller has checked.
func recordSeq(k []byte) uint64 { return binary.BigEndian.Uint64(k[len(k)-8:]) }

// parseHistoryKey checks a record's history key's shape and returns its
// sequence number.
func parseHistoryKey(k []byte) (uint64, error) {
	if kind, _ := historyKeyKind(k); kind != keyRecord {
		return 0, corrupt("history", k, fmt.Errorf("malformed key"))
	}
	return recordSeq(k), nil
}

// holderKey is prefixed(key) followed by the op id holding the key.
func holderKey(key, opID string) []byte {
	return append(prefixed(key, len(opID)), opID...)
}

// holderPrefix is what the keys entries of every op holding key start with.
func holderPrefix(key string) []byte { return prefixed(key, 0) }

// parseHolderKey splits a keys entry into the idempotency key and the op
// holding it; ok is false for a malformed key.
func parseHolderKey(k []byte) (key, op []byte, ok bool) { return splitPrefixed(k) }

// holderOf returns the op id of a keys entry found under prefix (see
// holderPrefix).
func holderOf(k, prefix []byte) []byte { return k[len(prefix):] }

// vmidKey is the vmid as a big-endian uint64 with its sign bit flipped (so
// that keys sort by vmid) followed by the op id. With an empty op id it is
// the prefix of every entry of the vmid.
func vmidKey(vmid int, opID string) []byte {
	k := make([]byte, 8, 8+len(opID))
	binary.BigEndian.PutUint64(k, uint64(vmid)^1<<63)
	return append(k, opID...)
}

// vmidKeyOp returns the op id of a vmids entry (or of a pending vmid
// entry's value); ok is false when it names none.
func vmidKeyOp(k []byte) ([]byte, bool) {
	if len(k) <= 8 {
		return nil, false
	}
	return k[8:], true
}

// upidKey is prefixed(upid) followed by the op id.
func upidKey(upid, opID string) []byte {
	return append(prefixed(upid, len(opID)), opID...)
}

// upidPrefix is what the upids entries of every op carrying upid start
// with.
func upidPrefix(upid string) []byte { return prefixed(upid, 0) }

// upidKeyOp returns the op id of an upids entry (or of a pending upid
// entry's value); ok is false when it names none.
func upidKeyOp(k []byte) ([]byte, bool) {
	_, op, ok := splitPrefixed(k)
	if !ok || len(op) == 0 {
		return nil, false
	}
	return op, true
}

// indexKeyOp returns the op id of a vmids or upids entry k found under
// prefix (see vmidKey with no op id, and upidPrefix).
func indexKeyOp(k, prefix []byte) []byte { return k[len(prefix):] }

// seqValue is the value of a vmids or upids entry: the sequence number of
// the op's first record that carried the vmid or upid.
func seqValue(seq uint64) []byte { return binary.BigEndian.AppendUint64(nil, seq) }

// parseSeqValue returns the sequence number a vmids or upids value holds;
// ok is false for a value of the wrong length.
func parseSeqValue(v []byte) (uint64, bool) {
	if len(v) != 8 {
		return 0, false
	}
	return binary.BigEndian.Uint64(v), true
}

// seqKey is a records key: the record's sequence number, big-endian, so
// that the bucket lists the records in commit order.
func seqKey(seq uint64) []byte { return binary.BigEndian.AppendUint64(make([]byte, 0, 8), seq) }

// parseSeqKey returns a records key's sequence number.
func parseSeqKey(k []byte) (uint64, error) {
	if len(k) != 8 {
		return 0, corrupt("records", k, fmt.Errorf("malformed key"))
	}
	return binary.BigEndian.Uint64(k), nil
}

// An opseqs value lists the sequence numbers of an op's records in append
// order: the first as a uvarint, each later one as a uvarint of its
// distance from the one before, then the CRC32C (Castagnoli) of those
// bytes, big-endian. Records of one op are usually close together, so a
// sequence number mostly costs one or two bytes; the checksum makes a
// damaged list an error rather than a wrong answer (a flipped bit could
// point at another of the op's records, which the record's own op id
// cannot tell).
const opSeqsCRCLen = 4

// appendOpSeq returns the opseqs value v (nil for a new op, whose
// checksum the caller has verified or whose list it built) with seq added
// at the end: last is the op's latest sequence number so far.
func appendOpSeq(v []byte, last, seq uint64) []byte {
	body := v
	if len(v) >= opSeqsCRCLen {
		body = v[:len(v)-opSeqsCRCLen]
	}
	out := make([]byte, 0, len(body)+binary.MaxVarintLen64+opSeqsCRCLen)
	out = append(out, body...)
	out = binary.AppendUvarint(out, seq-last)
	return binary.BigEndian.AppendUint32(out, crc32.Checksum(out, castagnoli))
}

// encodeOpSeqs returns the opseqs value of seqs, which ascend.
func encodeOpSeqs(seqs []uint64) []byte {
	out := make([]byte, 0, 2*len(seqs)+8+opSeqsCRCLen)
	var last uint64
	for _, s := range seqs {
		out = binary.AppendUvarint(out, s-last)
		last = s
	}
	return binary.BigEndian.AppendUint32(out, crc32.Checksum(out, castagnoli))
}

// checkOpSeqs verifies an opseqs value's checksum and returns its body.
func checkOpSeqs(op, v []byte) ([]byte, error) {
	if len(v) <= opSeqsCRCLen {
		return nil, corrupt("opseqs", op, fmt.Errorf("value of %d bytes", len(v)))
	}
	body := v[:len(v)-opSeqsCRCLen]
	if crc32.Checksum(body, castagnoli) != binary.BigEndian.Uint32(v[len(body):]) {
		return nil, corrupt("opseqs", op, fmt.Errorf("checksum mismatch"))
	}
	return body, nil
}

// parseOpSeqs returns the sequence numbers an opseqs value lists.
func parseOpSeqs(op, v []byte) ([]uint64, error) {
	body, err := checkOpSeqs(op, v)
	if err != nil {
		return nil, err
	}
	var seqs []uint64
	err = walkOpSeqs(op, body, func(s uint64) { seqs = append(seqs, s) })
	return seqs, err
}

// lastOpSeq returns the last sequence number an opseqs value lists.
func lastOpSeq(op, v []byte) (uint64, error) {
	body, err := checkOpSeqs(op, v)
	if err != nil {
		return 0, err
	}
	var last uint64
	err = walkOpSeqs(op, body, func(s uint64) { last = s })
	return last, err
}

// walkOpSeqs calls fn with each sequence number of a checked opseqs body.
// Each must be above the one before (the first above 0).
func walkOpSeqs(op, body []byte, fn func(uint64)) error {
	var last uint64
	for len(body) > 0 {
		d, n := binary.Uvarint(body)
		if n <= 0 || d == 0 || last+d < last {
			return corrupt("opseqs", op, fmt.Errorf("malformed sequence list"))
		}
		last += d
		fn(last)
		body = body[n:]
	}
	return nil
}

// Index kinds of pending entries. Persisted.
const (
	pendingVMID = 'v'
	pendingUPID = 'u'
)

// pendingKey is seq (uint64 BE) followed by the index kind.
func pendingKey(seq uint64, kind byte) []byte {
	return append(binary.BigEndian.AppendUint64(make([]byte, 0, 9), seq), kind)
}

// parsePendingKey splits a pending key into its seq and index kind.
func parsePendingKey(k []byte) (uint64, byte, error) {
	if len(k) != 9 || (k[8] != pendingVMID && k[8] != pendingUPID) {
		return 0, 0, corrupt("pending", k, fmt.Errorf("malformed key"))
	}
	return binary.BigEndian.Uint64(k), k[8], nil
}
