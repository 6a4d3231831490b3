package bench

import (
	"bufio"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"time"

	"github.com/felhom/opjournal/store"
	"github.com/felhom/opjournal/store/jsonl"
)

// GenOptions shape a generated legacy log. Zero fields take the defaults
// documented on each.
type GenOptions struct {
	Ops           int     // ops to write; default 1000
	Seed          uint64  // same seed, same log; default 1
	KeyShare      float64 // share of ops with an idempotency key; default 0.3
	FailShare     float64 // share of finished ops that fail; default 0.1
	InFlightShare float64 // share of ops left started or task_running; default 0.01
	Concurrency   int     // ops in progress at once, interleaving their records; default 8
	// Resumed, if set, writes a crash partway through: a torn fragment
	// without newline, then the restarted agent's next record on the same
	// line (the line the legacy replay skips and migration recovers).
	Resumed bool
	// TornTail, if set, ends the log with a torn fragment without newline.
	TornTail bool
	// ScatteredOpIDs, if set, gives each op the id ScatterOpID makes of
	// the usual one: ids scattered over the key space instead of sorting
	// in the order the ops start. The rest of the log is the same.
	ScatteredOpIDs bool
}

func (o GenOptions) withDefaults() GenOptions {
	if o.Ops <= 0 {
		o.Ops = 1000
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	if o.KeyShare == 0 {
		o.KeyShare = 0.3
	}
	if o.FailShare == 0 {
		o.FailShare = 0.1
	}
	if o.InFlightShare == 0 {
		o.InFlightShare = 0.01
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 8
	}
	return o
}

// GenReport counts what Generate wrote.
type GenReport struct {
	Ops      int   `json:"ops"`
	Records  int   `json:"records"` // complete records, the resumed one included
	Lines    int   `json:"lines"`   // newline-terminated lines
	InFlight int   `json:"in_flight"`
	Bytes    int64 `json:"bytes"`
}

var kinds = []string{"start", "stop", "set_config", "snapshot", "migrate", "resize_disk"}

// gen is one op being generated.
type genOp struct {
	e    store.JournalEntry
	stay bool // left in flight
}

// Generate writes a realistic legacy JSONL log to w: ops go through started,
// task_running (with a Proxmox UPID), then succeeded or failed, several at
// once so their records interleave, some with idempotency keys, some left in
// flight. The same options give the same bytes.
func Generate(ctx context.Context, w io.Writer, opts GenOptions) (GenReport, error) {
	o := opts.withDefaults()
	rng := rand.New(rand.NewPCG(o.Seed, 0x6f706a6f75726e6c))
	bw := bufio.NewWriterSize(w, 256<<10)
	var rep GenReport
	at := time.Date(2026, 1, 5, 8, 0, 0, 0, time.UTC)
	write := func(b []byte) error {
		n, err := bw.Write(b)
		rep.Bytes += int64(n)
		return err
	}
	emit := func(e *store.JournalEntry) error {
		line, err := jsonl.MarshalLine(e)
		if err != nil {
			return err
		}
		rep.Records++
		rep.Lines++
		return write(line)
	}
	resumeAt := -1
	if o.Resumed {
		resumeAt = o.Ops / 2
	}
	var active []*genOp
	next := 0
	for next < o.Ops || len(active) > 0 {
		if rep.Records%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return rep, err
			}
		}
		at = at.Add(time.Duration(1+rng.IntN(3000)) * time.Millisecond)
		if next < o.Ops && (len(active) < o.Concurrency) {
			op := newGenOp(rng, next, o, at)
			next++
			if op.stay {
				rep.InFlight++
			}
			if next-1 == resumeAt {
				// The agent crashed writing this record, restarted and
				// wrote it again: fragment, then the record, on one line.
				line, err := jsonl.MarshalLine(&op.e)
				if err != nil {
					return rep, err
				}
				if err := write(line[:len(line)/2]); err != nil {
					return rep, err
				}
			}
			if err := emit(&op.e); err != nil {
				return rep, err
			}
			active = append(active, op)
			continue
		}
		i := rng.IntN(len(active))
		op := active[i]
		op.e.At = at
		switch {
		case op.e.State == store.OpStarted:
			op.e.State = store.OpTaskRunning
			op.e.UPID = fmt.Sprintf("UPID:pve-node1:%08X:%08X:%08X:%s:%d:root@pam:",
				rng.Uint32(), rng.Uint32(), uint32(at.Unix()), "qm"+op.e.Kind, op.e.VMID)
		case op.stay:
			active = append(active[:i], active[i+1:]...)
			continue
		case rng.Float64() < o.FailShare:
			op.e.State = store.OpFailed
		default:
			op.e.State = store.OpSucceeded
		}
		if op.e.State.Terminal() {
			active = append(active[:i], active[i+1:]...)
		}
		if err := emit(&op.e); err != nil {
			return rep, err
		}
	}
	rep.Ops = o.Ops
	if o.TornTail {
		e := store.JournalEntry{OpID: fmt.Sprintf("op-%016x", rng.Uint64()), State: store.OpStarted, Kind: "start", At: at}
		line, err := jsonl.MarshalLine(&e)
		if err != nil {
			return rep, err
		}
		if err := write(line[:len(line)/2]); err != nil {
			return rep, err
		}
	}
	return rep, bw.Flush()
}

// ScatterOpID returns an op id shaped like a random (version 4) UUID, made
// from a SHA-256 hash of id: the same id gives the same result, and ids
// that sort next to each other give results spread over the key space.
func ScatterOpID(id string) string {
	h := sha256.Sum256([]byte(id))
	h[6] = h[6]&0x0f | 0x40 // version 4
	h[8] = h[8]&0x3f | 0x80 // RFC 4122 variant
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

func newGenOp(rng *rand.Rand, i int, o GenOptions, at time.Time) *genOp {
	vmid := 100 + rng.IntN(900)
	kind := kinds[rng.IntN(len(kinds))]
	id := fmt.Sprintf("op-%08d-%08x", i, rng.Uint32())
	if o.ScatteredOpIDs {
		id = ScatterOpID(id)
	}
	e := store.JournalEntry{
		OpID:  id,
		VMID:  vmid,
		Kind:  kind,
		State: store.OpStarted,
		At:    at,
		Params: map[string]string{
			"node":   "pve-node1",
			"reason": "reconcile",
		},
	}
	if kind == "set_config" {
		e.Params["cores"] = fmt.Sprint(1 << rng.IntN(4))
		e.Params["memory"] = fmt.Sprint(1024 << rng.IntN(4))
	}
	if rng.Float64() < o.KeyShare {
		e.IdempKey = fmt.Sprintf("job-%016x", rng.Uint64())
		e.Params["reason"] = "signed-job"
	}
	return &genOp{e: e, stay: rng.Float64() < o.InFlightShare}
}
