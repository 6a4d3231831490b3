//go:build unix

package store

import (
	"os"
	"syscall"
)

// sharedOnly reports whether the file at path is held by shared locks only
// (readers): a shared lock can then be taken at once, which an exclusive
// holder (a writer) would prevent.
func sharedOnly(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB); err != nil {
		return false
	}
	_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	return true
}
