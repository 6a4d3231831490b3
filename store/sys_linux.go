package store

import "syscall"

// fileSizeLimited reports whether the process has a file size limit
// (RLIMIT_FSIZE, as set by ulimit -f), under which EFBIG is expected.
func fileSizeLimited() bool {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &rl); err != nil {
		return true
	}
	return rl.Cur != ^uint64(0) // RLIM_INFINITY
}
