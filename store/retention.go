package store

import (
	"context"
	"errors"
	"time"
)

// startRetention runs Prune every r.Every until Close.
func (j *Journal) startRetention(r Retention) {
	ctx, cancel := context.WithCancel(context.Background())
	j.stopRetention = cancel
	j.retention.Go(func() {
		t := time.NewTicker(r.Every)
		defer t.Stop()
		for {
			j.retain(ctx, r)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	})
}

// retain is one run of the retention policy; failures are logged.
func (j *Journal) retain(ctx context.Context, r Retention) {
	now := time.Now()
	o := PruneOptions{Before: now.Add(-r.MaxAge), BatchSize: r.BatchSize}
	if r.DropAppliedAfter > 0 {
		o.DropAppliedBefore = now.Add(-r.DropAppliedAfter)
	}
	rep, err := j.Prune(ctx, o)
	switch {
	case err == nil:
		if rep.Ops > 0 || rep.AppliedKeys > 0 {
			j.opts.Logger.Info("store: retention pruned the journal", "path", j.path, "ops", rep.Ops, "records", rep.Records, "applied_keys", rep.AppliedKeys, "before", o.Before)
		}
	case ctx.Err() != nil, errors.Is(err, ErrClosed):
	default:
		j.opts.Logger.Error("store: retention failed", "path", j.path, "err", err)
	}
}
