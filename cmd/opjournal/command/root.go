// Package command holds the opjournal command line: one file per verb
// (command_<verb>.go), each a thin client of packages store, migrate and
// bench.
//
// Conventions shared by every verb: data goes to stdout, progress and
// messages to stderr; an error is printed once, prefixed "opjournal: ";
// the exit code is 0 on success, 1 on failure (including an answer that is
// a failure, such as a mismatch or a damaged journal) and 2 on bad usage.
package command

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

// Exit codes returned by Execute.
const (
	ExitOK      = 0 // the command did what was asked
	ExitFailure = 1 // it failed, or its answer is a failure (mismatch, damage, unknown op)
	ExitUsage   = 2 // bad usage: wrong arguments, unknown command or flag, bad flag value
)

// NewRootCommand returns the opjournal command with every verb, writing data
// to stdout and messages to stderr. Run it with Execute.
func NewRootCommand(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "opjournal",
		Short: "Migrate, verify, export, inspect and maintain opjournal stores",
		Long: `opjournal works on the felhom agent's operation journal: the bbolt store
(ops.db) and the legacy JSONL log it replaces.

Data goes to stdout and messages to stderr. Exit codes: 0 success, 1 failure
(including a mismatch, a damaged journal or an unknown op), 2 bad usage.

Commands that read a store (get, inflight, applied, stats, check, export,
backup, tail) read a running agent's journal through the live endpoint the
agent serves beside it (DB.sock), and say so on stderr; otherwise they open
the file read-only. prune and compact open it read-write, which needs the
agent stopped: they give up after --lock-timeout and say so.

Shell completion: opjournal completion bash|zsh|fish|powershell --help says
how to load it.`,
		Example: `  opjournal migrate journal.jsonl ops.db
  opjournal inflight ops.db
  opjournal export ops.db -o journal.jsonl`,
		// Args and RunE make the root reject an unknown command as bad usage;
		// cobra's own check would print the help and exit 0.
		Args:          cobra.ArbitraryArgs,
		RunE:          runRoot,
		SilenceErrors: true, // Execute prints the error, once
		SilenceUsage:  true, // a failure is not a usage problem; usage errors point at --help
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &usageError{err} })
	root.Version = version()
	root.SetVersionTemplate("opjournal {{.Version}}\n")
	root.SuggestionsMinimumDistance = 2
	root.AddCommand(
		newMigrateCommand(),
		newVerifyCommand(),
		newExportCommand(),
		newGetCommand(),
		newInFlightCommand(),
		newAppliedCommand(),
		newStatsCommand(),
		newCheckCommand(),
		newPruneCommand(),
		newCompactCommand(),
		newBackupCommand(),
		newTailCommand(),
		newGenCommand(),
		newBenchCommand(),
	)
	return root
}

func runRoot(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		fmt.Fprint(cmd.ErrOrStderr(), cmd.UsageString()) // a message here, not data
		return usagef("no command given")
	}
	msg := fmt.Sprintf("unknown command %q", args[0])
	if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
		msg += fmt.Sprintf(" (did you mean %q?)", s[0])
	}
	return usagef("%s", msg)
}

// Execute runs root with args under ctx (cancelling ctx cancels long
// operations), prints the error if any once to root's stderr, and returns
// the exit code.
func Execute(ctx context.Context, root *cobra.Command, args []string) int {
	if args == nil {
		args = []string{} // cobra reads os.Args for nil
	}
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return ExitOK
	}
	stderr := root.ErrOrStderr()
	if errors.Is(err, context.Canceled) {
		err = explain(err, "%s: interrupted", cmd.Name())
	}
	fmt.Fprintf(stderr, "opjournal: %v\n", err)
	var u *usageError
	if errors.As(err, &u) {
		fmt.Fprintf(stderr, "Run '%s --help' for usage.\n", cmd.CommandPath())
		return ExitUsage
	}
	return ExitFailure
}
