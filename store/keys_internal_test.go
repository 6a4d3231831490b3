package store

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestEverySlotNamesABucket checks that allBuckets gives each slot a name of
// its own, so that a slot added without a bucket name fails here rather
// than as a missing bucket at run time.
func TestEverySlotNamesABucket(t *testing.T) {
	seen := map[string]int{}
	for slot, name := range allBuckets {
		require.NotEmpty(t, name, "slot %d has no bucket name", slot)
		prev, dup := seen[string(name)]
		require.False(t, dup, "slots %d and %d both name bucket %q", prev, slot, name)
		seen[string(name)] = slot
	}
}

// TestKeysRoundTrip checks that each parser of keys.go returns what the
// matching builder put in, and refuses a key cut short.
func TestKeysRoundTrip(t *testing.T) {
	op := "op\x00with-nul"

	kind, got := historyKeyKind(historyKeyOf([]byte(op), 42))
	require.Equal(t, keyRecord, kind)
	require.Equal(t, op, string(got))
	seq, err := parseHistoryKey(historyKeyOf([]byte(op), 42))
	require.NoError(t, err)
	require.Equal(t, uint64(42), seq)
	require.Equal(t, uint64(42), recordSeq(historyKeyOf([]byte(op), 42)))
	_, err = parseHistoryKey(prefixed(op, 0))
	require.ErrorIs(t, err, ErrCorrupt)

	kind, got = historyKeyKind(prefixed(op, 0))
	require.Equal(t, keyLatest, kind)
	require.Equal(t, op, string(got))
	kind, _ = historyKeyKind(historyKeyOf([]byte(op), 1)[:5])
	require.Equal(t, keyMalformed, kind)

	seqs := []uint64{1, 2, 300, 70000, 1 << 40}
	list := encodeOpSeqs(seqs)
	parsed, err := parseOpSeqs([]byte(op), list)
	require.NoError(t, err)
	require.Equal(t, seqs, parsed)
	last, err := lastOpSeq([]byte(op), list)
	require.NoError(t, err)
	require.Equal(t, uint64(1<<40), last)
	grown := appendOpSeq(list, 1<<40, 1<<40+5)
	parsed, err = parseOpSeqs([]byte(op), grown)
	require.NoError(t, err)
	require.Equal(t, append(seqs, 1<<40+5), parsed)
	require.Equal(t, encodeOpSeqs([]uint64{7}), appendOpSeq(nil, 0, 7))
	for i := range list {
		damaged := append([]byte(nil), list...)
		damaged[i] ^= 0x40
		_, err = parseOpSeqs([]byte(op), damaged)
		require.ErrorIs(t, err, ErrCorrupt, "byte %d flipped", i)
	}
	_, err = parseOpSeqs([]byte(op), list[:4])
	require.ErrorIs(t, err, ErrCorrupt)
	_, err = parseOpSeqs([]byte(op), encodeOpSeqs([]uint64{3, 3}))
	require.ErrorIs(t, err, ErrCorrupt, "a repeated sequence number")

	key, holder, ok := parseHolderKey(holderKey("k1", op))
	require.True(t, ok)
	require.Equal(t, "k1", string(key))
	require.Equal(t, op, string(holder))
	require.Equal(t, op, string(holderOf(holderKey("k1", op), holderPrefix("k1"))))
	_, _, ok = parseHolderKey(holderKey("k1", op)[:3])
	require.False(t, ok)

	got, ok = vmidKeyOp(vmidKey(-7, op))
	require.True(t, ok)
	require.Equal(t, op, string(got))
	_, ok = vmidKeyOp(vmidKey(-7, ""))
	require.False(t, ok)
	require.Less(t, string(vmidKey(-7, "")), string(vmidKey(3, "")), "vmid keys sort by vmid")

	got, ok = upidKeyOp(upidKey("UPID:x", op))
	require.True(t, ok)
	require.Equal(t, op, string(got))
	_, ok = upidKeyOp(upidKey("UPID:x", ""))
	require.False(t, ok)
	require.Equal(t, op, string(indexKeyOp(upidKey("UPID:x", op), upidPrefix("UPID:x"))))

	s, ok := parseSeqValue(seqValue(9))
	require.True(t, ok)
	require.Equal(t, uint64(9), s)
	_, ok = parseSeqValue([]byte{1})
	require.False(t, ok)

	s, err = parseSeqKey(seqKey(11))
	require.NoError(t, err)
	require.Equal(t, uint64(11), s)

	s, k, err := parsePendingKey(pendingKey(13, pendingUPID))
	require.NoError(t, err)
	require.Equal(t, uint64(13), s)
	require.Equal(t, byte(pendingUPID), k)
	_, _, err = parsePendingKey(append(seqKey(13), 'x'))
	require.ErrorIs(t, err, ErrCorrupt)
}
