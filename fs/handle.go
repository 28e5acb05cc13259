package fs

import (
	"context"
	"errors"
	"os"
	"sync"
	"syscall"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/drimefs/drimefs/cache"
)

var _ = (gofs.NodeOpener)((*Node)(nil))

// Open opens a file. Writers get a handle over the spool (fetched first
// when the file is in Drime and not truncated); readers of a complete local
// copy get the same kind of handle, with kernel passthrough where possible;
// other readers get a handle that downloads ranges into the read cache.
func (n *Node) Open(ctx context.Context, flags uint32) (gofs.FileHandle, uint32, syscall.Errno) {
	defer n.fsys.track("open", time.Now())
	f := n.fsys
	write := flags&syscall.O_ACCMODE != syscall.O_RDONLY
	if write {
		if f.opts.ReadOnly {
			return nil, 0, syscall.EROFS
		}
		h, err := f.newSpoolHandle(ctx, n.id, flags, false)
		if err != nil {
			return nil, 0, toErrno(err)
		}
		return h, 0, 0
	}
	c, err := f.store.Get(n.id)
	if err != nil {
		return nil, 0, toErrno(err)
	}
	if c.Dir {
		return nil, 0, syscall.EISDIR
	}
	f.store.Files.Acquire(c.ID)
	if c.Dirty || f.store.Files.Complete(c.ID, c.RemoteID, c.Size) {
		file, err := f.store.Files.Open(c.ID, os.O_RDONLY|os.O_CREATE)
		if err == nil {
			if !c.Dirty && f.opts.CacheRead != nil {
				f.opts.CacheRead(true)
			}
			return &localHandle{fsys: f, id: c.ID, file: file}, fuse.FOPEN_KEEP_CACHE, 0
		}
		if c.Dirty {
			f.store.Files.Release(c.ID)
			return nil, 0, toErrno(err)
		}
	}
	h, err := f.newRemoteHandle(&c)
	if err != nil {
		f.store.Files.Release(c.ID)
		return nil, 0, toErrno(err)
	}
	return h, fuse.FOPEN_KEEP_CACHE, 0
}

// openSpool prepares node id's content file as a spool and opens it for
// reading and writing. A clean file is first made complete (downloaded)
// unless it is being truncated to zero; it is then marked dirty durably, so
// that even writes that are never closed survive a crash.
func (f *FS) openSpool(ctx context.Context, id uint64, trunc bool) (*os.File, error) {
	unlock := f.nodeLocks.Lock(id)
	defer unlock()
	c, err := f.store.Get(id)
	if err != nil {
		return nil, err
	}
	if c.Dir {
		return nil, cache.ErrIsDir
	}
	flag := os.O_RDWR | os.O_CREATE
	if c.Dirty {
		if trunc {
			flag |= os.O_TRUNC
		}
		return f.store.Files.Open(id, flag)
	}
	if trunc {
		flag |= os.O_TRUNC
	} else if c.RemoteID != 0 && !f.store.Files.Complete(id, c.RemoteID, c.Size) {
		if err := f.fetchAll(ctx, &c); err != nil {
			return nil, err
		}
	}
	if err := f.store.MarkDirty(id); err != nil {
		return nil, err
	}
	return f.store.Files.Open(id, flag)
}

// newSpoolHandle opens a write handle on node id (created: a new file).
func (f *FS) newSpoolHandle(ctx context.Context, id uint64, flags uint32, created bool) (*localHandle, error) {
	trunc := created || flags&syscall.O_TRUNC != 0
	f.store.Files.Acquire(id)
	f.store.AddWriter(id, 1)
	file, err := f.openSpool(ctx, id, trunc)
	if err != nil {
		f.store.AddWriter(id, -1)
		f.store.Files.Release(id)
		return nil, err
	}
	h := &localHandle{fsys: f, id: id, file: file, write: true, changed: trunc}
	f.queue.Touch(id) // a running upload of this file is now outdated
	if st, err := file.Stat(); err == nil {
		h.size, h.mtime = st.Size(), st.ModTime()
	}
	return h, nil
}

// localHandle is an open file whose whole content is in the content file:
// a spool (dirty) or a complete cached copy.
type localHandle struct {
	fsys  *FS
	id    uint64
	file  *os.File
	write bool

	mu      sync.Mutex
	changed bool      // content changed since the last commit
	size    int64     // content file size at the last commit (or open)
	mtime   time.Time // and its mtime
	closed  bool
}

var (
	_ = (gofs.FilePassthroughFder)((*localHandle)(nil))
	_ = (gofs.FileReader)((*localHandle)(nil))
	_ = (gofs.FileWriter)((*localHandle)(nil))
	_ = (gofs.FileFlusher)((*localHandle)(nil))
	_ = (gofs.FileReleaser)((*localHandle)(nil))
	_ = (gofs.FileFsyncer)((*localHandle)(nil))
	_ = (gofs.FileAllocater)((*localHandle)(nil))
	_ = (gofs.FileLseeker)((*localHandle)(nil))
)

// PassthroughFd lets the kernel read and write the content file directly.
// Writers get it only while the cache filesystem is roomy: drimefs must be
// able to refuse writes before the disk is full (see cache.Files.Admit).
func (h *localHandle) PassthroughFd() (int, bool) {
	if !h.fsys.passthrough.Load() || h.write && !h.fsys.store.Files.Roomy() {
		return 0, false
	}
	return int(h.file.Fd()), true
}

func (h *localHandle) Read(ctx context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	defer h.fsys.track("read", time.Now())
	return fuse.ReadResultFd(h.file.Fd(), off, len(dest)), 0
}

func (h *localHandle) Write(ctx context.Context, data []byte, off int64) (uint32, syscall.Errno) {
	defer h.fsys.track("write", time.Now())
	if !h.write {
		return 0, syscall.EBADF
	}
	if err := h.fsys.store.Files.Admit(int64(len(data))); err != nil {
		return 0, toErrno(err)
	}
	h.mu.Lock()
	h.changed = true
	h.mu.Unlock()
	n, err := h.file.WriteAt(data, off)
	if err != nil {
		return uint32(n), toErrno(err)
	}
	return uint32(n), 0
}

func (h *localHandle) Allocate(ctx context.Context, off, size uint64, mode uint32) syscall.Errno {
	if !h.write {
		return syscall.EBADF
	}
	if err := h.fsys.store.Files.Admit(int64(size)); err != nil {
		return toErrno(err)
	}
	h.mu.Lock()
	h.changed = true
	h.mu.Unlock()
	return toErrno(syscall.Fallocate(int(h.file.Fd()), mode, int64(off), int64(size)))
}

func (h *localHandle) Lseek(ctx context.Context, off uint64, whence uint32) (uint64, syscall.Errno) {
	n, err := h.file.Seek(int64(off), int(whence))
	return uint64(n), toErrno(err)
}

func (h *localHandle) truncate(size int64) syscall.Errno {
	h.mu.Lock()
	h.changed = true
	h.mu.Unlock()
	return toErrno(h.file.Truncate(size))
}

// fstat fills attributes from the open content file of a node that was
// removed while open (link count 0).
func (h *localHandle) fstat(out *fuse.Attr) syscall.Errno {
	st, err := h.file.Stat()
	if err != nil {
		return toErrno(err)
	}
	c := cache.Node{ID: h.id, Size: st.Size(), Mtime: st.ModTime(), Ctime: st.ModTime()}
	h.fsys.fillAttr(&c, out)
	out.Size = uint64(st.Size())
	out.Nlink = 0
	return 0
}

// noteTimes records a utimens on the handle so it is not mistaken for a
// content change.
func (h *localHandle) noteTimes(mtime time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.changed {
		h.mtime = mtime
	}
}

// commit records the job for what the spool holds now, if anything
// changed since the last commit. This is what makes close() durable.
func (h *localHandle) commit() (cache.Job, bool, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	st, err := h.file.Stat()
	if err != nil {
		return cache.Job{}, false, err
	}
	if !h.changed && st.Size() == h.size && st.ModTime().Equal(h.mtime) {
		return cache.Job{}, false, nil
	}
	j, err := h.fsys.store.Commit(h.id, st.Size(), st.ModTime())
	if errors.Is(err, cache.ErrNotFound) {
		return cache.Job{}, false, nil // removed while open: nothing to upload
	}
	if err != nil {
		return cache.Job{}, false, err
	}
	h.changed, h.size, h.mtime = false, st.Size(), st.ModTime()
	return j, true, nil
}

// Flush runs on every close(): the content is recorded for upload before
// close returns.
func (h *localHandle) Flush(ctx context.Context) syscall.Errno {
	defer h.fsys.track("flush", time.Now())
	if !h.write {
		return 0
	}
	h.fsys.changing()
	if _, _, err := h.commit(); err != nil {
		h.fsys.log.Error().Err(err).Uint64("node", h.id).Msg("recording a closed file for upload failed")
		return toErrno(err)
	}
	return 0
}

// Fsync makes the content survive power loss (--fsync=local) or waits until
// it is in Drime (--fsync=remote).
func (h *localHandle) Fsync(ctx context.Context, flags uint32) syscall.Errno {
	defer h.fsys.track("fsync", time.Now())
	if !h.write {
		return 0
	}
	if err := h.file.Sync(); err != nil {
		return toErrno(err)
	}
	j, _, err := h.commit()
	if err != nil {
		return toErrno(err)
	}
	if err := h.fsys.store.Sync(); err != nil {
		return toErrno(err)
	}
	if h.fsys.opts.Fsync != FsyncRemote {
		return 0
	}
	gen := j.Gen
	if gen == 0 {
		c, err := h.fsys.store.Get(h.id)
		if err != nil {
			return toErrno(err)
		}
		if !c.Dirty {
			return 0
		}
		gen = c.Gen
	}
	return toErrno(h.fsys.queue.WaitUploaded(ctx, h.id, gen))
}

// Release closes the handle. A writer that changed nothing leaves a clean
// file clean.
func (h *localHandle) Release(ctx context.Context) syscall.Errno {
	defer h.fsys.track("release", time.Now())
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return 0
	}
	h.closed = true
	h.mu.Unlock()
	var errno syscall.Errno
	if h.write {
		committed, err := h.releaseWrite()
		if err != nil {
			h.fsys.log.Error().Err(err).Uint64("node", h.id).Msg("recording a released file for upload failed")
			errno = toErrno(err)
		}
		_ = committed
		h.fsys.store.AddWriter(h.id, -1)
		h.fsys.queue.Touch(h.id)
	}
	h.fsys.store.Files.Release(h.id)
	if err := h.file.Close(); err != nil && errno == 0 {
		errno = toErrno(err)
	}
	return errno
}

func (h *localHandle) releaseWrite() (bool, error) {
	_, committed, err := h.commit()
	if err != nil || committed {
		return committed, err
	}
	if h.fsys.store.Writers(h.id) == 1 {
		return false, h.fsys.store.Unmark(h.id)
	}
	return false, nil
}
