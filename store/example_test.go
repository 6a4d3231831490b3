package store_test

import (
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
