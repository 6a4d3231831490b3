//go:build unix

package peers

import (
	"os"
	"syscall"
)

// fileSize is the file's size and the space its blocks take on disk.
func fileSize(path string) (size, disk int64, err error) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, 0, err
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return fi.Size(), int64(st.Blocks) * 512, nil
	}
	return fi.Size(), fi.Size(), nil
}
