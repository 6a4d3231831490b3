//go:build linux

package faultfs

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
)

// SectorSize is the unit a torn write keeps or loses.
const SectorSize = 512

// History is a recorded run: the directory at mount and the operations
// since. Its methods are not safe for concurrent use.
type History struct {
	Initial map[string]int // name -> file id at mount
	Data    map[int][]byte // file id -> content at mount
	Ops     []Op

	pending   []int // Pending, by point
	last      *replay
	lastPoint int
}

// Mode says which of the operations not yet durable a crash state keeps.
type Mode int

const (
	// DropAll keeps none: the durable content only.
	DropAll Mode = iota
	// KeepAll keeps every one: the directory as the workload left it.
	KeepAll
	// Random keeps a random subset drawn from the state's seed: each
	// write is dropped, kept or torn at sector boundaries, each truncate
	// and directory operation dropped or kept.
	Random
)

func (m Mode) String() string {
	return [...]string{"drop-all", "keep-all", "random"}[m]
}

// State names one crash state: power lost when the record held Point
// operations, with the pending ones chosen by Mode (and Seed, for Random).
type State struct {
	Point int
	Mode  Mode
	Seed  uint64
}

func (s State) String() string {
	if s.Mode == Random {
		return fmt.Sprintf("point %d, %s, seed %#x", s.Point, s.Mode, s.Seed)
	}
	return fmt.Sprintf("point %d, %s", s.Point, s.Mode)
}

// CrashPoints are the positions where a crash is most telling: just before
// and just after each sync, directory sync, rename, link and unlink, and
// the end of the record. Position p means the first p operations happened.
func (h *History) CrashPoints() []int {
	set := map[int]bool{len(h.Ops): true}
	for i, o := range h.Ops {
		switch o.Kind {
		case Sync, SyncDir, Rename, Link, Unlink:
			set[i] = true
			set[i+1] = true
		}
	}
	return slices.Sorted(maps.Keys(set))
}

type mfile struct {
	durable, cur []byte
	shared       bool  // cur is durable: copy before writing
	pending      []int // ops not yet durable, by index
}

func (f *mfile) own() {
	if f.shared {
		f.cur = slices.Clone(f.cur)
		f.shared = false
	}
}

// replay is the model after the first p operations.
type replay struct {
	files         map[int]*mfile
	durableNames  map[string]int
	names         map[string]int
	dirPending    []int
	createPending map[int]bool // file id -> its Create is not yet durable
}

func (h *History) replay(p int) *replay {
	r := &replay{files: map[int]*mfile{}, durableNames: map[string]int{}, names: map[string]int{}, createPending: map[int]bool{}}
	for id, b := range h.Data {
		r.files[id] = &mfile{durable: b, cur: b, shared: true}
	}
	maps.Copy(r.durableNames, h.Initial)
	maps.Copy(r.names, h.Initial)
	for i, o := range h.Ops[:p] {
		switch o.Kind {
		case Write:
			f := r.file(o.File)
			f.own()
			f.cur = writeAt(f.cur, o.Off, o.Data)
			f.pending = append(f.pending, i)
		case Truncate:
			f := r.file(o.File)
			f.own()
			f.cur = resize(f.cur, o.Size)
			f.pending = append(f.pending, i)
		case Sync:
			f := r.file(o.File)
			f.durable = f.cur
			f.shared = true
			f.pending = nil
		case Create:
			r.files[o.File] = &mfile{}
			r.createPending[o.File] = true
			r.names[o.Name] = o.File
			r.dirPending = append(r.dirPending, i)
		case Link:
			r.names[o.Name] = o.File
			r.dirPending = append(r.dirPending, i)
		case Rename:
			if id, ok := r.names[o.Name]; ok {
				delete(r.names, o.Name)
				r.names[o.NewName] = id
			}
			r.dirPending = append(r.dirPending, i)
		case Unlink:
			delete(r.names, o.Name)
			r.dirPending = append(r.dirPending, i)
		case SyncDir:
			r.durableNames = maps.Clone(r.names)
			r.dirPending = nil
			clear(r.createPending)
		}
	}
	return r
}

func (r *replay) file(id int) *mfile {
	f, ok := r.files[id]
	if !ok {
		f = &mfile{}
		r.files[id] = f
	}
	return f
}

// writeAt writes data into b at off, in place, growing b (with zeros) as
// pwrite grows a file.
func writeAt(b []byte, off int64, data []byte) []byte {
	if end := off + int64(len(data)); end > int64(len(b)) {
		b = resize(b, end)
	}
	copy(b[off:], data)
	return b
}

// resize truncates or extends b (with zeros), in place where it can.
func resize(b []byte, size int64) []byte {
	if size <= int64(len(b)) {
		return b[:size]
	}
	if size <= int64(cap(b)) {
		old := len(b)
		b = b[:size]
		clear(b[old:])
		return b
	}
	out := make([]byte, size, size+size/4)
	copy(out, b)
	return out
}

// Pending is how many operations are not durable at point p.
func (h *History) Pending(p int) int {
	if h.pending == nil {
		h.pending = h.pendingCounts()
	}
	return h.pending[p]
}

// pendingCounts is Pending at every point, in one pass.
func (h *History) pendingCounts() []int {
	out := make([]int, len(h.Ops)+1)
	perFile := map[int]int{}
	dir, total := 0, 0
	for i, o := range h.Ops {
		switch o.Kind {
		case Write, Truncate:
			perFile[o.File]++
			total++
		case Sync:
			total -= perFile[o.File]
			perFile[o.File] = 0
		case Create, Link, Rename, Unlink:
			dir++
			total++
		case SyncDir:
			total -= dir
			dir = 0
		}
		out[i+1] = total
	}
	return out
}

// at is the model after the first p operations, kept for the next call:
// states are checked point by point.
func (h *History) at(p int) *replay {
	if h.last == nil || h.lastPoint != p {
		h.last, h.lastPoint = h.replay(p), p
	}
	return h.last
}

// Materialise writes the crash state s into dir (an empty directory on a
// real file system): the files a disk could hold after that power cut, by
// name. It returns a one-line account of what was dropped and kept.
func (h *History) Materialise(dir string, s State) (string, error) {
	if s.Point < 0 || s.Point > len(h.Ops) {
		return "", fmt.Errorf("faultfs: crash point %d outside the record (0..%d)", s.Point, len(h.Ops))
	}
	r := h.at(s.Point)
	rng := rand.New(rand.NewPCG(s.Seed, uint64(s.Point)))
	keep := func() bool {
		switch s.Mode {
		case DropAll:
			return false
		case KeepAll:
			return true
		}
		return rng.IntN(2) == 0
	}
	var kept, dropped, torn int
	// Names first: which entries survive.
	names := maps.Clone(r.durableNames)
	alive := map[int]bool{}
	for id := range r.files {
		alive[id] = !r.createPending[id]
	}
	for _, i := range r.dirPending {
		o := h.Ops[i]
		if !keep() {
			dropped++
			continue
		}
		switch o.Kind {
		case Create:
			alive[o.File] = true
			names[o.Name] = o.File
		case Link:
			if !alive[o.File] {
				dropped++ // its file's creation was dropped
				continue
			}
			names[o.Name] = o.File
		case Rename:
			id, ok := names[o.Name]
			if !ok {
				dropped++ // the name it moves was dropped
				continue
			}
			delete(names, o.Name)
			names[o.NewName] = id
		case Unlink:
			delete(names, o.Name)
		}
		kept++
	}
	// Then each named file's content, in a fixed order so that a seed
	// means one state.
	ids := slices.Sorted(maps.Keys(r.files))
	content := map[int][]byte{}
	for _, id := range ids {
		f := r.files[id]
		b := slices.Clone(f.durable)
		for _, i := range f.pending {
			o := h.Ops[i]
			mode := 1 // keep
			switch s.Mode {
			case DropAll:
				mode = 0
			case Random:
				if o.Kind == Write {
					mode = rng.IntN(3) // drop, keep, tear
				} else {
					mode = rng.IntN(2)
				}
			}
			switch {
			case mode == 0:
				dropped++
			case o.Kind == Truncate:
				b = resize(b, o.Size)
				kept++
			case mode == 1:
				b = writeAt(b, o.Off, o.Data)
				kept++
			default:
				b = tear(b, o, rng)
				torn++
			}
		}
		content[id] = b
	}
	written := map[int]string{}
	for _, name := range slices.Sorted(maps.Keys(names)) {
		id := names[name]
		p := filepath.Join(dir, name)
		if first, ok := written[id]; ok {
			if err := os.Link(first, p); err != nil {
				return "", err
			}
			continue
		}
		if err := os.WriteFile(p, content[id], 0o600); err != nil {
			return "", err
		}
		written[id] = p
	}
	return fmt.Sprintf("%s: %d pending operations kept, %d dropped, %d writes torn; files %v", s, kept, dropped, torn, sortedNames(names)), nil
}

// tear applies the sectors of a write that a random subset keeps: the
// write is cut at absolute 512-byte boundaries and each piece kept or not.
func tear(b []byte, o Op, rng *rand.Rand) []byte {
	start := o.Off
	end := o.Off + int64(len(o.Data))
	for s := start; s < end; {
		next := (s/SectorSize + 1) * SectorSize
		if next > end {
			next = end
		}
		if rng.IntN(2) == 0 {
			b = writeAt(b, s, o.Data[s-start:next-start])
		}
		s = next
	}
	return b
}

func sortedNames(m map[string]int) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
