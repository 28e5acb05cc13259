package fs

import (
	"context"
	"syscall"

	"github.com/drimefs/drimefs/cache"
)

// Extended attributes drimefs answers. Others are not stored: Drime has no
// place for them.
const (
	XattrState   = "user.drimefs.state"   // pending, uploading 37%, uploaded, failed: reason
	XattrControl = "user.drimefs.control" // root only: the control socket of the mount
)

// Getxattr answers user.drimefs.state (and, on the root,
// user.drimefs.control).
func (n *Node) Getxattr(ctx context.Context, attr string, dest []byte) (uint32, syscall.Errno) {
	var val string
	switch {
	case attr == XattrState:
		c, err := n.fsys.store.Get(n.id)
		if err != nil {
			return 0, toErrno(err)
		}
		val = n.fsys.state(&c)
	case attr == XattrControl && n.id == cache.RootID && n.fsys.opts.ControlSocket != "":
		val = n.fsys.opts.ControlSocket
	default:
		return 0, syscall.ENODATA
	}
	if len(dest) < len(val) {
		return uint32(len(val)), syscall.ERANGE
	}
	return uint32(copy(dest, val)), 0
}

func (f *FS) state(c *cache.Node) string {
	if c.Dir {
		if c.RemoteID == 0 && c.ID != cache.RootID {
			return "pending"
		}
		return "uploaded"
	}
	return f.queue.State(c.ID)
}

// Listxattr lists the attributes Getxattr answers.
func (n *Node) Listxattr(ctx context.Context, dest []byte) (uint32, syscall.Errno) {
	list := XattrState + "\x00"
	if n.id == cache.RootID && n.fsys.opts.ControlSocket != "" {
		list += XattrControl + "\x00"
	}
	if len(dest) < len(list) {
		return uint32(len(list)), syscall.ERANGE
	}
	return uint32(copy(dest, list)), 0
}

// Setxattr refuses: Drime cannot store extended attributes.
func (n *Node) Setxattr(ctx context.Context, attr string, data []byte, flags uint32) syscall.Errno {
	return syscall.ENOTSUP
}

// Removexattr: there is nothing to remove.
func (n *Node) Removexattr(ctx context.Context, attr string) syscall.Errno {
	return syscall.ENODATA
}
