package store

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/felhom/opjournal/codec"
)

// CheckReport is what Check found.
type CheckReport struct {
	Ops         int      `json:"ops"`
	Records     int      `json:"records"`
	InFlight    int      `json:"in_flight"`
	AppliedKeys int      `json:"applied_keys"`
	Problems    []string `json:"problems"` // empty when the journal is sound; at most MaxCheckProblems
}

// MaxCheckProblems caps CheckReport.Problems; a damaged file can have
// millions.
const MaxCheckProblems = 100

// Check verifies the whole journal in one read transaction: first that its
// pages form trees (each page reached once, within the file, a branch or a
// leaf), then every value's checksum and format, that each op's list of
// sequence numbers names exactly its records, that every record is listed
// once, that the inflight, keys and applied buckets and the vmids and upids
// indexes are exactly what the records imply, and then bbolt's own
// page-level consistency check. It returns the report and, if it found
// problems, an error matching ErrCorrupt. It reads the whole file; ctx can
// stop it, and every walk checks it every 1024 steps.
func (j *Journal) Check(ctx context.Context) (CheckReport, error) {
	var rep CheckReport
	problem := func(format string, args ...any) {
		if len(rep.Problems) < MaxCheckProblems {
			rep.Problems = append(rep.Problems, fmt.Sprintf(format, args...))
		}
	}
	// Exclusive: bbolt's page check reads the live freelist, which
	// concurrent commits change under a read transaction.
	err := j.viewTx(true, func(bs *buckets) error {
		// The page trees first: the record scans and bbolt's check
		// trust them to be trees.
		shape, err := treeShape(ctx, bs.tx, j.file, true, MaxCheckProblems)
		if err != nil {
			return err
		}
		for _, p := range shape {
			problem("pages: %s", p)
		}
		if len(shape) > 0 {
			return nil
		}
		c := checker{ctx: ctx, bs: bs, problem: problem, rep: &rep}
		c.pruned = bs.meta().Get(metaPruned) != nil
		for _, step := range []func() error{c.topLevel, c.tail, c.ops, c.records, c.inflight, c.keys, c.applied, c.indexes, c.pending} {
			if err := step(); err != nil {
				return err
			}
		}
		if len(rep.Problems) > 0 {
			return nil // bbolt's check walks the same pages; a damaged one can fault it
		}
		for err := range bs.tx.Check() {
			problem("bbolt: %v", err)
		}
		return nil
	})
	if err != nil {
		return rep, err
	}
	if len(rep.Problems) > 0 {
		return rep, j.fail(fmt.Errorf("%w: %s: %d problems found, first: %s", ErrCorrupt, j.path, len(rep.Problems), strings.TrimPrefix(rep.Problems[0], "store: ")))
	}
	return rep, nil
}

type checker struct {
	ctx     context.Context
	bs      *buckets
	rep     *CheckReport
	problem func(string, ...any)
	n       int

	// pruned: Prune has removed ops and kept their applied keys; the op id
	// may since have been reused by an op that never carried the key.
	pruned bool
	// What the records imply of the vmids and upids indexes, gathered
	// one op at a time.
	op            string
	vmids, upids  map[string]uint64 // index key -> first seq, for op
	nVMIDs, nUPID int               // entries the whole history implies, in vmids/upids proper
	listed        int               // sequence numbers the ops list that name one of their records
	unreadable    bool              // a record is damaged: the indexes' counts cannot be compared
	reported      map[uint64]bool   // damaged records the ops pass reported, naming their op
	mark          uint64            // the merge mark: opseqs lists the records up to it
}

// tick checks ctx every 1024 steps of a walk.
func (c *checker) tick() error {
	c.n++
	if c.n%1024 == 0 {
		return c.ctx.Err()
	}
	return nil
}

// latest summarises op's latest record. readable is false when the record
// exists but is damaged: the ops and records passes report that, so the
// index passes do not report it again as a missing op.
func (c *checker) latest(op []byte) (e codec.Summary, exists, readable bool) {
	if !c.exists(op) {
		return codec.Summary{}, false, false
	}
	e, _, err := c.bs.latestSummary(string(op), nil)
	return e, true, err == nil
}

// exists reports whether opseqs or the tail lists op.
func (c *checker) exists(op []byte) bool {
	return c.bs.opSeqs().Get(op) != nil || len(c.bs.txTail[string(op)]) > 0
}

// tail reads the records past the merge mark into the transaction's own
// tail lists, which the later passes use: each record's op lists it there
// rather than in opseqs. A damaged record is left to the records pass.
func (c *checker) tail() error {
	mark, upto := c.bs.tailMark()
	c.mark = mark
	m := map[string][]uint64{}
	// Every record past the mark is kept until the next merge (Prune
	// merges before it removes any): they run without a gap to upto.
	next := mark + 1
	cur := c.bs.cursor(slotRecords)
	for k, v := cur.Seek(seqKey(mark + 1)); k != nil; k, v = cur.Next() {
		if err := c.tick(); err != nil {
			return err
		}
		seq, err := parseSeqKey(k)
		if err != nil || seq > upto {
			continue // the records pass reports it
		}
		if seq != next {
			c.problem("records: records %d to %d are missing, past the merge mark %d", next, seq-1, mark)
		}
		next = seq + 1
		e, err := codec.DecodeSummary(v)
		if err != nil {
			c.unreadable = true
			continue
		}
		m[e.OpID] = append(m[e.OpID], seq)
	}
	if next <= upto {
		c.problem("records: records %d to %d are missing, past the merge mark %d", next, upto, mark)
	}
	c.bs.txTail = m
	return nil
}

// topLevel reports what the root holds besides the journal's buckets:
// bbolt's check walks every bucket in its own goroutine, where a damaged
// page cannot be recovered from, so only known buckets, walked here under
// guard first, may reach it.
func (c *checker) topLevel() error {
	cur := rootCursor(c.bs.tx)
	for k, _ := cur.First(); k != nil; k, _ = cur.Next() {
		known := false
		for _, name := range allBuckets {
			known = known || bytes.Equal(k, name)
		}
		if !known {
			c.problem("root: unknown top-level key %q", k)
		}
	}
	return nil
}

// ops checks each op's list of sequence numbers: every record it names
// exists and belongs to the op; the op's latest record, the last, decides
// whether inflight and keys list it; and its records imply its vmids and
// upids entries.
func (c *checker) ops() error {
	cur := c.bs.cursor(slotOpSeqs)
	for k, v := cur.First(); k != nil; k, v = cur.Next() {
		if err := c.tick(); err != nil {
			return err
		}
		seqs, err := parseOpSeqs(k, v)
		if err != nil {
			c.rep.Ops++
			c.problem("%v", err)
			c.unreadable = true // what its records imply is unknown
			continue
		}
		for _, seq := range seqs {
			if seq > c.mark {
				c.problem("opseqs: op %q lists record %d, past the merge mark %d", k, seq, c.mark)
				break
			}
		}
		c.op1(k, append(seqs, c.bs.txTail[string(k)]...))
	}
	// The ops only the tail lists.
	only, err := c.bs.tailOnly()
	if err != nil {
		return err
	}
	for _, op := range only {
		c.op1([]byte(op), c.bs.txTail[op])
	}
	return nil
}

// op1 checks one op, whose records are seqs.
func (c *checker) op1(k []byte, seqs []uint64) {
	c.rep.Ops++
	var e codec.Summary
	var err error
	readable := true
	for _, seq := range seqs {
		rv := c.bs.records().Get(seqKey(seq))
		if rv == nil {
			c.problem("opseqs: op %q lists record %d, which is missing", k, seq)
			readable = false
			continue
		}
		if e, err = codec.DecodeSummary(rv); err != nil {
			c.problem("%v", corruptRecordOf(seq, string(k), err))
			if c.reported == nil {
				c.reported = map[uint64]bool{}
			}
			c.reported[seq] = true
			readable = false
			c.unreadable = true
			continue
		}
		if e.OpID != string(k) {
			c.problem("opseqs: op %q lists record %d, a record of op %q", k, seq, e.OpID)
			readable = false
			continue
		}
		c.listed++
		c.implied(e, seq)
	}
	c.flushImplied()
	if !readable {
		return
	}
	if inFlight := !OpState(e.State).Terminal(); inFlight && !has(c.bs.inflight(), k) {
		c.problem("inflight: op %q is %s but not listed", k, e.State)
	} else if inFlight && e.IdempKey != "" && !has(c.bs.keys(), holderKey(e.IdempKey, e.OpID)) {
		c.problem("keys: in-flight op %q holds key %q but is not listed", k, e.IdempKey)
	}
}

// records checks every record's checksum and format, that its sequence
// number is not past the bucket's, and that a succeeded record's key is
// applied; and that the ops list every record: when they list fewer than
// there are, it names the records no op lists.
func (c *checker) records() error {
	top := c.bs.records().Sequence()
	readable := 0
	cur := c.bs.cursor(slotRecords)
	for k, v := cur.First(); k != nil; k, v = cur.Next() {
		if err := c.tick(); err != nil {
			return err
		}
		c.rep.Records++
		seq, err := parseSeqKey(k)
		if err != nil {
			c.problem("%v", err)
			continue
		}
		if seq > top {
			c.problem("records: record %d is past the bucket's sequence %d", seq, top)
		}
		e, err := summaryOf(seq, "", v)
		if err != nil {
			if !c.reported[seq] {
				c.problem("%v", err)
			}
			continue
		}
		readable++
		if OpState(e.State) == OpSucceeded && e.IdempKey != "" && c.bs.applied().Get([]byte(e.IdempKey)) == nil {
			c.problem("applied: key %q succeeded in op %q but is not applied", e.IdempKey, e.OpID)
		}
	}
	if c.listed == readable {
		return nil
	}
	// Some readable record is listed by no op (each listed one names its
	// op, and an op lists a sequence number once): find which.
	for k, v := cur.First(); k != nil; k, v = cur.Next() {
		if err := c.tick(); err != nil {
			return err
		}
		seq, err := parseSeqKey(k)
		if err != nil {
			continue
		}
		e, err := codec.DecodeSummary(v)
		if err != nil {
			continue
		}
		seqs, err := c.bs.opList(e.OpID)
		if err != nil {
			continue // the ops pass reported it
		}
		if !slices.Contains(seqs, seq) {
			c.problem("records: record %d of op %q is not in the op's list", seq, e.OpID)
		}
	}
	return nil
}

// implied notes the vmids and upids entries record e, at seq, implies.
func (c *checker) implied(e codec.Summary, seq uint64) {
	if e.OpID != c.op || c.vmids == nil {
		c.flushImplied()
		c.op = e.OpID
		c.vmids, c.upids = map[string]uint64{}, map[string]uint64{}
	}
	if k := string(vmidKey(e.VMID, e.OpID)); c.vmids[k] == 0 {
		c.vmids[k] = seq
	}
	if k := string(upidKey(e.UPID, e.OpID)); e.UPID != "" && c.upids[k] == 0 {
		c.upids[k] = seq
	}
}

// flushImplied checks that the indexes hold what the current op's history
// implies: each (vmid, op) and (upid, op) pair with the seq of its first
// record, in vmids or upids, or else still pending under that seq.
func (c *checker) flushImplied() {
	for _, ix := range []struct {
		name string
		kind byte
		b    *bolt.Bucket
		want map[string]uint64
		n    *int
	}{{"vmids", pendingVMID, c.bs.vmids(), c.vmids, &c.nVMIDs}, {"upids", pendingUPID, c.bs.upids(), c.upids, &c.nUPID}} {
		for k, seq := range ix.want {
			got := ix.b.Get([]byte(k))
			switch gotSeq, ok := parseSeqValue(got); {
			case ok && gotSeq == seq:
				*ix.n++
			case got == nil && bytes.Equal(c.bs.pending().Get(pendingKey(seq, ix.kind)), []byte(k)):
			default:
				c.problem("%s: op %q: entry %q should hold record %d, holds %x", ix.name, c.op, k, seq, got)
			}
		}
	}
	c.vmids, c.upids = nil, nil
}

// pending checks that every pending entry is one the history implies: the
// op's record at that seq exists and carries the vmid or upid.
func (c *checker) pending() error {
	cur := c.bs.cursor(slotPending)
	for k, v := cur.First(); k != nil; k, v = cur.Next() {
		if err := c.tick(); err != nil {
			return err
		}
		seq, kind, err := parsePendingKey(k)
		if err != nil {
			c.problem("%v", err)
			continue
		}
		var op []byte
		var carried func(codec.Summary) bool
		if vop, ok := vmidKeyOp(v); kind == pendingVMID && ok {
			op = vop
			carried = func(e codec.Summary) bool { return bytes.Equal(vmidKey(e.VMID, e.OpID), v) }
		} else if uop, ok := upidKeyOp(v); kind == pendingUPID && ok {
			op = uop
			carried = func(e codec.Summary) bool { return bytes.Equal(upidKey(e.UPID, e.OpID), v) }
		} else {
			c.problem("pending %x: malformed entry %q", k, v)
			continue
		}
		rv := c.bs.records().Get(seqKey(seq))
		e, err := codec.DecodeSummary(rv)
		if rv == nil || err == nil && e.OpID != string(op) {
			c.problem("pending %x: op %q has no record %d", k, op, seq)
			continue
		}
		if err == nil && !carried(e) {
			c.problem("pending %x: record %d of op %q does not carry %q", k, seq, op, v)
		}
	}
	return nil
}

// indexes checks that vmids and upids hold nothing the history does not
// imply: every entry names an op that exists, and their counts match.
func (c *checker) indexes() error {
	for _, ix := range []struct {
		name string
		b    *bolt.Bucket
		want int
		op   func(k []byte) ([]byte, bool)
	}{
		{"vmids", c.bs.vmids(), c.nVMIDs, vmidKeyOp},
		{"upids", c.bs.upids(), c.nUPID, upidKeyOp},
	} {
		n := 0
		cur := c.bs.cursorOver(ix.b, []byte(ix.name))
		for k, _ := cur.First(); k != nil; k, _ = cur.Next() {
			if err := c.tick(); err != nil {
				return err
			}
			n++
			if op, ok := ix.op(k); !ok {
				c.problem("%s %q: malformed key", ix.name, k)
			} else if !c.exists(op) {
				c.problem("%s %q: op %q has no record", ix.name, k, op)
			}
		}
		if n != ix.want && !c.unreadable {
			c.problem("%s: %d entries, the history implies %d (besides those still pending)", ix.name, n, ix.want)
		}
	}
	return nil
}

func (c *checker) inflight() error {
	cur := c.bs.cursor(slotInFlight)
	for k, _ := cur.First(); k != nil; k, _ = cur.Next() {
		if err := c.tick(); err != nil {
			return err
		}
		c.rep.InFlight++
		switch e, exists, readable := c.latest(k); {
		case !exists:
			c.problem("inflight %q: the op has no record", k)
		case readable && OpState(e.State).Terminal():
			c.problem("inflight %q: the op is %s", k, e.State)
		}
	}
	return nil
}

func (c *checker) keys() error {
	cur := c.bs.cursor(slotKeys)
	for k, _ := cur.First(); k != nil; k, _ = cur.Next() {
		if err := c.tick(); err != nil {
			return err
		}
		key, op, ok := parseHolderKey(k)
		if !ok {
			c.problem("keys %q: malformed key", k)
			continue
		}
		if e, exists, readable := c.latest(op); !exists || (readable && (OpState(e.State).Terminal() || e.IdempKey != string(key))) {
			c.problem("keys: op %q listed as holding key %q, but its latest record does not", op, key)
		}
	}
	return nil
}

func (c *checker) applied() error {
	cur := c.bs.cursor(slotApplied)
	for k, v := cur.First(); k != nil; k, v = cur.Next() {
		if err := c.tick(); err != nil {
			return err
		}
		c.rep.AppliedKeys++
		a, err := codec.DecodeApplied(v)
		if err != nil {
			c.problem("%v", corrupt("applied", k, err))
			continue
		}
		// Prune keeps applied keys when it removes their op.
		if !c.pruned && !succeededIn(c.bs, a.OpID, string(k)) {
			c.problem("applied %q: op %q has no succeeded record with that key", k, a.OpID)
		}
	}
	return nil
}

// has reports whether b holds key; unlike Get it does not depend on how
// bbolt represents an empty value.
func has(b *bolt.Bucket, key []byte) bool {
	k, _ := b.Cursor().Seek(key)
	return k != nil && bytes.Equal(k, key)
}
