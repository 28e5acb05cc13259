package fs

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/drimefs/drimefs/cache"
)

var (
	_ = (gofs.NodeLookuper)((*Node)(nil))
	_ = (gofs.NodeReaddirer)((*Node)(nil))
	_ = (gofs.NodeMkdirer)((*Node)(nil))
	_ = (gofs.NodeCreater)((*Node)(nil))
	_ = (gofs.NodeUnlinker)((*Node)(nil))
	_ = (gofs.NodeRmdirer)((*Node)(nil))
	_ = (gofs.NodeRenamer)((*Node)(nil))
)

// Lookup finds a child, listing the folder from Drime first if it never was.
func (n *Node) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	defer n.fsys.track("lookup", time.Now())
	if err := n.fsys.ensureListed(ctx, n.id); err != nil {
		return nil, toErrno(err)
	}
	c, err := n.fsys.store.Lookup(n.id, name)
	if err != nil {
		return nil, toErrno(err)
	}
	n.fsys.fillAttr(&c, &out.Attr)
	return n.newChild(ctx, c), 0
}

// Readdir lists a folder from the store (refreshed from Drime when stale).
func (n *Node) Readdir(ctx context.Context) (gofs.DirStream, syscall.Errno) {
	defer n.fsys.track("readdir", time.Now())
	if err := n.fsys.ensureListed(ctx, n.id); err != nil {
		return nil, toErrno(err)
	}
	kids, err := n.fsys.store.Children(n.id)
	if err != nil {
		return nil, toErrno(err)
	}
	n.fsys.prefetch(kids)
	list := make([]fuse.DirEntry, 0, len(kids))
	for _, c := range kids {
		mode := uint32(syscall.S_IFREG)
		if c.Dir {
			mode = syscall.S_IFDIR
		}
		list = append(list, fuse.DirEntry{Name: c.Name, Ino: c.ID, Mode: mode})
	}
	return gofs.NewListDirStream(list), 0
}

// Mkdir creates a folder locally; the uploader creates it in Drime.
func (n *Node) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	defer n.fsys.track("mkdir", time.Now())
	n.fsys.changing()
	f := n.fsys
	if errno := f.checkNewName(ctx, n.id, name); errno != 0 {
		return nil, errno
	}
	c, err := f.store.Create(n.id, name, true, mode, time.Now())
	if err != nil {
		return nil, toErrno(err)
	}
	f.fillAttr(&c, &out.Attr)
	return n.newChild(ctx, c), 0
}

// Create makes a new file with an empty spool and opens it for writing.
func (n *Node) Create(ctx context.Context, name string, flags uint32, mode uint32, out *fuse.EntryOut) (*gofs.Inode, gofs.FileHandle, uint32, syscall.Errno) {
	defer n.fsys.track("create", time.Now())
	n.fsys.changing()
	f := n.fsys
	if errno := f.checkNewName(ctx, n.id, name); errno != 0 {
		return nil, nil, 0, errno
	}
	c, err := f.store.Create(n.id, name, false, mode, time.Now())
	if err != nil {
		return nil, nil, 0, toErrno(err)
	}
	h, err := f.newSpoolHandle(ctx, c.ID, flags, true)
	if err != nil {
		_, _ = f.store.Remove(c.ID)
		return nil, nil, 0, toErrno(err)
	}
	if c, err = f.store.Get(c.ID); err != nil {
		h.Release(ctx)
		return nil, nil, 0, toErrno(err)
	}
	f.fillAttr(&c, &out.Attr)
	return n.newChild(ctx, c), h, 0, 0
}

// checkNewName validates a name for a new entry in folder parent.
func (f *FS) checkNewName(ctx context.Context, parent uint64, name string) syscall.Errno {
	if f.opts.ReadOnly {
		return syscall.EROFS
	}
	if errno := checkName(name); errno != 0 {
		return errno
	}
	if err := f.ensureListed(ctx, parent); err != nil {
		return toErrno(err)
	}
	return 0
}

// Unlink removes a file; its Drime entry is deleted in the background and
// a running upload of it is cancelled.
func (n *Node) Unlink(ctx context.Context, name string) syscall.Errno {
	defer n.fsys.track("unlink", time.Now())
	n.fsys.changing()
	return n.remove(ctx, name, false)
}

// Rmdir removes an empty folder.
func (n *Node) Rmdir(ctx context.Context, name string) syscall.Errno {
	defer n.fsys.track("rmdir", time.Now())
	n.fsys.changing()
	return n.remove(ctx, name, true)
}

func (n *Node) remove(ctx context.Context, name string, dir bool) syscall.Errno {
	f := n.fsys
	if f.opts.ReadOnly {
		return syscall.EROFS
	}
	if err := f.ensureListed(ctx, n.id); err != nil {
		return toErrno(err)
	}
	c, err := f.store.Lookup(n.id, name)
	if err != nil {
		return toErrno(err)
	}
	switch {
	case dir && !c.Dir:
		return syscall.ENOTDIR
	case !dir && c.Dir:
		return syscall.EISDIR
	}
	if dir {
		// Only Drime knows whether a never-listed folder is empty.
		if err := f.ensureListed(ctx, c.ID); err != nil {
			return toErrno(err)
		}
	}
	if _, err := f.store.Remove(c.ID); err != nil {
		return toErrno(err)
	}
	f.queue.Cancel(c.ID)
	f.dropFetcher(c.ID)
	return 0
}

// Rename moves or renames a file or folder. Entries that are in Drime and
// clean are renamed or moved there first (so a failure changes nothing);
// pending ones only change the tree, and their upload goes to the new
// place.
func (n *Node) Rename(ctx context.Context, name string, newParent gofs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	defer n.fsys.track("rename", time.Now())
	n.fsys.changing()
	f := n.fsys
	if f.opts.ReadOnly {
		return syscall.EROFS
	}
	if flags&^uint32(unix_RENAME_NOREPLACE) != 0 {
		return syscall.EINVAL // RENAME_EXCHANGE and RENAME_WHITEOUT
	}
	np, ok := newParent.(*Node)
	if !ok {
		return syscall.EXDEV
	}
	if errno := checkName(newName); errno != 0 {
		return errno
	}
	for _, id := range []uint64{n.id, np.id} {
		if err := f.ensureListed(ctx, id); err != nil {
			return toErrno(err)
		}
	}
	src, err := f.store.Lookup(n.id, name)
	if err != nil {
		return toErrno(err)
	}
	noReplace := flags&unix_RENAME_NOREPLACE != 0
	target, terr := f.store.Lookup(np.id, newName)
	if terr == nil {
		if target.ID == src.ID {
			return 0
		}
		if errno := checkTarget(&src, &target, noReplace); errno != 0 {
			return errno
		}
		if target.Dir {
			if err := f.ensureListed(ctx, target.ID); err != nil {
				return toErrno(err)
			}
			if kids, err := f.store.Children(target.ID); err != nil || len(kids) > 0 {
				return syscall.ENOTEMPTY
			}
		}
	} else if !errors.Is(terr, cache.ErrNotFound) {
		return toErrno(terr)
	}
	if !src.Pending() {
		var tp *cache.Node
		if terr == nil {
			tp = &target
		}
		if err := f.remoteRename(ctx, &src, np.id, newName, tp); err != nil {
			f.log.Warn().Err(err).Str("name", name).Str("to", newName).Msg("rename in Drime failed")
			return toErrno(err)
		}
	}
	if _, err := f.store.Rename(src.ID, np.id, newName, noReplace, !src.Pending(), time.Now()); err != nil {
		return toErrno(err)
	}
	if terr == nil {
		f.queue.Cancel(target.ID)
		f.dropFetcher(target.ID)
	}
	return 0
}

const unix_RENAME_NOREPLACE = 0x1

func checkTarget(src, target *cache.Node, noReplace bool) syscall.Errno {
	switch {
	case noReplace:
		return syscall.EEXIST
	case target.Dir && !src.Dir:
		return syscall.EISDIR
	case !target.Dir && src.Dir:
		return syscall.ENOTDIR
	}
	return 0
}

// remoteRename applies a rename of a clean Drime entry in Drime. An empty
// target folder is deleted first (Drime refuses two folders of one name);
// a target file is deleted afterwards through the queue.
func (f *FS) remoteRename(ctx context.Context, src *cache.Node, newParent uint64, newName string, target *cache.Node) error {
	if target != nil && target.Dir && target.RemoteID != 0 {
		if err := f.remote.Delete(ctx, []int64{target.RemoteID}, false); err != nil {
			return fmt.Errorf("delete folder replaced by rename: %w", err)
		}
	}
	// Where the entry is in Drime (a rename may still be waiting to be
	// applied there).
	from, name := src.RemoteParent, src.RemoteName
	if from == newParent {
		if name == newName {
			return nil
		}
		_, err := f.remote.Rename(ctx, src.RemoteID, newName)
		return err
	}
	dest, err := f.queue.EnsureFolder(ctx, newParent)
	if err != nil {
		return fmt.Errorf("prepare destination folder: %w", err)
	}
	if name == newName {
		return f.remote.Move(ctx, []int64{src.RemoteID}, dest)
	}
	// Both change: rename to a temporary name first so that the move can
	// never clobber or collide with an entry of the final name.
	tmp := fmt.Sprintf(".drimefs-mv-%d-%s", src.ID, randSuffix())
	if _, err := f.remote.Rename(ctx, src.RemoteID, tmp); err != nil {
		return err
	}
	if err := f.remote.Move(ctx, []int64{src.RemoteID}, dest); err != nil {
		if _, rerr := f.remote.Rename(ctx, src.RemoteID, name); rerr != nil {
			f.log.Error().Err(rerr).Str("name", src.Name).Msg("could not undo temporary rename after a failed move")
		}
		return err
	}
	_, err = f.remote.Rename(ctx, src.RemoteID, newName)
	return err
}
