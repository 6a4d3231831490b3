package codec

import (
	"encoding/binary"
	"fmt"
	"math"
)

// reader decodes a msgpack body without trusting its length prefixes: each
// header is parsed and checked against the bytes that remain before
// anything is read (or allocated) for it. It parses the bytes itself: the
// record format uses a handful of msgpack types, and reading them in place,
// every check included, takes about what the msgpack library's decoder
// takes to read them unchecked (BenchmarkDecodeRecord).
type reader struct {
	data []byte
	p    int    // the position of the next header
	text string // a copy of data, made at the first string decoded
}

// newReader returns a reader over body.
func newReader(body []byte) *reader { return &reader{data: body} }

func (r *reader) pos() int { return r.p }

// header reads the length in the header at the current position without
// consuming it. width is the size of the big-endian length that follows the
// code byte (0 when the length is in the code itself).
func (r *reader) header(width int) (uint64, int, error) {
	p := r.pos()
	if len(r.data)-p < 1+width {
		return 0, 0, fmt.Errorf("%w: header at byte %d is truncated", ErrCorrupt, p)
	}
	b := r.data[p+1 : p+1+width]
	switch width {
	case 1:
		return uint64(b[0]), 1 + width, nil
	case 2:
		return uint64(binary.BigEndian.Uint16(b)), 1 + width, nil
	case 4:
		return uint64(binary.BigEndian.Uint32(b)), 1 + width, nil
	case 8:
		return binary.BigEndian.Uint64(b), 1 + width, nil
	}
	return 0, 1, nil
}

func (r *reader) code(what string) (byte, error) {
	p := r.pos()
	if p >= len(r.data) {
		return 0, fmt.Errorf("%w: %s missing at byte %d", ErrCorrupt, what, p)
	}
	return r.data[p], nil
}

// checkLen verifies that n items of at least minSize bytes each fit in what
// remains after a header of hdr bytes.
func (r *reader) checkLen(what string, n uint64, hdr, minSize int) error {
	left := uint64(len(r.data) - r.pos() - hdr)
	if n > left/uint64(minSize) {
		return fmt.Errorf("%w: %s claims %d entries at byte %d, only %d bytes remain", ErrCorrupt, what, n, r.pos(), left)
	}
	return nil
}

// strLen checks the header of the string at the current position and
// returns its length and the header's size.
func (r *reader) strLen(what string) (int, int, error) {
	c, err := r.code(what)
	if err != nil {
		return 0, 0, err
	}
	var width int
	switch {
	case c >= 0xa0 && c <= 0xbf: // fixstr
	case c == 0xd9:
		width = 1
	case c == 0xda:
		width = 2
	case c == 0xdb:
		width = 4
	default:
		return 0, 0, fmt.Errorf("%w: %s: code %#02x at byte %d is not a string", ErrCorrupt, what, c, r.pos())
	}
	n, hdr, err := r.header(width)
	if err != nil {
		return 0, 0, err
	}
	if width == 0 {
		n = uint64(c & 0x1f)
	}
	if err := r.checkLen(what, n, hdr, 1); err != nil {
		return 0, 0, err
	}
	return int(n), hdr, nil
}

func (r *reader) str(what string) (string, error) {
	n, hdr, err := r.strLen(what)
	if err != nil {
		return "", err
	}
	// The header is checked and the bytes are there. The body is copied
	// into a string once (so nothing aliases the input), and every string
	// of the value is a slice of that copy: one allocation, not one per
	// field.
	if r.text == "" {
		r.text = string(r.data)
	}
	p := r.p + hdr
	r.p = p + n
	return r.text[p : p+n], nil
}

// strBytes checks the string at the current position, steps over it and
// returns its bytes, which alias the body.
func (r *reader) strBytes(what string) ([]byte, error) {
	n, hdr, err := r.strLen(what)
	if err != nil {
		return nil, err
	}
	p := r.p + hdr
	r.p = p + n
	return r.data[p : p+n], nil
}

// skipStr checks the string at the current position and steps over it
// without allocating.
func (r *reader) skipStr(what string) error {
	_, err := r.strBytes(what)
	return err
}

// arrayLen returns the length of the array at the current position, which
// must be exactly want.
func (r *reader) array(what string, want int) error {
	c, err := r.code(what)
	if err != nil {
		return err
	}
	var n uint64
	hdr := 1
	switch {
	case c >= 0x90 && c <= 0x9f:
		n = uint64(c & 0x0f)
	case c == 0xdc:
		n, hdr, err = r.header(2)
	case c == 0xdd:
		n, hdr, err = r.header(4)
	default:
		return fmt.Errorf("%w: %s: code %#02x at byte %d is not an array", ErrCorrupt, what, c, r.pos())
	}
	if err != nil {
		return err
	}
	if n != uint64(want) {
		return fmt.Errorf("%w: %s has %d elements, want %d", ErrCorrupt, what, n, want)
	}
	r.p += hdr
	return nil
}

// mapLen returns the entry count of the map at the current position, or -1
// for nil. Each entry needs at least two bytes, which bounds the count.
func (r *reader) mapLen(what string) (int, error) {
	c, err := r.code(what)
	if err != nil {
		return 0, err
	}
	var n uint64
	hdr := 1
	switch {
	case c == 0xc0:
		r.p++
		return -1, nil
	case c >= 0x80 && c <= 0x8f:
		n = uint64(c & 0x0f)
	case c == 0xde:
		n, hdr, err = r.header(2)
	case c == 0xdf:
		n, hdr, err = r.header(4)
	default:
		return 0, fmt.Errorf("%w: %s: code %#02x at byte %d is not a map", ErrCorrupt, what, c, r.pos())
	}
	if err != nil {
		return 0, err
	}
	if err := r.checkLen(what, n, hdr, 2); err != nil {
		return 0, err
	}
	r.p += hdr
	return int(n), nil
}

func (r *reader) int64(what string) (int64, error) {
	c, err := r.code(what)
	if err != nil {
		return 0, err
	}
	switch {
	case c <= 0x7f: // positive fixint
		r.p++
		return int64(c), nil
	case c >= 0xe0: // negative fixint
		r.p++
		return int64(int8(c)), nil
	case c >= 0xcc && c <= 0xd3: // uint8..uint64, int8..int64
		width := [...]int{1, 2, 4, 8}[(c-0xcc)%4]
		n, hdr, err := r.header(width)
		if err != nil {
			return 0, err
		}
		r.p += hdr
		if c <= 0xcf { // unsigned
			if n > math.MaxInt64 {
				return 0, fmt.Errorf("%w: %s: %d overflows int64", ErrCorrupt, what, n)
			}
			return int64(n), nil
		}
		shift := 64 - 8*width // sign-extend the big-endian two's complement
		return int64(n<<shift) >> shift, nil
	}
	return 0, fmt.Errorf("%w: %s: code %#02x at byte %d is not an integer", ErrCorrupt, what, c, r.pos())
}

// end fails unless the whole body was consumed.
func (r *reader) end() error {
	if n := len(r.data) - r.p; n != 0 {
		return fmt.Errorf("%w: %d trailing bytes after the body", ErrCorrupt, n)
	}
	return nil
}
