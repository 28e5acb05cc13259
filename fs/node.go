package fs

import (
	"context"
	"errors"
	"os"
	"syscall"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/drimefs/drimefs/cache"
)

// Node is a folder or file; all its state lives in the store under id.
type Node struct {
	gofs.Inode
	fsys *FS
	id   uint64
}

var (
	_ = (gofs.NodeGetattrer)((*Node)(nil))
	_ = (gofs.NodeSetattrer)((*Node)(nil))
	_ = (gofs.NodeStatfser)((*Node)(nil))
	_ = (gofs.NodeGetxattrer)((*Node)(nil))
	_ = (gofs.NodeSetxattrer)((*Node)(nil))
	_ = (gofs.NodeListxattrer)((*Node)(nil))
	_ = (gofs.NodeRemovexattrer)((*Node)(nil))
	_ = (gofs.NodeOnAdder)((*Node)(nil))
	_ = (gofs.NodeOnForgetter)((*Node)(nil))
	_ = (gofs.NodeFsyncer)((*Node)(nil))
)

// Fsync of a file goes to its handle; fsync of a folder (which backup
// tools like borg do after creating files) makes the tree and the queue
// durable.
func (n *Node) Fsync(ctx context.Context, fh gofs.FileHandle, flags uint32) syscall.Errno {
	if h, ok := fh.(gofs.FileFsyncer); ok {
		return h.Fsync(ctx, flags)
	}
	defer n.fsys.track("fsync", time.Now())
	return toErrno(n.fsys.store.Sync())
}

// OnAdd registers the node as known to the kernel (for notifications).
func (n *Node) OnAdd(ctx context.Context) { n.fsys.inodes.Store(n.id, n) }

// OnForget unregisters a node the kernel forgot.
func (n *Node) OnForget() { n.fsys.inodes.CompareAndDelete(n.id, n) }

// inodeByID returns the kernel inode of a node, if the kernel knows it.
func (f *FS) inodeByID(id uint64) *gofs.Inode {
	v, ok := f.inodes.Load(id)
	if !ok {
		return nil
	}
	return v.(*Node).EmbeddedInode()
}

// newChild wraps a store node as a kernel inode.
func (n *Node) newChild(ctx context.Context, c cache.Node) *gofs.Inode {
	mode := uint32(syscall.S_IFREG)
	if c.Dir {
		mode = syscall.S_IFDIR
	}
	return n.NewInode(ctx, &Node{fsys: n.fsys, id: c.ID}, gofs.StableAttr{Mode: mode, Ino: c.ID})
}

// fillAttr converts a store node to kernel attributes. For a file that is
// open for writing the content file is the truth (with passthrough the
// kernel writes to it directly).
func (f *FS) fillAttr(c *cache.Node, out *fuse.Attr) {
	out.Ino = c.ID
	out.Uid, out.Gid = f.opts.UID, f.opts.GID
	size, mtime := c.Size, c.Mtime
	if !c.Dir && c.Dirty && f.store.Writers(c.ID) > 0 {
		if st, err := os.Stat(f.store.Files.Path(c.ID)); err == nil {
			size, mtime = st.Size(), st.ModTime()
		}
	}
	perm := c.Mode & 0o7777 // c.Mode == 0: never set here, use the default
	if c.Dir {
		if c.Mode == 0 {
			perm = 0o777 &^ f.opts.Umask
		}
		out.Mode = syscall.S_IFDIR | perm
		out.Nlink = 2
		out.Size = 4096
	} else {
		if c.Mode == 0 {
			perm = 0o666 &^ f.opts.Umask
		}
		out.Mode = syscall.S_IFREG | perm
		out.Nlink = 1
		out.Size = uint64(size)
	}
	if f.opts.ReadOnly {
		out.Mode &^= 0o222
	}
	out.Blocks = (out.Size + 511) / 512
	out.Blksize = 1 << 20
	ctime := c.Ctime
	if ctime.IsZero() {
		ctime = mtime
	}
	out.SetTimes(&mtime, &mtime, &ctime)
}

// Getattr reports the node's attributes.
func (n *Node) Getattr(ctx context.Context, fh gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	defer n.fsys.track("getattr", time.Now())
	c, err := n.fsys.store.Get(n.id)
	if errors.Is(err, cache.ErrNotFound) {
		if h, ok := fh.(*localHandle); ok {
			return h.fstat(&out.Attr) // fstat of a file removed while open
		}
	}
	if err != nil {
		return toErrno(err)
	}
	n.fsys.fillAttr(&c, &out.Attr)
	return 0
}

// Setattr truncates (with or without an open handle), sets times and
// permission bits. Drime stores neither times nor modes: both are kept in
// the local tree (so rsync -a and git see what they set); a change of
// owner is accepted and ignored (all files belong to --uid/--gid).
func (n *Node) Setattr(ctx context.Context, fh gofs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	defer n.fsys.track("setattr", time.Now())
	n.fsys.changing()
	f := n.fsys
	if size, ok := in.GetSize(); ok {
		if f.opts.ReadOnly {
			return syscall.EROFS
		}
		if errno := f.truncate(ctx, n.id, fh, int64(size)); errno != 0 {
			return errno
		}
	}
	mode, hasMode := in.GetMode()
	mtime, hasMtime := in.GetMTime() // atime alone is not kept
	if hasMode || hasMtime {
		if f.opts.ReadOnly {
			return syscall.EROFS
		}
		// One transaction for chmod and utimens: tar and rsync do both
		// for every file.
		c, err := f.store.Update(n.id, func(c *cache.Node) error {
			if hasMode {
				c.Mode = mode & 0o7777
				if c.Mode == 0 {
					c.Mode = 0o10000 // "no permissions" must not read as "default"
				}
			}
			if hasMtime {
				c.Mtime = mtime
				if c.Dirty {
					// Keep the content file in step so that close sees
					// no content change from a bare touch.
					_ = os.Chtimes(f.store.Files.Path(c.ID), mtime, mtime)
				}
			}
			return nil
		})
		if err != nil {
			return toErrno(err)
		}
		if h, ok := fh.(*localHandle); ok && hasMtime {
			h.noteTimes(mtime)
		}
		f.fillAttr(&c, &out.Attr)
		return 0
	}
	c, err := f.store.Get(n.id)
	if err != nil {
		return toErrno(err)
	}
	f.fillAttr(&c, &out.Attr)
	return 0
}

// truncate changes a file's size through its handle or, without one, by
// preparing its spool and committing the change at once.
func (f *FS) truncate(ctx context.Context, id uint64, fh gofs.FileHandle, size int64) syscall.Errno {
	if h, ok := fh.(*localHandle); ok && h.write {
		return h.truncate(size)
	}
	c, err := f.store.Get(id)
	if err != nil {
		return toErrno(err)
	}
	if c.Dir {
		return syscall.EISDIR
	}
	file, err := f.openSpool(ctx, id, size == 0)
	if err != nil {
		return toErrno(err)
	}
	defer file.Close()
	defer f.queue.Touch(id)
	f.store.AddWriter(id, 1)
	defer f.store.AddWriter(id, -1)
	if err := file.Truncate(size); err != nil {
		return toErrno(err)
	}
	st, err := file.Stat()
	if err != nil {
		return toErrno(err)
	}
	if _, err := f.store.Commit(id, st.Size(), st.ModTime()); err != nil {
		return toErrno(err)
	}
	return 0
}

// Statfs reports the Drime quota.
func (n *Node) Statfs(ctx context.Context, out *fuse.StatfsOut) syscall.Errno {
	defer n.fsys.track("statfs", time.Now())
	used, total := n.fsys.quota()
	const bs = 4096
	out.Bsize, out.Frsize = bs, bs
	out.Blocks = uint64(total) / bs
	free := total - used
	if free < 0 {
		free = 0
	}
	out.Bfree = uint64(free) / bs
	out.Bavail = out.Bfree
	out.Files = 1 << 32
	out.Ffree = 1 << 31
	out.NameLen = 255
	return 0
}
