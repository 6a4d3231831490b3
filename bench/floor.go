package bench

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"time"

	bolt "go.etcd.io/bbolt"
)

// recordSize is the size of a floor's record: about one JSONL line.
const recordSize = 250

// floorSyncFast is an fsync p50 below which the disk cannot be waiting for
// stable storage: a volatile write cache that ignores flushes, a hypervisor
// cache, or memory.
const floorSyncFast = 20 * time.Microsecond

// floor is one floor workload: a file (or db) opened for the section and a
// call that writes one record durably.
type floor struct {
	kind  string
	do    func() error
	close func() error
}

// floorWorkload measures what a durable write costs without any journal:
// the floor under both impls.
type floorWorkload struct {
	r        *runner
	fs       []floor
	samplers []sampler
}

func (r *runner) openFloorWorkload() (*floorWorkload, error) {
	fs, err := r.openFloors()
	w := &floorWorkload{r: r, fs: fs, samplers: make([]sampler, len(fs))}
	return w, err
}

// rep runs each floor once, the first of them rotating with rep.
func (w *floorWorkload) rep(rep int) error {
	r := w.r
	for k := range w.fs {
		i := (rep + k) % len(w.fs)
		f := &w.fs[i]
		settle()
		lats, elapsed, err := r.drive(1, r.cfg.RunTime, func(int, int) call { return f.do })
		if err != nil {
			return fmt.Errorf("bench: floor %s: %w", f.kind, err)
		}
		l := w.samplers[i].add(lats, elapsed)
		r.log.printf("floor %-11s rep %d/%d: %8.0f ops/s  p50 %s", f.kind, rep+1, r.cfg.Reps, l.Rate(), fmtDur(l.P50))
	}
	return nil
}

// finish files the floors' results, and warns about an fsync too fast to
// reach stable storage.
func (w *floorWorkload) finish() {
	r := w.r
	for i, f := range w.fs {
		r.res.Floors = append(r.res.Floors, FloorResult{Kind: f.kind, Sample: w.samplers[i].sample()})
	}
	if fl := r.res.Floor(FloorFsync); fl != nil && fl.All.N > 0 && fl.All.P50 < floorSyncFast {
		msg := fmt.Sprintf("fsync took p50 %s on %s: the disk (or a cache in front of it) does not wait for stable storage, "+
			"so durable figures are optimistic", fmtDur(fl.All.P50), r.cfg.Dir)
		r.res.Env.Warnings = append(r.res.Env.Warnings, msg)
		r.log.printf("warning: %s", msg)
	}
}

func (w *floorWorkload) close() error {
	var errs []error
	for _, f := range w.fs {
		errs = append(errs, f.close())
	}
	return errors.Join(errs...)
}

// openFloors opens the file or db of each floor. On error it returns those
// opened so far, for closing.
func (r *runner) openFloors() ([]floor, error) {
	var fs []floor
	record := make([]byte, recordSize)
	for i := range record {
		record[i] = 'a' + byte(i%26)
	}
	record[len(record)-1] = '\n'
	syncs := []struct {
		kind string
		sync func(*os.File) error
	}{{FloorFsync, (*os.File).Sync}, {FloorFdatasync, fdatasync}}
	for _, s := range syncs {
		if s.sync == nil {
			continue
		}
		f, err := os.OpenFile(r.path("floor-%s.log", s.kind), os.O_CREATE|os.O_WRONLY|os.O_APPEND|os.O_EXCL, 0o600)
		if err != nil {
			return fs, fmt.Errorf("bench: floor: %w", err)
		}
		fs = append(fs, floor{kind: s.kind, close: f.Close, do: func() error {
			if _, err := f.Write(record); err != nil {
				return err
			}
			return s.sync(f)
		}})
	}
	db, err := bolt.Open(r.path("floor-bolt.db"), 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return fs, fmt.Errorf("bench: floor: %w", err)
	}
	var seq uint64 // one writer: no lock needed
	fs = append(fs, floor{kind: FloorBoltUpdate, close: db.Close, do: func() error {
		seq++
		return db.Update(func(tx *bolt.Tx) error {
			b, err := tx.CreateBucketIfNotExists([]byte("records"))
			if err != nil {
				return err
			}
			return b.Put(binary.BigEndian.AppendUint64(nil, seq), record)
		})
	}})
	return fs, nil
}
