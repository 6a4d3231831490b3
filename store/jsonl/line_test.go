package jsonl

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/felhom/opjournal/store"
)

func sampleEntries() []store.JournalEntry {
	at := time.Date(2026, 11, 28, 12, 30, 45, 123456789, time.UTC)
	return []store.JournalEntry{
		{OpID: "op-1", VMID: 101, Kind: "start", State: store.OpStarted, At: at},
		{OpID: "op-2", VMID: -5, Kind: "set_config", Params: map[string]string{"cores": "4", "memory": "2048"}, UPID: "UPID:pve:00AB:start:101:root@pam:", State: store.OpTaskRunning, IdempKey: "job-9", At: at.In(time.FixedZone("X", 3600))},
		{OpID: "ü\x00\"<&>\u2028", Kind: "a\\b\n", Params: map[string]string{"": "", "k\x01": "v\t"}, State: "weird", At: time.Time{}},
		{},
		{OpID: "x", VMID: 9223372036854775807, State: store.OpSucceeded},
	}
}

// The fast path and encoding/json agree on every line the legacy writes.
func TestParseLineAgreesWithEncodingJSON(t *testing.T) {
	for _, e := range sampleEntries() {
		line, err := MarshalLine(&e)
		require.NoError(t, err)
		requireAgrees(t, line)
	}
}

func requireAgrees(t *testing.T, line []byte) {
	t.Helper()
	got, fast := parseFast([]byte(strings.TrimSpace(string(line))))
	var want store.JournalEntry
	werr := json.Unmarshal(line, &want)
	if !fast {
		return
	}
	require.NoErrorf(t, werr, "fast path accepted %q, encoding/json refuses it", line)
	require.Truef(t, want.At.Equal(got.At), "at of %q", line)
	require.Equal(t, want.At.Location().String(), got.At.Location().String())
	want.At, got.At = time.Time{}, time.Time{}
	require.Equalf(t, want, got, "line %q", line)
}

func TestFastPathTakesTheLegacyFormat(t *testing.T) {
	e := sampleEntries()[1]
	line, err := MarshalLine(&e)
	require.NoError(t, err)
	_, ok := parseFast(line[:len(line)-1])
	require.True(t, ok, "the common line takes the fast path: %s", line)
}

func FuzzParseLine(f *testing.F) {
	for _, e := range sampleEntries() {
		line, _ := MarshalLine(&e)
		f.Add(line)
	}
	f.Add([]byte(`{"op_id":"a","vmid":01,"kind":"","state":"started","at":"0001-01-01T00:00:00Z"}`))
	f.Add([]byte(`{"op_id":"a","vmid":1,"kind":"","params":{"a":"1","a":"2"},"state":"started","at":"2026-01-01T00:00:00+01:00"}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		requireAgrees(t, line)
		_, _, _ = ParseLine(line)
	})
}
