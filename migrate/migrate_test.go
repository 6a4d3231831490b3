package migrate

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/felhom/opjournal/store"
)

func TestMigrateCleanLogMatchesLegacyReplay(t *testing.T) {
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "ops.jsonl"), filepath.Join(dir, "ops.db")
	entries := lifecycle(500)
	writeFile(t, src, lines(t, entries...))
	before, err := os.ReadFile(src)
	require.NoError(t, err)

	rep, err := Migrate(context.Background(), src, dst, &Options{BatchSize: 100})
	require.NoError(t, err)
	require.True(t, rep.Verified)
	require.Equal(t, len(entries), rep.Records)
	require.Equal(t, len(entries), rep.Lines)
	require.Equal(t, 500, rep.Ops)
	require.Equal(t, 50, rep.InFlight)
	require.Empty(t, rep.Recovered)
	require.Empty(t, rep.Skipped)
	require.Equal(t, int64(len(before)), rep.Bytes)

	ops, keys := idsAndKeys(entries)
	require.Equal(t, legacyState(t, src, ops, keys), storeState(t, dst, ops, keys))

	j, err := store.Open(dst, &store.Options{ReadOnly: true})
	require.NoError(t, err)
	defer j.Close()
	h, err := j.History("op-00009")
	require.NoError(t, err)
	require.Len(t, h, 2)
	require.Equal(t, store.OpTaskRunning, h[1].State)
	m, ok, err := j.Migration()
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, src, m.Source)

	after, err := os.ReadFile(src)
	require.NoError(t, err)
	require.Equal(t, before, after, "the source is never modified")
	require.ElementsMatch(t, []string{"ops.jsonl", "ops.db"}, dirNames(t, dir), "no temporary file is left")
}

// The cases a crash of the legacy journal leaves, and what migration keeps
// that the legacy replay loses.
func TestMigrateRecoversWhatTheLegacyLoses(t *testing.T) {
	head := lifecycle(3)
	resumed := store.JournalEntry{OpID: "op-00002", State: store.OpSucceeded, IdempKey: "once", At: t0}
	after := store.JournalEntry{OpID: "op-00001", State: store.OpFailed, At: t0}
	full := lines(t, resumed)
	fragment := full[:len(full)/2]
	tests := []struct {
		name      string
		log       [][]byte
		recovered []int // line numbers
		skipped   []int
		legacyHas bool // whether the legacy replay keeps the resumed record
	}{
		{"torn tail", [][]byte{lines(t, head...), fragment}, nil, []int{10}, false},
		{"fragment then resumed appends", [][]byte{lines(t, head...), fragment, full, lines(t, after)}, []int{10}, nil, false},
		{"two fragments then resumed appends", [][]byte{lines(t, head...), fragment, fragment[:7], full, lines(t, after)}, []int{10}, nil, false},
		{"NUL run then resumed appends", [][]byte{lines(t, head...), bytes.Repeat([]byte{0}, 4096), full, lines(t, after)}, []int{10}, nil, false},
		{"garbage then resumed appends", [][]byte{lines(t, head...), []byte("\x17\xfe{garbage"), full, lines(t, after)}, []int{10}, nil, false},
		{"NUL tail", [][]byte{lines(t, head...), bytes.Repeat([]byte{0}, 512)}, nil, []int{10}, false},
		{"blank lines", [][]byte{[]byte("\n  \n"), lines(t, head...), []byte("\r\n\n"), full, []byte("\t\n")}, nil, nil, true},
		{"final line without newline", [][]byte{lines(t, head...), bytes.TrimSuffix(full, []byte("\n"))}, nil, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			src, dst := filepath.Join(dir, "ops.jsonl"), filepath.Join(dir, "ops.db")
			writeFile(t, src, tt.log...)
			rep, err := Migrate(context.Background(), src, dst, nil)
			require.NoError(t, err)
			require.Equal(t, tt.recovered, lineNums(rep.Recovered), "recovered lines")
			require.Equal(t, tt.skipped, lineNums(rep.Skipped), "skipped lines")

			ops, keys := idsAndKeys(append(head, resumed, after))
			legacy, got := legacyState(t, src, ops, keys), storeState(t, dst, ops, keys)
			require.Equal(t, tt.legacyHas, legacy.applied["once"], "legacy replay")
			wantResumed := tt.legacyHas || len(tt.recovered) > 0
			require.Equal(t, wantResumed, got.applied["once"], "the resumed record's key")
			if len(tt.recovered) > 0 {
				// Everything else is exactly the legacy state.
				require.Equal(t, store.OpSucceeded, got.latest["op-00002"].State)
				got.applied["once"] = false
				got.latest["op-00002"] = legacy.latest["op-00002"]
				got.inflight = legacy.inflight
			}
			require.Equal(t, legacy, got)
		})
	}
}

func lineNums(notes []LineNote) []int {
	var out []int
	for _, n := range notes {
		out = append(out, n.Line)
	}
	return out
}

func TestMigrateVeryLongLines(t *testing.T) {
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "ops.jsonl"), filepath.Join(dir, "ops.db")
	big := store.JournalEntry{OpID: "big", State: store.OpStarted, Params: map[string]string{"disk": strings.Repeat("x\"\x00", 200_000)}}
	writeFile(t, src, lines(t, lifecycle(2)...), lines(t, big), lines(t, lifecycle(1)...))
	rep, err := Migrate(context.Background(), src, dst, nil)
	require.NoError(t, err)
	require.Equal(t, 10, rep.Records)
	j, err := store.Open(dst, nil)
	require.NoError(t, err)
	defer j.Close()
	e, ok := j.Latest("big")
	require.True(t, ok)
	require.Equal(t, big.Params, e.Params)
}

func TestMigrateMidFileGarbage(t *testing.T) {
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "ops.jsonl"), filepath.Join(dir, "ops.db")
	head, tail := lifecycle(3), lifecycle(6)[9:]
	writeFile(t, src, lines(t, head...), []byte("this is not json\n"), []byte(`{"op_id":"x","state":"paused"}`+"\n"), lines(t, tail...))

	_, err := Migrate(context.Background(), src, dst, nil)
	require.ErrorIs(t, err, ErrBadLine)
	var le *LineError
	require.ErrorAs(t, err, &le)
	require.Equal(t, 10, le.Line, "the error names the line")
	require.ErrorContains(t, err, "line 10")
	require.NoFileExists(t, dst)
	require.ElementsMatch(t, []string{"ops.jsonl"}, dirNames(t, dir))

	rep, err := Migrate(context.Background(), src, dst, &Options{SkipBadLines: true})
	require.NoError(t, err)
	require.Equal(t, []int{10, 11}, lineNums(rep.Skipped))
	require.Contains(t, rep.Skipped[1].Reason, "state")

	// With the option it matches the legacy reader, but for the invalid
	// entry the legacy indexes (an op "x" in flight forever).
	ops, keys := idsAndKeys(append(head, tail...))
	require.Equal(t, legacyState(t, src, ops, keys).latest, storeState(t, dst, ops, keys).latest)
	require.Equal(t, legacyState(t, src, ops, keys).applied, storeState(t, dst, ops, keys).applied)
}

func TestMigrateInterruptedLeavesNoDestination(t *testing.T) {
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "ops.jsonl"), filepath.Join(dir, "ops.db")
	writeFile(t, src, lines(t, lifecycle(2000)...))

	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	_, err := Migrate(ctx, src, dst, &Options{BatchSize: 500, Progress: func(done, total int64) {
		calls++
		require.Less(t, done, total)
		cancel()
	}})
	require.ErrorIs(t, err, context.Canceled)
	require.Equal(t, 1, calls)
	require.ElementsMatch(t, []string{"ops.jsonl"}, dirNames(t, dir), "no destination, no temporary file")

	for _, step := range []string{"loaded", "verified"} {
		hook = func(s string) {
			if s == step {
				panic(errors.New("injected at " + s))
			}
		}
		require.Panics(t, func() { _, _ = Migrate(context.Background(), src, dst, nil) })
		hook = func(string) {}
		require.NoFileExists(t, dst, "step %s", step)
	}
}

func TestMigrateRefusesExistingDestination(t *testing.T) {
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "ops.jsonl"), filepath.Join(dir, "ops.db")
	writeFile(t, src, lines(t, lifecycle(5)...))
	require.NoError(t, os.WriteFile(dst, []byte("precious"), 0o600))

	_, err := Migrate(context.Background(), src, dst, nil)
	require.ErrorIs(t, err, ErrExists)
	b, _ := os.ReadFile(dst)
	require.Equal(t, "precious", string(b))

	_, err = Migrate(context.Background(), src, src, &Options{Replace: true})
	require.ErrorContains(t, err, "same file")

	_, err = Migrate(context.Background(), src, dst, &Options{Replace: true})
	require.NoError(t, err)
	j, err := store.Open(dst, nil)
	require.NoError(t, err)
	_, err = Migrate(context.Background(), src, dst, &Options{Replace: true})
	require.ErrorIs(t, err, ErrInUse, "a store open in an agent is not replaced")
	require.NoError(t, j.Close())
}

func TestMigrateMissingSource(t *testing.T) {
	dir := t.TempDir()
	_, err := Migrate(context.Background(), filepath.Join(dir, "nope.jsonl"), filepath.Join(dir, "ops.db"), nil)
	require.ErrorIs(t, err, os.ErrNotExist)
	require.ErrorContains(t, err, "nope.jsonl")
	require.Empty(t, dirNames(t, dir))
}

// The anchor `{"op_id":` also appears inside a record whose params' first
// key is "op_id"; recovery must still find the record's own start.
func TestMigrateRecoversRecordWithOpIDParam(t *testing.T) {
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "ops.jsonl"), filepath.Join(dir, "ops.db")
	e := store.JournalEntry{OpID: "a", VMID: 1, Kind: "start", Params: map[string]string{"op_id": "parent-7"}, State: store.OpSucceeded, IdempKey: "K", At: t0}
	writeFile(t, src, []byte(`{"op_id":"b","vmid":2,"ki`), lines(t, e))
	rep, err := Migrate(context.Background(), src, dst, nil)
	require.NoError(t, err)
	require.Equal(t, []int{1}, lineNums(rep.Recovered))
	require.True(t, storeState(t, dst, []string{"a"}, []string{"K"}).applied["K"])
}

func TestMigrateRefusesTheSourceUnderAnotherName(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "ops.jsonl")
	writeFile(t, src, lines(t, lifecycle(2)...))
	alias := filepath.Join(dir, "alias.jsonl")
	require.NoError(t, os.Link(src, alias))
	_, err := Migrate(context.Background(), src, alias, &Options{Replace: true})
	require.ErrorContains(t, err, "same file")
	b, err := os.ReadFile(src)
	require.NoError(t, err)
	require.Equal(t, lines(t, lifecycle(2)...), b, "the log is untouched")
}
