package command

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"strings"
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

// openReadOnly opens the store at path for reading, turning the errors a
// user meets most into messages that say what to do.
func openReadOnly(path string, lockTimeout time.Duration) (*store.Journal, error) {
	return openReading(context.Background(), path, lockTimeout, false)
}

// openReading opens the store at path for reading, as openReadOnly does;
// with private, it opens a private copy (store.OpenCopy), so that a long
// read holds the file only for the time of the copy and never keeps an
// agent from opening it.
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
		return nil, explain(err, "%s: no such store", path)
	case errors.Is(err, store.ErrNotJournal) && looksLikeJSONL(path):
		return nil, explain(err, "%s is a legacy JSONL journal, not a store; migrate it first (opjournal migrate)", path)
	case errors.Is(err, store.ErrSchema) && strings.Contains(err.Error(), "read-write"):
		return nil, explain(err, "%s has an older schema; upgrade it once: stop the agent and run opjournal compact %s (or let the agent open it)", path, path)
	}
	return nil, err
}

// openReadWrite opens an existing store at path for writing (it never
// creates one).
func openReadWrite(path string, lockTimeout time.Duration) (*store.Journal, error) {
	if _, err := os.Lstat(path); err != nil {
		return nil, explain(err, "%s: no such store", path)
	}
	j, err := store.Open(path, &store.Options{LockTimeout: lockTimeout, NoEndpoint: true})
	switch {
	case err == nil:
		return j, nil
	case errors.Is(err, store.ErrLocked):
		return nil, inUse(err, path, "stop it first")
	case errors.Is(err, store.ErrNotJournal) && looksLikeJSONL(path):
		return nil, explain(err, "%s is a legacy JSONL journal, not a store; migrate it first (opjournal migrate)", path)
	}
	return nil, err
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
