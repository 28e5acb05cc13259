package cache

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// Files manages the content files under <cache>/files: a dirty file's spool
// and a clean file's read cache are the same file, named by the node id.
// Clean data is bounded by the cache size and evicted least recently used
// first; dirty data and open files are never evicted.
type Files struct {
	s   *Store
	dir string
	max int64

	mu   sync.Mutex
	ents map[uint64]*fileEnt
	used int64 // bytes of clean cached data

	space spaceGuard
}

type fileEnt struct {
	Remote  int64   `json:"rid"`
	Size    int64   `json:"size"`
	Ext     Extents `json:"ext"`
	atime   time.Time
	open    int
	dirty   bool
	unsaved int64 // bytes added since the extents were last recorded
}

func openFiles(s *Store, dir string, max int64) (*Files, error) {
	f := &Files{s: s, dir: dir, max: max, ents: map[uint64]*fileEnt{}, space: spaceGuard{dir: dir}}
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte("x/"), PrefetchValues: true})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			k := it.Item().Key()
			id := be64(k[2:])
			e := &fileEnt{}
			if err := it.Item().Value(func(b []byte) error { return json.Unmarshal(b, e) }); err != nil {
				return err
			}
			f.ents[id] = e
			f.used += e.Ext.Total()
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("cache: load read-cache index: %w", err)
	}
	return f, nil
}

func (f *Files) close() error { return nil }

// Path is the content file of node id.
func (f *Files) Path(id uint64) string { return filepath.Join(f.dir, strconv.FormatUint(id, 10)) }

// Open opens node id's content file (created 0600 when flag has O_CREATE).
func (f *Files) Open(id uint64, flag int) (*os.File, error) {
	fh, err := os.OpenFile(f.Path(id), flag, 0o600)
	if err != nil {
		return nil, fmt.Errorf("cache: open content of %d: %w", id, err)
	}
	return fh, nil
}

// Acquire marks node id's content file in use (not evictable) until Release.
func (f *Files) Acquire(id uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	e := f.ent(id)
	e.open++
	e.atime = time.Now()
}

// Release ends one Acquire.
func (f *Files) Release(id uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if e, ok := f.ents[id]; ok && e.open > 0 {
		e.open--
	}
}

func (f *Files) ent(id uint64) *fileEnt {
	e, ok := f.ents[id]
	if !ok {
		e = &fileEnt{}
		f.ents[id] = e
	}
	return e
}

// Missing returns the parts of [off, off+n) of node id that are not cached
// for Drime entry remote (everything when the cache holds another entry).
func (f *Files) Missing(id uint64, remote int64, off, n int64) Extents {
	f.mu.Lock()
	defer f.mu.Unlock()
	e, ok := f.ents[id]
	if !ok || e.Remote != remote {
		return Extents{{off, off + n}}
	}
	e.atime = time.Now()
	return e.Ext.Missing(off, off+n)
}

// Complete reports whether node id's content file holds all of Drime entry
// remote (size bytes), or is dirty (the spool is the whole content).
func (f *Files) Complete(id uint64, remote int64, size int64) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	e, ok := f.ents[id]
	if !ok {
		return false
	}
	if e.dirty {
		return true
	}
	return e.Remote == remote && len(e.Ext.Missing(0, size)) == 0
}

// Reset makes node id's content file an empty cache of Drime entry remote,
// truncating what was there. Used before caching a different entry.
func (f *Files) Reset(id uint64, remote int64, size int64) error {
	f.mu.Lock()
	e := f.ent(id)
	if e.dirty {
		f.mu.Unlock()
		return fmt.Errorf("cache: reset of dirty content %d: %w", id, ErrInvalid)
	}
	f.used -= e.Ext.Total()
	e.Remote, e.Size, e.Ext = remote, size, nil
	err := os.Truncate(f.Path(id), 0)
	f.mu.Unlock()
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("cache: reset content of %d: %w", id, err)
	}
	return f.persist(id)
}

// Add records that [off, off+n) of Drime entry remote is now in node id's
// content file, then evicts other files if the cache is over its bound.
func (f *Files) Add(id uint64, remote int64, size, off, n int64) error {
	f.mu.Lock()
	e := f.ent(id)
	if e.dirty {
		f.mu.Unlock()
		return nil
	}
	if e.Remote != remote {
		f.used -= e.Ext.Total()
		e.Remote, e.Ext = remote, nil
	}
	before := e.Ext.Total()
	e.Size = size
	e.Ext = e.Ext.Add(off, off+n)
	e.atime = time.Now()
	f.used += e.Ext.Total() - before
	// The extents are recorded when the file is complete or every
	// persistEvery bytes, not for every chunk: after a crash a range that
	// was not recorded is only downloaded again.
	e.unsaved += n
	save := e.unsaved >= persistEvery || len(e.Ext) == 1 && e.Ext[0] == Extent{0, size}
	if save {
		e.unsaved = 0
	}
	f.mu.Unlock()
	if save {
		if err := f.persist(id); err != nil {
			return err
		}
	}
	f.Evict(0)
	return nil
}

const persistEvery = 64 << 20

// Flush records node id's read-cache extents if some are unrecorded
// (called when the last reader closes the file).
func (f *Files) Flush(id uint64) {
	f.mu.Lock()
	e, ok := f.ents[id]
	save := ok && e.unsaved > 0
	if save {
		e.unsaved = 0
	}
	f.mu.Unlock()
	if save {
		if err := f.persist(id); err != nil {
			f.s.log.Warn().Err(err).Uint64("node", id).Msg("recording read-cache extents")
		}
	}
}

// setDirty marks node id's content as the spool of a pending upload.
func (f *Files) setDirty(id uint64, size int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	e := f.ent(id)
	if !e.dirty {
		f.used -= e.Ext.Total()
	}
	e.dirty, e.Remote, e.Size, e.Ext = true, 0, size, nil
}

// MarkDirty is called when a file is opened for writing: from now on its
// content file is a spool and is never evicted.
func (f *Files) MarkDirty(id uint64) { f.setDirty(id, 0) }

// setClean turns an uploaded spool into a complete cached copy of remote.
func (f *Files) setClean(id uint64, remote int64, size int64) {
	f.mu.Lock()
	e := f.ent(id)
	if !e.dirty {
		f.used -= e.Ext.Total()
	}
	e.dirty, e.Remote, e.Size = false, remote, size
	e.Ext = Extents{}.Add(0, size)
	e.atime = time.Now()
	f.used += e.Ext.Total()
	f.mu.Unlock()
	if err := f.persist(id); err != nil {
		f.s.log.Warn().Err(err).Uint64("node", id).Msg("recording read-cache extents")
	}
	f.Evict(0)
}

// forget removes node id's content file and accounting.
func (f *Files) forget(id uint64) {
	f.mu.Lock()
	if e, ok := f.ents[id]; ok {
		if !e.dirty {
			f.used -= e.Ext.Total()
		}
		delete(f.ents, id)
	}
	f.mu.Unlock()
	if err := os.Remove(f.Path(id)); err != nil && !errors.Is(err, os.ErrNotExist) {
		f.s.log.Warn().Err(err).Uint64("node", id).Msg("removing content file")
	}
	_ = f.s.db.Update(func(txn *badger.Txn) error { return txn.Delete(extKey(id)) })
}

func (f *Files) persist(id uint64) error {
	f.mu.Lock()
	e, ok := f.ents[id]
	var b []byte
	var err error
	if ok && !e.dirty {
		b, err = json.Marshal(e)
	}
	f.mu.Unlock()
	if err != nil {
		return err
	}
	return f.s.db.Update(func(txn *badger.Txn) error {
		if b == nil {
			return txn.Delete(extKey(id))
		}
		return txn.Set(extKey(id), b)
	})
}

// Used returns the bytes of clean cached data and the bound.
func (f *Files) Used() (used, max int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.used, f.max
}

// Evict removes least recently used clean files that are not open until the
// cache holds at most max-need bytes. It returns the bytes freed.
func (f *Files) Evict(need int64) int64 {
	f.mu.Lock()
	if f.used+need <= f.max {
		f.mu.Unlock()
		return 0
	}
	type cand struct {
		id uint64
		at time.Time
	}
	var cs []cand
	for id, e := range f.ents {
		if !e.dirty && e.open == 0 && e.Ext.Total() > 0 {
			cs = append(cs, cand{id, e.atime})
		}
	}
	sort.Slice(cs, func(a, b int) bool { return cs[a].at.Before(cs[b].at) })
	var victims []uint64
	var freed int64
	for _, c := range cs {
		if f.used+need-freed <= f.max {
			break
		}
		freed += f.ents[c.id].Ext.Total()
		victims = append(victims, c.id)
	}
	// Truncate under the lock: a reader that acquires the file afterwards
	// must not see extents for data that is being thrown away.
	for _, id := range victims {
		e := f.ents[id]
		f.used -= e.Ext.Total()
		e.Ext, e.Remote = nil, 0
		if err := os.Truncate(f.Path(id), 0); err != nil && !errors.Is(err, os.ErrNotExist) {
			f.s.log.Warn().Err(err).Uint64("node", id).Msg("evicting cached file")
		}
	}
	f.mu.Unlock()
	for _, id := range victims {
		_ = f.persist(id)
	}
	return freed
}
