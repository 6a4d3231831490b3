//go:build !linux

package bench

import "os"

// FsyncFree reports whether fsync costs nothing on the file system holding
// dir. Only Linux is examined; elsewhere it reports false, and Run's check
// of the measured fsync floor is the only warning.
func FsyncFree(dir string) (bool, string) { return false, "unknown (not examined on this OS)" }

// fdatasync is nil where the OS has none: that floor is not measured.
var fdatasync func(f *os.File) error

func allocated(fi os.FileInfo) int64 { return fi.Size() }

// settle does nothing where sync(2) is not examined.
func settle() {}
