package store

import (
	"encoding/binary"
	"fmt"
)

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

// historyKey is prefixed(opID) followed by the big-endian global sequence
// number of the record, so one op's records sort in append order.
func historyKey(opID string, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(prefixed(opID, 8), seq)
}

// latestKey is the history key of the op's latest record: prefixed(opID),
// which sorts just before the op's records.
func latestKey(opID string) []byte { return prefixed(opID, 0) }

// historyPrefix is what every history key of the op starts with: its
// latest key, and the first bytes of each of its record keys.
func historyPrefix(opID string) []byte { return prefixed(opID, 0) }

// History key kinds, told apart by length.
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

// isRecordKey reports whether k, a history key under prefix (see
// historyPrefix), is one of the op's records rather than its latest key.
func isRecordKey(k, prefix []byte) bool { return len(k) == len(prefix)+8 }

// recordSeq returns the sequence number of a record's history key, whose
// kind the caller has checked.
func recordSeq(k []byte) uint64 { return binary.BigEndian.Uint64(k[len(k)-8:]) }

// recordPrefix returns the prefixed(op) part of a record's history key,
// whose kind the caller has checked.
func recordPrefix(k []byte) []byte { return k[:len(k)-8] }

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

// seqKey is a seqs key: the record's sequence number, big-endian, so that
// the bucket lists the records in commit order.
func seqKey(seq uint64) []byte { return binary.BigEndian.AppendUint64(make([]byte, 0, 8), seq) }

// parseSeqKey returns a seqs key's sequence number.
func parseSeqKey(k []byte) (uint64, error) {
	if len(k) != 8 {
		return 0, corrupt("seqs", k, fmt.Errorf("malformed key"))
	}
	return binary.BigEndian.Uint64(k), nil
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
