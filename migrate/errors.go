package migrate

import (
	"errors"
	"fmt"
)

var (
	// ErrExists is returned by Migrate when the destination exists and
	// Options.Replace is not set.
	ErrExists = errors.New("migrate: destination exists")

	// ErrBadLine is returned by Migrate for a line that is neither a
	// record, nor recoverable, nor a torn final line, unless
	// Options.SkipBadLines is set. The error is a *LineError.
	ErrBadLine = errors.New("migrate: bad line")

	// ErrEmpty is returned by Migrate with Options.RefuseEmpty when the log
	// yields no record.
	ErrEmpty = errors.New("migrate: the log holds no record")

	// ErrMismatch is returned by Verify when the store differs from the
	// log.
	ErrMismatch = errors.New("migrate: store differs from the log")

	// ErrInUse is returned when a destination to be replaced is open in a
	// running agent.
	ErrInUse = errors.New("migrate: destination in use by another process")
)

// LineError locates a bad line of a legacy log.
type LineError struct {
	Path   string
	Line   int   // 1-based
	Offset int64 // byte offset of the line's start
	Reason string
}

func (e *LineError) Error() string {
	return fmt.Sprintf("migrate: %s line %d (byte %d): %s", e.Path, e.Line, e.Offset, e.Reason)
}

// Unwrap makes the error match ErrBadLine.
func (e *LineError) Unwrap() error { return ErrBadLine }
