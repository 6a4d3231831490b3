package codec

import "errors"

var (
	// ErrCorrupt is returned when a value fails its checksum, is truncated,
	// or its body does not match the format of its version.
	ErrCorrupt = errors.New("codec: corrupt value")

	// ErrVersion is returned for a value written by a newer, unknown
	// version of the format. The error returned wraps both ErrVersion and
	// ErrCorrupt, for callers that do not care about the difference.
	ErrVersion = errors.New("codec: unknown value version")
)
