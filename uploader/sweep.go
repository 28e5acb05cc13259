package uploader

import (
	"context"
	"errors"
	"time"

	"github.com/drimefs/drimefs/cache"
)

// sweepAttempts accounts for requests that created (or may have created)
// entries nobody recorded: sent just before a crash, for a version that
// was replaced meanwhile or a file that was removed. Once such an attempt
// is old enough to have been processed, the entries it left (same storage
// name, or same name and size, and known to no node) are deleted. Attempts
// of a version still being uploaded belong to the upload, which adopts
// their result. It returns when the next attempt matures (zero: none) and
// whether attempts were left for a later sweep.
func (u *Uploader) sweepAttempts(ctx context.Context) (next time.Duration, left bool, err error) {
	atts, err := u.store.Attempts(0)
	if err != nil {
		return 0, true, err
	}
	for _, a := range atts {
		if wait := time.Until(a.At.Add(u.opts.AttemptSettle)); wait > 0 {
			if next == 0 || wait < next {
				next = wait
			}
			left = true
			continue
		}
		n, err := u.store.Get(a.Node)
		gone := errors.Is(err, cache.ErrNotFound)
		if err != nil && !gone {
			return next, true, err
		}
		if !gone && a.Gen == n.Gen && n.UploadedGen < a.Gen {
			left = true
			continue // the upload of this version is still to come
		}
		if a.FileName == "" && u.nameBusy(a) {
			left = true
			continue // a pending file of that name may be registering now
		}
		if err := u.sweepOne(ctx, a); err != nil {
			return next, true, err
		}
	}
	return next, left, nil
}

// nameBusy reports whether a pending file has the attempt's name in its
// folder: its own upload could be the unknown entry found by a sweep.
func (u *Uploader) nameBusy(a cache.Attempt) bool {
	parent := cache.RootID
	if a.Parent != 0 {
		f, err := u.store.ByRemote(a.Parent)
		if err != nil {
			return false
		}
		parent = f.ID
	}
	n, err := u.store.Lookup(parent, a.Name)
	return err == nil && n.Pending()
}

func (u *Uploader) sweepOne(ctx context.Context, a cache.Attempt) error {
	var exclude []int64
	for {
		e, err := u.findUpload(ctx, a.Parent, a.Name, a.Size, exclude, a.FileName)
		if err != nil {
			return err
		}
		if e == nil {
			return u.store.DropAttempt(a)
		}
		u.log.Info().Str("file", a.Name).Int64("entry", e.ID).Msg("removing a copy left in Drime by an interrupted upload")
		if err := u.store.QueueDelete(e.ID); err != nil {
			return err
		}
		exclude = append(exclude, e.ID)
	}
}
