package codec

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/vmihailenco/msgpack/v5"
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
	requireMsgpackAgrees(t, b[versionSize:len(b)-crcSize], rec)
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

// requireMsgpackAgrees decodes an accepted body with the msgpack library,
// a decoder written apart from the codec's own, and requires the same
// record, every byte consumed: whatever the codec accepts means what
// msgpack says it means.
func requireMsgpackAgrees(t *testing.T, body []byte, rec Record) {
	d := msgpack.NewDecoder(bytes.NewReader(body))
	n, err := d.DecodeArrayLen()
	require.NoError(t, err)
	require.Equal(t, recordFields, n)
	str := func() string {
		s, err := d.DecodeString()
		require.NoError(t, err)
		return s
	}
	num := func() int64 {
		v, err := d.DecodeInt64()
		require.NoError(t, err)
		return v
	}
	var got Record
	got.OpID = str()
	got.VMID = int(num())
	got.Kind = str()
	params, err := d.DecodeMap()
	require.NoError(t, err)
	if len(params) > 0 {
		got.Params = map[string]string{}
		for k, v := range params {
			got.Params[k] = v.(string)
		}
	}
	got.UPID, got.State, got.IdempKey = str(), str(), str()
	sec, nsec := num(), num()
	_, err = d.PeekCode()
	require.Error(t, err, "msgpack finds bytes after the record")
	require.Equal(t, rec.At.Unix(), sec)
	require.Equal(t, int64(rec.At.Nanosecond()), nsec)
	rec.At = got.At
	require.Equal(t, rec, got)
}

// TestDecodeReadsEveryIntegerWidth: the codec parses integers itself, so
// every msgpack integer encoding (fixint, int8..int64, uint8..uint64),
// written by the msgpack library, must read back as the library reads it.
func TestDecodeReadsEveryIntegerWidth(t *testing.T) {
	values := []int64{0, 1, 127, 128, 255, 256, 65535, 65536, 1<<32 - 1, 1 << 32, 1<<63 - 1,
		-1, -32, -33, -128, -129, -32768, -32769, -1 << 31, -1<<31 - 1, -1 << 63}
	for _, v := range values {
		for _, enc := range []func(*msgpack.Encoder, int64) error{
			func(e *msgpack.Encoder, v int64) error { return e.EncodeInt(v) },
			func(e *msgpack.Encoder, v int64) error { return e.EncodeInt64(v) },
			func(e *msgpack.Encoder, v int64) error {
				if v < 0 {
					return e.EncodeInt64(v)
				}
				return e.EncodeUint64(uint64(v))
			},
		} {
			var buf bytes.Buffer
			e := msgpack.NewEncoder(&buf)
			require.NoError(t, e.EncodeArrayLen(recordFields))
			require.NoError(t, e.EncodeString("op"))
			require.NoError(t, enc(e, v))
			require.NoError(t, e.EncodeString("")) // kind
			require.NoError(t, e.EncodeNil())      // params
			for range 3 {
				require.NoError(t, e.EncodeString(""))
			}
			require.NoError(t, enc(e, v))
			require.NoError(t, e.EncodeInt(0))
			b := withChecksum(append([]byte{Version1}, buf.Bytes()...))
			rec, err := DecodeRecord(b)
			if int64(int(v)) != v {
				continue // a VMID past this platform's int
			}
			require.NoError(t, err, "value %d", v)
			require.Equal(t, int(v), rec.VMID, "vmid %d, encoded %x", v, buf.Bytes()[4:])
			require.Equal(t, v, rec.At.Unix())
			requireMsgpackAgrees(t, b[versionSize:len(b)-crcSize], rec)
		}
	}
}
