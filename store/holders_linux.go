package store

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// lockHolders lists the processes that hold a flock on the file at path,
// from /proc/locks: writers hold it exclusively (a read-write journal),
// readers shared (read-only journals). Each is "pid N (command)".
func lockHolders(path string) (writers, readers []string) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, nil
	}
	st := fi.Sys().(*syscall.Stat_t)
	dev := uint64(st.Dev)
	major := (dev>>8)&0xfff | (dev>>32)&^0xfff
	minor := dev&0xff | (dev>>12)&^0xff
	want := fmt.Sprintf("%02x:%02x:%d", major, minor, st.Ino)
	f, err := os.Open("/proc/locks")
	if err != nil {
		return nil, nil
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// "1: FLOCK  ADVISORY  WRITE 1234 fe:00:5678 0 EOF"; blocked
		// waiters have "->" after the number.
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 || fields[1] == "->" || fields[1] != "FLOCK" || fields[5] != want {
			continue
		}
		pid, err := strconv.Atoi(fields[4])
		if err != nil {
			continue
		}
		who := fmt.Sprintf("pid %d", pid)
		if comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); err == nil {
			who += " (" + strings.TrimSpace(string(comm)) + ")"
		}
		if fields[3] == "WRITE" {
			writers = append(writers, who)
		} else {
			readers = append(readers, who)
		}
	}
	return writers, readers
}
