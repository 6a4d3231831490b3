package store

import (
	"errors"
	"fmt"
	"runtime/debug"
)

// guard runs f, turning a panic (bbolt's assertions and slice bounds on
// damaged pages) or a memory fault (a damaged page read through the mmap,
// made recoverable by SetPanicOnFault, which covers only this goroutine)
// into ErrCorrupt. bbolt's View and Update roll back their transaction as
// the panic unwinds.
func guard(f func() error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if p := recover(); p != nil {
			if perr, ok := p.(error); ok && errors.Is(perr, ErrCorrupt) {
				err = perr
				return
			}
			err = fmt.Errorf("%w: bbolt panicked: %v", ErrCorrupt, p)
		}
	}()
	return f()
}
