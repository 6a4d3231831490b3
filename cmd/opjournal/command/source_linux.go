package command

import (
	"os"
	"syscall"

	"github.com/felhom/opjournal/store"
)

// sameJournal reports whether the endpoint serves the file at path.
func sameJournal(path string, info store.EndpointInfo) bool {
	fi, err := os.Stat(path)
	if err != nil {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && uint64(st.Dev) == info.Dev && st.Ino == info.Ino
}
