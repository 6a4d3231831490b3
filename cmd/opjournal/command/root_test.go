package command_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestUsageErrorsExit2(t *testing.T) {
	db := newStore(t, fixtureRecords())
	for _, tc := range []struct {
		name string
		args []string
		want string // in stderr
	}{
		{"no command", nil, "no command given"},
		{"unknown command", []string{"bogus"}, `unknown command "bogus"`},
		{"misspelt command", []string{"stast", db}, `did you mean "stats"?`},
		{"unknown root flag", []string{"--bogus"}, "unknown flag: --bogus"},
		{"migrate one arg", []string{"migrate", "a"}, "migrate takes 2 argument(s) (SRC DST), got 1"},
		{"verify three args", []string{"verify", "a", "b", "c"}, "verify takes 2 argument(s) (SRC DST), got 3"},
		{"export no args", []string{"export"}, "export takes 1 argument(s) (DB), got 0"},
		{"get one arg", []string{"get", db}, "get takes 2 argument(s) (DB OPID), got 1"},
		{"inflight two args", []string{"inflight", db, "x"}, "inflight takes 1 argument(s) (DB), got 2"},
		{"applied one arg", []string{"applied", db}, "applied takes 2 argument(s) (DB KEY), got 1"},
		{"stats no args", []string{"stats"}, "stats takes 1 argument(s) (DB), got 0"},
		{"check no args", []string{"check"}, "check takes 1 argument(s) (DB), got 0"},
		{"gen no args", []string{"gen"}, "gen takes 1 argument(s) (FILE), got 0"},
		{"unknown flag", []string{"stats", "--bogus", db}, "unknown flag: --bogus"},
		{"bad duration", []string{"stats", "--lock-timeout", "soon", db}, `invalid argument "soon" for "--lock-timeout"`},
		{"zero lock timeout", []string{"stats", "--lock-timeout", "0s", db}, "--lock-timeout 0s: want a positive duration"},
		{"bad int", []string{"gen", "--ops", "many", "-"}, `invalid argument "many" for "--ops"`},
		{"no ops", []string{"gen", "--ops", "0", "-"}, "--ops 0: want at least 1"},
		{"share above 1", []string{"gen", "--key-share", "1.5", "-"}, "--key-share 1.5: want a share between 0 and 1"},
		{"negative share", []string{"gen", "--fail-share", "-0.1", "-"}, "--fail-share -0.1: want a share between 0 and 1"},
		{"empty output", []string{"export", "-o", "", db}, "--output is empty"},
		{"export onto the store", []string{"export", "-o", db, db}, "is the store itself"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, tc.args...)
			requireCode(t, r, 2)
			require.Empty(t, r.stdout, "bad usage should print nothing on stdout")
			require.True(t, strings.HasPrefix(r.stderr, "opjournal: ") || tc.args == nil, "stderr should start with the prefix: %q", r.stderr)
			require.Contains(t, r.stderr, tc.want)
			require.Equal(t, 1, strings.Count(r.stderr, tc.want), "the error should be printed once: %q", r.stderr)
			require.Contains(t, r.stderr, "--help' for usage.")
		})
	}
}

func TestHelp(t *testing.T) {
	for _, verb := range []string{"migrate", "verify", "export", "get", "inflight", "applied", "stats", "check", "gen"} {
		t.Run(verb, func(t *testing.T) {
			r := run(t, verb, "--help")
			requireCode(t, r, 0)
			require.Contains(t, r.stdout, "Usage:\n  opjournal "+verb)
			require.Contains(t, r.stdout, "Examples:\n  opjournal "+verb)
			require.Empty(t, r.stderr)
		})
	}
	r := run(t, "--help")
	requireCode(t, r, 0)
	require.Contains(t, r.stdout, "Exit codes: 0 success, 1 failure")
}

// Failures that are not bad usage exit 1 with one message on stderr.
func TestFailuresExit1(t *testing.T) {
	dir := t.TempDir()
	notJournal := filepath.Join(dir, "notes.txt")
	require.NoError(t, os.WriteFile(notJournal, []byte("hello\n"), 0o600))
	missing := filepath.Join(dir, "missing.db")
	legacy := newLog(t, dir, smallLog)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"missing store", []string{"stats", missing}, missing + ": no such store"},
		{"not a journal", []string{"inflight", notJournal}, notJournal + " is not an opjournal store"},
		{"a legacy log", []string{"get", legacy, "op-1"}, legacy + " is a legacy JSONL journal, not a store; migrate it first"},
		{"missing log", []string{"migrate", missing, filepath.Join(dir, "x.db")}, missing + ": no such log"},
		{"verify missing log", []string{"verify", missing, notJournal}, missing + ": no such log"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, tc.args...)
			requireCode(t, r, 1)
			require.Empty(t, r.stdout)
			require.True(t, strings.HasPrefix(r.stderr, "opjournal: "), "stderr should start with the prefix: %q", r.stderr)
			require.Contains(t, r.stderr, tc.want)
			require.Equal(t, 1, strings.Count(r.stderr, "\n"), "one line of error: %q", r.stderr)
		})
	}
}
