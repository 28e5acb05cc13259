package uploader

import (
	"context"
	"errors"
	"fmt"

	"github.com/drimefs/drimefs/cache"
)

// runPlace renames or moves a clean file's or folder's Drime entry to where
// the node is now. Such jobs come from renames that could not be applied
// in Drime at once (the file was still uploading when it was renamed) and
// from renames during a registration.
func (u *Uploader) runPlace(ctx context.Context, j cache.Job) error {
	n, err := u.store.Get(j.Node)
	if errors.Is(err, cache.ErrNotFound) {
		return errGone
	}
	if err != nil {
		return err
	}
	if n.RemoteID == 0 || !n.Misplaced() {
		_, err := u.store.FinishPlace(n.ID, n.RemoteParent, n.RemoteName)
		return err
	}
	dest, err := u.EnsureFolder(ctx, n.Parent)
	if err != nil {
		return fmt.Errorf("prepare folder: %w", err)
	}
	parent, name := n.RemoteParent, n.RemoteName
	if parent != n.Parent && name != n.Name {
		// Both change: a temporary name first, so the move never collides
		// with an entry of the final name.
		tmp := fmt.Sprintf(".drimefs-mv-%d", n.ID)
		if _, err := u.remote.Rename(ctx, n.RemoteID, tmp); err != nil {
			return fmt.Errorf("rename %q in Drime: %w", name, err)
		}
		if _, err := u.store.FinishPlace(n.ID, parent, tmp); err != nil {
			return err
		}
		name = tmp
	}
	if parent != n.Parent {
		if err := u.remote.Move(ctx, []int64{n.RemoteID}, dest); err != nil {
			return fmt.Errorf("move %q in Drime: %w", name, err)
		}
		if _, err := u.store.FinishPlace(n.ID, n.Parent, name); err != nil {
			return err
		}
	}
	if name != n.Name {
		if _, err := u.remote.Rename(ctx, n.RemoteID, n.Name); err != nil {
			return fmt.Errorf("rename %q in Drime: %w", name, err)
		}
	}
	if _, err := u.store.FinishPlace(n.ID, n.Parent, n.Name); err != nil {
		return err
	}
	u.log.Debug().Str("path", u.path(n.ID)).Msg("entry placed in Drime")
	u.announce()
	return nil
}
