package codec

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

// Version1 is the first value format. Persisted: never renumber it.
const Version1 byte = 1

const (
	versionSize = 1
	crcSize     = 4
	// Overhead is the number of bytes an envelope adds to its body.
	Overhead = versionSize + crcSize
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// seal appends the checksum over buf, which must start with the version byte.
func seal(buf []byte) []byte {
	return binary.BigEndian.AppendUint32(buf, crc32.Checksum(buf, castagnoli))
}

// open checks the envelope of b and returns its body, which aliases b.
func open(b []byte) ([]byte, error) {
	if len(b) < Overhead+1 {
		return nil, fmt.Errorf("%w: %d bytes is shorter than the smallest value", ErrCorrupt, len(b))
	}
	n := len(b) - crcSize
	want := binary.BigEndian.Uint32(b[n:])
	if got := crc32.Checksum(b[:n], castagnoli); got != want {
		return nil, fmt.Errorf("%w: checksum %08x, stored %08x", ErrCorrupt, got, want)
	}
	if b[0] != Version1 {
		return nil, fmt.Errorf("%w %d (this build reads %d): %w", ErrVersion, b[0], Version1, ErrCorrupt)
	}
	return b[versionSize:n], nil
}
