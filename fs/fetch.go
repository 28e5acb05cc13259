package fs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"syscall"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/drimefs/drimefs/cache"
	"github.com/drimefs/drimefs/drime"
)

const (
	chunkSize     = 1 << 20  // bytes read from a download per write to the cache file
	aheadWindow   = 64 << 20 // how far a stream runs ahead of its readers
	maxStreams    = 4        // concurrent downloads of one file
	streamIdle    = 30 * time.Second
	fetchAttempts = 4
)

// fetcher downloads one clean file into its content file with a few
// streaming range requests. Sequential readers follow one stream that runs
// up to aheadWindow ahead of them; a read far from every stream starts a new
// one. Readers wait for the bytes they need to land in the cache file.
type fetcher struct {
	fsys  *FS
	id    uint64
	entry drime.Entry
	file  *os.File

	mu      sync.Mutex
	refs    int
	streams []*stream
	changed chan struct{} // closed and replaced whenever a stream progresses
}

type stream struct {
	start, pos int64 // bytes [start, pos) are in the cache file
	want       int64 // furthest byte a reader waits for
	err        error
	done       bool
	used       time.Time
	cancel     context.CancelFunc
}

// getFetcher returns the node's fetcher for Drime entry c, creating it.
func (f *FS) getFetcher(c *cache.Node) (*fetcher, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if ft, ok := f.fetchers[c.ID]; ok && ft.entry.ID == c.RemoteID {
		ft.refs++
		return ft, nil
	} else if ok {
		ft.cancelAll()
		delete(f.fetchers, c.ID)
	}
	if len(f.store.Files.Missing(c.ID, c.RemoteID, 0, 1)) > 0 && c.Size > 0 {
		// Nothing of this entry is cached: drop what another entry left.
		if m := f.store.Files.Missing(c.ID, c.RemoteID, 0, c.Size); len(m) == 1 && m[0].Start() == 0 && m[0].End() == c.Size {
			if err := f.store.Files.Reset(c.ID, c.RemoteID, c.Size); err != nil {
				return nil, err
			}
		}
	}
	file, err := f.store.Files.Open(c.ID, os.O_RDWR|os.O_CREATE)
	if err != nil {
		return nil, err
	}
	ft := &fetcher{fsys: f, id: c.ID, file: file, refs: 1, changed: make(chan struct{}),
		entry: drime.Entry{ID: c.RemoteID, Hash: c.RemoteHash, URL: c.RemoteURL, Size: c.Size, Name: c.Name}}
	f.fetchers[c.ID] = ft
	return ft, nil
}

// putFetcher drops one reference; the last one stops the downloads.
func (f *FS) putFetcher(ft *fetcher) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ft.refs--
	if ft.refs > 0 {
		return
	}
	ft.cancelAll()
	if f.fetchers[ft.id] == ft {
		delete(f.fetchers, ft.id)
	}
	ft.file.Close()
	f.store.Files.Flush(ft.id)
}

// dropFetcher stops downloads of a node that was removed or changed.
func (f *FS) dropFetcher(id uint64) {
	f.mu.Lock()
	ft := f.fetchers[id]
	delete(f.fetchers, id)
	f.mu.Unlock()
	if ft != nil {
		ft.cancelAll()
	}
}

func (ft *fetcher) cancelAll() {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	for _, s := range ft.streams {
		s.cancel()
	}
	ft.streams = nil
	ft.wakeLocked()
}

func (ft *fetcher) wakeLocked() {
	close(ft.changed)
	ft.changed = make(chan struct{})
}

// ensure returns once [off, end) is in the cache file.
func (ft *fetcher) ensure(ctx context.Context, off, end int64) error {
	files := ft.fsys.store.Files
	end = min(end, ft.entry.Size)
	failures := 0
	for off < end {
		missing := files.Missing(ft.id, ft.entry.ID, off, end-off)
		if len(missing) == 0 {
			return nil
		}
		m := missing[0]
		ft.mu.Lock()
		s := ft.streamFor(m.Start())
		if s == nil {
			s = ft.startStream(m.Start())
		}
		s.want = max(s.want, end)
		s.used = time.Now()
		ft.wakeLocked()
		for s.pos < min(m.End(), end) && s.err == nil && !s.done {
			ch := ft.changed
			ft.mu.Unlock()
			select {
			case <-ch:
			case <-ctx.Done():
				return ctx.Err()
			}
			ft.mu.Lock()
		}
		err := s.err
		if s.done && s.err == nil && s.pos < min(m.End(), end) {
			err = io.ErrUnexpectedEOF
		}
		ft.mu.Unlock()
		if err != nil {
			failures++
			if failures >= fetchAttempts || errors.Is(err, drime.ErrNotFound) || errors.Is(err, context.Canceled) {
				return fmt.Errorf("download %q at %d: %w", ft.entry.Name, m.Start(), err)
			}
			ft.fsys.log.Warn().Err(err).Str("file", ft.entry.Name).Int64("offset", m.Start()).Msg("download interrupted; retrying")
		}
	}
	return nil
}

// streamFor returns a live stream that will reach off soon. Holds ft.mu.
func (ft *fetcher) streamFor(off int64) *stream {
	for _, s := range ft.streams {
		if s.err == nil && !s.done && s.start <= off && off <= s.pos+chunkSize*4 {
			return s
		}
	}
	return nil
}

// startStream starts a download from off to the end of the file. Holds
// ft.mu.
func (ft *fetcher) startStream(off int64) *stream {
	live := ft.streams[:0]
	for _, s := range ft.streams {
		if s.err == nil && !s.done {
			live = append(live, s)
		}
	}
	ft.streams = live
	if len(ft.streams) >= maxStreams {
		oldest := 0
		for i, s := range ft.streams {
			if s.used.Before(ft.streams[oldest].used) {
				oldest = i
			}
		}
		ft.streams[oldest].cancel()
		ft.streams = append(ft.streams[:oldest], ft.streams[oldest+1:]...)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &stream{start: off, pos: off, want: off, used: time.Now(), cancel: cancel}
	ft.streams = append(ft.streams, s)
	ft.fsys.bg.Add(1)
	go ft.run(ctx, s)
	return s
}

// run is one streaming download: it writes chunks to the cache file and
// pauses while it is aheadWindow past what readers want.
func (ft *fetcher) run(ctx context.Context, s *stream) {
	defer ft.fsys.bg.Done()
	err := ft.download(ctx, s)
	ft.mu.Lock()
	s.done = true
	if err != nil && s.err == nil {
		s.err = err
	}
	ft.wakeLocked()
	ft.mu.Unlock()
	s.cancel()
}

func (ft *fetcher) download(ctx context.Context, s *stream) error {
	files := ft.fsys.store.Files
	body, err := ft.fsys.remote.Download(ctx, &ft.entry, s.start, ft.entry.Size-s.start)
	if err != nil {
		return err
	}
	defer body.Close()
	buf := make([]byte, chunkSize)
	for {
		ft.mu.Lock()
		for s.pos >= s.want+aheadWindow {
			ch := ft.changed
			ft.mu.Unlock()
			select {
			case <-ch:
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(streamIdle):
				return nil // nobody reads this far: stop
			}
			ft.mu.Lock()
		}
		pos := s.pos
		ft.mu.Unlock()
		if pos >= ft.entry.Size {
			return nil
		}
		n, rerr := io.ReadFull(body, buf[:min(int64(len(buf)), ft.entry.Size-pos)])
		if n > 0 {
			if err := files.Admit(int64(n)); err != nil {
				return fmt.Errorf("read cache: %w", err)
			}
			if _, err := ft.file.WriteAt(buf[:n], pos); err != nil {
				return fmt.Errorf("write read cache: %w", err)
			}
			if err := files.Add(ft.id, ft.entry.ID, ft.entry.Size, pos, int64(n)); err != nil {
				return err
			}
			ft.mu.Lock()
			s.pos += int64(n)
			ft.wakeLocked()
			ft.mu.Unlock()
		}
		if rerr != nil {
			if errors.Is(rerr, io.EOF) || errors.Is(rerr, io.ErrUnexpectedEOF) {
				if pos+int64(n) >= ft.entry.Size {
					return nil
				}
				return io.ErrUnexpectedEOF
			}
			return rerr
		}
	}
}

// fetchAll downloads the whole of a clean file (before it is opened for
// writing without truncation).
func (f *FS) fetchAll(ctx context.Context, c *cache.Node) error {
	f.store.Files.Acquire(c.ID)
	defer f.store.Files.Release(c.ID)
	ft, err := f.getFetcher(c)
	if err != nil {
		return err
	}
	defer f.putFetcher(ft)
	return ft.ensure(ctx, 0, c.Size)
}

// remoteHandle reads a clean file that is not (completely) cached.
type remoteHandle struct {
	fsys *FS
	ft   *fetcher
	once sync.Once
}

var (
	_ = (gofs.FileReader)((*remoteHandle)(nil))
	_ = (gofs.FileReleaser)((*remoteHandle)(nil))
)

func (f *FS) newRemoteHandle(c *cache.Node) (*remoteHandle, error) {
	ft, err := f.getFetcher(c)
	if err != nil {
		return nil, err
	}
	return &remoteHandle{fsys: f, ft: ft}, nil
}

func (h *remoteHandle) Read(ctx context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	defer h.fsys.track("read", time.Now())
	size := h.ft.entry.Size
	if off >= size {
		return fuse.ReadResultData(nil), 0
	}
	end := min(off+int64(len(dest)), size)
	if cr := h.fsys.opts.CacheRead; cr != nil {
		cr(len(h.fsys.store.Files.Missing(h.ft.id, h.ft.entry.ID, off, end-off)) == 0)
	}
	if err := h.ft.ensure(ctx, off, end); err != nil {
		h.fsys.log.Error().Err(err).Str("file", h.ft.entry.Name).Msg("read failed")
		return nil, toErrno(err)
	}
	// The bytes are in the cache file: let go-fuse splice them to the
	// kernel instead of copying them through a buffer.
	return fuse.ReadResultFd(h.ft.file.Fd(), off, int(end-off)), 0
}

func (h *remoteHandle) Release(ctx context.Context) syscall.Errno {
	h.once.Do(func() {
		h.fsys.putFetcher(h.ft)
		h.fsys.store.Files.Release(h.ft.id)
	})
	return 0
}
