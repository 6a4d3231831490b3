package store_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/felhom/opjournal/store"
)

// written remembers every record appended, to prove that whatever a damaged
// journal returns was written.
type written map[string][]store.JournalEntry

func (w written) has(e store.JournalEntry) bool {
	for _, r := range w[e.OpID] {
		if r.At.Equal(e.At) && r.State == e.State && r.VMID == e.VMID && r.Kind == e.Kind &&
			r.UPID == e.UPID && r.IdempKey == e.IdempKey && fmt.Sprint(r.Params) == fmt.Sprint(e.Params) {
			return true
		}
	}
	return false
}

// corpusJournal writes a journal of a few hundred ops, with overwritten and
// deleted pages on the freelist, and returns its bytes and what it holds.
func corpusJournal(t *testing.T) ([]byte, written, []string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "good.db")
	j, err := store.Open(path, &store.Options{UnsafeNoSync: true})
	require.NoError(t, err)
	w := written{}
	var keys []string
	for i := range 400 {
		op := fmt.Sprintf("op-%04d", i)
		key := ""
		if i%3 == 0 {
			key = fmt.Sprintf("key-%04d", i)
			keys = append(keys, key)
		}
		for s, state := range []store.OpState{store.OpStarted, store.OpTaskRunning, store.OpSucceeded} {
			if i%17 == 0 && state == store.OpSucceeded {
				break // a few stay in flight
			}
			e := store.JournalEntry{OpID: op, VMID: 100 + i, Kind: "set_config", State: state, IdempKey: key,
				Params: map[string]string{"cores": fmt.Sprint(i % 8), "pad": strings.Repeat("p", i%50)},
				At:     time.Unix(1.7e9+int64(i*10+s), 0).UTC()}
			require.NoError(t, j.Append(e))
			w[op] = append(w[op], e)
		}
	}
	require.NoError(t, j.Close())
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return b, w, keys
}

type mutation struct {
	name  string
	apply func(b []byte) []byte
}

const pageSize = 4096

// pagesByType indexes the file's pages by bbolt page flag (branch 0x01,
// leaf 0x02, meta 0x04, freelist 0x10).
func pagesByType(b []byte) map[uint16][]int {
	out := map[uint16][]int{}
	for p := 0; (p+1)*pageSize <= len(b); p++ {
		flags := binary.LittleEndian.Uint16(b[p*pageSize+8:])
		out[flags] = append(out[flags], p)
	}
	return out
}

func mutations(b []byte, rng *rand.Rand) []mutation {
	var ms []mutation
	clone := func(b []byte) []byte { return append([]byte(nil), b...) }
	pages := pagesByType(b)
	npages := len(b) / pageSize
	for i := range 80 {
		off := rng.IntN(len(b))
		ms = append(ms, mutation{fmt.Sprintf("truncate-%d-at-%d", i, off), func(b []byte) []byte { return clone(b)[:off] }})
	}
	for p := range npages {
		ms = append(ms, mutation{fmt.Sprintf("zero-page-%d", p), func(b []byte) []byte {
			c := clone(b)
			clear(c[p*pageSize : (p+1)*pageSize])
			return c
		}})
	}
	for i := range 100 {
		off, n := rng.IntN(len(b)), 1+rng.IntN(2048)
		junk := make([]byte, n)
		for k := range junk {
			junk[k] = byte(rng.Uint32())
		}
		ms = append(ms, mutation{fmt.Sprintf("garbage-%d-at-%d", i, off), func(b []byte) []byte {
			c := clone(b)
			copy(c[off:], junk)
			return c
		}})
	}
	for flag, name := range map[uint16]string{0x01: "branch", 0x02: "leaf", 0x04: "meta", 0x10: "freelist"} {
		ps := pages[flag]
		for i := range 60 {
			if len(ps) == 0 {
				break
			}
			p := ps[rng.IntN(len(ps))]
			bit := rng.IntN(pageSize * 8)
			ms = append(ms, mutation{fmt.Sprintf("bitflip-%s-page-%d-bit-%d-%d", name, p, bit, i), func(b []byte) []byte {
				c := clone(b)
				c[p*pageSize+bit/8] ^= 1 << (bit % 8)
				return c
			}})
		}
	}
	return ms
}

// outcome of one damaged file.
type outcome string

const (
	openRefused outcome = "open refused (ErrCorrupt)"
	readFailed  outcome = "opened, a read reported ErrCorrupt"
	allWorked   outcome = "opened, every call worked"
)

// exercise runs every call on a damaged journal and checks the contract:
// each call works or fails with ErrCorrupt, and no record comes back that
// was not written.
func exercise(path string, w written, keys []string) (outcome, error) {
	j, err := store.Open(path, &store.Options{LockTimeout: 100 * time.Millisecond})
	if err != nil {
		if !errors.Is(err, store.ErrCorrupt) {
			return "", fmt.Errorf("Open: %w (not ErrCorrupt)", err)
		}
		return openRefused, nil
	}
	defer j.Close()
	corrupt := false
	check := func(what string, err error) error {
		if err == nil {
			return nil
		}
		if !errors.Is(err, store.ErrCorrupt) {
			return fmt.Errorf("%s: %w (not ErrCorrupt)", what, err)
		}
		corrupt = true
		return nil
	}
	ops := make([]string, 0, len(w))
	for op := range w {
		ops = append(ops, op)
	}
	sort.Strings(ops)
	for _, op := range ops[:50] {
		e, ok, err := j.Get(op)
		if err := check("Get", err); err != nil {
			return "", err
		}
		if ok && !w.has(e) {
			return "", fmt.Errorf("Get(%s) returned a record never written: %+v", op, e)
		}
		h, err := j.History(op)
		if err := check("History", err); err != nil {
			return "", err
		}
		for _, e := range h {
			if !w.has(e) {
				return "", fmt.Errorf("History(%s) returned a record never written: %+v", op, e)
			}
		}
	}
	inflight, err := j.InFlightOps()
	if err := check("InFlightOps", err); err != nil {
		return "", err
	}
	for _, e := range inflight {
		if !w.has(e) {
			return "", fmt.Errorf("InFlight returned a record never written: %+v", e)
		}
	}
	for _, k := range keys[:20] {
		_, err := j.IsApplied(k)
		if err := check("IsApplied", err); err != nil {
			return "", err
		}
	}
	_, err = j.Stats()
	if err := check("Stats", err); err != nil {
		return "", err
	}
	err = j.Append(store.JournalEntry{OpID: "op-0001", State: store.OpFailed})
	if err != nil && !errors.Is(err, store.ErrPoisoned) {
		if err := check("Append", err); err != nil {
			return "", err
		}
	}
	if corrupt {
		return readFailed, nil
	}
	return allWorked, nil
}

// TestDamagedFiles damages a real journal in hundreds of ways and holds the
// store to its contract on each: no panic escapes, no crash, no hang, every
// call works or reports ErrCorrupt, and nothing returned was not written.
func TestDamagedFiles(t *testing.T) {
	good, w, keys := corpusJournal(t)
	rng := rand.New(rand.NewPCG(42, 1))
	ms := mutations(good, rng)
	if testing.Short() {
		ms = ms[:60]
	}
	require.GreaterOrEqual(t, len(ms), 60)
	counts := map[outcome]int{}
	dir := t.TempDir()
	for i, m := range ms {
		path := filepath.Join(dir, fmt.Sprintf("case-%d.db", i))
		require.NoError(t, os.WriteFile(path, m.apply(good), 0o600))
		type result struct {
			o   outcome
			err error
		}
		done := make(chan result, 1)
		go func() {
			o, err := exercise(path, w, keys)
			done <- result{o, err}
		}()
		select {
		case r := <-done:
			require.NoError(t, r.err, "case %s", m.name)
			counts[r.o]++
		case <-time.After(30 * time.Second):
			t.Fatalf("case %s: hung", m.name)
		}
		require.NoError(t, os.Remove(path))
	}
	t.Logf("%d damaged files: %v", len(ms), counts)
}
