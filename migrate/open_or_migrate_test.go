package migrate

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/felhom/opjournal/internal/faultfs"
	"github.com/felhom/opjournal/store"
)

const crashEnv = "OPJOURNAL_TEST_CRASH_AT"

func TestMain(m *testing.M) {
	if w := os.Getenv(faultfs.ChildEnv); w != "" {
		powerlossChild(w)
		return
	}
	if step := os.Getenv(crashEnv); step != "" {
		crashChild(step)
		return
	}
	if src := os.Getenv(migrateEnv); src != "" {
		migrateChild(src, os.Getenv("DB"))
		return
	}
	goleak.VerifyTestMain(m)
}

// crashChild runs OpenOrMigrate and dies abruptly (no deferred cleanup, no
// Close) when it reaches step.
func crashChild(step string) {
	hook = func(s string) {
		if s == step {
			os.Exit(42)
		}
	}
	_, _, err := OpenOrMigrate(os.Getenv("DB"), os.Getenv("LEGACY"), nil, nil)
	fmt.Fprintln(os.Stderr, "did not crash:", err)
	os.Exit(1)
}

func TestOpenOrMigrateFreshAndPlain(t *testing.T) {
	dir := t.TempDir()
	db, legacy := filepath.Join(dir, "ops.db"), filepath.Join(dir, "ops.jsonl")
	j, rep, err := OpenOrMigrate(db, legacy, nil, nil)
	require.NoError(t, err)
	require.Nil(t, rep, "nothing to migrate")
	require.NoError(t, j.Close())
	require.ElementsMatch(t, []string{"ops.db"}, dirNames(t, dir))
}

// A crash between any two steps of the upgrade, then a restart, loses
// nothing, migrates at most once, and keeps appends made in between.
func TestOpenOrMigrateSurvivesCrashAtEveryStep(t *testing.T) {
	entries := lifecycle(300)
	ops, keys := idsAndKeys(entries)
	for _, step := range []string{"loaded", "verified", "installed", "retired"} {
		t.Run("crash="+step, func(t *testing.T) {
			dir := t.TempDir()
			db, legacy := filepath.Join(dir, "ops.db"), filepath.Join(dir, "ops.jsonl")
			writeFile(t, legacy, lines(t, entries...))
			want := legacyState(t, legacy, ops, keys)

			child := exec.Command(os.Args[0], "-test.run=^$")
			child.Env = append(os.Environ(), crashEnv+"="+step, "DB="+db, "LEGACY="+legacy)
			out, err := child.CombinedOutput()
			var exit *exec.ExitError
			require.ErrorAs(t, err, &exit, "child output: %s", out)
			require.Equal(t, 42, exit.ExitCode(), "child output: %s", out)

			var extra *store.JournalEntry
			if _, err := os.Stat(db); err == nil {
				// The agent ran on the new store before the next restart.
				j, err := store.Open(db, nil)
				require.NoError(t, err)
				extra = &store.JournalEntry{OpID: "after-crash", State: store.OpStarted, At: t0}
				require.NoError(t, j.Append(*extra))
				require.NoError(t, j.Close())
			}

			j, _, err := OpenOrMigrate(db, legacy, nil, nil)
			require.NoError(t, err)
			got := stateOf(j, ops, keys)
			_, hasExtra := j.Latest("after-crash")
			require.NoError(t, j.Close())
			got.inflight = slices.DeleteFunc(got.inflight, func(op string) bool { return op == "after-crash" })
			require.True(t, reflect.DeepEqual(want, got), "the store differs from the legacy replay")
			require.Equal(t, extra != nil, hasExtra, "appends made between crash and restart are kept")
			require.NoFileExists(t, legacy)
			require.FileExists(t, legacy+RetiredSuffix)
			require.ElementsMatch(t, []string{"ops.db", "ops.jsonl.migrated"}, stripTemps(dirNames(t, dir)))
		})
	}
}

// stripTemps drops the temporary files a killed migration leaves.
func stripTemps(names []string) []string {
	var out []string
	for _, n := range names {
		if n[0] != '.' {
			out = append(out, n)
		}
	}
	return out
}

func TestOpenOrMigrateRefusesAStrangeLog(t *testing.T) {
	dir := t.TempDir()
	db, legacy := filepath.Join(dir, "ops.db"), filepath.Join(dir, "ops.jsonl")
	writeFile(t, legacy, lines(t, lifecycle(5)...))
	j, _, err := OpenOrMigrate(db, legacy, nil, nil)
	require.NoError(t, err)
	require.NoError(t, j.Close())

	// An older agent, rolled back, wrote a new log beside the store.
	writeFile(t, legacy, lines(t, lifecycle(7)...))
	_, _, err = OpenOrMigrate(db, legacy, nil, nil)
	require.ErrorIs(t, err, ErrConflict)
	require.FileExists(t, legacy, "nothing is changed")
}
