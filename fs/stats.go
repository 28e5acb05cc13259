package fs

import (
	"context"
	"time"
)

// spaceCache keeps the quota for a while: df must not wait for Drime.
type spaceCache struct {
	at          time.Time
	used, total int64
}

const spaceTTL = 30 * time.Second

// quota returns used and total bytes, from Drime at most every spaceTTL.
func (f *FS) quota() (used, total int64) {
	f.mu.Lock()
	sc := f.space
	f.mu.Unlock()
	if !sc.at.IsZero() && time.Since(sc.at) < spaceTTL {
		return sc.used, sc.total
	}
	// Not the request's context: the answer is cached for everyone, and a
	// short timeout of our own bounds how long df waits.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	u, err := f.remote.SpaceUsage(ctx)
	if err != nil {
		f.log.Warn().Err(err).Msg("space usage from Drime unavailable; df shows the last known figures")
		return sc.used, sc.total
	}
	f.mu.Lock()
	f.space = spaceCache{at: time.Now(), used: u.Used, total: u.Available}
	f.mu.Unlock()
	return u.Used, u.Available
}

// changing reports a change made through the mount to the queue.
func (f *FS) changing() { f.queue.Activity() }

// track reports one operation to the metrics hook, if any.
func (f *FS) track(op string, start time.Time) {
	if f.opts.Op != nil {
		f.opts.Op(op, time.Since(start))
	}
}
