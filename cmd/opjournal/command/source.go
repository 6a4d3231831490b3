package command

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/felhom/opjournal/live"
	"github.com/felhom/opjournal/migrate"
	"github.com/felhom/opjournal/store"
)

// source is what the read commands read: the store file itself (offline),
// or, when a process holds it open, that process's live endpoint. Both
// answer alike, so a command prints the same either way.
type source interface {
	Get(ctx context.Context, opID string) (store.JournalEntry, bool, error)
	History(ctx context.Context, opID string) ([]store.JournalEntry, error)
	InFlight(ctx context.Context) ([]store.JournalEntry, error)
	Applied(ctx context.Context, key string) (store.AppliedKey, bool, error)
	ByVMID(ctx context.Context, vmid int) ([]store.JournalEntry, error)
	ByUPID(ctx context.Context, upid string) (store.JournalEntry, bool, error)
	Stats(ctx context.Context) (store.Stats, error)
	Meta(ctx context.Context) (map[string]string, error)
	Check(ctx context.Context) (store.CheckReport, error)
	Tail(ctx context.Context, n int) ([]store.Change, error)
	Changes(ctx context.Context, from uint64, limit int) ([]store.Change, error)
	LastSeq(ctx context.Context) (uint64, error)
	// Export writes the records as legacy JSONL and returns how many
	// records and bytes it wrote.
	Export(ctx context.Context, w io.Writer, progress func(int)) (records int, bytes int64, err error)
	Backup(ctx context.Context, w io.Writer) (int64, error)
	Close() error
}

// sourceFlags are the flags of every command that reads a store.
type sourceFlags struct {
	lockTimeout time.Duration
	socket      string
}

func addSourceFlags(cmd *cobra.Command, f *sourceFlags) {
	addLockTimeoutFlag(cmd, &f.lockTimeout)
	cmd.Flags().StringVar(&f.socket, "socket", "",
		"read a live journal through this socket (default: DB.sock, where an agent serves it)")
}

// openSource opens the store at path for reading: through its live endpoint
// when a process serves one for this very file (saying so on stderr), else
// the file itself, read-only: directly for a short read, through a private
// copy for a long one (see openReading).
func openSource(cmd *cobra.Command, path string, f *sourceFlags) (source, error) {
	return openSourceFor(cmd, path, f, false)
}

// openLongSource is openSource for a read that walks the whole store or
// writes into a pipe that may be slow.
func openLongSource(cmd *cobra.Command, path string, f *sourceFlags) (source, error) {
	return openSourceFor(cmd, path, f, true)
}

func openSourceFor(cmd *cobra.Command, path string, f *sourceFlags, long bool) (source, error) {
	socket := f.socket
	if socket == "" {
		socket = store.EndpointPath(path)
	}
	if c, err := dialLive(cmd.Context(), path, socket, f.socket != ""); c != nil || err != nil {
		if err != nil {
			return nil, err
		}
		info := c.Info()
		fmt.Fprintf(cmd.ErrOrStderr(), "reading the live journal of process %d through %s\n", info.PID, socket)
		return liveSource{c}, nil
	}
	j, err := openReading(cmd.Context(), path, f.lockTimeout, long)
	if err != nil {
		return nil, err
	}
	return offline{j}, nil
}

// dialLive connects to the live endpoint at socket if one answers there for
// the store at path. No endpoint is not an error unless the user named the
// socket.
func dialLive(ctx context.Context, path, socket string, named bool) (*live.Client, error) {
	if _, err := os.Lstat(socket); err != nil && !named {
		return nil, nil
	}
	c, err := live.Dial(ctx, socket)
	var ae *live.Error
	switch {
	case err == nil:
	case errors.As(err, &ae):
		return nil, explain(err, "%s: %v", socket, err)
	case errors.Is(err, fs.ErrPermission):
		return nil, explain(err, "%s: permission denied: a live journal is served to root, the journal file's owner and the agent's own user only", socket)
	case !named && (errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, fs.ErrNotExist)):
		return nil, nil // a stale socket: the journal is not open
	default:
		return nil, explain(err, "%s: %v", socket, err)
	}
	if !sameJournal(path, c.Info()) {
		_ = c.Close()
		if named {
			return nil, fmt.Errorf("%s serves %s, not %s", socket, c.Info().Path, path)
		}
		return nil, nil
	}
	return c, nil
}

// offline reads the store file.
type offline struct{ j *store.Journal }

func (o offline) Get(_ context.Context, op string) (store.JournalEntry, bool, error) {
	return o.j.Get(op)
}
func (o offline) History(_ context.Context, op string) ([]store.JournalEntry, error) {
	return o.j.History(op)
}
func (o offline) InFlight(context.Context) ([]store.JournalEntry, error) { return o.j.InFlightOps() }
func (o offline) Applied(_ context.Context, key string) (store.AppliedKey, bool, error) {
	return o.j.Applied(key)
}
func (o offline) ByVMID(_ context.Context, vmid int) ([]store.JournalEntry, error) {
	return o.j.ByVMID(vmid)
}
func (o offline) ByUPID(_ context.Context, upid string) (store.JournalEntry, bool, error) {
	return o.j.ByUPID(upid)
}
func (o offline) Stats(context.Context) (store.Stats, error)            { return o.j.Stats() }
func (o offline) Meta(context.Context) (map[string]string, error)       { return o.j.Meta() }
func (o offline) Check(ctx context.Context) (store.CheckReport, error)  { return o.j.Check(ctx) }
func (o offline) Tail(_ context.Context, n int) ([]store.Change, error) { return o.j.Tail(n) }
func (o offline) Changes(_ context.Context, from uint64, limit int) ([]store.Change, error) {
	return o.j.Changes(from, limit)
}
func (o offline) LastSeq(context.Context) (uint64, error)                { return o.j.LastSeq(), nil }
func (o offline) Backup(ctx context.Context, w io.Writer) (int64, error) { return o.j.Backup(ctx, w) }
func (o offline) Close() error                                           { return o.j.Close() }

func (o offline) Export(ctx context.Context, w io.Writer, progress func(int)) (int, int64, error) {
	rep, err := migrate.Export(ctx, o.j, w, progress)
	if err != nil {
		return 0, 0, err
	}
	return rep.Records, rep.Bytes, nil
}

// liveSource reads a live journal through its endpoint.
type liveSource struct{ *live.Client }

func (l liveSource) Export(ctx context.Context, w io.Writer, progress func(int)) (int, int64, error) {
	lc := &lineCounter{w: w, progress: progress}
	n, err := l.Client.Export(ctx, lc)
	return lc.lines, n, err
}

// lineCounter counts the lines written through it.
type lineCounter struct {
	w        io.Writer
	lines    int
	progress func(int)
}

func (c *lineCounter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	for _, b := range p[:n] {
		if b == '\n' {
			if c.lines++; c.lines%4096 == 0 && c.progress != nil {
				c.progress(c.lines)
			}
		}
	}
	return n, err
}
