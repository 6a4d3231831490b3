//go:build linux

package faultfs

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// Environment of a workload child: the test binary, run again with these set,
// runs the named workload in the mounted directory instead of its tests.
const (
	ChildEnv = "OPJOURNAL_POWERLOSS_CHILD" // the workload's name
	DirEnv   = "OPJOURNAL_POWERLOSS_DIR"   // the mounted directory
	// StatesEnv sets how many crash states each workload test checks.
	StatesEnv = "OPJOURNAL_POWERLOSS_STATES"
	// ScaleEnv multiplies the length of the workloads (default 1): more
	// operations, more crash points, more distinct states.
	ScaleEnv = "OPJOURNAL_POWERLOSS_SCALE"
	// SeedEnv sets the seed the states are drawn with (default: random,
	// logged).
	SeedEnv = "OPJOURNAL_POWERLOSS_SEED"
)

var ackMu sync.Mutex

// Ack is called by a workload child once an operation it must find after any
// later crash has returned: it prints "ack " and the text on a line of its
// own, and waits for the parent's reply. The parent binds the ack to the
// record's length when it reads the line, which is after the operation
// returned, and then replies: so the ack binds the point where the operation
// returned, not a later one where the parent happened to read it. (Other
// goroutines of the child go on meanwhile.)
func Ack(format string, args ...any) {
	ackMu.Lock()
	defer ackMu.Unlock()
	fmt.Fprintf(os.Stdout, "ack "+format+"\n", args...)
	var b [1]byte
	if _, err := os.Stdin.Read(b[:]); err != nil {
		fmt.Fprintln(os.Stderr, "faultfs: no reply to an ack:", err)
		os.Exit(2)
	}
}

// Acked is an acknowledgement bound to a position of the record: it binds
// every crash point at or after Pos.
type Acked struct {
	Pos  int
	Text string
}

// Recording is a workload's run on a faultfs.
type Recording struct {
	// Dir is the mountpoint the workload ran in. Explore builds each crash
	// state there (it is unmounted by then), so that paths a workload
	// recorded in its files (a migration's source) still name the same
	// files.
	Dir     string
	History *History
	Acks    []Acked
	Output  string // the child's stderr and non-ack stdout lines
}

// Bound returns the texts of the acknowledgements that bind crash point p.
func (r *Recording) Bound(p int) []string {
	var out []string
	for _, a := range r.Acks {
		if a.Pos <= p {
			out = append(out, a.Text)
		}
	}
	return out
}

// Skip skips t when faultfs cannot mount here, with the reason.
func Skip(t testing.TB) {
	t.Helper()
	if why := Available(); why != "" {
		t.Skip(why)
	}
}

// Record mounts a faultfs over a fresh backing directory that setup (if not
// nil) fills with the durable starting files, runs the workload child named
// workload in it to its end, and returns the record. killAfter, if more
// than zero, SIGKILLs the child once it has acknowledged that many
// operations (the record then ends at the kill).
func Record(t testing.TB, workload string, setup func(dir string), killAfter int, extraEnv ...string) *Recording {
	t.Helper()
	Skip(t)
	unmountDead()
	base := t.TempDir()
	backing := filepath.Join(base, "backing")
	mnt := filepath.Join(base, "mnt")
	for _, d := range []string{backing, mnt} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if setup != nil {
		setup(backing)
	}
	fsys, err := Mount(backing, mnt)
	if err != nil {
		t.Fatal(err)
	}
	unmounted := false
	unmount := func() {
		if !unmounted {
			unmounted = true
			if err := fsys.Unmount(); err != nil {
				t.Errorf("faultfs: unmount %s: %v", mnt, err)
			}
		}
	}
	t.Cleanup(unmount)

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), ChildEnv+"="+workload, DirEnv+"="+mnt)
	cmd.Env = append(cmd.Env, extraEnv...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	rec := &Recording{Dir: mnt}
	var other strings.Builder
	s := bufio.NewScanner(out)
	s.Buffer(make([]byte, 1<<16), 1<<20)
	killed := false
	for s.Scan() {
		line := s.Text()
		if text, ok := strings.CutPrefix(line, "ack "); ok {
			rec.Acks = append(rec.Acks, Acked{Pos: fsys.Len(), Text: text})
			if killAfter > 0 && len(rec.Acks) >= killAfter && !killed {
				_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
				killed = true
			}
			if !killed {
				_, _ = in.Write([]byte{'\n'}) // fails only if the child is gone
			}
			continue
		}
		other.WriteString(line + "\n")
	}
	_ = in.Close()
	werr := cmd.Wait()
	rec.Output = other.String() + stderr.String()
	if werr != nil && !killed {
		t.Fatalf("workload %s: %v\n%s", workload, werr, rec.Output)
	}
	if err := fsys.Err(); err != nil {
		t.Fatalf("workload %s: %v", workload, err)
	}
	rec.History = fsys.History()
	unmount()
	if !killed {
		// The record replayed in full must be the backing directory as the
		// workload left it: a check of the recorder itself.
		if err := sameAsReplay(rec.History, backing, filepath.Join(base, "replay")); err != nil {
			t.Fatalf("workload %s: %v", workload, err)
		}
	}
	return rec
}

// sameAsReplay checks that h's last state with every operation kept, built
// in scratch, holds the same files as dir.
func sameAsReplay(h *History, dir, scratch string) error {
	if err := os.Mkdir(scratch, 0o755); err != nil {
		return err
	}
	defer os.RemoveAll(scratch)
	if _, err := h.Materialise(scratch, State{Point: len(h.Ops), Mode: KeepAll}); err != nil {
		return err
	}
	want, err := digest(dir, nil)
	if err != nil {
		return err
	}
	got, err := digest(scratch, nil)
	if err != nil {
		return err
	}
	if got != want {
		return fmt.Errorf("faultfs: the record, replayed, is not the backing directory %s", dir)
	}
	return nil
}

// unmountDead lazily unmounts faultfs mounts whose server is gone (a test
// process killed before its cleanup): they fail every access with ENOTCONN.
func unmountDead() {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 9 || !slices.Contains(f, "faultfs") {
			continue
		}
		dir := unescapeMount(f[4])
		if _, err := os.Stat(dir); errors.Is(err, syscall.ENOTCONN) {
			UnmountStale(dir)
		}
	}
}

func unescapeMount(s string) string {
	if u, err := strconv.Unquote(`"` + strings.ReplaceAll(s, `"`, `\"`) + `"`); err == nil {
		return u
	}
	return s
}

// Budget is how many states a workload test checks: StatesEnv if set, else
// def.
func Budget(t testing.TB, def int) int {
	if v := os.Getenv(StatesEnv); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			t.Fatalf("%s=%q: want a positive number", StatesEnv, v)
		}
		return n
	}
	return def
}

// Scale is ScaleEnv if set, else 1. Workload children read it too (they
// inherit the environment).
func Scale() int {
	if n, err := strconv.Atoi(os.Getenv(ScaleEnv)); err == nil && n > 0 {
		return n
	}
	return 1
}

// Seed is SeedEnv if set, else a random seed; it is logged either way.
func Seed(t testing.TB) uint64 {
	var seed uint64
	if v := os.Getenv(SeedEnv); v != "" {
		n, err := strconv.ParseUint(v, 0, 64)
		if err != nil {
			t.Fatalf("%s=%q: %v", SeedEnv, v, err)
		}
		seed = n
	} else {
		seed = rand.Uint64()
	}
	t.Logf("crash states drawn with %s=%#x", SeedEnv, seed)
	return seed
}

// States picks n crash states of h: its crash points (or the given points)
// each with every pending operation dropped, with every one kept, and with
// random subsets, shuffled with seed; all of them if there are no more than
// n. A point with nothing pending has one state.
func (h *History) States(points []int, n int, seed uint64) []State {
	if points == nil {
		points = h.CrashPoints()
	}
	rounds := 3
	if len(points) > 0 && n/len(points)+1 > rounds {
		rounds = n/len(points) + 1
	}
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	var all []State
	for _, p := range points {
		pending := h.Pending(p)
		for r := range rounds {
			switch {
			case r == 0:
				all = append(all, State{Point: p, Mode: DropAll})
			case pending == 0:
			case r == 1:
				all = append(all, State{Point: p, Mode: KeepAll})
			default:
				all = append(all, State{Point: p, Mode: Random, Seed: rng.Uint64()})
			}
		}
	}
	if len(all) > n {
		rng.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
		all = all[:n]
		slices.SortStableFunc(all, func(a, b State) int { return a.Point - b.Point })
	}
	return all
}

// Failure is a crash state that failed its check.
type Failure struct {
	State   State
	Account string
	Err     error
}

func (f Failure) String() string { return fmt.Sprintf("%s\n    %v", f.Account, f.Err) }

// Result is what Explore found.
type Result struct {
	States   int // states checked
	Distinct int // of which distinct: different files, or different acknowledgements
	Failures []Failure
}

// Explore materialises each state in r.Dir, emptied first, and runs check
// on it with the acknowledgements that bind its crash point. A state equal
// to one already checked (the same files with the same contents, and the
// same acknowledgements) is counted but not checked again.
func (r *Recording) Explore(t testing.TB, states []State, check func(dir string, acked []string) error) Result {
	t.Helper()
	res := Result{States: len(states)}
	seen := map[[32]byte]bool{}
	dir := r.Dir
	for _, s := range states {
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		account, err := r.History.Materialise(dir, s)
		if err != nil {
			t.Fatal(err)
		}
		acked := r.Bound(s.Point)
		sum, err := digest(dir, acked)
		if err != nil {
			t.Fatal(err)
		}
		if seen[sum] {
			continue
		}
		seen[sum] = true
		res.Distinct++
		if err := check(dir, acked); err != nil {
			res.Failures = append(res.Failures, Failure{State: s, Account: account, Err: err})
		}
	}
	return res
}

// digest hashes the files in dir, by name, and the acknowledgements.
func digest(dir string, acked []string) ([32]byte, error) {
	h := sha256.New()
	ents, err := os.ReadDir(dir)
	if err != nil {
		return [32]byte{}, err
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return [32]byte{}, err
		}
		fmt.Fprintf(h, "%q %d\n", e.Name(), len(b))
		h.Write(b)
	}
	fmt.Fprintf(h, "acked %d\n", len(acked))
	return [32]byte(h.Sum(nil)), nil
}

// Report logs res and fails t with its first failures, naming their states.
func Report(t testing.TB, workload string, r *Recording, res Result) {
	t.Helper()
	t.Logf("%s: %d operations, %d acknowledgements, %d crash states (%d distinct) checked, %d failed",
		workload, len(r.History.Ops), len(r.Acks), res.States, res.Distinct, len(res.Failures))
	for i, f := range res.Failures {
		if i == 5 {
			t.Errorf("... and %d more", len(res.Failures)-5)
			break
		}
		t.Errorf("%s: %s", workload, f)
	}
}
