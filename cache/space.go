package cache

import (
	"fmt"
	"sync"
	"syscall"
	"time"
)

// The queue database memory-maps its log files: if the cache filesystem
// fills up completely, the process dies with SIGBUS the next time the
// database touches a new page. So writes to content files are admitted
// only while a reserve stays free, and kernel passthrough writes (which
// drimefs cannot refuse one by one) are used only when the filesystem is
// roomy.

const (
	minReserve       = 24 << 20  // two memtables and some value log
	maxReserve       = 256 << 20 //
	passthroughSpare = 8 << 30   // free space needed to let the kernel write directly
	statfsEvery      = 100 * time.Millisecond
	statfsBytes      = 4 << 20
)

// ErrNoSpace is returned when a write would eat into the reserve.
var ErrNoSpace = fmt.Errorf("cache: disk full: %w", syscall.ENOSPC)

type spaceGuard struct {
	dir string

	mu      sync.Mutex
	at      time.Time
	free    int64 // bytes available to us at the last statfs
	total   int64
	written int64 // bytes admitted since then
}

func (g *spaceGuard) refresh(force bool) (free, total int64, err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !force && !g.at.IsZero() && time.Since(g.at) < statfsEvery && g.written < statfsBytes {
		return g.free - g.written, g.total, nil
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(g.dir, &st); err != nil {
		return 0, 0, fmt.Errorf("cache: statfs %s: %w", g.dir, err)
	}
	g.at, g.written = time.Now(), 0
	g.free, g.total = int64(st.Bavail)*st.Bsize, int64(st.Blocks)*st.Bsize
	return g.free, g.total, nil
}

func reserveFor(total int64) int64 { return min(max(total/8, minReserve), maxReserve) }

// Admit accounts for n bytes about to be written to a content file. When
// they would eat into the reserve, clean cached files are evicted first;
// if that is not enough the write is refused with ErrNoSpace.
func (f *Files) Admit(n int64) error {
	free, total, err := f.space.refresh(false)
	if err != nil {
		return err
	}
	reserve := reserveFor(total)
	if free-n < reserve {
		f.freeBytes(n + reserve - free)
		if free, total, err = f.space.refresh(true); err != nil {
			return err
		}
		if free-n < reserveFor(total) {
			return ErrNoSpace
		}
	}
	f.space.mu.Lock()
	f.space.written += n
	f.space.mu.Unlock()
	return nil
}

// Roomy reports whether the cache filesystem has room enough that kernel
// passthrough writes cannot fill it.
func (f *Files) Roomy() bool {
	free, _, err := f.space.refresh(false)
	return err == nil && free > passthroughSpare
}

// freeBytes evicts at least n bytes of clean cached data, if there is that
// much.
func (f *Files) freeBytes(n int64) int64 {
	f.mu.Lock()
	need := f.max - f.used + n
	f.mu.Unlock()
	return f.Evict(need)
}
