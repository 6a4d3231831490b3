//go:build !unix

package peers

import "os"

// fileSize is the file's size, which stands for the space it takes on disk
// where block counts are not at hand.
func fileSize(path string) (size, disk int64, err error) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, 0, err
	}
	return fi.Size(), fi.Size(), nil
}
