package store

import (
	"errors"
	"os"
)

// oNoFollow is zero: Windows has no O_NOFOLLOW, and Open's Lstat check is
// the only guard against a symlink.
const oNoFollow = 0

// lockNB fails: Compact swaps the file under a Unix flock, and Windows
// cannot rename over a file that is open.
func lockNB(*os.File) error {
	return errors.New("compacting in place needs Unix file locks; not supported on Windows")
}

// owner reports no owner: Windows files carry none that Chown can set.
func owner(os.FileInfo) (uid, gid int, ok bool) { return 0, 0, false }
