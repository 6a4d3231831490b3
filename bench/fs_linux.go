package bench

import (
	"fmt"
	"os"
	"syscall"
)

// File system magic numbers (statfs(2) f_type).
const (
	magicTmpfs = 0x01021994
	magicRamfs = 0x858458f6
)

var fileSystems = map[int64]string{
	magicTmpfs: "tmpfs",
	magicRamfs: "ramfs",
	0xef53:     "ext2/ext3/ext4",
	0x58465342: "xfs",
	0x9123683e: "btrfs",
	0x2fc12fc1: "zfs",
	0xf2f52010: "f2fs",
	0x794c7630: "overlayfs",
	0x6969:     "nfs",
	0xff534d42: "cifs",
	0x65735546: "fuse",
	0x01161970: "gfs2",
	0x5346544e: "ntfs",
	0x4d44:     "vfat",
}

// FsyncFree reports whether fsync costs nothing on the file system holding
// dir because it lives in memory (tmpfs, ramfs): durable appends measured
// there say nothing about a disk. It also names the file system (with its
// statfs magic number when the name is not known), for the record. A dir
// that cannot be examined is reported as not free, with the error as name.
//
// A disk whose write cache ignores flushes (or a hypervisor that does) also
// makes fsync nearly free, and no statfs shows it: Run also warns when the
// measured fsync floor is implausibly fast.
func FsyncFree(dir string) (bool, string) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return false, fmt.Sprintf("unknown (%v)", err)
	}
	magic := int64(st.Type) & 0xffffffff
	name, ok := fileSystems[magic]
	if !ok {
		name = fmt.Sprintf("unknown (magic %#x)", magic)
	}
	return magic == magicTmpfs || magic == magicRamfs, name
}

// fdatasync flushes f's data and only the metadata needed to read it back;
// nil where the OS has none.
var fdatasync = func(f *os.File) error { return syscall.Fdatasync(int(f.Fd())) }

// allocated is the space the file's blocks take on disk.
func allocated(fi os.FileInfo) int64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Blocks * 512
	}
	return fi.Size()
}

// settle writes back every dirty page and journal of the system (sync(2)),
// so that a measured run does not pay for the writeback the previous one
// left behind.
func settle() { syscall.Sync() }
