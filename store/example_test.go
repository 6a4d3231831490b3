package store_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/felhom/opjournal/store"
)

func Example() {
	dir, _ := os.MkdirTemp("", "opjournal-example")
	defer os.RemoveAll(dir)

	j, err := store.OpenJournal(filepath.Join(dir, "ops.db"))
	if err != nil {
		log.Fatal(err)
	}
	at := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	_ = j.Append(store.JournalEntry{OpID: "op-1", VMID: 101, Kind: "start", State: store.OpStarted, IdempKey: "job-42", At: at})
	_ = j.Append(store.JournalEntry{OpID: "op-1", VMID: 101, Kind: "start", State: store.OpTaskRunning, UPID: "UPID:pve:1", IdempKey: "job-42", At: at})
	for _, e := range j.InFlight() {
		fmt.Println("in flight:", e.OpID, e.State, e.UPID)
	}
	_ = j.Append(store.JournalEntry{OpID: "op-1", VMID: 101, Kind: "start", State: store.OpSucceeded, IdempKey: "job-42", At: at})
	fmt.Println("applied:", j.AlreadyApplied("job-42"))
	_ = j.Close()
	// Output:
	// in flight: op-1 task_running UPID:pve:1
	// applied: true
}

func ExampleJournal_BeginOnce() {
	dir, _ := os.MkdirTemp("", "opjournal-example")
	defer os.RemoveAll(dir)
	j, _ := store.Open(filepath.Join(dir, "ops.db"), nil)
	defer j.Close()

	start := func(op string) {
		err := j.BeginOnce(store.JournalEntry{OpID: op, Kind: "restore", State: store.OpStarted, IdempKey: "signed-job-7"})
		var held *store.KeyInFlightError
		switch {
		case err == nil:
			fmt.Println(op, "runs")
		case errors.Is(err, store.ErrAlreadyApplied):
			fmt.Println(op, "skipped: already applied")
		case errors.As(err, &held):
			fmt.Println(op, "waits: key held by", held.Holder)
		}
	}
	start("op-a")
	start("op-b")
	_ = j.Append(store.JournalEntry{OpID: "op-a", Kind: "restore", State: store.OpSucceeded, IdempKey: "signed-job-7"})
	start("op-c")
	// Output:
	// op-a runs
	// op-b waits: key held by op-a
	// op-c skipped: already applied
}

func ExampleJournal_History() {
	dir, _ := os.MkdirTemp("", "opjournal-example")
	defer os.RemoveAll(dir)
	j, _ := store.Open(filepath.Join(dir, "ops.db"), nil)
	defer j.Close()
	for _, s := range []store.OpState{store.OpStarted, store.OpTaskRunning, store.OpFailed} {
		_ = j.Append(store.JournalEntry{OpID: "op-1", Kind: "stop", State: s})
	}
	h, _ := j.History("op-1")
	for _, e := range h {
		fmt.Println(e.State)
	}
	// Output:
	// started
	// task_running
	// failed
}

// runOnce runs a one-shot job at most once, across crashes and restarts,
// and records how it ended.
func runOnce(j *store.Journal, opID, jobKey string, vmid int, job func() error) error {
	start := store.JournalEntry{OpID: opID, VMID: vmid, Kind: "start", State: store.OpStarted, IdempKey: jobKey, At: time.Now()}
	var held *store.KeyInFlightError
	switch err := j.BeginOnce(start); {
	case errors.Is(err, store.ErrAlreadyApplied):
		return nil // it already succeeded, maybe before a restart
	case errors.As(err, &held):
		return fmt.Errorf("job %s is running as op %s", jobKey, held.Holder)
	case err != nil:
		return err // the journal failed: do not run the job
	}
	end := start
	end.State = store.OpSucceeded
	if err := job(); err != nil {
		end.State = store.OpFailed
	}
	end.At = time.Now()
	return j.Append(end)
}

func Example_runOnce() {
	dir, err := os.MkdirTemp("", "opjournal-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	j, err := store.Open(filepath.Join(dir, "ops.db"), nil)
	if err != nil {
		log.Fatal(err)
	}
	defer j.Close()

	// On start-up: resume or roll back what a crash interrupted.
	for _, op := range j.InFlight() {
		fmt.Println("interrupted:", op.OpID)
	}
	runs := 0
	job := func() error { runs++; return nil }
	for _, op := range []string{"op-1", "op-2"} { // the same job, submitted twice
		if err := runOnce(j, op, "signed-job-42", 101, job); err != nil {
			log.Fatal(err)
		}
	}
	fmt.Println("ran", runs, "time(s); applied:", j.AlreadyApplied("signed-job-42"))
	// Output:
	// ran 1 time(s); applied: true
}

// Follow ships every record, in commit order, to wherever a fleet-wide
// view lives; the consumer keeps the last sequence number it shipped and
// resumes after it, across its own restarts and the agent's.
func ExampleJournal_Follow() {
	dir, _ := os.MkdirTemp("", "opjournal-example")
	defer os.RemoveAll(dir)
	j, err := store.Open(filepath.Join(dir, "ops.db"), &store.Options{NoEndpoint: true})
	if err != nil {
		log.Fatal(err)
	}
	defer j.Close()
	at := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	for _, st := range []store.OpState{store.OpStarted, store.OpTaskRunning, store.OpSucceeded} {
		if err := j.Append(store.JournalEntry{OpID: "op-1", VMID: 101, Kind: "start", State: st, At: at}); err != nil {
			log.Fatal(err)
		}
	}

	shipped := uint64(1) // saved by the consumer: it shipped record 1 before it restarted
	ctx, stop := context.WithCancel(context.Background())
	err = j.Follow(ctx, shipped, func(c store.Change) error {
		fmt.Println(c.Seq, c.Record.OpID, c.Record.State) // ship it, then save c.Seq
		shipped = c.Seq
		if shipped == j.LastSeq() {
			stop() // an example ends; a shipper follows until its context ends
		}
		return nil
	})
	fmt.Println(errors.Is(err, context.Canceled), shipped)
	// Output:
	// 2 op-1 task_running
	// 3 op-1 succeeded
	// true 3
}
