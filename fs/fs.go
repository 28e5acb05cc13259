// Package fs is the go-fuse node tree of drimefs. It turns kernel requests
// into calls on the local store (cache), reads from Drime through a small
// Remote interface and hands uploads to the queue through a small Queue
// interface. It is the only place where errors become errno (see errno.go).
//
// Nothing here is durable by itself: the tree, the queue and the content
// files live in the cache package; this package keeps in memory only open
// handles, running downloads and listing refreshes.
//
// Locks. FS.mu guards the maps of in-flight refreshes and downloads and the
// quota figures; fetcher.mu guards one file's download streams; handle.mu
// guards one open handle's dirty tracking; nodeLocks serialise spool
// preparation per node. Order: nodeLock → handle.mu → fetcher.mu → FS.mu.
// No lock is held while calling the kernel (notifications run in their own
// goroutine) and none across a Drime request except a node lock while its
// spool is prepared (the file is downloaded before it can be written).
package fs

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"

	"github.com/drimefs/drimefs/cache"
	"github.com/drimefs/drimefs/cache/keylock"
	"github.com/drimefs/drimefs/drime"
)

// Remote is what the file system needs from Drime directly.
type Remote interface {
	ListFolder(ctx context.Context, folderID int64) ([]drime.Entry, error)
	Download(ctx context.Context, e *drime.Entry, off, length int64) (io.ReadCloser, error)
	Rename(ctx context.Context, id int64, name string) (*drime.Entry, error)
	Move(ctx context.Context, ids []int64, destID int64) error
	Delete(ctx context.Context, ids []int64, forever bool) error
	SpaceUsage(ctx context.Context) (*drime.SpaceUsage, error)
}

// Queue is what the file system needs from the uploader.
type Queue interface {
	// Cancel stops a running upload of node id (it was removed).
	Cancel(id uint64)
	// Touch tells the queue that node id's writers changed.
	Touch(id uint64)
	// Activity tells the queue that the file system is busy with changes
	// (creates, closes, renames): uploads yield for a moment.
	Activity()
	// WaitUploaded returns once generation gen (or newer) of node id is in
	// Drime, or the job failed.
	WaitUploaded(ctx context.Context, id, gen uint64) error
	// EnsureFolder returns the Drime id of local folder id, creating it
	// (and its parents) in Drime if needed.
	EnsureFolder(ctx context.Context, id uint64) (int64, error)
	// State describes node id's upload state for the user.drimefs.state
	// extended attribute.
	State(id uint64) string
}

// FsyncMode says what fsync waits for.
type FsyncMode int

// Fsync modes.
const (
	FsyncLocal  FsyncMode = iota // spool and queue on stable storage
	FsyncRemote                  // the content is registered in Drime
)

// Options configures the file system.
type Options struct {
	Store         *cache.Store
	Remote        Remote
	Queue         Queue
	Logger        zerolog.Logger
	UID, GID      uint32
	Umask         uint32
	ReadOnly      bool
	DirCacheTTL   time.Duration // default 1 minute
	Fsync         FsyncMode
	Passthrough   bool   // use FUSE passthrough when the kernel allows
	ControlSocket string // shown as user.drimefs.control on the root
	FsName        string // source shown in /proc/mounts; default "drimefs"
	// Op, when set, is called after every FUSE operation (for metrics).
	Op func(op string, d time.Duration)
	// CacheRead, when set, is called for every read of a file from Drime:
	// hit when the bytes were already in the read cache (a whole cached
	// file opened counts as one hit: the kernel then reads it directly).
	CacheRead func(hit bool)
}

// FS is one mounted drive.
type FS struct {
	opts   Options
	store  *cache.Store
	remote Remote
	queue  Queue
	log    zerolog.Logger

	passthrough atomic.Bool

	mu         sync.Mutex
	refreshing map[uint64]*refreshCall
	fetchers   map[uint64]*fetcher
	space      spaceCache
	nodeLocks  keylock.Set
	inodes     sync.Map // node id → *Node the kernel knows

	prefetchSem chan struct{}

	bg   sync.WaitGroup
	stop chan struct{}
}

// New builds the file system; Root gives its root node.
func New(opts Options) *FS {
	if opts.DirCacheTTL <= 0 {
		opts.DirCacheTTL = time.Minute
	}
	return &FS{
		opts: opts, store: opts.Store, remote: opts.Remote, queue: opts.Queue,
		log:        opts.Logger,
		refreshing: map[uint64]*refreshCall{},
		fetchers:   map[uint64]*fetcher{},
		stop:       make(chan struct{}),

		prefetchSem: make(chan struct{}, prefetchParallel),
	}
}

// Root is the root node to mount.
func (f *FS) Root() gofs.InodeEmbedder { return &Node{fsys: f, id: cache.RootID} }

// MountOptions are the go-fuse options drimefs mounts with.
func (f *FS) MountOptions(allowOther, debug bool) *gofs.Options {
	entry, attr, neg := time.Second, time.Second, time.Second
	return &gofs.Options{
		EntryTimeout:    &entry,
		AttrTimeout:     &attr,
		NegativeTimeout: &neg,
		UID:             f.opts.UID,
		GID:             f.opts.GID,
		MountOptions: fuse.MountOptions{
			FsName:        f.fsName(),
			Name:          "drimefs",
			AllowOther:    allowOther,
			DirectMount:   os.Geteuid() == 0,
			MaxWrite:      1 << 20,
			MaxReadAhead:  1 << 20,
			MaxBackground: 64,
			Debug:         debug,
			DisableXAttrs: false,
		},
	}
}

func (f *FS) fsName() string {
	if f.opts.FsName != "" {
		return f.opts.FsName
	}
	return "drimefs"
}

// Mount mounts the file system at dir and serves it until unmounted.
func (f *FS) Mount(dir string, allowOther, debug bool) (*fuse.Server, error) {
	srv, err := gofs.Mount(dir, f.Root(), f.MountOptions(allowOther, debug))
	if err != nil {
		return nil, err
	}
	if f.opts.Passthrough && os.Geteuid() == 0 &&
		srv.KernelSettings().Flags64()&fuse.CAP_PASSTHROUGH != 0 {
		f.passthrough.Store(true)
	}
	f.raiseReadahead(dir)
	return srv, nil
}

// readaheadKB is the kernel read-ahead asked for the mount: with the
// default 128 KiB a cold sequential read turns into many small requests.
const readaheadKB = 1024

// raiseReadahead sets the mount's read-ahead (root only; best effort).
func (f *FS) raiseReadahead(dir string) {
	var st syscall.Stat_t
	if err := syscall.Stat(dir, &st); err != nil {
		return
	}
	p := fmt.Sprintf("/sys/class/bdi/%d:%d/read_ahead_kb", unix.Major(st.Dev), unix.Minor(st.Dev))
	if err := os.WriteFile(p, []byte(fmt.Sprint(readaheadKB)), 0o644); err != nil {
		f.log.Debug().Err(err).Msg("could not raise the mount's read-ahead; sequential reads use the kernel default")
	}
}

// PassthroughActive reports whether opens use kernel passthrough.
func (f *FS) PassthroughActive() bool { return f.passthrough.Load() }

// Close stops background work (listing refreshes, downloads).
func (f *FS) Close() {
	select {
	case <-f.stop:
	default:
		close(f.stop)
	}
	f.mu.Lock()
	for _, ft := range f.fetchers {
		ft.cancelAll()
	}
	f.mu.Unlock()
	f.bg.Wait()
}
