package uploader

import (
	"context"
	"errors"
	"fmt"

	"github.com/drimefs/drimefs/cache"
)

// EnsureFolder returns the Drime id of local folder id (0 for the root),
// creating it and any missing parents in Drime. Drime's "already exists"
// answer is resolved by the client (the existing folder is reused) unless
// that folder is one this mount is deleting: then the deletion is done
// first and the folder created anew.
func (u *Uploader) EnsureFolder(ctx context.Context, id uint64) (int64, error) {
	if id == cache.RootID {
		return 0, nil
	}
	unlock := u.folderLocks.Lock(id)
	defer unlock()
	n, err := u.store.Get(id)
	if err != nil {
		return 0, err
	}
	if !n.Dir {
		return 0, fmt.Errorf("node %d: %w", id, cache.ErrNotDir)
	}
	if n.RemoteID != 0 {
		return n.RemoteID, nil
	}
	parent, err := u.EnsureFolder(ctx, n.Parent)
	if err != nil {
		return 0, err
	}
	for attempt := 0; ; attempt++ {
		n, err = u.store.Get(id) // the name may have changed while waiting
		if err != nil {
			return 0, err
		}
		e, err := u.remote.CreateFolder(ctx, parent, n.Name)
		if err != nil {
			return 0, fmt.Errorf("create folder %q: %w", n.Name, err)
		}
		if u.store.IsDeleted(e.ID) && attempt < 3 {
			// Drime handed back a folder we removed and are still
			// deleting: finish that first.
			if err := u.remote.Delete(ctx, []int64{e.ID}, u.opts.DeleteForever); err != nil {
				return 0, fmt.Errorf("delete removed folder %q: %w", n.Name, err)
			}
			if err := u.store.DeleteDone(e.ID); err != nil {
				return 0, err
			}
			continue
		}
		if _, err := u.store.FinishDir(id, remoteEntry(e), n.Parent, n.Name); err != nil {
			if errors.Is(err, cache.ErrNotFound) {
				return 0, errGone
			}
			return 0, err
		}
		u.log.Debug().Str("folder", u.path(id)).Int64("id", e.ID).Msg("folder created in Drime")
		return e.ID, nil
	}
}
