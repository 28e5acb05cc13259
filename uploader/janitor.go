package uploader

import (
	"context"
	"errors"
	"time"

	"github.com/drimefs/drimefs/drime"
)

// deleteBatch is how many entries one delete request carries.
const deleteBatch = 100

// janitor deletes Drime entries that were removed or replaced here and
// aborts abandoned multipart uploads, retrying with backoff.
func (u *Uploader) janitor() {
	defer u.wg.Done()
	failures := 0
	for {
		wait := 30 * time.Second
		if u.isPaused() == "" {
			err := u.deletePending(u.ctx)
			if err == nil {
				err = u.abortPending(u.ctx)
			}
			if err == nil && u.sweepDue.Load() {
				// Only after a start or a request that ended in doubt:
				// scanning all attempts after every upload would cost
				// more and more as the store accumulates deleted keys.
				var next time.Duration
				var left bool
				next, left, err = u.sweepAttempts(u.ctx)
				if err == nil && !left {
					u.sweepDue.Store(false)
				}
				if next > 0 && next < wait {
					wait = next + 100*time.Millisecond
				}
				if err == nil {
					// The sweep may have queued deletions.
					err = u.deletePending(u.ctx)
				}
			}
			switch {
			case err == nil:
				failures = 0
			case u.ctx.Err() != nil:
				return
			case errors.Is(err, drime.ErrUnauthorized):
				u.mu.Lock()
				u.pauseLocked(err)
				u.mu.Unlock()
			default:
				failures++
				wait = u.backoff(failures, err)
				u.opts.Metrics.Retry(cause(err))
				u.log.Warn().Err(err).Dur("retry_in", wait).Msg("deleting replaced or removed entries in Drime failed; will retry")
			}
		}
		select {
		case <-u.ctx.Done():
			return
		case <-u.janitorC:
		case <-time.After(wait):
		}
	}
}

func (u *Uploader) deletePending(ctx context.Context) error {
	ds, err := u.store.Deletions()
	if err != nil {
		return err
	}
	var ids []int64
	for _, d := range ds {
		if !d.Failed {
			ids = append(ids, d.RemoteID)
		}
	}
	for len(ids) > 0 {
		batch := ids[:min(deleteBatch, len(ids))]
		ids = ids[len(batch):]
		err := u.remote.Delete(ctx, batch, u.opts.DeleteForever)
		if err != nil && !retryable(err) && !errors.Is(err, drime.ErrUnauthorized) && len(batch) > 1 {
			// One bad id must not hold back the others.
			for _, id := range batch {
				if err := u.deleteOne(ctx, id); err != nil {
					return err
				}
			}
			continue
		}
		if err != nil && !retryable(err) && !errors.Is(err, drime.ErrUnauthorized) {
			u.log.Error().Err(err).Int64("entry", batch[0]).Msg("Drime refused to delete an entry")
			if err := u.store.DeleteFailed(batch[0], err.Error()); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return err
		}
		for _, id := range batch {
			if err := u.store.DeleteDone(id); err != nil {
				return err
			}
		}
		u.announce()
	}
	return nil
}

func (u *Uploader) deleteOne(ctx context.Context, id int64) error {
	err := u.remote.Delete(ctx, []int64{id}, u.opts.DeleteForever)
	switch {
	case err == nil:
		return u.store.DeleteDone(id)
	case retryable(err) || errors.Is(err, drime.ErrUnauthorized):
		return err
	}
	u.log.Error().Err(err).Int64("entry", id).Msg("Drime refused to delete an entry")
	return u.store.DeleteFailed(id, err.Error())
}

func (u *Uploader) abortPending(ctx context.Context) error {
	as, err := u.store.Aborts()
	if err != nil {
		return err
	}
	for _, a := range as {
		err := u.remote.AbortMultipart(ctx, drime.MultipartUpload{Key: a.Key, UploadID: a.UploadID})
		if err != nil && (retryable(err) && !errors.Is(err, drime.ErrNotFound) || errors.Is(err, drime.ErrUnauthorized)) {
			return err
		}
		if err != nil {
			u.log.Debug().Err(err).Msg("abort of an abandoned multipart upload refused; forgetting it")
		}
		if err := u.store.AbortDone(a.UploadID); err != nil {
			return err
		}
	}
	return nil
}
