package codec

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func sampleRecords() map[string]Record {
	zone := time.FixedZone("CET", 3600)
	return map[string]Record{
		"zero":      {},
		"full":      {OpID: "op-1", VMID: 101, Kind: "start", Params: map[string]string{"b": "2", "a": "1"}, UPID: "UPID:pve:0001", State: "task_running", IdempKey: "job-7", At: time.Date(2026, 11, 28, 15, 4, 5, 123456789, time.UTC)},
		"zoned":     {OpID: "z", State: "started", At: time.Date(2026, 1, 2, 3, 4, 5, 6, zone)},
		"year1":     {OpID: "y1", State: "failed", At: time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC)},
		"year9999":  {OpID: "y9", State: "succeeded", At: time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)},
		"pre-epoch": {OpID: "pe", At: time.Date(1969, 12, 31, 23, 59, 59, 500, time.UTC)},
		"negative":  {OpID: "neg", VMID: -1 << 62},
		"odd":       {OpID: "a\x00b\n\"\\", Kind: "ünï\u2028", Params: map[string]string{"": "", "\x00": "x"}, IdempKey: strings.Repeat("k", 70000)},
	}
}

func TestRecordRoundTrip(t *testing.T) {
	for name, want := range sampleRecords() {
		t.Run(name, func(t *testing.T) {
			b, err := EncodeRecord(&want)
			require.NoError(t, err)
			got, err := DecodeRecord(b)
			require.NoError(t, err)
			require.Truef(t, got.At.Equal(want.At), "At: got %v, want %v", got.At, want.At)
			require.Equal(t, time.UTC, got.At.Location(), "decoded times are in UTC")
			got.At, want.At = time.Time{}, time.Time{}
			require.Equal(t, want, got)
		})
	}
}

func TestEmptyParamsDecodeAsNil(t *testing.T) {
	b, err := EncodeRecord(&Record{OpID: "x", Params: map[string]string{}})
	require.NoError(t, err)
	got, err := DecodeRecord(b)
	require.NoError(t, err)
	require.Nil(t, got.Params)
}

func TestEncodingIsDeterministic(t *testing.T) {
	r := sampleRecords()["full"]
	first, err := EncodeRecord(&r)
	require.NoError(t, err)
	for range 20 {
		again, err := EncodeRecord(&r)
		require.NoError(t, err)
		require.Equal(t, first, again)
	}
}

func TestDecodedRecordDoesNotAliasInput(t *testing.T) {
	r := sampleRecords()["full"]
	b, err := EncodeRecord(&r)
	require.NoError(t, err)
	got, err := DecodeRecord(b)
	require.NoError(t, err)
	for i := range b {
		b[i] = 0xff
	}
	require.Equal(t, "op-1", got.OpID)
	require.Equal(t, map[string]string{"a": "1", "b": "2"}, got.Params)
}

func TestAppliedRoundTrip(t *testing.T) {
	want := Applied{OpID: "op-9", At: time.Date(2026, 5, 6, 7, 8, 9, 10, time.FixedZone("X", -7200))}
	b, err := EncodeApplied(want)
	require.NoError(t, err)
	got, err := DecodeApplied(b)
	require.NoError(t, err)
	require.Equal(t, want.OpID, got.OpID)
	require.True(t, got.At.Equal(want.At))
	_, err = DecodeRecord(b)
	require.ErrorIs(t, err, ErrCorrupt, "an applied value is not a record")
}

// Every single-bit flip and every truncation of a value must be detected.
func TestDamageIsDetected(t *testing.T) {
	r := sampleRecords()["full"]
	good, err := EncodeRecord(&r)
	require.NoError(t, err)
	for i := range good {
		for bit := range 8 {
			b := append([]byte(nil), good...)
			b[i] ^= 1 << bit
			_, err := DecodeRecord(b)
			require.ErrorIsf(t, err, ErrCorrupt, "flip of bit %d in byte %d went undetected", bit, i)
		}
	}
	for n := range len(good) {
		_, err := DecodeRecord(good[:n])
		require.ErrorIsf(t, err, ErrCorrupt, "truncation to %d bytes went undetected", n)
	}
}

func TestUnknownVersion(t *testing.T) {
	b := withChecksum([]byte{2, 0x90})
	_, err := DecodeRecord(b)
	require.ErrorIs(t, err, ErrVersion)
	require.ErrorIs(t, err, ErrCorrupt)
}

// withChecksum seals a version byte and body with a valid CRC, so that the
// body decoder itself is exercised.
func withChecksum(b []byte) []byte {
	return binary.BigEndian.AppendUint32(append([]byte(nil), b...), crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli)))
}

// lengthBombs are bodies whose headers claim far more than they hold: msgpack
// v5.4.1 trusts such prefixes and allocates for them.
func lengthBombs() map[string][]byte {
	ff := []byte{0xff, 0xff, 0xff, 0xff}
	rec := func(tail ...byte) []byte { return append([]byte{0x99}, tail...) }
	return map[string][]byte{
		"array32":   append([]byte{0xdd}, ff...),
		"map32":     rec(append([]byte{0xa1, 'x', 0x00, 0xa0, 0xdf}, ff...)...),
		"map16":     rec(0xa1, 'x', 0x00, 0xa0, 0xde, 0xff, 0xff),
		"str32":     rec(append([]byte{0xdb}, ff...)...),
		"bin32":     rec(append([]byte{0xc6}, ff...)...),
		"str16":     rec(0xda, 0xff, 0xff),
		"array16":   {0xdc, 0xff, 0xff},
		"str8-key":  rec(0xa1, 'x', 0x00, 0xa0, 0x81, 0xd9, 0xff),
		"uint64":    rec(0xa1, 'x', 0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff),
		"ext32":     rec(append([]byte{0xc9}, ff...)...),
		"nested":    rec(0xa1, 'x', 0x00, 0xa0, 0x81, 0xdd, 0xff, 0xff, 0xff, 0xff),
		"truncated": rec(0xa1),
		// The five headers that make msgpack v5.4.1 allocate what they claim.
		"dc-ffffffff": append([]byte{0xdc}, ff...),
		"dd-ffffffff": append([]byte{0xdd}, ff...),
		"c6-ffffffff": append([]byte{0xc6}, ff...),
		"db-ffffffff": append([]byte{0xdb}, ff...),
		"df-ffffffff": append([]byte{0xdf}, ff...),
	}
}

func TestLengthBombsFailWithoutAllocating(t *testing.T) {
	for name, body := range lengthBombs() {
		t.Run(name, func(t *testing.T) {
			b := withChecksum(append([]byte{Version1}, body...))
			var err error
			allocated := bytesAllocated(func() { _, err = DecodeRecord(b) })
			require.ErrorIs(t, err, ErrCorrupt)
			require.LessOrEqualf(t, allocated, allocBound(len(b)), "decoding %d bytes allocated %d", len(b), allocated)
		})
	}
}

// allocBound is what decoding n bytes may allocate: a small multiple of the
// input plus a fixed allowance for the decoder itself.
func allocBound(n int) uint64 { return uint64(16*n + 16<<10) }

func bytesAllocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

func TestDecodeErrorsAreCorrupt(t *testing.T) {
	for name, b := range map[string][]byte{
		"empty":        nil,
		"short":        {1, 2, 3},
		"trailing":     withChecksum([]byte{Version1, 0x93, 0xa0, 0x00, 0x00, 0x00}),
		"not-an-array": withChecksum([]byte{Version1, 0xa3, 'a', 'b', 'c'}),
	} {
		_, err := DecodeRecord(b)
		require.Truef(t, errors.Is(err, ErrCorrupt), "%s: got %v, want ErrCorrupt", name, err)
	}
}

// Params keys out of order (duplicates included) are refused by both
// decoders alike.
func TestParamsKeysMustIncrease(t *testing.T) {
	for name, keys := range map[string][2]string{"duplicate": {"a", "a"}, "descending": {"b", "a"}} {
		body := []byte{Version1, 0x99, 0xa1, 'x', 0x00, 0xa0, 0x82,
			0xa1, keys[0][0], 0xa1, '1', 0xa1, keys[1][0], 0xa1, '2',
			0xa0, 0xa7, 's', 't', 'a', 'r', 't', 'e', 'd', 0xa0, 0x00, 0x00}
		b := withChecksum(body)
		_, err := DecodeRecord(b)
		require.ErrorIs(t, err, ErrCorrupt, name)
		_, err = DecodeSummary(b)
		require.ErrorIs(t, err, ErrCorrupt, name)
	}
	ok := withChecksum([]byte{Version1, 0x99, 0xa1, 'x', 0x00, 0xa0, 0x82,
		0xa1, 'a', 0xa1, '1', 0xa1, 'b', 0xa1, '2',
		0xa0, 0xa7, 's', 't', 'a', 'r', 't', 'e', 'd', 0xa0, 0x00, 0x00})
	_, err := DecodeRecord(ok)
	require.NoError(t, err, "the control case decodes")
	_, err = DecodeSummary(ok)
	require.NoError(t, err)
}

func TestPeekOpID(t *testing.T) {
	b, err := EncodeRecord(&Record{OpID: "op\x00x", VMID: 7, State: "started"})
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)-1] ^= 1 // a damaged checksum: the op id still reads
	if op, ok := PeekOpID(b); !ok || op != "op\x00x" {
		t.Fatalf("PeekOpID = %q, %v; want %q, true", op, ok, "op\x00x")
	}
	for _, bad := range [][]byte{nil, {Version1}, {2, 0x93, 0xa1, 'x', 0, 0, 0, 0}, append([]byte{Version1, 0xc1}, make([]byte, 8)...)} {
		if op, ok := PeekOpID(bad); ok {
			t.Errorf("PeekOpID(%x) = %q, true; want false", bad, op)
		}
	}
}
