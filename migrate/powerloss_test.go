package migrate

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/felhom/opjournal/internal/faultfs"
	"github.com/felhom/opjournal/store"
)

// The power-loss trials of Migrate and OpenOrMigrate: each runs in a child
// on a faultfs mount holding a legacy log, and every crash state drawn from
// its record must leave the log untouched and either no store or a complete
// one (Migrate), or a store that the next OpenOrMigrate opens as the log's
// replay plus every acknowledged append (OpenOrMigrate).

const (
	plLegacy  = "ops.jsonl"
	plDB      = "ops.db"
	plSkipEnv = "OPJOURNAL_POWERLOSS_SKIP_SYNC"
)

// plLegacyN is how many ops the legacy log holds.
func plLegacyN() int { return 40 * faultfs.Scale() }

// plNew is the i-th record appended to new op n after the migration.
func plNew(n, i int) store.JournalEntry {
	op := fmt.Sprintf("new-%d", n)
	states := []store.OpState{store.OpStarted, store.OpTaskRunning, store.OpSucceeded}
	e := store.JournalEntry{OpID: op, VMID: 200 + n%3, Kind: "start", State: states[i], IdempKey: "newkey-" + op,
		At: t0.Add(time.Hour + time.Duration(3*n+i)*time.Second)}
	if i > 0 {
		e.UPID = "UPID:" + op
	}
	return e
}

func powerlossChild(workload string) {
	if err := runPowerlossWorkload(workload, os.Getenv(faultfs.DirEnv)); err != nil {
		fmt.Fprintf(os.Stderr, "workload %s: %v\n", workload, err)
		os.Exit(1)
	}
	os.Exit(0)
}

func runPowerlossWorkload(workload, dir string) error {
	skipSync = os.Getenv(plSkipEnv)
	src, dst := filepath.Join(dir, plLegacy), filepath.Join(dir, plDB)
	switch workload {
	case "migrate":
		if _, err := Migrate(context.Background(), src, dst, &Options{BatchSize: 16}); err != nil {
			return err
		}
		faultfs.Ack("migrated")
		return nil
	case "openormigrate":
		j, _, err := OpenOrMigrate(dst, src, &Options{BatchSize: 16}, &store.Options{IndexMergeEvery: 4})
		if err != nil {
			return err
		}
		faultfs.Ack("opened")
		for n := range 6 * faultfs.Scale() {
			for i := range 3 {
				if err := j.Append(plNew(n, i)); err != nil {
					return err
				}
				faultfs.Ack("rec %d %d", n, i)
			}
		}
		return j.Close()
	}
	return fmt.Errorf("no workload %q", workload)
}

func recordMigration(t *testing.T, workload string, env ...string) (*faultfs.Recording, []byte) {
	t.Helper()
	legacy := lines(t, lifecycle(plLegacyN())...)
	rec := faultfs.Record(t, workload, func(dir string) {
		require.NoError(t, os.WriteFile(filepath.Join(dir, plLegacy), legacy, 0o600))
	}, 0, env...)
	return rec, legacy
}

// checkMigrated: the log is untouched, and the store is missing (unless
// Migrate returned) or complete and verified against the log.
func checkMigrated(legacy []byte) func(dir string, acked []string) error {
	return func(dir string, acked []string) error {
		src, dst := filepath.Join(dir, plLegacy), filepath.Join(dir, plDB)
		if b, err := os.ReadFile(src); err != nil || !bytes.Equal(b, legacy) {
			return fmt.Errorf("the legacy log changed (%v)", err)
		}
		if _, err := os.Lstat(dst); errors.Is(err, fs.ErrNotExist) {
			if slices.Contains(acked, "migrated") {
				return fmt.Errorf("no store at %s after Migrate returned", dst)
			}
			return nil
		}
		if _, err := Verify(context.Background(), src, dst); err != nil {
			return fmt.Errorf("a store at %s that does not verify: %w", dst, err)
		}
		return nil
	}
}

// checkOpenOrMigrate: the next OpenOrMigrate opens a store that answers as
// the log's replay plus every acknowledged append and nothing else, and the
// log ends retired, unchanged.
func checkOpenOrMigrate(legacy []byte) func(dir string, acked []string) error {
	want := lifecycle(plLegacyN())
	return func(dir string, acked []string) error {
		src, dst := filepath.Join(dir, plLegacy), filepath.Join(dir, plDB)
		j, _, err := OpenOrMigrate(dst, src, nil, nil)
		if err != nil {
			return fmt.Errorf("the next OpenOrMigrate: %w", err)
		}
		defer j.Close()
		if _, err := j.Check(context.Background()); err != nil {
			return fmt.Errorf("check: %w", err)
		}
		if b, err := os.ReadFile(src + RetiredSuffix); err != nil || !bytes.Equal(b, legacy) {
			return fmt.Errorf("the retired log is not the legacy log (%v)", err)
		}
		if _, err := os.Lstat(src); err == nil {
			return fmt.Errorf("the legacy log is still at %s", src)
		}
		// The replay: every legacy op's records, exactly.
		byOp := map[string][]store.JournalEntry{}
		for _, e := range want {
			byOp[e.OpID] = append(byOp[e.OpID], e)
		}
		for op, recs := range byOp {
			h, err := j.History(op)
			if err != nil {
				return err
			}
			if len(h) != len(recs) {
				return fmt.Errorf("op %s has %d records, the log %d", op, len(h), len(recs))
			}
			for i := range h {
				if diff := diffEntry(recs[i], h[i]); diff != "" {
					return fmt.Errorf("op %s record %d: %s", op, i, diff)
				}
			}
		}
		// The acknowledged appends, and no record never appended.
		for _, a := range acked {
			var n, i int
			if _, err := fmt.Sscanf(a, "rec %d %d", &n, &i); err != nil {
				continue
			}
			h, err := j.History(plNew(n, i).OpID)
			if err != nil {
				return err
			}
			if len(h) <= i {
				return fmt.Errorf("acknowledged record %d of new-%d lost (%d records)", i, n, len(h))
			}
		}
		return j.ForEachRecord(func(seq uint64, e store.JournalEntry) error {
			if _, ok := byOp[e.OpID]; ok {
				return nil
			}
			var n int
			if _, err := fmt.Sscanf(e.OpID, "new-%d", &n); err != nil || !strings.HasPrefix(e.OpID, "new-") {
				return fmt.Errorf("record of op %q: never appended", e.OpID)
			}
			for i := range 3 {
				if diffEntry(plNew(n, i), e) == "" {
					return nil
				}
			}
			return fmt.Errorf("record %+v: never appended", e)
		})
	}
}

func TestPowerLossMigrate(t *testing.T) {
	rec, legacy := recordMigration(t, "migrate")
	states := rec.History.States(nil, faultfs.Budget(t, 80), faultfs.Seed(t))
	faultfs.Report(t, "migrate", rec, rec.Explore(t, states, checkMigrated(legacy)))
}

func TestPowerLossOpenOrMigrate(t *testing.T) {
	rec, legacy := recordMigration(t, "openormigrate")
	states := rec.History.States(nil, faultfs.Budget(t, 80), faultfs.Seed(t))
	faultfs.Report(t, "openormigrate", rec, rec.Explore(t, states, checkOpenOrMigrate(legacy)))
}

// TestPowerLossCatchesSkippedMigrateSync shows that the trials can fail:
// without the store's file sync before it is linked into place, a power cut
// can leave a store that does not verify under the final name.
func TestPowerLossCatchesSkippedMigrateSync(t *testing.T) {
	rec, legacy := recordMigration(t, "migrate", plSkipEnv+"=install-filesync")
	states := rec.History.States(nil, 1000, faultfs.Seed(t))
	res := rec.Explore(t, states, checkMigrated(legacy))
	require.NotEmpty(t, res.Failures, "a migration without its file sync must leave a bad store in some state")
	t.Logf("caught in %d of %d distinct states: %s", len(res.Failures), res.Distinct, res.Failures[0])
}
