package command_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// A missing store or log is named in one wording by every command, without
// the system call that found it missing.
func TestMissingFilesInOneWording(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "missing.db")
	log := filepath.Join(dir, "missing.jsonl")
	for _, args := range [][]string{
		{"stats", db}, {"get", db, "op"}, {"inflight", db}, {"check", db}, {"export", db},
		{"compact", db}, {"prune", db, "--older-than", "1d"}, {"backup", db, filepath.Join(dir, "b.db")},
	} {
		r := run(t, args...)
		requireCode(t, r, 1)
		require.Equal(t, "opjournal: "+db+": no such store\n", r.stderr, "%v", args)
	}
	for _, args := range [][]string{{"migrate", log, db}, {"verify", log, db}} {
		r := run(t, args...)
		requireCode(t, r, 1)
		require.Equal(t, "opjournal: "+log+": no such log\n", r.stderr, "%v", args)
	}
}

// Writing over a directory or into a missing one says so, without temporary
// names or system calls.
func TestOutputErrorsWithoutGoInternals(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "adir")
	require.NoError(t, os.Mkdir(sub, 0o700))
	r := run(t, "gen", sub, "--ops", "3")
	requireCode(t, r, 1)
	require.Equal(t, "opjournal: "+sub+" is a directory\n", r.stderr)

	r = run(t, "gen", filepath.Join(dir, "nodir", "x.jsonl"), "--ops", "3")
	requireCode(t, r, 1)
	require.Equal(t, "opjournal: write "+filepath.Join(dir, "nodir", "x.jsonl")+": no such file or directory\n", r.stderr)
}

// A log that yields no record is refused, leaving no store, unless
// --allow-empty.
func TestMigrateEmptyLog(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "ops.db")
	for _, content := range []string{"", "\n\ngarbage\n"} {
		src := filepath.Join(dir, "journal.jsonl")
		require.NoError(t, os.WriteFile(src, []byte(content), 0o600))
		r := run(t, "migrate", "--skip-bad-lines", src, db)
		requireCode(t, r, 1)
		require.Contains(t, r.stderr, src+" yields no record")
		require.Contains(t, r.stderr, "--allow-empty")
		_, err := os.Lstat(db)
		require.ErrorIs(t, err, os.ErrNotExist, "nothing written")
		entries, err := os.ReadDir(dir)
		require.NoError(t, err)
		require.Len(t, entries, 1, "no temporary file left")

		r = run(t, "migrate", "--skip-bad-lines", "--allow-empty", src, db)
		requireCode(t, r, 0)
		require.Regexp(t, `(?m)^records\s+0$`, r.stdout)
		require.NoError(t, os.Remove(db))
	}
}

// Verify lists the lines it could not read, as migrate does.
func TestVerifyListsUnreadLines(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "journal.jsonl")
	db := filepath.Join(dir, "ops.db")
	require.NoError(t, os.WriteFile(src, []byte(`{"op_id":"a","vmid":1,"kind":"k","state":"started","at":"2026-01-01T00:00:00Z"}`+"\ngarbage\n"+`{"op_id":"a","vm`), 0o600))
	r := run(t, "migrate", "--skip-bad-lines", src, db)
	requireCode(t, r, 0)
	r = run(t, "verify", src, db)
	requireCode(t, r, 0)
	require.Regexp(t, `(?s)^ok: 1 record matches\nskipped lines:\n  line 2 \(byte 80\): not a record: .*\n  line 3 \(byte 88\): torn final line`, r.stdout)

	r = run(t, "verify", "--json", src, db)
	requireCode(t, r, 0)
	require.Contains(t, r.stdout, `"line": 3`)
}

func TestExportHelpSaysJSONL(t *testing.T) {
	r := run(t, "export", "--help")
	requireCode(t, r, 0)
	require.Contains(t, r.stdout, "JSONL is its only format, so it takes no\n--json")
}

// A destination in a missing directory, and a file that is not a store, are
// named as such, without temporary names or bbolt's words.
func TestDestinationsAndNonStores(t *testing.T) {
	src, db := newMigrated(t, smallLog)
	dir := t.TempDir()
	r := run(t, "backup", db, filepath.Join(dir, "nodir", "b.db"))
	requireCode(t, r, 1)
	require.Equal(t, "opjournal: "+filepath.Join(dir, "nodir", "b.db")+": no such directory "+filepath.Join(dir, "nodir")+"\n", r.stderr)
	r = run(t, "migrate", src, filepath.Join(dir, "nodir", "x.db"))
	requireCode(t, r, 1)
	require.Equal(t, "opjournal: "+filepath.Join(dir, "nodir", "x.db")+": no such directory "+filepath.Join(dir, "nodir")+"\n", r.stderr)

	other := filepath.Join(dir, "notes.txt")
	require.NoError(t, os.WriteFile(other, []byte("not a journal at all\n"), 0o600))
	for _, args := range [][]string{{"stats", other}, {"compact", other}, {"verify", src, other}, {"prune", other, "--older-than", "1d"}} {
		r := run(t, args...)
		requireCode(t, r, 1)
		require.Contains(t, r.stderr, "opjournal: "+other+" is not an opjournal store\n", "%v", args)
	}
}
