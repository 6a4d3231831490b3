package migrate

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/felhom/opjournal/internal/install"
	"github.com/felhom/opjournal/store"
)

// ErrConflict is returned by OpenOrMigrate when a store and a legacy log both
// exist and the log is not the one the store was migrated from (say, an
// older agent wrote a new log after a rollback). Nothing is changed: an
// operator must decide.
var ErrConflict = errors.New("migrate: store and legacy log both exist")

// RetiredSuffix is appended to a legacy log's name once it is migrated.
const RetiredSuffix = ".migrated"

// OpenOrMigrate is the agent's upgrade step. If the store at dbPath does not
// exist and the legacy log at legacyPath does, it migrates the log (always
// verifying), renames the log to legacyPath+RetiredSuffix, and opens the
// store; otherwise it just opens (or creates) the store. storeOpts are the
// options of that open; opts those of the migration (Replace and NoVerify
// are ignored). The report is nil when nothing was migrated.
//
// Each step is crash-safe. A crash during the migration leaves no store, so
// the next start migrates again. A crash after the store is in place but
// before the log is renamed leaves both: the next start sees that the store
// was migrated from this very log (same path and size), does not migrate
// again, keeps the appends made in between, and finishes the rename.
func OpenOrMigrate(dbPath, legacyPath string, opts *Options, storeOpts *store.Options) (*store.Journal, *Report, error) {
	var rep *Report
	dbExists, err := exists(dbPath)
	if err != nil {
		return nil, nil, err
	}
	legacyExists, err := exists(legacyPath)
	if err != nil {
		return nil, nil, err
	}
	if !dbExists && legacyExists {
		o := opts.withDefaults()
		o.Replace, o.NoVerify = false, false
		if rep, err = Migrate(context.Background(), legacyPath, dbPath, &o); err != nil {
			return nil, nil, err
		}
		hook("installed")
	}
	j, err := store.Open(dbPath, storeOpts)
	if err != nil {
		return nil, nil, err
	}
	if legacyExists {
		if err := retire(j, legacyPath); err != nil {
			_ = j.Close()
			return nil, nil, err
		}
		hook("retired")
	}
	return j, rep, nil
}

// retire renames the legacy log if the store was migrated from it.
func retire(j *store.Journal, legacyPath string) error {
	m, ok, err := j.Migration()
	if err != nil {
		return err
	}
	abs, err := filepath.Abs(legacyPath)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	fi, err := os.Stat(legacyPath)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if !ok || m.Source != abs || m.Size != fi.Size() {
		return fmt.Errorf("%w: %s was not migrated from %s (%d bytes); migrate it explicitly or move it away",
			ErrConflict, j.Path(), legacyPath, fi.Size())
	}
	retired := legacyPath + RetiredSuffix
	if ok, err := exists(retired); err != nil || ok {
		if err == nil {
			err = fmt.Errorf("%w: %s already exists", ErrConflict, retired)
		}
		return err
	}
	if err := install.Rename(legacyPath, retired); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if err := install.SyncDir(filepath.Dir(legacyPath)); err != nil {
		return fmt.Errorf("migrate: sync %s: %w", filepath.Dir(legacyPath), err)
	}
	return nil
}

func exists(path string) (bool, error) {
	_, err := os.Lstat(path)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	}
	return false, fmt.Errorf("migrate: %w", err)
}
