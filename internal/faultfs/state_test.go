//go:build linux

package faultfs

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// materialise builds state s of h in a fresh directory and returns its
// files by name.
func materialise(t *testing.T, h *History, s State) map[string]string {
	t.Helper()
	dir := t.TempDir()
	if _, err := h.Materialise(dir, s); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = string(b)
	}
	return out
}

func TestDurableAtSyncs(t *testing.T) {
	h := &History{Initial: map[string]int{"old": 1}, Data: map[int][]byte{1: []byte("old")}, Ops: []Op{
		{Kind: Create, Name: "a", File: 2},
		{Kind: Write, File: 2, Off: 0, Data: []byte("hello")},
		{Kind: Sync, File: 2},
		{Kind: SyncDir},
		{Kind: Write, File: 2, Off: 0, Data: []byte("HELLO, world")},
		{Kind: Unlink, Name: "old"},
	}}
	for _, c := range []struct {
		s    State
		want map[string]string
	}{
		{State{Point: 0, Mode: KeepAll}, map[string]string{"old": "old"}},
		{State{Point: 2, Mode: DropAll}, map[string]string{"old": "old"}},
		{State{Point: 2, Mode: KeepAll}, map[string]string{"old": "old", "a": "hello"}},
		{State{Point: 3, Mode: DropAll}, map[string]string{"old": "old"}}, // the name is not durable yet
		{State{Point: 4, Mode: DropAll}, map[string]string{"old": "old", "a": "hello"}},
		{State{Point: 6, Mode: DropAll}, map[string]string{"old": "old", "a": "hello"}},
		{State{Point: 6, Mode: KeepAll}, map[string]string{"a": "HELLO, world"}},
	} {
		got := materialise(t, h, c.s)
		if len(got) != len(c.want) {
			t.Errorf("%s: got %q, want %q", c.s, got, c.want)
			continue
		}
		for k, v := range c.want {
			if got[k] != v {
				t.Errorf("%s: got %q, want %q", c.s, got, c.want)
			}
		}
	}
}

// A link to a file whose creation was dropped is dropped too; a rename of a
// name that was dropped does nothing.
func TestDirectoryDependencies(t *testing.T) {
	h := &History{Initial: map[string]int{}, Data: map[int][]byte{}, Ops: []Op{
		{Kind: Create, Name: "tmp", File: 1},
		{Kind: Write, File: 1, Data: []byte("data")},
		{Kind: Sync, File: 1},
		{Kind: Link, Name: "final", File: 1},
		{Kind: Create, Name: "t2", File: 2},
		{Kind: Rename, Name: "t2", NewName: "moved"},
	}}
	sawFinal, sawMoved := false, false
	for seed := range uint64(300) {
		got := materialise(t, h, State{Point: len(h.Ops), Mode: Random, Seed: seed})
		if _, ok := got["final"]; ok {
			sawFinal = true
			if got["final"] != "data" {
				t.Fatalf("seed %d: final holds %q", seed, got["final"])
			}
		}
		if _, ok := got["moved"]; ok {
			sawMoved = true
		}
		for name := range got {
			if name != "tmp" && name != "final" && name != "t2" && name != "moved" {
				t.Fatalf("seed %d: unexpected %s", seed, name)
			}
		}
		_, final := got["final"]
		_, tmp := got["tmp"]
		if final && !tmp {
			// tmp's creation must have been kept: nothing unlinks it.
			t.Fatalf("seed %d: a link to a file whose creation was dropped: %q", seed, got)
		}
		_, t2 := got["t2"]
		_, moved := got["moved"]
		if t2 && moved {
			t.Fatalf("seed %d: one file under the names before and after a rename: %q", seed, got)
		}
	}
	if !sawFinal || !sawMoved {
		t.Fatalf("300 random states never kept the link (%v) or the rename (%v)", sawFinal, sawMoved)
	}
}

// Unsynced writes are dropped, kept or torn at 512-byte sectors: each sector
// holds all old or all new bytes, and the three outcomes all occur.
func TestTornWrites(t *testing.T) {
	old := bytes.Repeat([]byte{'o'}, 2048)
	neu := bytes.Repeat([]byte{'n'}, 2048)
	h := &History{Initial: map[string]int{"f": 1}, Data: map[int][]byte{1: old}, Ops: []Op{
		{Kind: Write, File: 1, Off: 0, Data: neu},
	}}
	var none, all, torn int
	for seed := range uint64(200) {
		got := []byte(materialise(t, h, State{Point: 1, Mode: Random, Seed: seed})["f"])
		if len(got) != 2048 {
			t.Fatalf("seed %d: size %d", seed, len(got))
		}
		n := 0
		for s := 0; s < 2048; s += SectorSize {
			sec := got[s : s+SectorSize]
			switch {
			case bytes.Equal(sec, neu[:SectorSize]):
				n++
			case bytes.Equal(sec, old[:SectorSize]):
			default:
				t.Fatalf("seed %d: sector at %d mixes old and new bytes", seed, s)
			}
		}
		switch n {
		case 0:
			none++
		case 4:
			all++
		default:
			torn++
		}
	}
	if none == 0 || all == 0 || torn == 0 {
		t.Fatalf("dropped %d, kept %d, torn %d times: want each", none, all, torn)
	}
}

// A write past the end that is dropped leaves the durable size; a
// truncate that is dropped leaves the durable content.
func TestSizeDurableAtSync(t *testing.T) {
	h := &History{Initial: map[string]int{"f": 1}, Data: map[int][]byte{1: []byte("abc")}, Ops: []Op{
		{Kind: Truncate, File: 1, Size: 1},
		{Kind: Write, File: 1, Off: 4, Data: []byte("xy")},
		{Kind: Sync, File: 1},
	}}
	if got := materialise(t, h, State{Point: 2, Mode: DropAll})["f"]; got != "abc" {
		t.Fatalf("all dropped: %q", got)
	}
	if got := materialise(t, h, State{Point: 2, Mode: KeepAll})["f"]; got != "a\x00\x00\x00xy" {
		t.Fatalf("all kept: %q", got)
	}
	if got := materialise(t, h, State{Point: 3, Mode: DropAll})["f"]; got != "a\x00\x00\x00xy" {
		t.Fatalf("after the sync: %q", got)
	}
}

// Pending, counted in one pass, agrees with the model's replay at every
// point.
func TestPendingMatchesReplay(t *testing.T) {
	h := &History{Initial: map[string]int{"f": 1}, Data: map[int][]byte{1: []byte("abc")}, Ops: []Op{
		{Kind: Create, Name: "a", File: 2},
		{Kind: Write, File: 2, Data: []byte("x")},
		{Kind: Write, File: 1, Data: []byte("y")},
		{Kind: Sync, File: 2},
		{Kind: Link, Name: "b", File: 2},
		{Kind: Truncate, File: 1, Size: 0},
		{Kind: SyncDir},
		{Kind: Unlink, Name: "f"},
		{Kind: Sync, File: 1},
	}}
	for p := range len(h.Ops) + 1 {
		r := h.replay(p)
		n := len(r.dirPending)
		for _, f := range r.files {
			n += len(f.pending)
		}
		if got := h.Pending(p); got != n {
			t.Errorf("point %d: Pending %d, replay %d", p, got, n)
		}
	}
}
