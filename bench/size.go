package bench

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"time"
)

// sizes runs the size workloads on a journal of each of cfg.Sizes ops.
func (r *runner) sizes() error {
	loadable := r.cfg.Migrate != nil
	for _, im := range r.cfg.Impls {
		loadable = loadable || im.Load != nil
	}
	if !loadable {
		r.log.printf("sizes: skipped, no impl has a Load and Config.Migrate is nil")
		return nil
	}
	r.log.printf("sizes: open, heap after open, bytes on disk, Latest, AlreadyApplied, InFlight at %v ops", r.cfg.Sizes)
	for _, n := range r.cfg.Sizes {
		if err := r.size(n); err != nil {
			return fmt.Errorf("bench: ops=%d: %w", n, err)
		}
	}
	return nil
}

// fixture is one impl's journal of the size being measured, and what was
// measured on it.
type fixture struct {
	impl Impl
	path string
	res  SizeResult

	// The figures' repetitions, until res takes their samples.
	open, latest, applied, inFlight sampler
}

// lookups are the targets of the lookup workloads at one size.
type lookups struct {
	ops  []string // ops in the journal
	keys []string // alternately applied and unknown keys
}

func (r *runner) size(n int) error {
	log := r.path("ops-%d.jsonl", n)
	if !r.cfg.KeepFiles {
		defer os.Remove(log)
	}
	lr, look, err := r.generate(log, n)
	if err != nil {
		return err
	}
	var fs []*fixture
	for _, im := range r.cfg.Impls {
		if im.Load == nil {
			continue
		}
		f, err := r.load(im, log, n)
		if err != nil {
			return err
		}
		if !r.cfg.KeepFiles {
			defer os.RemoveAll(f.path)
		}
		fs = append(fs, f)
	}
	var mig sampler
	for rep := range r.cfg.Reps {
		if r.cfg.Migrate != nil {
			if err := r.migrate(log, n, rep, &mig); err != nil {
				return err
			}
		}
		for _, im := range r.order(rep) {
			for _, f := range fs {
				if f.impl.Name != im.Name {
					continue
				}
				if err := r.openAndLook(f, look, rep); err != nil {
					return fmt.Errorf("impl=%s: %w", im.Name, err)
				}
			}
		}
	}
	if r.cfg.Migrate != nil {
		s := mig.sample()
		lr.Migrate = &s
	}
	r.res.Logs = append(r.res.Logs, lr)
	for _, f := range fs {
		f.res.Open, f.res.Latest = f.open.sample(), f.latest.sample()
		f.res.AlreadyApplied, f.res.InFlight = f.applied.sample(), f.inFlight.sample()
		r.res.Sizes = append(r.res.Sizes, f.res)
		if f.res.InFlightOps != lr.InFlight {
			w := fmt.Sprintf("ops=%d: %s has %d ops in flight, the log %d", n, f.impl.Name, f.res.InFlightOps, lr.InFlight)
			r.res.Env.Warnings = append(r.res.Env.Warnings, w)
			r.log.printf("warning: %s", w)
		}
	}
	return nil
}

// generate writes a legacy log of n ops and samples the lookups' targets
// from it.
func (r *runner) generate(log string, n int) (LogResult, lookups, error) {
	t := time.Now()
	f, err := os.OpenFile(log, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return LogResult{}, lookups{}, err
	}
	probe := newLogProbe(uint64(n))
	rep, err := Generate(r.ctx, teeWriter{f, probe}, GenOptions{Ops: n, ScatteredOpIDs: r.cfg.ScatteredOpIDs})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return LogResult{}, lookups{}, fmt.Errorf("generate: %w", err)
	}
	r.log.printf("ops=%d: generated a legacy log of %d records, %s, %d in flight, in %s",
		n, rep.Records, fmtBytes(float64(rep.Bytes)), rep.InFlight, fmtDur(time.Since(t)))
	look := lookups{ops: probe.ops}
	for i, k := range probe.keys {
		look.keys = append(look.keys, k, "job-absent-"+strconv.Itoa(i))
	}
	if len(look.keys) == 0 {
		look.keys = []string{"job-absent"}
	}
	return LogResult{Ops: rep.Ops, Records: rep.Records, Lines: rep.Lines, InFlight: rep.InFlight, Bytes: rep.Bytes}, look, nil
}

// teeWriter writes to a file and to a probe, which never fails.
type teeWriter struct {
	f     *os.File
	probe *logProbe
}

func (t teeWriter) Write(b []byte) (int, error) {
	n, err := t.f.Write(b)
	_, _ = t.probe.Write(b[:n])
	return n, err
}

// load builds impl's fixture of the log, untimed, and measures its size.
func (r *runner) load(im Impl, log string, n int) (*fixture, error) {
	f := &fixture{impl: im, path: r.path("ops-%d-%s.journal", n, im.Name), res: SizeResult{Ops: n, Impl: im.Name}}
	t := time.Now()
	if err := im.Load(r.ctx, log, f.path); err != nil {
		return f, fmt.Errorf("load %s: %w", im.Name, err)
	}
	var err error
	f.res.FileBytes, f.res.DiskBytes, err = footprint(f.path)
	if err != nil {
		return f, err
	}
	r.log.printf("ops=%d: loaded the %s fixture in %s: %s (%s on disk)",
		n, im.Name, fmtDur(time.Since(t)), fmtBytes(float64(f.res.FileBytes)), fmtBytes(float64(f.res.DiskBytes)))
	return f, nil
}

// footprint is the size of the journal at path and the space its blocks
// take on disk: of the file, or of every file under it if it is a
// directory (an engine that keeps a directory of files, or a database with
// its write-ahead log beside it).
func footprint(path string) (size, disk int64, err error) {
	err = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		size += fi.Size()
		disk += allocated(fi)
		return nil
	})
	return size, disk, err
}

// migrate times cfg.Migrate on the log, into a store it then removes.
func (r *runner) migrate(log string, n, rep int, mig *sampler) error {
	dst := r.path("ops-%d-migrated-%d.db", n, rep)
	t := time.Now()
	err := r.cfg.Migrate(r.ctx, log, dst)
	d := time.Since(t)
	_ = os.Remove(dst)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	mig.add([]time.Duration{d}, d)
	r.log.printf("ops=%d: migrate rep %d/%d: %s", n, rep+1, r.cfg.Reps, fmtDur(d))
	return nil
}

// openAndLook opens the fixture (timed, and its heap measured), then times
// the lookups on it.
func (r *runner) openAndLook(f *fixture, look lookups, rep int) (err error) {
	d, heap, j, err := openMeasured(f.impl, f.path)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := j.Close(); err == nil && cerr != nil {
			err = cerr
		}
	}()
	f.open.add([]time.Duration{d}, d)
	f.res.Heap = append(f.res.Heap, heap)
	f.res.InFlightOps = len(j.InFlight())

	latest, err := r.lookup(func(i int) call {
		op := look.ops[i%len(look.ops)]
		return func() error {
			if _, ok := j.Latest(op); !ok {
				return fmt.Errorf("Latest(%q) found nothing; the op is in the log", op)
			}
			return nil
		}
	}, &f.latest)
	if err != nil {
		return err
	}
	applied, err := r.lookup(func(i int) call {
		k := i % len(look.keys)
		key, want := look.keys[k], k%2 == 0 && len(look.keys) > 1
		return func() error {
			if got := j.AlreadyApplied(key); got != want {
				return fmt.Errorf("AlreadyApplied(%q) = %v, want %v", key, got, want)
			}
			return nil
		}
	}, &f.applied)
	if err != nil {
		return err
	}
	inFlight, err := r.lookup(func(int) call {
		return func() error { _ = j.InFlight(); return nil }
	}, &f.inFlight)
	if err != nil {
		return err
	}
	r.log.printf("ops=%d impl=%-6s rep %d/%d: open %s, heap %s, Latest p50 %s, AlreadyApplied p50 %s, InFlight p50 %s (%d ops)",
		f.res.Ops, f.impl.Name, rep+1, r.cfg.Reps, fmtDur(d), fmtBytes(float64(heap)),
		fmtDur(latest.P50), fmtDur(applied.P50), fmtDur(inFlight.P50), f.res.InFlightOps)
	return nil
}

// lookup times calls from one goroutine for cfg.LookupTime.
func (r *runner) lookup(prepare func(i int) call, into *sampler) (Latency, error) {
	lats, elapsed, err := r.drive(1, r.cfg.LookupTime, func(_, i int) call { return prepare(i) })
	if err != nil {
		return Latency{}, err
	}
	return into.add(lats, elapsed), nil
}

// openMeasured opens the journal at path and returns how long Open took
// and how much the live heap grew (heapGrowth of HeapAlloc after runtime.GC,
// before and with the journal open).
func openMeasured(im Impl, path string) (time.Duration, int64, Journal, error) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	t := time.Now()
	j, err := im.Open(path)
	d := time.Since(t)
	if err != nil {
		return 0, 0, nil, fmt.Errorf("open: %w", err)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	return d, heapGrowth(before.HeapAlloc, after.HeapAlloc), j, nil
}

// heapGrowth is after-before, or 0 when the heap shrank: a journal cannot
// free memory by opening, so a shrink is the collector's noise.
func heapGrowth(before, after uint64) int64 {
	if after < before {
		return 0
	}
	return int64(after - before)
}
