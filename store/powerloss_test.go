package store_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/felhom/opjournal/internal/faultfs"
	"github.com/felhom/opjournal/store"
)

// The power-loss trials run a workload in a child process on a faultfs
// mount, then check every crash state drawn from its record: the journal
// opens (no ErrCorrupt), passes Check, holds every record the child had
// acknowledged before the crash point and nothing it never appended.

const plJournal = "ops.db"

// plRecord is the i-th record of op w-n: the records a workload appends,
// by name, so that a check can tell an appended record from an invented one.
func plRecord(op string, i int) store.JournalEntry {
	states := []store.OpState{store.OpStarted, store.OpTaskRunning, store.OpSucceeded}
	e := store.JournalEntry{OpID: op, VMID: 100 + len(op)%5, Kind: "start", State: states[i%3],
		At: t0.Add(time.Duration(i) * time.Second)}
	if i%3 != 0 {
		e.UPID = "UPID:" + op
	}
	if !strings.HasSuffix(op, "x") {
		e.IdempKey = "key-" + op
	}
	return e
}

// plAppendOps appends the three records of each op n in [from, to) of
// writer w: BeginOnce for the first, then Append, with every fourth op's
// last two records in one AppendBatch. Each returned record is acked as
// "rec OP STATE".
func plAppendOps(j *store.Journal, w, from, to int) error {
	for n := from; n < to; n++ {
		op := fmt.Sprintf("w%d-%d", w, n)
		if n%3 == 2 {
			op += "x" // no idempotency key
		}
		if err := j.BeginOnce(plRecord(op, 0)); err != nil {
			return err
		}
		faultfs.Ack("rec %s %s", op, plRecord(op, 0).State)
		if n%4 == 3 {
			if err := j.AppendBatch([]store.JournalEntry{plRecord(op, 1), plRecord(op, 2)}); err != nil {
				return err
			}
			faultfs.Ack("rec %s %s", op, plRecord(op, 1).State)
			faultfs.Ack("rec %s %s", op, plRecord(op, 2).State)
			continue
		}
		for i := 1; i < 3; i++ {
			if err := j.Append(plRecord(op, i)); err != nil {
				return err
			}
			faultfs.Ack("rec %s %s", op, plRecord(op, i).State)
		}
	}
	return nil
}

// powerlossChild runs the workload named in faultfs.ChildEnv in the
// directory named in faultfs.DirEnv, and exits.
func powerlossChild(workload string) {
	dir := os.Getenv(faultfs.DirEnv)
	path := filepath.Join(dir, plJournal)
	if err := runPowerlossWorkload(workload, dir, path); err != nil {
		fmt.Fprintf(os.Stderr, "workload %s: %v\n", workload, err)
		os.Exit(1)
	}
	os.Exit(0)
}

func runPowerlossWorkload(workload, dir, path string) error {
	ctx := context.Background()
	opts := &store.Options{IndexMergeEvery: 4}
	if skip := os.Getenv(plSkipEnv); skip != "" {
		store.SetSkipSync(skip)
	}
	switch workload {
	case "smoke":
		j, err := store.Open(path, nil)
		if err != nil {
			return err
		}
		if err := j.Append(plRecord("a", 0)); err != nil {
			return err
		}
		if err := j.Close(); err != nil {
			return err
		}
		j, err = store.Open(path, nil)
		if err != nil {
			return err
		}
		if _, err := j.Check(ctx); err != nil {
			return err
		}
		if h, err := j.History("a"); err != nil || len(h) != 1 {
			return fmt.Errorf("history after reopen: %v, %v", h, err)
		}
		return j.Close()
	case "create":
		j, err := store.Open(path, opts)
		if err != nil {
			return err
		}
		faultfs.Ack("created")
		return j.Close()
	case "append1":
		// Create, append from one goroutine, close, compact, append more.
		j, err := store.Open(path, opts)
		if err != nil {
			return err
		}
		faultfs.Ack("created")
		if err := plAppendOps(j, 0, 0, 8); err != nil {
			return err
		}
		if err := j.Close(); err != nil {
			return err
		}
		if _, err := store.Compact(ctx, path, nil); err != nil {
			return err
		}
		if j, err = store.Open(path, opts); err != nil {
			return err
		}
		if err := plAppendOps(j, 0, 8, 10); err != nil {
			return err
		}
		return j.Close()
	case "append8":
		j, err := store.Open(path, opts)
		if err != nil {
			return err
		}
		faultfs.Ack("created")
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for w := range 8 {
			wg.Go(func() { errs <- plAppendOps(j, w, 0, 4) })
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				return err
			}
		}
		return j.Close()
	}
	return fmt.Errorf("no workload %q", workload)
}

// plSkipEnv names a sync for the child to skip (store.SetSkipSync): the
// trials must then find a loss.
const plSkipEnv = "OPJOURNAL_POWERLOSS_SKIP_SYNC"

// checkJournal is the check of a crash state of the store workloads.
func checkJournal(dir string, acked []string) error {
	path := filepath.Join(dir, plJournal)
	if _, err := os.Lstat(path); errors.Is(err, fs.ErrNotExist) {
		if len(acked) > 0 {
			return fmt.Errorf("no journal at %s after %d acknowledgements (first %q)", path, len(acked), acked[0])
		}
		return nil
	}
	j, err := store.Open(path, nil)
	if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	defer j.Close()
	if _, err := j.Check(context.Background()); err != nil {
		return fmt.Errorf("check: %w", err)
	}
	return checkRecords(j, acked)
}

// checkRecords checks that j holds every acknowledged record ("rec OP
// STATE"), that an acknowledged success's key is applied, and that every
// record in j is one a workload appends, in order.
func checkRecords(j *store.Journal, acked []string) error {
	for _, a := range acked {
		f := strings.Fields(a)
		if f[0] != "rec" {
			continue
		}
		op, state := f[1], store.OpState(f[2])
		h, err := j.History(op)
		if err != nil {
			return err
		}
		found := false
		for _, e := range h {
			found = found || e.State == state
		}
		if !found {
			return fmt.Errorf("acknowledged record %s %s lost (history %v)", op, state, h)
		}
		if e := plRecord(op, 2); state == e.State && e.IdempKey != "" {
			if ok, err := j.IsApplied(e.IdempKey); err != nil || !ok {
				return fmt.Errorf("acknowledged success of %s: key %s not applied (%v)", op, e.IdempKey, err)
			}
		}
	}
	next := map[string]int{}
	return j.ForEachRecord(func(seq uint64, e store.JournalEntry) error {
		i := next[e.OpID]
		next[e.OpID] = i + 1
		want := plRecord(e.OpID, i)
		if !validOpName(e.OpID) || e.State != want.State || e.UPID != want.UPID || e.IdempKey != want.IdempKey || !e.At.Equal(want.At) {
			return fmt.Errorf("record %d of %s is %+v: never appended", i, e.OpID, e)
		}
		return nil
	})
}

func validOpName(op string) bool {
	w, n, ok := strings.Cut(strings.TrimSuffix(op, "x"), "-")
	if !ok || !strings.HasPrefix(w, "w") {
		return false
	}
	_, err1 := strconv.Atoi(w[1:])
	_, err2 := strconv.Atoi(n)
	return err1 == nil && err2 == nil
}

// TestFaultFSBboltWorks checks that a journal works at all on the mount:
// created, appended to, closed, opened again and read.
func TestFaultFSBboltWorks(t *testing.T) {
	rec := faultfs.Record(t, "smoke", nil, 0)
	var syncs, dirSyncs int
	for _, o := range rec.History.Ops {
		switch o.Kind {
		case faultfs.Sync:
			syncs++
		case faultfs.SyncDir:
			dirSyncs++
		}
	}
	for i, o := range rec.History.Ops {
		t.Logf("%3d %s", i, o)
	}
	t.Logf("%d operations, %d file syncs, %d directory syncs", len(rec.History.Ops), syncs, dirSyncs)
	require.NotZero(t, syncs, "fsync and fdatasync reach the file system")
	require.NotZero(t, dirSyncs, "directory fsync reaches the file system")
}

// powerloss records workload and checks n of its crash states (at least).
func powerloss(t *testing.T, workload string, n int, check func(dir string, acked []string) error, env ...string) []faultfs.Failure {
	t.Helper()
	rec := faultfs.Record(t, workload, nil, 0, env...)
	states := rec.History.States(nil, n, faultfs.Seed(t))
	start := time.Now()
	fails := rec.Explore(t, states, check)
	t.Logf("%s: %d operations, %d acknowledgements, %d crash points, %d states checked, %d failed (%v)",
		workload, len(rec.History.Ops), len(rec.Acks), len(rec.History.CrashPoints()), len(states), len(fails), time.Since(start).Round(time.Millisecond))
	return fails
}

func requireNoLoss(t *testing.T, workload string, fails []faultfs.Failure) {
	t.Helper()
	for i, f := range fails {
		if i == 5 {
			t.Errorf("... and %d more", len(fails)-5)
			break
		}
		t.Errorf("%s: %s", workload, f)
	}
}

func TestPowerLossCreate(t *testing.T) {
	requireNoLoss(t, "create", powerloss(t, "create", faultfs.Budget(t, 40), checkJournal))
}

func TestPowerLossAppend1(t *testing.T) {
	requireNoLoss(t, "append1", powerloss(t, "append1", faultfs.Budget(t, 150), checkJournal))
}

func TestPowerLossAppend8(t *testing.T) {
	requireNoLoss(t, "append8", powerloss(t, "append8", faultfs.Budget(t, 100), checkJournal))
}

// TestPowerLossCatchesSkippedCreateDirSync shows that the trials can fail:
// without the directory fsync after the link at create, a power cut can
// lose the new journal's name after Open returned.
func TestPowerLossCatchesSkippedCreateDirSync(t *testing.T) {
	fails := powerloss(t, "create", 1000, checkJournal, plSkipEnv+"=create-dirsync")
	require.NotEmpty(t, fails, "a create without its directory sync must lose the journal in some state")
	t.Logf("caught: %s", fails[0])
}

// TestPowerLossCatchesSkippedInstallSync shows that the trials can fail:
// without the file fsync before Compact renames its copy over the journal,
// a power cut can leave a half-written copy under the journal's name.
func TestPowerLossCatchesSkippedInstallSync(t *testing.T) {
	fails := powerloss(t, "append1", 3000, checkJournal, plSkipEnv+"=install-filesync")
	require.NotEmpty(t, fails, "a compaction without its file sync must lose records in some state")
	t.Logf("caught: %s", fails[0])
}
