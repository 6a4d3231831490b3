package store_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
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
	sc := faultfs.Scale()
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
		if err := plAppendOps(j, 0, 0, 8*sc); err != nil {
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
		if err := plAppendOps(j, 0, 8*sc, 10*sc); err != nil {
			return err
		}
		return j.Close()
	case "backup":
		// BackupFile between appends: the copy holds every record
		// acknowledged before it.
		j, err := store.Open(path, opts)
		if err != nil {
			return err
		}
		if err := plAppendOps(j, 0, 0, plBackupAt()); err != nil {
			return err
		}
		if _, err := j.BackupFile(ctx, filepath.Join(dir, plBackup)); err != nil {
			return err
		}
		faultfs.Ack("backup")
		if err := plAppendOps(j, 0, plBackupAt(), plBackupAt()+2*sc); err != nil {
			return err
		}
		return j.Close()
	case "prune":
		// Prune, in small batches, while another goroutine appends.
		j, err := store.Open(path, opts)
		if err != nil {
			return err
		}
		if err := plAppendOps(j, 0, 0, 6*sc); err != nil {
			return err
		}
		errs := make(chan error, 1)
		go func() { errs <- plAppendOps(j, 1, 0, 6*sc) }()
		for range 3 * sc {
			if _, err := j.Prune(ctx, store.PruneOptions{Before: t0.Add(time.Hour), BatchSize: 2}); err != nil {
				return err
			}
		}
		if err := <-errs; err != nil {
			return err
		}
		return j.Close()
	case "retention":
		// Background retention pruning every few milliseconds under appends.
		ropts := *opts
		ropts.Retention = &store.Retention{MaxAge: time.Hour, Every: 2 * time.Millisecond, BatchSize: 2}
		j, err := store.Open(path, &ropts)
		if err != nil {
			return err
		}
		if err := plAppendOps(j, 0, 0, 10*sc); err != nil {
			return err
		}
		return j.Close()
	case "upgrade":
		// Upgrade the schema 2 fixture, in small transactions.
		store.SetUpgradeChunk(max(1, 7/sc))
		j, err := store.Open(path, nil)
		if err != nil {
			return err
		}
		faultfs.Ack("upgraded")
		return j.Close()
	case "append8", "append8long":
		ops := 4 * sc
		if workload == "append8long" {
			ops = 40
		}
		j, err := store.Open(path, opts)
		if err != nil {
			return err
		}
		faultfs.Ack("created")
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for w := range 8 {
			wg.Go(func() { errs <- plAppendOps(j, w, 0, ops) })
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

const plBackup = "backup.db"

// plBackupAt is how many ops the backup workload appends before BackupFile.
func plBackupAt() int { return 5 * faultfs.Scale() }

// checkBackup is checkJournal, and, if the backup is there, it opens, passes
// Check and holds every record acknowledged before BackupFile was called.
func checkBackup(dir string, acked []string) error {
	if err := checkJournal(dir, acked); err != nil {
		return err
	}
	path := filepath.Join(dir, plBackup)
	if _, err := os.Lstat(path); errors.Is(err, fs.ErrNotExist) {
		if slices.Contains(acked, "backup") {
			return fmt.Errorf("no backup at %s after BackupFile returned", path)
		}
		return nil
	}
	var before []string
	for _, a := range acked {
		if op := strings.Fields(a); op[0] == "rec" && strings.HasPrefix(op[1], "w0-") {
			if n, _ := strconv.Atoi(strings.TrimSuffix(op[1][3:], "x")); n < plBackupAt() {
				before = append(before, a)
			}
		}
	}
	return openAndCheck(path, before, false)
}

// checkPruned is checkJournal where an acknowledged op may be gone whole
// (pruned), its key still applied.
func checkPruned(dir string, acked []string) error {
	return openAndCheck(filepath.Join(dir, plJournal), acked, true)
}

// checkJournal is the check of a crash state of the store workloads.
func checkJournal(dir string, acked []string) error {
	return openAndCheck(filepath.Join(dir, plJournal), acked, false)
}

func openAndCheck(path string, acked []string, pruned bool) error {
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
	return checkRecords(j, acked, pruned)
}

// checkRecords checks that j holds every acknowledged record ("rec OP
// STATE"), that an acknowledged success's key is applied, and that every
// record in j is one a workload appends, in order.
//
// With pruned, an op whose records are all gone passes (Prune removes ops
// whole), as long as its key, if it has one and its success was
// acknowledged, stays applied.
func checkRecords(j *store.Journal, acked []string, pruned bool) error {
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
		if !found && pruned && len(h) == 0 {
			continue
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

// powerloss records workload and checks n of its crash states.
func powerloss(t *testing.T, workload string, n int, check func(dir string, acked []string) error, env ...string) faultfs.Result {
	t.Helper()
	rec := faultfs.Record(t, workload, nil, 0, env...)
	states := rec.History.States(nil, n, faultfs.Seed(t))
	res := rec.Explore(t, states, check)
	if len(env) == 0 {
		faultfs.Report(t, workload, rec, res)
	}
	return res
}

func TestPowerLossCreate(t *testing.T) {
	powerloss(t, "create", faultfs.Budget(t, 40), checkJournal)
}

func TestPowerLossAppend1(t *testing.T) {
	powerloss(t, "append1", faultfs.Budget(t, 150), checkJournal)
}

func TestPowerLossBackupFile(t *testing.T) {
	powerloss(t, "backup", faultfs.Budget(t, 100), checkBackup)
}

func TestPowerLossPrune(t *testing.T) {
	powerloss(t, "prune", faultfs.Budget(t, 100), checkPruned)
}

func TestPowerLossRetention(t *testing.T) {
	powerloss(t, "retention", faultfs.Budget(t, 100), checkPruned)
}

func TestPowerLossUpgradeSchema2(t *testing.T) {
	want, err := os.ReadFile(filepath.Join("testdata", "schema2", "journal.dump"))
	require.NoError(t, err)
	rec := faultfs.Record(t, "upgrade", func(dir string) {
		b, err := os.ReadFile(filepath.Join("testdata", "schema2", "journal.db"))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, plJournal), b, 0o600))
	}, 0)
	states := rec.History.States(nil, faultfs.Budget(t, 60), faultfs.Seed(t))
	// Every state holds the fixture, upgraded by the next read-write Open
	// if the crash interrupted the upgrade, answering as schema 2 did.
	res := rec.Explore(t, states, func(dir string, acked []string) error {
		j, err := store.Open(filepath.Join(dir, plJournal), nil)
		if err != nil {
			return fmt.Errorf("open: %w", err)
		}
		defer j.Close()
		if _, err := j.Check(context.Background()); err != nil {
			return fmt.Errorf("check: %w", err)
		}
		if m, err := j.Meta(); err != nil || m["schema"] != strconv.Itoa(store.SchemaVersion) {
			return fmt.Errorf("after a read-write open the schema is %q (%v), want %d", m["schema"], err, store.SchemaVersion)
		}
		if got := fixtureDump(t, j); got != string(want) {
			return fmt.Errorf("the upgraded fixture answers differently")
		}
		return nil
	})
	faultfs.Report(t, "upgrade", rec, res)
}

func TestPowerLossAppend8(t *testing.T) {
	powerloss(t, "append8", faultfs.Budget(t, 100), checkJournal)
}

// TestPowerLossAppend8Killed cuts the power at random moments of 8
// appending goroutines: the child is SIGKILLed after a random number of
// acknowledgements, and the states are drawn at the kill and at random
// earlier points of the record.
func TestPowerLossAppend8Killed(t *testing.T) {
	faultfs.Skip(t)
	budget := faultfs.Budget(t, 100)
	seed := faultfs.Seed(t)
	rng := rand.New(rand.NewPCG(seed, 8))
	const trials = 4
	total, distinct := 0, 0
	for trial := range trials {
		rec := faultfs.Record(t, "append8long", nil, 1+rng.IntN(8*40*3))
		ops := len(rec.History.Ops)
		points := []int{ops}
		for range 4 {
			points = append(points, rng.IntN(ops+1))
		}
		states := rec.History.States(points, budget/trials, rng.Uint64())
		res := rec.Explore(t, states, checkJournal)
		faultfs.Report(t, fmt.Sprintf("append8 killed, trial %d", trial), rec, res)
		total, distinct = total+res.States, distinct+res.Distinct
	}
	t.Logf("append8 killed, all trials: %d states, %d distinct", total, distinct)
}

// TestPowerLossCatchesSkippedCreateDirSync shows that the trials can fail:
// without the directory fsync after the link at create, a power cut can
// lose the new journal's name after Open returned.
func TestPowerLossCatchesSkippedCreateDirSync(t *testing.T) {
	res := powerloss(t, "create", 1000, checkJournal, plSkipEnv+"=create-dirsync")
	require.NotEmpty(t, res.Failures, "a create without its directory sync must lose the journal in some state")
	t.Logf("caught in %d of %d distinct states: %s", len(res.Failures), res.Distinct, res.Failures[0])
}

// TestPowerLossCatchesSkippedInstallSync shows that the trials can fail:
// without the file fsync before BackupFile links its copy into place, a
// power cut can leave a half-written copy under the backup's name.
func TestPowerLossCatchesSkippedInstallSync(t *testing.T) {
	res := powerloss(t, "backup", 1000, checkBackup, plSkipEnv+"=install-filesync")
	require.NotEmpty(t, res.Failures, "a backup without its file sync must be found damaged in some state")
	t.Logf("caught in %d of %d distinct states: %s", len(res.Failures), res.Distinct, res.Failures[0])
}

// TestPowerLossCatchesSkippedCompactDirSync shows that the trials can fail:
// without the directory sync after Compact renames the copy over the
// journal, a power cut can bring the old file back, without the records
// appended to the new one since.
func TestPowerLossCatchesSkippedCompactDirSync(t *testing.T) {
	res := powerloss(t, "append1", 1000, checkJournal, plSkipEnv+"=install-dirsync")
	require.NotEmpty(t, res.Failures, "a compaction without its directory sync must lose appends in some state")
	t.Logf("caught in %d of %d distinct states: %s", len(res.Failures), res.Distinct, res.Failures[0])
}
