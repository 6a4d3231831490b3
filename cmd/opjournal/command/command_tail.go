package command

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/felhom/opjournal/live"
	"github.com/felhom/opjournal/store"
)

type tailFlags struct {
	n      int
	follow bool
	from   uint64
	json   bool
	src    sourceFlags
}

// tailRetry is how often tail -f looks for the agent again after it went
// away.
var tailRetry = time.Second

func newTailCommand() *cobra.Command {
	var f tailFlags
	cmd := &cobra.Command{
		Use:   "tail DB [-n N] [-f] [--from SEQ] [--json]",
		Short: "Print the last records, or follow new ones as an agent commits them",
		Long: `Tail prints the last N records of the store DB (default 10) in commit order,
one line each: its sequence number, then the record. With --from SEQ it prints
the records after sequence number SEQ instead (at most N without -f).

With -f it then keeps printing each record as the agent holding DB commits
it, through the agent's live endpoint (DB.sock), like tail -f or journalctl
-f. When the agent stops or restarts, tail waits for it and carries on from
the last record it printed: nothing is missed or printed twice. A consumer
resumes after its own restart with --from and the last sequence number it
handled; --from prints the records that remain after SEQ (Prune may have
removed some of them). If, while tail follows, Prune removes records before
tail could print them, tail says so and exits 1.

With --json each line is {"seq": N, "record": {...}}. Without -f, tail also
reads a store no process holds.`,
		Example: `  opjournal tail ops.db
  opjournal tail -f ops.db
  opjournal tail -f --from 41234 --json ops.db | jq -c .record`,
		Args: exactArgs("DB"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if f.n < 0 || f.n > store.MaxTail {
				return usagef("-n %d: want 0 to %d (page through more with --from)", f.n, store.MaxTail)
			}
			return runTail(cmd, args[0], &f)
		},
	}
	cmd.Flags().IntVarP(&f.n, "lines", "n", 10, "how many records to print first")
	cmd.Flags().BoolVarP(&f.follow, "follow", "f", false, "keep printing records as they are committed")
	cmd.Flags().Uint64Var(&f.from, "from", 0, "print the records after this sequence number instead of the last N")
	cmd.Flags().BoolVar(&f.json, "json", false, `print each record as a JSON line {"seq", "record"}`)
	addSourceFlags(cmd, &f.src)
	return cmd
}

func runTail(cmd *cobra.Command, db string, f *tailFlags) error {
	ctx := cmd.Context()
	out := &tailWriter{w: cmd.OutOrStdout(), json: f.json}
	fromSet := cmd.Flags().Changed("from")

	src, err := openSourceFor(cmd, db, &f.src, fromSet)
	if err != nil {
		return err
	}
	last, err := tailFirst(ctx, src, f, fromSet, out)
	_ = src.Close()
	if err != nil || !f.follow {
		return err
	}
	socket := f.src.socket
	if socket == "" {
		socket = store.EndpointPath(db)
	}
	stderr := cmd.ErrOrStderr()
	waiting := false
	for {
		c, err := dialLive(ctx, db, socket, false)
		var ae *live.Error
		switch {
		case err != nil && (errors.As(err, &ae) || errors.Is(err, fs.ErrPermission) || ctx.Err() != nil):
			return err // refused, or interrupted
		case err != nil: // an agent starting or stopping
			if !waiting {
				fmt.Fprintf(stderr, "cannot reach the agent serving %s yet (%v); retrying\n", db, err)
				waiting = true
			}
		case c == nil:
			if !waiting {
				fmt.Fprintf(stderr, "waiting for an agent to serve %s at %s\n", db, socket)
				waiting = true
			}
		default:
			if waiting {
				fmt.Fprintf(stderr, "following the live journal of process %d\n", c.Info().PID)
			}
			err = c.Follow(ctx, last, func(ch store.Change) error {
				if err := out.write(ch); err != nil {
					return outputError{err}
				}
				last = ch.Seq
				return nil
			})
			_ = c.Close()
			var oe outputError
			switch {
			case ctx.Err() != nil:
				return nil // interrupted: the normal end of tail -f
			case errors.As(err, &oe):
				return oe.err
			case !errors.Is(err, store.ErrClosed) && !errors.Is(err, live.ErrLost):
				return err // an answer: pruned, damaged, poisoned
			}
			fmt.Fprintf(stderr, "the agent stopped serving %s (%v); waiting for it\n", db, err)
			waiting = true
		}
		// No agent serves the file, or it just stopped: what an agent
		// committed last, while it closed (after its feed ended), is in
		// the file. Print it, then wait.
		if last, err = tailClosed(ctx, db, last, out); err != nil {
			return err
		}
		if !sleep(ctx, tailRetry) {
			return nil
		}
	}
}

// sleep waits for d or until ctx is done, and reports whether it waited.
func sleep(ctx context.Context, d time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
}

// tailFirst prints what tail shows before following: the last n records,
// or those after --from. It returns the last sequence number printed (or,
// with nothing printed, the one to follow from). A source that holds the
// file (offline, for the last n) is read before anything is printed, so
// that a reader that stops reading tail's output holds nothing.
func tailFirst(ctx context.Context, src source, f *tailFlags, fromSet bool, out *tailWriter) (uint64, error) {
	if !fromSet {
		// The last sequence number first: what is committed between the
		// two calls is in the tail, or followed.
		last, err := src.LastSeq(ctx)
		if err != nil || f.n == 0 {
			return last, err
		}
		cs, err := src.Tail(ctx, f.n)
		if err != nil {
			return 0, err
		}
		_ = src.Close()
		for _, c := range cs {
			if err := out.write(c); err != nil {
				return 0, err
			}
			last = max(last, c.Seq)
		}
		return last, nil
	}
	last := f.from
	for left := f.n; f.follow || left > 0; {
		limit := 1000
		if !f.follow {
			limit = min(limit, left)
		}
		cs, err := src.Changes(ctx, last, limit)
		if err != nil {
			return 0, err
		}
		for _, c := range cs {
			if err := out.write(c); err != nil {
				return 0, err
			}
			last = c.Seq
		}
		left -= len(cs)
		if len(cs) < limit {
			break
		}
	}
	return last, nil
}

// tailClosed prints the records after last from the file of a journal
// whose agent has just closed it, if nobody holds it yet, and returns the
// last sequence number printed. It holds the file only while it reads a
// page, never while it prints.
func tailClosed(ctx context.Context, db string, last uint64, out *tailWriter) (uint64, error) {
	for {
		j, err := store.Open(db, &store.Options{ReadOnly: true, LockTimeout: 100 * time.Millisecond})
		if err != nil {
			return last, nil // held again (the agent is back), or gone: follow will tell
		}
		cs, err := j.Changes(last, 1000)
		_ = j.Close()
		if err != nil {
			return last, err
		}
		for _, c := range cs {
			if err := out.write(c); err != nil {
				return last, err
			}
			last = c.Seq
		}
		if len(cs) < 1000 || ctx.Err() != nil {
			return last, nil
		}
	}
}

// tailWriter prints records one line each.
type tailWriter struct {
	w    io.Writer
	json bool
}

func (t *tailWriter) write(c store.Change) error {
	var line string
	if t.json {
		b, err := json.Marshal(c)
		if err != nil {
			return err
		}
		line = string(b)
	} else {
		row := append([]string{fmt.Sprint(c.Seq)}, entryRow(&c.Record)...)
		line = strings.Join(append(row, formatParams(c.Record.Params)), "  ")
	}
	_, err := fmt.Fprintln(t.w, line)
	return err
}

// outputError is a failure to print, which ends tail -f.
type outputError struct{ err error }

func (e outputError) Error() string { return e.err.Error() }
