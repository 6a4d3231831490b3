package bench

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/felhom/opjournal/store"
)

// warmup is the appends each journal gets, untimed, before its first
// measured run.
const warmup = 16

// opRecord is a record of a benchmark op at a lifecycle state, shaped like
// the agent's (and Generate's): about 250 bytes of JSON.
func opRecord(op string, n int, state store.OpState, key string) store.JournalEntry {
	e := store.JournalEntry{
		OpID:  op,
		VMID:  100 + n%900,
		Kind:  "set_config",
		State: state,
		At:    time.Now().UTC(),
		Params: map[string]string{
			"node": "pve-node1", "reason": "reconcile", "cores": "4", "memory": "8192",
		},
		IdempKey: key,
	}
	if key != "" {
		e.Params["reason"] = "signed-job"
	}
	if state != store.OpStarted {
		e.UPID = fmt.Sprintf("UPID:pve-node1:%08X:%08X:%08X:qmset_config:%d:root@pam:", n, n*7, 0x65a1b2c3+n, e.VMID)
	}
	return e
}

// opID is id, or ScatterOpID(id) when the run scatters its op ids.
func (r *runner) opID(id string) string {
	if r.cfg.ScatteredOpIDs {
		return ScatterOpID(id)
	}
	return id
}

// appendRecord is writer w's i-th append of run: every op goes through
// started, task_running and succeeded, so the journal holds what an agent's
// does (few ops in flight, about a third of them with an applied key).
func (r *runner) appendRecord(run, w, i int) store.JournalEntry {
	n := i / 3
	op := r.opID("op-append-" + strconv.Itoa(run) + "-" + strconv.Itoa(w) + "-" + strconv.Itoa(n))
	key := ""
	if n%3 == 0 {
		key = "job-" + op
	}
	state := []store.OpState{store.OpStarted, store.OpTaskRunning, store.OpSucceeded}[i%3]
	return opRecord(op, n, state, key)
}

// openWorkload opens a fresh journal of each impl for a workload, and
// appends warmup records to each, untimed. On error it returns those opened
// so far, for closing.
func (r *runner) openWorkload(name string, run int) (map[string]Journal, error) {
	js := map[string]Journal{}
	for _, im := range r.cfg.Impls {
		j, err := im.Open(r.path("%s-%s.journal", name, im.Name))
		if err != nil {
			return js, fmt.Errorf("bench: %s: open %s: %w", name, im.Name, err)
		}
		js[im.Name] = j
		for i := range warmup {
			if err := j.Append(r.appendRecord(run, 0, i)); err != nil {
				return js, fmt.Errorf("bench: %s: warm up %s: %w", name, im.Name, err)
			}
		}
	}
	return js, nil
}

func closeAll(js map[string]Journal) error {
	var errs []error
	for _, j := range js {
		errs = append(errs, j.Close())
	}
	return errors.Join(errs...)
}

// openAppendWorkload measures durable Append at each number of writers.
// Each impl appends to one journal for the whole workload.
func (r *runner) openAppendWorkload() (*writerWorkload, error) {
	return r.openWriterWorkload("append", r.cfg.Writers, &r.res.Appends, "appends/s",
		func(j Journal, run int) func(w, i int) call {
			return func(w, i int) call {
				e := r.appendRecord(run, w, i)
				return func() error { return j.Append(e) }
			}
		})
}

// openLifecycleWorkload measures the agent's lifecycle of an op: check its
// key, record started, task_running and succeeded, read the op back. A call
// is one op.
func (r *runner) openLifecycleWorkload() (*writerWorkload, error) {
	return r.openWriterWorkload("lifecycle", r.cfg.LifecycleWriters, &r.res.Lifecycles, "lifecycles/s",
		func(j Journal, run int) func(w, i int) call {
			return func(w, i int) call {
				op := r.opID("op-life-" + strconv.Itoa(run) + "-" + strconv.Itoa(w) + "-" + strconv.Itoa(i))
				key := "job-" + op
				records := []store.JournalEntry{
					opRecord(op, i, store.OpStarted, key),
					opRecord(op, i, store.OpTaskRunning, key),
					opRecord(op, i, store.OpSucceeded, key),
				}
				return func() error { return lifecycle(j, op, key, records) }
			}
		})
}

func lifecycle(j Journal, op, key string, records []store.JournalEntry) error {
	if j.AlreadyApplied(key) {
		return fmt.Errorf("AlreadyApplied(%q) = true before the op ran, want false", key)
	}
	for _, e := range records {
		if err := j.Append(e); err != nil {
			return err
		}
	}
	e, ok := j.Latest(op)
	if !ok || e.State != store.OpSucceeded {
		return fmt.Errorf("Latest(%q) = %q, %v after it succeeded, want %q, true", op, e.State, ok, store.OpSucceeded)
	}
	return nil
}

// writerWorkload is a workload run at each of several numbers of
// concurrent writers, against one journal of each impl.
type writerWorkload struct {
	r        *runner
	name     string
	unit     string // of the rate, in progress lines
	writers  []int
	out      *[]WriterResult
	js       map[string]Journal
	samplers [][]sampler // [writers][impl]
	prepare  func(j Journal, run int) func(w, i int) call
	run      int // measured runs so far: a different op id prefix each
}

func (r *runner) openWriterWorkload(name string, writers []int, out *[]WriterResult, unit string,
	prepare func(j Journal, run int) func(w, i int) call) (*writerWorkload, error) {
	ww := &writerWorkload{r: r, name: name, unit: unit, writers: writers, out: out, prepare: prepare,
		samplers: make([][]sampler, len(writers))}
	for k := range ww.samplers {
		ww.samplers[k] = make([]sampler, len(r.cfg.Impls))
	}
	var err error
	ww.js, err = r.openWorkload(name, -1)
	return ww, err
}

// rep runs each number of writers once against each impl, in the order of
// repetition rep.
func (ww *writerWorkload) rep(rep int) error {
	r := ww.r
	for k, w := range ww.writers {
		for _, im := range r.order(rep) {
			settle()
			lats, elapsed, err := r.drive(w, r.cfg.RunTime, ww.prepare(ww.js[im.Name], ww.run))
			ww.run++
			if err != nil {
				return fmt.Errorf("bench: %s writers=%d impl=%s: %w", ww.name, w, im.Name, err)
			}
			l := ww.samplers[k][r.implIndex(im.Name)].add(lats, elapsed)
			r.log.printf("%s writers=%-3d impl=%-6s rep %d/%d: %8.0f %s  p50 %s  p99 %s",
				ww.name, w, im.Name, rep+1, r.cfg.Reps, l.Rate(), ww.unit, fmtDur(l.P50), fmtDur(l.P99))
		}
	}
	return nil
}

// finish files one result per (writers, impl).
func (ww *writerWorkload) finish() {
	for k, w := range ww.writers {
		for i, im := range ww.r.cfg.Impls {
			*ww.out = append(*ww.out, WriterResult{Writers: w, Impl: im.Name, Sample: ww.samplers[k][i].sample()})
		}
	}
}

func (ww *writerWorkload) close() error {
	if err := closeAll(ww.js); err != nil {
		return fmt.Errorf("bench: %s: %w", ww.name, err)
	}
	return nil
}
