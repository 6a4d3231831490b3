package store

import (
	"net"
	"os"
	"syscall"
)

// peerUID returns the user id of the process at the other end of c, from
// the kernel (SO_PEERCRED), not from anything the peer says.
func peerUID(c *net.UnixConn) (int, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return 0, err
	}
	var cred *syscall.Ucred
	var credErr error
	if err := raw.Control(func(fd uintptr) {
		cred, credErr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	}); err != nil {
		return 0, err
	}
	if credErr != nil {
		return 0, credErr
	}
	return int(cred.Uid), nil
}

// fileOwner returns the user id that owns the file at path.
func fileOwner(path string) (int, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	return int(fi.Sys().(*syscall.Stat_t).Uid), nil
}

// fileID returns the device and inode of the file at path (zeros if it
// cannot be read).
func fileID(path string) (dev, ino uint64) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, 0
	}
	st := fi.Sys().(*syscall.Stat_t)
	return uint64(st.Dev), st.Ino
}
