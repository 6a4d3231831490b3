package store_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/felhom/opjournal/migrate"
	"github.com/felhom/opjournal/store"
	"github.com/felhom/opjournal/store/jsonl"
)

// The loop corpus: a real journal whose page trees are edited to loop back
// on themselves (a branch element pointing to the root or another
// ancestor), to share a page between two parents, or to claim overflow
// pages past the end of the file, for each bucket. Each damaged file is
// put through every public read in a child process, which the test kills
// if a call does not return: bbolt follows such trees blindly, so a hang,
// a runaway allocation or a stack overflow (which no recover catches) would
// otherwise take the test binary with it.

const (
	loopEnv = "OPJOURNAL_TEST_LOOP_CASES" // dir:first:last, for the child
	// loopMoreEnv, when set, adds a case for every element of each
	// bucket's root and of the branches under it: several hundred files.
	loopMoreEnv = "OPJOURNAL_LOOP_MORE"
)

// loopCorpus is what the parent hands the child in dir, beside the damaged
// files (case-<i>.db) and the legacy log (good.jsonl).
type loopCorpus struct {
	Written written  `json:"written"`
	Keys    []string `json:"keys"`
	VMIDs   []int    `json:"vmids"`
	UPIDs   []string `json:"upids"`
	Cases   []string `json:"cases"` // the name of case-<i>.db
}

// loopJournal writes a journal whose buckets all have several pages (all
// but meta, which stays inline): 1500 ops, a quarter in flight with a key
// held, the rest succeeded with their key applied, the first 1000 ops'
// vmids and upids merged into their indexes and the last 500's still
// pending. It also writes the legacy log of the same records, for Verify.
func loopJournal(t *testing.T, dir string) (path, log string, c loopCorpus) {
	t.Helper()
	path, log = filepath.Join(dir, "good.db"), filepath.Join(dir, "good.jsonl")
	j, err := store.Open(path, &store.Options{UnsafeNoSync: true, IndexMergeEvery: 1 << 30})
	require.NoError(t, err)
	lf, err := os.Create(log)
	require.NoError(t, err)
	c.Written = written{}
	for i := range 1500 {
		if i == 1000 {
			require.NoError(t, j.MergeIndexes(context.Background()))
		}
		op := fmt.Sprintf("op-%05d", i)
		key := fmt.Sprintf("key-%05d", i)
		c.Keys = append(c.Keys, key)
		c.VMIDs = append(c.VMIDs, 100+i)
		for s, state := range []store.OpState{store.OpStarted, store.OpTaskRunning, store.OpSucceeded} {
			if i%4 == 0 && state == store.OpSucceeded {
				break
			}
			e := store.JournalEntry{OpID: op, VMID: 100 + i, Kind: "set_config", State: state, IdempKey: key,
				Params: map[string]string{"cores": strconv.Itoa(i % 8)}, At: time.Unix(1.7e9+int64(i*10+s), 0).UTC()}
			if state != store.OpStarted {
				e.UPID = "UPID:node:" + op
			}
			require.NoError(t, j.Append(e))
			c.Written[op] = append(c.Written[op], e)
			line, err := jsonl.MarshalLine(&e)
			require.NoError(t, err)
			_, err = lf.Write(line)
			require.NoError(t, err)
		}
		c.UPIDs = append(c.UPIDs, "UPID:node:"+op)
	}
	require.NoError(t, lf.Close())
	require.NoError(t, j.Close())
	return path, log, c
}

// boltFile reads and edits a bbolt file's pages. Page header: id uint64,
// flags uint16, count uint16, overflow uint32; branch element: pos uint32,
// ksize uint32, pgid uint64; leaf element: flags uint32, pos uint32, ksize
// uint32, vsize uint32 (pos relative to the element). All little-endian.
type boltFile struct{ b []byte }

func (f boltFile) page(id uint64) []byte   { return f.b[id*pageSize : (id+1)*pageSize] }
func (f boltFile) flags(id uint64) uint16  { return binary.LittleEndian.Uint16(f.page(id)[8:]) }
func (f boltFile) count(id uint64) int     { return int(binary.LittleEndian.Uint16(f.page(id)[10:])) }
func (f boltFile) isBranch(id uint64) bool { return f.flags(id) == 0x01 }
func (f boltFile) child(id uint64, i int) uint64 {
	return binary.LittleEndian.Uint64(f.page(id)[16+i*16+8:])
}
func (f boltFile) setChild(id uint64, i int, to uint64) {
	binary.LittleEndian.PutUint64(f.page(id)[16+i*16+8:], to)
}
func (f boltFile) setOverflow(id uint64, n uint32) { binary.LittleEndian.PutUint32(f.page(id)[12:], n) }

// rootTree returns the page of the root tree (the bucket names) of the
// newest meta page.
func (f boltFile) rootTree() uint64 {
	m0, m1 := f.page(0)[16:], f.page(1)[16:]
	if binary.LittleEndian.Uint64(m1[48:]) > binary.LittleEndian.Uint64(m0[48:]) {
		m0 = m1
	}
	return binary.LittleEndian.Uint64(m0[16:])
}

// bucketRoots returns, for each top-level bucket, the offset in the file of
// its root page id (in the root tree's leaf) and that id (0: inline).
func (f boltFile) bucketRoots(t *testing.T) map[string][2]uint64 {
	root := f.rootTree()
	require.Equal(t, uint16(0x02), f.flags(root), "the root tree is one leaf")
	out := map[string][2]uint64{}
	for i := range f.count(root) {
		e := int(root)*pageSize + 16 + i*16
		pos := e + int(binary.LittleEndian.Uint32(f.b[e+4:]))
		ksize := int(binary.LittleEndian.Uint32(f.b[e+8:]))
		off := uint64(pos + ksize)
		out[string(f.b[pos:pos+ksize])] = [2]uint64{off, binary.LittleEndian.Uint64(f.b[off:])}
	}
	return out
}

// loopMutations are the ways the corpus damages each bucket's tree.
func loopMutations(t *testing.T, good []byte) []mutation {
	f := boltFile{good}
	roots := f.bucketRoots(t)
	npages := uint64(len(good) / pageSize)
	clone := func() boltFile { return boltFile{append([]byte(nil), good...)} }
	var ms []mutation
	add := func(name string, edit func(f boltFile)) {
		ms = append(ms, mutation{name, func([]byte) []byte { c := clone(); edit(c); return c.b }})
	}
	names := []string{"meta", "records", "opseqs", "inflight", "applied", "keys", "vmids", "upids", "pending"}
	for _, name := range names {
		r, ok := roots[name]
		require.True(t, ok, "bucket %s", name)
		off, root := r[0], r[1]
		other := roots["records"][1]
		if name == "records" {
			other = roots["applied"][1]
		}
		// The bucket's root is another bucket's, or the root tree, which
		// holds the bucket itself.
		add(name+"/root-is-another-buckets-root", func(f boltFile) { binary.LittleEndian.PutUint64(f.b[off:], other) })
		add(name+"/root-is-the-root-tree", func(f boltFile) { binary.LittleEndian.PutUint64(f.b[off:], f.rootTree()) })
		if root == 0 {
			continue // inline: no pages of its own
		}
		require.True(t, f.isBranch(root), "bucket %s has one page: the corpus needs a branch root", name)
		n := f.count(root)
		require.GreaterOrEqual(t, n, 2, "bucket %s", name)
		add(name+"/first-child-is-the-root", func(f boltFile) { f.setChild(root, 0, root) })
		add(name+"/middle-child-is-the-root", func(f boltFile) { f.setChild(root, n/2, root) })
		add(name+"/last-child-is-the-root", func(f boltFile) { f.setChild(root, n-1, root) })
		add(name+"/two-parents-one-child", func(f boltFile) { f.setChild(root, 1, f.child(root, 0)) })
		add(name+"/root-overflow-wraps", func(f boltFile) { f.setOverflow(root, ^uint32(0)) })
		leaf := f.child(root, n-1)
		for f.isBranch(leaf) {
			leaf = f.child(leaf, f.count(leaf)-1)
		}
		add(name+"/leaf-overflow-wraps", func(f boltFile) { f.setOverflow(leaf, ^uint32(0)) })
		add(name+"/leaf-overflow-past-the-end", func(f boltFile) { f.setOverflow(leaf, uint32(npages-leaf)) })
		if os.Getenv(loopMoreEnv) != "" {
			// Every element of the root, and of each branch under it.
			for i := range n {
				add(fmt.Sprintf("%s/child-%d-is-the-root", name, i), func(f boltFile) { f.setChild(root, i, root) })
				add(fmt.Sprintf("%s/child-%d-is-child-%d", name, i, (i+1)%n), func(f boltFile) { f.setChild(root, i, f.child(root, (i+1)%n)) })
				if mid := f.child(root, i); f.isBranch(mid) {
					for k := range f.count(mid) {
						add(fmt.Sprintf("%s/grandchild-%d-%d-is-the-root", name, i, k), func(f boltFile) { f.setChild(mid, k, root) })
						add(fmt.Sprintf("%s/grandchild-%d-%d-is-its-parent", name, i, k), func(f boltFile) { f.setChild(mid, k, mid) })
					}
				}
			}
		}
		if mid := f.child(root, n-1); f.isBranch(mid) {
			// A tree of three levels: loops from below the root.
			first := f.child(root, 0)
			m := f.count(mid)
			add(name+"/grandchild-is-the-root", func(f boltFile) { f.setChild(mid, m-1, root) })
			add(name+"/grandchild-is-its-parent", func(f boltFile) { f.setChild(mid, 0, mid) })
			add(name+"/grandchild-is-an-uncle", func(f boltFile) { f.setChild(mid, m/2, first) })
			add(name+"/cousins-share-a-leaf", func(f boltFile) { f.setChild(mid, 0, f.child(first, 0)) })
			add(name+"/branch-overflow-wraps", func(f boltFile) { f.setOverflow(mid, ^uint32(0)) })
		}
	}
	return ms
}

// callOutcome is how one call on a damaged file ended.
type callOutcome string

const (
	answered  callOutcome = "answered"
	corrupted callOutcome = "ErrCorrupt"
	skipped   callOutcome = "skipped (a known gap)"
)

// loopCase runs every public read on the damaged journal at path (and the
// calls that take a path on copies of it) and returns how each ended, or an
// error if one broke the contract: an error other than ErrCorrupt, or a
// record that was never written.
func loopCase(name, path, log string, c *loopCorpus) (map[string]callOutcome, error) {
	ctx := context.Background()
	out := map[string]callOutcome{}
	var broken error
	note := func(call string, err error, allowed ...error) bool {
		switch {
		case err == nil:
			out[call] = answered
		case errors.Is(err, store.ErrCorrupt):
			out[call] = corrupted
		case slices.ContainsFunc(allowed, func(a error) bool { return errors.Is(err, a) }):
			out[call] = answered
		default:
			if broken == nil {
				broken = fmt.Errorf("%s: %w (not ErrCorrupt)", call, err)
			}
			return false
		}
		return err == nil
	}
	invented := func(call string, e store.JournalEntry) {
		if !c.Written.has(e) && broken == nil {
			broken = fmt.Errorf("%s returned a record never written: %+v", call, e)
		}
	}
	copyOf := func(suffix string) string {
		b, err := os.ReadFile(path)
		if err == nil {
			err = os.WriteFile(path+suffix, b, 0o600)
		}
		if err != nil && broken == nil {
			broken = err
		}
		return path + suffix
	}
	// The calls that take a path, each on a copy of its own.
	_, err := store.Compact(ctx, copyOf(".compact"), nil)
	note("Compact", err)
	_, err = migrate.Verify(ctx, log, copyOf(".verify"))
	note("Verify", err, migrate.ErrMismatch)

	j, err := store.Open(path, &store.Options{LockTimeout: 100 * time.Millisecond})
	if !note("Open", err) {
		return out, broken
	}
	_ = j.Close()
	// Each call on a handle of its own: damage found by one poisons its
	// handle, and the next call must find the damage itself.
	call := func(name string, fn func(j *store.Journal) error) {
		j, err := store.Open(path, &store.Options{LockTimeout: 100 * time.Millisecond})
		if err == nil {
			err = fn(j)
			_ = j.Close()
		}
		note(name, err)
	}
	ops := make([]string, 0, len(c.Written))
	for op := range c.Written {
		ops = append(ops, op)
	}
	sort.Strings(ops)
	call("Get", func(j *store.Journal) error {
		for i := 0; i < len(ops); i += 25 {
			e, ok, err := j.Get(ops[i])
			if err != nil {
				return err
			}
			if ok {
				invented("Get", e)
			}
		}
		return nil
	})
	call("History", func(j *store.Journal) error {
		for i := 0; i < len(ops); i += 25 {
			h, err := j.History(ops[i])
			if err != nil {
				return err
			}
			for _, e := range h {
				invented("History", e)
			}
		}
		return nil
	})
	call("InFlightOps", func(j *store.Journal) error {
		inflight, err := j.InFlightOps()
		for _, e := range inflight {
			invented("InFlightOps", e)
		}
		return err
	})
	call("InFlight", func(j *store.Journal) error {
		for _, e := range j.InFlight() {
			invented("InFlight", e)
		}
		return nil
	})
	call("IsApplied", func(j *store.Journal) error {
		for i := 0; i < len(c.Keys); i += 50 {
			if _, err := j.IsApplied(c.Keys[i]); err != nil {
				return err
			}
		}
		return nil
	})
	call("Stats", func(j *store.Journal) error { _, err := j.Stats(); return err })
	call("Metrics", func(j *store.Journal) error { _, err := j.Metrics(); return err })
	call("Meta", func(j *store.Journal) error { _, err := j.Meta(); return err })
	call("ForEachRecord", func(j *store.Journal) error {
		return j.ForEachRecord(func(_ uint64, e store.JournalEntry) error { invented("ForEachRecord", e); return nil })
	})
	call("ForEachOp", func(j *store.Journal) error {
		return j.ForEachOp(func(e store.JournalEntry) error { invented("ForEachOp", e); return nil })
	})
	call("ByVMID", func(j *store.Journal) error {
		for i := 0; i < len(c.VMIDs); i += 50 {
			es, err := j.ByVMID(c.VMIDs[i])
			if err != nil {
				return err
			}
			for _, e := range es {
				invented("ByVMID", e)
			}
		}
		return nil
	})
	call("ByUPID", func(j *store.Journal) error {
		for i := 0; i < len(c.UPIDs); i += 50 {
			e, ok, err := j.ByUPID(c.UPIDs[i])
			if err != nil {
				return err
			}
			if ok {
				invented("ByUPID", e)
			}
		}
		return nil
	})
	call("Check", func(j *store.Journal) error { _, err := j.Check(ctx); return err })
	call("Backup", func(j *store.Journal) error { _, err := j.Backup(ctx, io.Discard); return err })
	call("Export", func(j *store.Journal) error { _, err := migrate.Export(ctx, j, io.Discard, nil); return err })
	if strings.Contains(name, "leaf-overflow") {
		// Not closed: Open does not read the buckets' leaves, and a
		// write that rewrites a leaf whose overflow count is damaged
		// makes bbolt free that many pages at commit. It panics
		// (ErrCorrupt) at the first one already free; with none above
		// the leaf it runs through 2^32 of them.
		out["Append"] = skipped
	} else {
		call("Append", func(j *store.Journal) error { // it writes: after the reads
			// Into the last leaves of records, opseqs, inflight, keys, vmids,
			// upids and pending, where the corpus damages overflow
			// counts.
			return j.Append(store.JournalEntry{OpID: "op-99999", VMID: 99999, Kind: "start", State: store.OpTaskRunning,
				IdempKey: "key-99999", UPID: "UPID:node:op-99999", At: time.Unix(1.8e9, 0).UTC()})
		})
	}
	call("Prune", func(j *store.Journal) error { // last: it writes, before the damaged last leaves
		_, err := j.Prune(ctx, store.PruneOptions{Before: time.Unix(1.7e9+5000, 0), DropAppliedBefore: time.Unix(1.7e9+2000, 0)})
		return err
	})
	return out, broken
}

// runLoopCases is the child: it runs cases first..last of the corpus in dir
// and prints one line per case, "case <i> <call>=<outcome>...", or
// "broken <i> <why>".
func runLoopCases(spec string) {
	parts := strings.Split(spec, ":")
	dir := parts[0]
	first, _ := strconv.Atoi(parts[1])
	last, _ := strconv.Atoi(parts[2])
	raw, err := os.ReadFile(filepath.Join(dir, "corpus.json"))
	var c loopCorpus
	if err == nil {
		err = json.Unmarshal(raw, &c)
	}
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	for i := first; i <= last; i++ {
		fmt.Printf("start %d\n", i)
		out, err := loopCase(c.Cases[i], filepath.Join(dir, fmt.Sprintf("case-%d.db", i)), filepath.Join(dir, "good.jsonl"), &c)
		if err != nil {
			fmt.Printf("broken %d %v\n", i, err)
			continue
		}
		calls := make([]string, 0, len(out))
		for call, o := range out {
			calls = append(calls, call+"="+strings.ReplaceAll(string(o), " ", "_"))
		}
		sort.Strings(calls)
		fmt.Printf("case %d %s\n", i, strings.Join(calls, " "))
	}
	os.Exit(0)
}

// TestLoopingTrees holds the store to its contract on page trees that loop
// or share pages, for every bucket: each call answers or fails with
// ErrCorrupt within the deadline, nothing crashes, nothing returned was not
// written. OPJOURNAL_LOOP_DEADLINE sets the per-case deadline (default 60s,
// generous for the race detector on a loaded machine: a hang runs forever);
// OPJOURNAL_LOOP_MORE=1 runs the larger corpus.
func TestLoopingTrees(t *testing.T) {
	dir := t.TempDir()
	_, log, c := loopJournal(t, dir)
	good, err := os.ReadFile(filepath.Join(dir, "good.db"))
	require.NoError(t, err)
	ms := loopMutations(t, good)
	for i, m := range ms {
		c.Cases = append(c.Cases, m.name)
		require.NoError(t, os.WriteFile(filepath.Join(dir, fmt.Sprintf("case-%d.db", i)), m.apply(good), 0o600))
	}
	raw, err := json.Marshal(c)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "corpus.json"), raw, 0o600))
	require.Equal(t, filepath.Join(dir, "good.jsonl"), log)

	deadline := 60 * time.Second
	if d, err := time.ParseDuration(os.Getenv("OPJOURNAL_LOOP_DEADLINE")); err == nil {
		deadline = d
	}
	const children = 2
	results := make(chan loopResult, len(ms))
	failures := make(chan string, 2*len(ms)+children) // a case fails once; each child's death adds one
	per := (len(ms) + children - 1) / children
	done := make(chan struct{}, children)
	for k := range children {
		first, last := k*per, min((k+1)*per, len(ms))-1
		go func() {
			defer func() { done <- struct{}{} }()
			runLoopChild(dir, first, last, deadline, ms, results, failures)
		}()
	}
	for range children {
		<-done
	}
	close(results)
	close(failures)
	for f := range failures {
		t.Error(f)
	}
	files := map[string]int{}
	calls := map[string]int{}
	perCall := map[string]map[string]int{}
	n := 0
	for r := range results {
		n++
		switch {
		case r.calls["Open"] == string(corrupted):
			files["Open refuses it (ErrCorrupt)"]++
		case slices.Contains(mapValues(r.calls), string(corrupted)):
			files["opens, a later call reports ErrCorrupt"]++
		default:
			files["opens, every call answers"]++
		}
		for call, o := range r.calls {
			calls[o]++
			if perCall[call] == nil {
				perCall[call] = map[string]int{}
			}
			perCall[call][o]++
		}
	}
	require.Equal(t, len(ms), n, "every case reported")
	t.Logf("%d damaged files (9 buckets): %v", n, files)
	t.Logf("calls: %v; by call: %v", calls, perCall)
}

func mapValues(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// loopResult is how each call on case i ended.
type loopResult struct {
	i     int
	calls map[string]string
}

// runLoopChild runs cases first..last in one child process, killing it if
// a case takes longer than deadline.
func runLoopChild(dir string, first, last int, deadline time.Duration, ms []mutation, results chan<- loopResult, failures chan<- string) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s:%d:%d", loopEnv, dir, first, last))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err == nil {
		err = cmd.Start()
	}
	if err != nil {
		failures <- fmt.Sprintf("child for cases %d..%d: %v", first, last, err)
		return
	}
	lines := make(chan string)
	go func() {
		defer close(lines)
		s := bufio.NewScanner(out)
		s.Buffer(nil, 1<<20)
		for s.Scan() {
			lines <- s.Text()
		}
	}()
	current := -1
	timer := time.NewTimer(deadline)
	defer timer.Stop()
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				werr := cmd.Wait()
				if current >= 0 {
					failures <- fmt.Sprintf("case %s: the child died (%v): %s", ms[current].name, werr, tail(stderr.String()))
					if current < last {
						runLoopChild(dir, current+1, last, deadline, ms, results, failures)
					}
				} else if werr != nil {
					failures <- fmt.Sprintf("child for cases %d..%d: %v: %s", first, last, werr, tail(stderr.String()))
				}
				return
			}
			f := strings.Fields(line)
			if len(f) < 2 {
				continue
			}
			i, _ := strconv.Atoi(f[1])
			switch f[0] {
			case "start":
				current = i
				timer.Reset(deadline)
			case "broken":
				failures <- fmt.Sprintf("case %s: %s", ms[i].name, strings.Join(f[2:], " "))
				current = -1
			case "case":
				r := loopResult{i, map[string]string{}}
				for _, kv := range f[2:] {
					call, o, _ := strings.Cut(kv, "=")
					r.calls[call] = strings.ReplaceAll(o, "_", " ")
				}
				results <- r
				current = -1
			}
		case <-timer.C:
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			_ = cmd.Wait()
			if current >= 0 {
				failures <- fmt.Sprintf("case %s: no answer within %s: hung", ms[current].name, deadline)
			}
			// The cases after it get a child of their own.
			if current >= 0 && current < last {
				runLoopChild(dir, current+1, last, deadline, ms, results, failures)
			}
			return
		}
	}
}

// tail returns the child's last words: the fatal error or panic line, and
// the end of its output.
func tail(s string) string {
	fatal := ""
	for _, line := range strings.Split(s, "\n") {
		if strings.HasPrefix(line, "fatal error:") || strings.HasPrefix(line, "panic:") || strings.HasPrefix(line, "runtime:") {
			fatal = line + "; "
			break
		}
	}
	if len(s) > 1000 {
		s = "..." + s[len(s)-1000:]
	}
	return fatal + s
}
