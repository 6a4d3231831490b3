package codec

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func addSeeds(f *testing.F) {
	for _, r := range sampleRecords() {
		b, err := EncodeRecord(&r)
		require.NoError(f, err)
		f.Add(b)
	}
	for _, body := range lengthBombs() {
		f.Add(withChecksum(append([]byte{Version1}, body...)))
	}
}

// checkDecode is the property every decode of arbitrary bytes must hold: no
// panic, allocation bounded by the input, and a value that decodes is one
// that re-encodes to bytes decoding to the same value.
func checkDecode(t *testing.T, b []byte) {
	var rec Record
	var err error
	allocated := bytesAllocated(func() { rec, err = DecodeRecord(b) })
	require.LessOrEqualf(t, allocated, allocBound(len(b)), "decoding %d bytes allocated %d", len(b), allocated)
	sum, serr := DecodeSummary(b)
	if err != nil {
		require.ErrorIs(t, err, ErrCorrupt)
		require.ErrorIs(t, serr, ErrCorrupt, "DecodeSummary accepts what DecodeRecord refuses")
		return
	}
	require.NoError(t, serr, "DecodeSummary refuses what DecodeRecord accepts")
	require.Equal(t, Summary{OpID: rec.OpID, VMID: rec.VMID, UPID: rec.UPID, State: rec.State, IdempKey: rec.IdempKey, At: rec.At}, sum)
	again, err := EncodeRecord(&rec)
	require.NoError(t, err)
	rec2, err := DecodeRecord(again)
	require.NoError(t, err)
	require.True(t, rec.At.Equal(rec2.At))
	rec.At, rec2.At = rec2.At, rec.At
	require.Equal(t, rec, rec2)
}

func FuzzDecodeRecord(f *testing.F) {
	addSeeds(f)
	f.Fuzz(checkDecode)
}

// FuzzDecodeRecordBody reaches the body decoder past the checksum, which
// random mutations would otherwise almost never satisfy.
func FuzzDecodeRecordBody(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > Overhead {
			b = withChecksum(b[:len(b)-crcSize])
		}
		checkDecode(t, b)
		_, err := DecodeApplied(b)
		if err != nil {
			require.ErrorIs(t, err, ErrCorrupt)
		}
	})
}
