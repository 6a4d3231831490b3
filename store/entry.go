package store

import (
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/felhom/opjournal/codec"
)

// OpState is the lifecycle state of a journaled operation.
type OpState string

// The lifecycle states. Their string values are persisted (in the JSONL
// format and in the store's records) and never change.
const (
	// OpStarted: the op was planned and dispatch began (no Proxmox task yet).
	OpStarted OpState = "started"
	// OpTaskRunning: the Proxmox POST returned a UPID that is being awaited.
	// Recorded so a crash mid-op is detected on restart and the task
	// status re-checked.
	OpTaskRunning OpState = "task_running"
	// OpSucceeded: the op completed (task exit status OK, or a clean
	// synchronous apply).
	OpSucceeded OpState = "succeeded"
	// OpFailed: the op errored (POST error, task not OK, or a wait error).
	OpFailed OpState = "failed"
)

// Terminal reports whether s is final: succeeded or failed. An op whose
// latest record is not terminal is in flight.
func (s OpState) Terminal() bool { return s == OpSucceeded || s == OpFailed }

// Valid reports whether s is one of the four lifecycle states.
func (s OpState) Valid() bool {
	switch s {
	case OpStarted, OpTaskRunning, OpSucceeded, OpFailed:
		return true
	}
	return false
}

// JournalEntry is one durable lifecycle record. Several records share an
// OpID across an op's lifecycle (started, task_running, succeeded or
// failed); the one appended last is the op's latest.
//
// IdempKey is the one-shot idempotency key: set on ops that must run at most
// once across retries and restarts, empty on convergent reconcile actions. A
// non-empty IdempKey on a record that reaches OpSucceeded marks the key
// applied forever.
//
// The fields, their order and their JSON tags are those of the legacy
// journal and of its JSONL format.
type JournalEntry struct {
	OpID     string            `json:"op_id"`
	VMID     int               `json:"vmid"`
	Kind     string            `json:"kind"`
	Params   map[string]string `json:"params,omitempty"`
	UPID     string            `json:"upid,omitempty"`
	State    OpState           `json:"state"`
	IdempKey string            `json:"idemp_key,omitempty"`
	At       time.Time         `json:"at"`
}

// Size limits of a record, checked by Append. They keep every key well
// inside bbolt's 32 KiB key limit and a record's value bounded.
const (
	// MaxStringSize is the largest op_id, kind, upid or idemp_key, in bytes.
	MaxStringSize = 4096
	// MaxParamsSize is the largest total size of params' keys and values,
	// in bytes.
	MaxParamsSize = 1 << 20
)

// Validate checks e against the rules Append enforces and returns an
// *InvalidEntryError naming the first field at fault, or nil. Strings must be
// valid UTF-8 (the JSONL format cannot carry anything else: the legacy
// journal silently replaced invalid bytes, so the key read back after a
// restart was not the one written), and At must be between years 0 and 9999
// both in its own zone and in UTC, which is what JSON can represent.
func (e *JournalEntry) Validate() error {
	if e.OpID == "" {
		return invalid("op_id", "empty")
	}
	for _, f := range []struct{ name, value string }{
		{"op_id", e.OpID}, {"kind", e.Kind}, {"upid", e.UPID}, {"idemp_key", e.IdempKey},
	} {
		if err := checkString(f.name, f.value, MaxStringSize); err != nil {
			return err
		}
	}
	if !e.State.Valid() {
		return invalid("state", fmt.Sprintf("%q is not one of started, task_running, succeeded, failed", e.State))
	}
	size := 0
	for k, v := range e.Params {
		if err := checkString("params key", k, MaxParamsSize); err != nil {
			return err
		}
		if err := checkString("params value", v, MaxParamsSize); err != nil {
			return invalid(fmt.Sprintf("params[%q]", k), err.(*InvalidEntryError).Problem)
		}
		size += len(k) + len(v)
	}
	if size > MaxParamsSize {
		return invalid("params", fmt.Sprintf("%d bytes of keys and values exceed the limit of %d", size, MaxParamsSize))
	}
	if y, yu := e.At.Year(), e.At.UTC().Year(); y < 0 || y > 9999 || yu < 0 || yu > 9999 {
		return invalid("at", fmt.Sprintf("%s is outside years 0 to 9999", e.At))
	}
	return nil
}

func checkString(field, s string, limit int) error {
	if len(s) > limit {
		return invalid(field, fmt.Sprintf("%d bytes exceed the limit of %d", len(s), limit))
	}
	if !utf8.ValidString(s) {
		return invalid(field, "not valid UTF-8")
	}
	return nil
}

func toRecord(e *JournalEntry) codec.Record {
	return codec.Record{
		OpID: e.OpID, VMID: e.VMID, Kind: e.Kind, Params: e.Params, UPID: e.UPID,
		State: string(e.State), IdempKey: e.IdempKey, At: e.At,
	}
}

func fromRecord(r codec.Record) JournalEntry {
	return JournalEntry{
		OpID: r.OpID, VMID: r.VMID, Kind: r.Kind, Params: r.Params, UPID: r.UPID,
		State: OpState(r.State), IdempKey: r.IdempKey, At: r.At,
	}
}

// decodeEntry decodes the record with sequence number seq, which must
// belong to op (or to any op if op is empty). Damage is reported as
// ErrCorrupt naming the record, and so is another op's record: a damaged
// opseqs list must not return a good record for the wrong op.
func decodeEntry(seq uint64, op string, value []byte) (JournalEntry, error) {
	r, err := codec.DecodeRecord(value)
	if err != nil {
		return JournalEntry{}, corruptRecordOf(seq, op, err)
	}
	if op != "" && r.OpID != op {
		return JournalEntry{}, corruptRecord(seq, fmt.Errorf("holds a record of op %q, listed for op %q", r.OpID, op))
	}
	return fromRecord(r), nil
}

// summaryOf decodes the summary of the record with sequence number seq,
// which must belong to op (or to any op if op is empty), reporting damage
// as decodeEntry does.
func summaryOf(seq uint64, op string, value []byte) (codec.Summary, error) {
	s, err := codec.DecodeSummary(value)
	if err != nil {
		return s, corruptRecordOf(seq, op, err)
	}
	if op != "" && s.OpID != op {
		return s, corruptRecord(seq, fmt.Errorf("holds a record of op %q, listed for op %q", s.OpID, op))
	}
	return s, nil
}

// succeededIn reports whether op's history holds a succeeded record with key.
func succeededIn(bs *buckets, op, key string) bool {
	seqs, err := bs.opList(op)
	if err != nil {
		return false
	}
	for _, seq := range seqs {
		v := bs.records().Get(seqKey(seq))
		if v == nil {
			continue
		}
		if e, err := codec.DecodeSummary(v); err == nil && e.OpID == op && OpState(e.State) == OpSucceeded && e.IdempKey == key {
			return true
		}
	}
	return false
}
