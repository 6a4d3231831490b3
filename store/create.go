package store

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/felhom/opjournal/internal/install"
)

// create makes a new, empty journal at path crash-safely. bbolt's own first
// initialisation is not power-safe and never fsyncs the directory, so the
// file is initialised under a temporary name in the same directory, synced,
// linked into place (link, unlike rename, fails rather than replace a
// journal another opener created meanwhile), and the directory synced. A
// crash at any point leaves either no journal or a complete one, plus at
// worst a stray temporary file.
func create(path string, o *Options) error {
	dir := filepath.Dir(path)
	tmp, err := install.Temp(path, ".init-") // mode 0600
	if err != nil {
		return fmt.Errorf("store: create %s: %w", path, err)
	}
	name := tmp.Name()
	removed := false
	defer func() {
		if !removed {
			_ = os.Remove(name)
		}
	}()
	err = initFile(tmp, name, o)
	if err == nil {
		err = install.Link(name, path)
		if errors.Is(err, fs.ErrExist) {
			// Another opener won the race: open theirs, but only once
			// its name is durable, which it may not have made yet.
			return install.SyncDir(dir)
		}
	}
	if err == nil {
		err = os.Remove(name)
		removed = err == nil
	}
	if err == nil && skipSync != "create-dirsync" {
		err = install.SyncDir(dir)
	}
	if err != nil {
		return fmt.Errorf("store: create %s: %w", path, err)
	}
	return nil
}

func initFile(tmp *os.File, name string, o *Options) error {
	if err := tmp.Close(); err != nil {
		return err
	}
	db, err := bolt.Open(name, 0o600, &bolt.Options{
		Timeout:        o.LockTimeout,
		NoFreelistSync: o.NoFreelistSync,
		FreelistType:   o.FreelistType,
	})
	if err != nil {
		return err
	}
	err = db.Update(func(tx *bolt.Tx) error { return initLayout(tx, time.Now()) })
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	// bbolt fdatasyncs its pages; sync once more so the inode (size) is
	// durable before the name is.
	return install.SyncFile(name)
}

// skipSync names one sync to leave out, for the power-loss trials to show
// that they catch it missing. Set only by tests; empty in the product.
var skipSync string
