package command

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// usageError is bad usage: Execute maps it to ExitUsage and points at --help.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error {
	return &usageError{fmt.Errorf(format, args...)}
}

// explainedError replaces a library error's message with one in the command
// line's terms (flags rather than Options fields, what to do next) while
// still matching it with errors.Is and errors.As.
type explainedError struct {
	msg string
	err error
}

func (e *explainedError) Error() string { return e.msg }
func (e *explainedError) Unwrap() error { return e.err }

func explain(err error, format string, args ...any) error {
	return &explainedError{msg: fmt.Sprintf(format, args...), err: err}
}

// inUse explains store.ErrLocked or migrate.ErrInUse for the store at path,
// with a hint of what to do about it.
func inUse(err error, path, hint string) error {
	return explain(err, "%s is in use by another process (an agent has it open); %s", path, hint)
}

// plainError is err without the Go internals a user has no use for: the
// system call and temporary names of an *fs.PathError or *os.LinkError
// ("rename ./.adir.tmp-2987886487 adir: file exists" is "file exists").
func plainError(err error) error {
	var pe *fs.PathError
	var le *os.LinkError
	switch {
	case errors.As(err, &pe):
		return pe.Err
	case errors.As(err, &le):
		return le.Err
	}
	return err
}
