package fs

import (
	"context"
	"fmt"
	"time"

	"github.com/drimefs/drimefs/cache"
	"github.com/drimefs/drimefs/drime"
)

// refreshCall is one in-flight listing of a folder; concurrent callers wait
// for it instead of listing again.
type refreshCall struct {
	done chan struct{}
	err  error
}

// ensureListed makes sure folder id's children are known. A folder never
// listed is listed now; a stale one is served from the store at once and
// refreshed in the background (a remount lists instantly from the cache).
func (f *FS) ensureListed(ctx context.Context, id uint64) error {
	c, err := f.store.Get(id)
	if err != nil {
		return err
	}
	if !c.Dir {
		return cache.ErrNotDir
	}
	if c.RemoteID == 0 && id != cache.RootID {
		return nil // created here; Drime has nothing more
	}
	if c.Listed.IsZero() {
		return f.refresh(ctx, id)
	}
	if time.Since(c.Listed) > f.opts.DirCacheTTL {
		f.refreshAsync(id)
	}
	return nil
}

// prefetchParallel bounds background listings of subfolders.
const prefetchParallel = 4

// prefetch lists, in the background, the never-listed subfolders of a
// folder being read: a walk (ls -R, find, a file manager) finds them
// listed when it gets there.
func (f *FS) prefetch(kids []cache.Node) {
	for i := range kids {
		c := &kids[i]
		if !c.Dir || !c.Listed.IsZero() || c.RemoteID == 0 {
			continue
		}
		select {
		case f.prefetchSem <- struct{}{}:
		default:
			return // enough in flight; the walk will list the rest itself
		}
		f.refreshAsyncThen(c.ID, func() { <-f.prefetchSem })
	}
}

// refreshAsync starts a background refresh of folder id.
func (f *FS) refreshAsync(id uint64) { f.refreshAsyncThen(id, func() {}) }

// refreshAsyncThen is refreshAsync, calling done when finished.
func (f *FS) refreshAsyncThen(id uint64, done func()) {
	f.mu.Lock()
	_, busy := f.refreshing[id]
	f.mu.Unlock()
	if busy {
		done()
		return
	}
	f.bg.Add(1)
	go func() {
		defer f.bg.Done()
		defer done()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		go func() {
			select {
			case <-f.stop:
				cancel()
			case <-ctx.Done():
			}
		}()
		if err := f.refresh(ctx, id); err != nil {
			f.log.Debug().Err(err).Uint64("folder", id).Msg("background listing refresh failed; serving the cached listing")
		}
	}()
}

// refresh lists folder id from Drime and merges the listing into the store,
// one call at a time per folder.
func (f *FS) refresh(ctx context.Context, id uint64) error {
	f.mu.Lock()
	if call, ok := f.refreshing[id]; ok {
		f.mu.Unlock()
		select {
		case <-call.done:
			return call.err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	call := &refreshCall{done: make(chan struct{})}
	f.refreshing[id] = call
	f.mu.Unlock()

	call.err = f.doRefresh(ctx, id)

	f.mu.Lock()
	delete(f.refreshing, id)
	f.mu.Unlock()
	close(call.done)
	return call.err
}

func (f *FS) doRefresh(ctx context.Context, id uint64) error {
	c, err := f.store.Get(id)
	if err != nil {
		return err
	}
	if c.RemoteID == 0 && id != cache.RootID {
		return nil
	}
	start := time.Now()
	entries, err := f.remote.ListFolder(ctx, c.RemoteID)
	if err != nil {
		return fmt.Errorf("list folder %q: %w", c.Name, err)
	}
	listing := make([]cache.RemoteEntry, 0, len(entries))
	for i := range entries {
		listing = append(listing, remoteEntry(&entries[i]))
	}
	res, err := f.store.Merge(id, listing, time.Now())
	if err != nil {
		return fmt.Errorf("merge listing of %q: %w", c.Name, err)
	}
	f.log.Debug().Uint64("folder", id).Int("entries", len(entries)).Dur("took", time.Since(start)).Msg("listed")
	if !res.Empty() {
		f.notify(id, res)
	}
	return nil
}

// remoteEntry converts a Drime entry for the store.
func remoteEntry(e *drime.Entry) cache.RemoteEntry {
	return cache.RemoteEntry{ID: e.ID, Name: e.Name, Dir: e.IsDir(), Size: e.Size,
		Hash: e.Hash, URL: e.URL, Created: e.CreatedAt, Updated: e.UpdatedAt}
}

// notify tells the kernel what a merge changed. It runs in its own
// goroutine: an entry notification from inside a request on the same folder
// would deadlock in the kernel.
func (f *FS) notify(folder uint64, res cache.MergeResult) {
	f.bg.Add(1)
	go func() {
		defer f.bg.Done()
		if dir := f.inodeByID(folder); dir != nil {
			for _, name := range res.Names {
				dir.NotifyEntry(name)
			}
		}
		for _, id := range res.Content {
			if in := f.inodeByID(id); in != nil {
				in.NotifyContent(0, 0)
			}
			f.dropFetcher(id)
		}
		for _, id := range res.Removed {
			f.dropFetcher(id)
		}
	}()
}
