package codec

import (
	"bytes"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/vmihailenco/msgpack/v5"
)

// Record is one lifecycle record as the codec sees it. It mirrors
// store.JournalEntry field for field (the store converts), with the state as
// its string value so that the format never depends on an enum's numbering.
type Record struct {
	OpID     string
	VMID     int
	Kind     string
	Params   map[string]string
	UPID     string
	State    string
	IdempKey string
	At       time.Time
}

// Applied is the value of an applied idempotency key: the op that first
// carried the key to succeeded, and the At of that record.
type Applied struct {
	OpID string
	At   time.Time
}

const (
	recordFields  = 9
	appliedFields = 3
)

type encoder struct {
	buf bytes.Buffer
	enc *msgpack.Encoder
}

var encoders = sync.Pool{New: func() any {
	e := new(encoder)
	e.enc = msgpack.NewEncoder(&e.buf)
	return e
}}

// encode runs body against a pooled encoder and returns the sealed envelope
// in a new slice.
func encode(body func(*msgpack.Encoder) error) ([]byte, error) {
	e := encoders.Get().(*encoder)
	defer encoders.Put(e)
	e.buf.Reset()
	e.buf.WriteByte(Version1)
	if err := body(e.enc); err != nil {
		return nil, fmt.Errorf("codec: encode: %w", err)
	}
	out := make([]byte, e.buf.Len(), e.buf.Len()+crcSize)
	copy(out, e.buf.Bytes())
	return seal(out), nil
}

func encodeTime(enc *msgpack.Encoder, t time.Time) error {
	if err := enc.EncodeInt(t.Unix()); err != nil {
		return err
	}
	return enc.EncodeInt(int64(t.Nanosecond()))
}

// EncodeRecord returns the version 1 envelope of r. Params are written in
// key order, so equal records encode to equal bytes.
func EncodeRecord(r *Record) ([]byte, error) {
	return encode(func(enc *msgpack.Encoder) error {
		err := enc.EncodeArrayLen(recordFields)
		if err == nil {
			err = enc.EncodeString(r.OpID)
		}
		if err == nil {
			err = enc.EncodeInt(int64(r.VMID))
		}
		if err == nil {
			err = enc.EncodeString(r.Kind)
		}
		if err == nil {
			err = encodeParams(enc, r.Params)
		}
		for _, s := range []string{r.UPID, r.State, r.IdempKey} {
			if err == nil {
				err = enc.EncodeString(s)
			}
		}
		if err == nil {
			err = encodeTime(enc, r.At)
		}
		return err
	})
}

func encodeParams(enc *msgpack.Encoder, params map[string]string) error {
	if len(params) == 0 {
		return enc.EncodeNil()
	}
	if err := enc.EncodeMapLen(len(params)); err != nil {
		return err
	}
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if err := enc.EncodeString(k); err != nil {
			return err
		}
		if err := enc.EncodeString(params[k]); err != nil {
			return err
		}
	}
	return nil
}

// DecodeRecord checks and decodes a record envelope. Errors match
// [ErrCorrupt]. The result never aliases b.
func DecodeRecord(b []byte) (Record, error) {
	body, err := open(b)
	if err != nil {
		return Record{}, err
	}
	return decodeRecordBody(body)
}

func decodeRecordBody(body []byte) (Record, error) {
	var rec Record
	r := newReader(body)
	if err := r.array("record", recordFields); err != nil {
		return Record{}, err
	}
	var err error
	if rec.OpID, err = r.str("op_id"); err != nil {
		return Record{}, err
	}
	vmid, err := r.int64("vmid")
	if err != nil {
		return Record{}, err
	}
	rec.VMID = int(vmid)
	if rec.Kind, err = r.str("kind"); err != nil {
		return Record{}, err
	}
	if rec.Params, err = decodeParams(r); err != nil {
		return Record{}, err
	}
	for _, f := range []struct {
		name string
		dst  *string
	}{{"upid", &rec.UPID}, {"state", &rec.State}, {"idemp_key", &rec.IdempKey}} {
		if *f.dst, err = r.str(f.name); err != nil {
			return Record{}, err
		}
	}
	if rec.At, err = decodeTime(r); err != nil {
		return Record{}, err
	}
	return rec, r.end()
}

// decodeParams reads the params map. Keys must be in strictly increasing
// byte order, as EncodeRecord writes them: that rules out duplicates, and
// DecodeSummary can check it without allocating.
func decodeParams(r *reader) (map[string]string, error) {
	n, err := r.mapLen("params")
	if err != nil || n <= 0 {
		return nil, err
	}
	params := make(map[string]string, min(n, 64)) // n is checked against the input, but not yet its entries
	prev := ""
	for i := range n {
		k, err := r.str("params key")
		if err != nil {
			return nil, err
		}
		if i > 0 && k <= prev {
			return nil, fmt.Errorf("%w: params: key %q out of order after %q", ErrCorrupt, k, prev)
		}
		prev = k
		v, err := r.str("params value")
		if err != nil {
			return nil, err
		}
		params[k] = v
	}
	return params, nil
}

func decodeTime(r *reader) (time.Time, error) {
	sec, err := r.int64("at seconds")
	if err != nil {
		return time.Time{}, err
	}
	nsec, err := r.int64("at nanoseconds")
	if err != nil {
		return time.Time{}, err
	}
	if nsec < 0 || nsec >= int64(time.Second) {
		return time.Time{}, fmt.Errorf("%w: at nanoseconds %d out of range", ErrCorrupt, nsec)
	}
	return time.Unix(sec, nsec).UTC(), nil
}

// EncodeApplied returns the version 1 envelope of an applied key's value.
func EncodeApplied(a Applied) ([]byte, error) {
	return encode(func(enc *msgpack.Encoder) error {
		err := enc.EncodeArrayLen(appliedFields)
		if err == nil {
			err = enc.EncodeString(a.OpID)
		}
		if err == nil {
			err = encodeTime(enc, a.At)
		}
		return err
	})
}

// DecodeApplied checks and decodes an applied key's value. Errors match
// [ErrCorrupt].
func DecodeApplied(b []byte) (Applied, error) {
	body, err := open(b)
	if err != nil {
		return Applied{}, err
	}
	var a Applied
	r := newReader(body)
	if err := r.array("applied", appliedFields); err != nil {
		return Applied{}, err
	}
	if a.OpID, err = r.str("op_id"); err != nil {
		return Applied{}, err
	}
	if a.At, err = decodeTime(r); err != nil {
		return Applied{}, err
	}
	return a, r.end()
}

// Summary is the part of a record the store's indexes depend on.
type Summary struct {
	OpID     string
	VMID     int
	UPID     string
	State    string
	IdempKey string
	At       time.Time // in UTC
}

// PeekOpID returns the op id a record value seems to hold, without checking
// its checksum: for naming the op of a damaged record in an error, never for
// trusting it. ok is false when the value does not even parse that far.
func PeekOpID(b []byte) (op string, ok bool) {
	if len(b) < Overhead+1 || b[0] != Version1 {
		return "", false
	}
	r := newReader(b[versionSize : len(b)-crcSize])
	if err := r.array("record", recordFields); err != nil {
		return "", false
	}
	op, err := r.str("op_id")
	return op, err == nil
}

// DecodeSummary checks a record envelope as fully as DecodeRecord does
// (checksum, version, every header and length, no trailing bytes) but
// materialises only what the store's indexes and retention depend on (not
// the kind or the params): it is what the append path and a consistency
// check of a large journal need, at a fraction of the allocation.
func DecodeSummary(b []byte) (Summary, error) {
	body, err := open(b)
	if err != nil {
		return Summary{}, err
	}
	var s Summary
	r := newReader(body)
	if err := r.array("record", recordFields); err != nil {
		return Summary{}, err
	}
	if s.OpID, err = r.str("op_id"); err != nil {
		return Summary{}, err
	}
	vmid, err := r.int64("vmid")
	if err != nil {
		return Summary{}, err
	}
	s.VMID = int(vmid)
	if err := r.skipStr("kind"); err != nil {
		return Summary{}, err
	}
	n, err := r.mapLen("params")
	if err != nil {
		return Summary{}, err
	}
	var prev []byte
	for i := range max(n, 0) {
		k, err := r.strBytes("params key")
		if err != nil {
			return Summary{}, err
		}
		if i > 0 && bytes.Compare(k, prev) <= 0 {
			return Summary{}, fmt.Errorf("%w: params: key %q out of order after %q", ErrCorrupt, k, prev)
		}
		prev = k
		if err := r.skipStr("params value"); err != nil {
			return Summary{}, err
		}
	}
	if s.UPID, err = r.str("upid"); err != nil {
		return Summary{}, err
	}
	if s.State, err = r.str("state"); err != nil {
		return Summary{}, err
	}
	if s.IdempKey, err = r.str("idemp_key"); err != nil {
		return Summary{}, err
	}
	if s.At, err = decodeTime(r); err != nil {
		return Summary{}, err
	}
	return s, r.end()
}
