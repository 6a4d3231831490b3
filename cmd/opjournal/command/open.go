package command

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/felhom/opjournal/store"
)

// defaultLockTimeout is how long read commands wait for a writer to let go
// of the store: long enough to ride out an agent's restart, short enough
// that a running agent is reported within seconds.
const defaultLockTimeout = 2 * time.Second

// addLockTimeoutFlag registers --lock-timeout on a command that opens a store.
func addLockTimeoutFlag(cmd *cobra.Command, d *time.Duration) {
	cmd.Flags().DurationVar(d, "lock-timeout", defaultLockTimeout,
		"how long to wait for a process holding the store open (an agent) before giving up")
}

// openReading opens the store at path for reading, turning the errors a
// user meets most into messages that say what to do. With private, it
// opens a private copy (store.OpenCopy), so that a long read holds the file
// only for the time of the copy and never keeps an agent from opening it.
func openReading(ctx context.Context, path string, lockTimeout time.Duration, private bool) (*store.Journal, error) {
	if lockTimeout <= 0 {
		return nil, usagef("--lock-timeout %s: want a positive duration", lockTimeout)
	}
	opts := &store.Options{ReadOnly: true, LockTimeout: lockTimeout}
	var j *store.Journal
	var err error
	if private {
		j, err = store.OpenCopy(ctx, path, opts)
	} else {
		j, err = store.Open(path, opts)
	}
	switch {
	case err == nil:
		return j, nil
	case errors.Is(err, store.ErrLocked):
		return nil, inUse(err, path, "it serves no live endpoint (store.Options.NoEndpoint), so only stopping it frees the file")
	case errors.Is(err, fs.ErrNotExist):
		return nil, missing(err, path, "store")
	case errors.Is(err, store.ErrNotJournal):
		return nil, notAStore(err, path)
	}
	return nil, explainSchema(err, path)
}

// openReadWrite opens an existing store at path for writing (it never
// creates one).
func openReadWrite(path string, lockTimeout time.Duration) (*store.Journal, error) {
	if err := requireExists(path, "store"); err != nil {
		return nil, err
	}
	j, err := store.Open(path, &store.Options{LockTimeout: lockTimeout, NoEndpoint: true})
	switch {
	case err == nil:
		return j, nil
	case errors.Is(err, store.ErrLocked):
		return nil, inUse(err, path, "stop it first")
	case errors.Is(err, store.ErrNotJournal):
		return nil, notAStore(err, path)
	}
	return nil, explainSchema(err, path)
}

// explainSchema says what to do about a store of a schema this build cannot
// open as asked; other errors are returned as they are.
func explainSchema(err error, path string) error {
	var se *store.SchemaError
	switch {
	case !errors.As(err, &se):
		return err
	case se.TooNew():
		return explain(err, "%s has schema %d, written by a newer opjournal; this opjournal reads schemas up to %d: use a newer one", path, se.Found, se.Supported)
	default:
		return explain(err, "%s has an older schema (%d); upgrade it once: stop the agent and run opjournal compact %s (or let the agent open it)", path, se.Found, path)
	}
}

// requireExists fails, in the one wording every command uses, unless
// something exists at path; what is "store" or "log".
func requireExists(path, what string) error {
	if _, err := os.Lstat(path); err != nil {
		return missing(err, path, what)
	}
	return nil
}

// requireParentDir fails, saying so, unless the directory a new file at
// path goes into exists.
func requireParentDir(path string) error {
	dir := filepath.Dir(path)
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return explain(err, "%s: no such directory %s", path, dir)
	case err != nil:
		return explain(err, "%s: %v", dir, plainError(err))
	case !fi.IsDir():
		return fmt.Errorf("%s: %s is not a directory", path, dir)
	}
	return nil
}

// notAStore explains store.ErrNotJournal for the file at path: a legacy
// log is named as such; anything else is not a store.
func notAStore(err error, path string) error {
	if looksLikeJSONL(path) {
		return explain(err, "%s is a legacy JSONL journal, not a store; migrate it first (opjournal migrate)", path)
	}
	return explain(err, "%s is not an opjournal store", path)
}

// missing explains a failure to find path: "PATH: no such store" when it
// does not exist, else the reason without the system call's name.
func missing(err error, path, what string) error {
	if errors.Is(err, fs.ErrNotExist) {
		return explain(err, "%s: no such %s", path, what)
	}
	return explain(err, "%s: %v", path, plainError(err))
}

// looksLikeJSONL reports whether the file begins as the legacy writer
// begins every record.
func looksLikeJSONL(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	head := make([]byte, len(`{"op_id":`))
	_, err = io.ReadFull(f, head)
	return err == nil && string(head) == `{"op_id":`
}
