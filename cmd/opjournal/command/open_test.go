package command_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/felhom/opjournal/store"
)

// A store held open by a process that serves no live endpoint gives, after
// --lock-timeout, a message that says so and what to do.
func TestInUse(t *testing.T) {
	src, db := newMigrated(t, smallLog)
	holdOpen(t, db)
	want := "opjournal: " + db + " is in use by another process (an agent has it open); it serves no live endpoint (store.Options.NoEndpoint), so only stopping it frees the file\n"
	for _, args := range [][]string{
		{"export", db},
		{"get", db, "op-1"},
		{"inflight", db},
		{"applied", db, "job-1"},
		{"stats", db},
		{"check", db},
	} {
		t.Run(args[0], func(t *testing.T) {
			r := run(t, append(args, "--lock-timeout", "100ms")...)
			requireCode(t, r, 1)
			require.Equal(t, want, r.stderr)
			require.Empty(t, r.stdout)
		})
	}
	t.Run("verify", func(t *testing.T) {
		r := run(t, "verify", src, db) // migrate.Verify waits its own 1s
		requireCode(t, r, 1)
		require.Equal(t, want, r.stderr)
	})
	t.Run("migrate --replace", func(t *testing.T) {
		r := run(t, "migrate", "--replace", src, db)
		requireCode(t, r, 1)
		require.Equal(t, "opjournal: "+db+" is in use by another process (an agent has it open); stop it before replacing the store\n", r.stderr)
	})
	t.Run("default timeout", func(t *testing.T) {
		start := time.Now()
		r := run(t, "stats", db)
		requireCode(t, r, 1)
		require.Equal(t, want, r.stderr)
		took := time.Since(start)
		// bbolt gives up one 50ms retry short of the timeout.
		require.True(t, took >= 1900*time.Millisecond && took < 10*time.Second, "gave up after %s, want about 2s", took)
	})
}

// Read commands share the store with other read-only openers.
func TestReadersShare(t *testing.T) {
	_, db := newMigrated(t, smallLog)
	j, err := store.Open(db, &store.Options{ReadOnly: true})
	require.NoError(t, err)
	defer j.Close()
	r := run(t, "stats", "--lock-timeout", "100ms", db)
	requireCode(t, r, 0)
}
