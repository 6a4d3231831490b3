package codec

import (
	"bytes"
	"fmt"
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

// rawRecord assembles a record body by hand, field by field, each given as
// its msgpack bytes: what no encoder writes can be tested too.
func rawRecord(opID, vmid, kind, params, upid, state, key, sec, nsec []byte) []byte {
	body := []byte{0x99}
	for _, f := range [][]byte{opID, vmid, kind, params, upid, state, key, sec, nsec} {
		body = append(body, f...)
	}
	return withChecksum(append([]byte{Version1}, body...))
}

// TestDecodeReadsSignedCodesOfPositiveValues: int8..int32 codes holding a
// non-negative value, which the msgpack library never writes (it picks the
// unsigned codes) but reads, must read as the library reads them.
func TestDecodeReadsSignedCodesOfPositiveValues(t *testing.T) {
	op, empty, zero := []byte{0xa2, 'o', 'p'}, []byte{0xa0}, []byte{0x00}
	for _, v := range []int64{0, 1, 5, 127, 128, 255, 32767, 32768, 1<<31 - 1} {
		for code, width := range map[byte]int{0xd0: 1, 0xd1: 2, 0xd2: 4} {
			if v >= 1<<(8*width-1) {
				continue
			}
			n := []byte{code}
			for i := width - 1; i >= 0; i-- {
				n = append(n, byte(v>>(8*i)))
			}
			b := rawRecord(op, n, empty, []byte{0xc0}, empty, empty, empty, n, zero)
			rec, err := DecodeRecord(b)
			require.NoError(t, err, "%d as %x", v, n)
			require.Equal(t, int(v), rec.VMID, "%d as %x", v, n)
			require.Equal(t, v, rec.At.Unix(), "%d as %x", v, n)
			requireMsgpackAgrees(t, b[versionSize:len(b)-crcSize], rec)
		}
	}
}

// TestDecodeRefusesWhatIsNotItsType: the msgpack library reads nil as an
// empty string or zero, bin as a string and a uint64 past MaxInt64 as a
// negative int64; the codec refuses each, in every field it could hide in.
func TestDecodeRefusesWhatIsNotItsType(t *testing.T) {
	op, empty, zero, nilv := []byte{0xa2, 'o', 'p'}, []byte{0xa0}, []byte{0x00}, []byte{0xc0}
	field := func(i int, v []byte) []byte {
		f := [][]byte{op, zero, empty, nilv, empty, empty, empty, zero, zero}
		f[i] = v
		return rawRecord(f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7], f[8])
	}
	strings, ints := []int{0, 2, 4, 5, 6}, []int{1, 7, 8}
	cases := map[string][]byte{}
	for _, i := range strings {
		cases[fmt.Sprintf("nil as string field %d", i)] = field(i, nilv)
		cases[fmt.Sprintf("bin8 as string field %d", i)] = field(i, []byte{0xc4, 1, 'x'})
		cases[fmt.Sprintf("bin16 as string field %d", i)] = field(i, []byte{0xc5, 0, 1, 'x'})
		cases[fmt.Sprintf("bin32 as string field %d", i)] = field(i, []byte{0xc6, 0, 0, 0, 1, 'x'})
		cases[fmt.Sprintf("integer as string field %d", i)] = field(i, zero)
	}
	for _, i := range ints {
		cases[fmt.Sprintf("nil as integer field %d", i)] = field(i, nilv)
		cases[fmt.Sprintf("uint64 2^63 as integer field %d", i)] = field(i, []byte{0xcf, 0x80, 0, 0, 0, 0, 0, 0, 0})
		cases[fmt.Sprintf("uint64 max as integer field %d", i)] = field(i, []byte{0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
		cases[fmt.Sprintf("float64 as integer field %d", i)] = field(i, []byte{0xcb, 0, 0, 0, 0, 0, 0, 0, 0})
		cases[fmt.Sprintf("string as integer field %d", i)] = field(i, empty)
	}
	cases["string as params"] = field(3, empty)
	cases["array as params"] = field(3, []byte{0x90})
	cases["ext as params"] = field(3, []byte{0xd4, 0x01, 0x00})
	cases["integer as params key"] = field(3, []byte{0x81, 0x00, 0xa0})
	cases["nil as params value"] = field(3, []byte{0x81, 0xa0, 0xc0})
	_, err := DecodeRecord(field(0, op))
	require.NoError(t, err, "the valid record the cases start from")
	for name, b := range cases {
		_, err := DecodeRecord(b)
		require.ErrorIs(t, err, ErrCorrupt, name)
		_, err = DecodeSummary(b)
		require.ErrorIs(t, err, ErrCorrupt, name)
	}
	for name, b := range map[string][]byte{
		"nil as op id":      {0x93, 0xc0, 0x00, 0x00},
		"uint64 2^63 at":    {0x93, 0xa0, 0xcf, 0x80, 0, 0, 0, 0, 0, 0, 0, 0x00},
		"bin as op id":      {0x93, 0xc4, 0x01, 'x', 0x00, 0x00},
		"nil as nanosecond": {0x93, 0xa0, 0x00, 0xc0},
	} {
		_, err := DecodeApplied(withChecksum(append([]byte{Version1}, b...)))
		require.ErrorIs(t, err, ErrCorrupt, name)
	}
	_, err = DecodeApplied(withChecksum([]byte{Version1, 0x93, 0xa0, 0x00, 0x00}))
	require.NoError(t, err, "the valid applied value the cases start from")
}
