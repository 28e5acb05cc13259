package cache

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/rs/zerolog"
)

// RootID is the local id (and inode number) of the mount's root folder.
const RootID uint64 = 1

// Errors returned by the tree operations. The fs package maps them to errno.
var (
	ErrNotFound = errors.New("cache: no such entry")
	ErrExist    = errors.New("cache: entry exists")
	ErrNotEmpty = errors.New("cache: folder not empty")
	ErrNotDir   = errors.New("cache: not a folder")
	ErrIsDir    = errors.New("cache: is a folder")
	ErrInvalid  = errors.New("cache: invalid operation")
)

// Options configures a Store.
type Options struct {
	Dir           string // cache dir; created 0700
	MaxCacheBytes int64  // read-cache bound (clean data); 0 = 10 GiB
	Logger        zerolog.Logger
	// OverlayTTL is how long a local change wins over a listing that does
	// not show it yet (Drime listings are eventually consistent).
	OverlayTTL time.Duration
	// TombstoneTTL is how long an entry deleted locally stays hidden from
	// listings that still show it.
	TombstoneTTL time.Duration
}

// Store is the durable state of one mount. It is safe for concurrent use.
type Store struct {
	db    *badger.DB
	ids   *badger.Sequence
	seqs  *badger.Sequence
	dir   string
	log   zerolog.Logger
	opts  Options
	Files *Files

	mu      sync.Mutex // serialises read-modify-write transactions
	toFire  []Job      // jobs enqueued by the running transaction (under mu)
	touched []uint64   // nodes written by the running transaction (under mu)
	nodes   nodeCache

	wmu     sync.Mutex
	writers map[uint64]int // open write handles per node (in memory only)
	hook    JobHook

	last atomic.Uint64 // newest sequence number handed out
}

// Open opens (or creates) the store in opts.Dir and recovers its queue: every
// dirty file without a job gets one, so content written before a crash is
// uploaded.
func Open(opts Options) (*Store, error) {
	if opts.Dir == "" {
		return nil, fmt.Errorf("cache: open: empty cache dir")
	}
	if opts.MaxCacheBytes <= 0 {
		opts.MaxCacheBytes = 10 << 30
	}
	if opts.OverlayTTL <= 0 {
		opts.OverlayTTL = time.Minute
	}
	if opts.TombstoneTTL <= 0 {
		opts.TombstoneTTL = 10 * time.Minute
	}
	for _, d := range []string{opts.Dir, filepath.Join(opts.Dir, "db"), filepath.Join(opts.Dir, "files")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("cache: create %s: %w", d, err)
		}
		if err := os.Chmod(d, 0o700); err != nil {
			return nil, fmt.Errorf("cache: chmod %s: %w", d, err)
		}
	}
	bopts := badger.DefaultOptions(filepath.Join(opts.Dir, "db")).
		WithLogger(badgerLogger{opts.Logger}).
		WithLoggingLevel(badger.WARNING).
		WithSyncWrites(false).
		WithNumVersionsToKeep(1).
		WithMemTableSize(8 << 20).
		WithNumMemtables(2).
		WithBaseTableSize(2 << 20).
		WithBlockCacheSize(8 << 20).
		WithIndexCacheSize(4 << 20).
		WithValueLogFileSize(64 << 20).
		WithValueThreshold(1 << 10).
		WithNumCompactors(2).
		WithNumLevelZeroTables(4).
		WithNumLevelZeroTablesStall(8).
		WithCompactL0OnClose(true).
		WithDetectConflicts(false)
	db, err := badger.Open(bopts)
	if err != nil {
		return nil, fmt.Errorf("cache: open database in %s: %w", opts.Dir, err)
	}
	s := &Store{db: db, dir: opts.Dir, log: opts.Logger, opts: opts, writers: map[uint64]int{}}
	if s.ids, err = db.GetSequence([]byte("seq/node"), 256); err != nil {
		db.Close()
		return nil, fmt.Errorf("cache: node id sequence: %w", err)
	}
	if s.seqs, err = db.GetSequence([]byte("seq/job"), 256); err != nil {
		s.ids.Release()
		db.Close()
		return nil, fmt.Errorf("cache: job sequence: %w", err)
	}
	if err := s.init(); err != nil {
		s.Close()
		return nil, err
	}
	s.Files, err = openFiles(s, filepath.Join(opts.Dir, "files"), opts.MaxCacheBytes)
	if err != nil {
		s.Close()
		return nil, err
	}
	if err := s.recover(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// init creates the root node on first use.
func (s *Store) init() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.db.Update(func(txn *badger.Txn) error {
		if _, err := txn.Get(nodeKey(RootID)); err == nil {
			return nil
		} else if !errors.Is(err, badger.ErrKeyNotFound) {
			return err
		}
		now := time.Now()
		root := Node{ID: RootID, Dir: true, Mtime: now, Ctime: now}
		return s.putNode(txn, &root)
	})
}

// Dir is the cache directory.
func (s *Store) Dir() string { return s.dir }

// Sync makes everything committed so far survive power loss.
func (s *Store) Sync() error {
	if err := s.db.Sync(); err != nil {
		return fmt.Errorf("cache: sync database: %w", err)
	}
	return nil
}

// Close releases the database. Content files stay.
func (s *Store) Close() error {
	var errs []error
	if s.Files != nil {
		errs = append(errs, s.Files.close())
	}
	if s.ids != nil {
		errs = append(errs, s.ids.Release())
	}
	if s.seqs != nil {
		errs = append(errs, s.seqs.Release())
	}
	errs = append(errs, s.db.Close())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("cache: close: %w", err)
	}
	return nil
}

// nextID allocates a local id; ids start above RootID.
func (s *Store) nextID() (uint64, error) {
	for {
		id, err := s.ids.Next()
		if err != nil {
			return 0, fmt.Errorf("cache: allocate id: %w", err)
		}
		if id > RootID {
			return id, nil
		}
	}
}

// nextSeq allocates a queue sequence number (orders jobs, sync barriers).
func (s *Store) nextSeq() (uint64, error) {
	for {
		n, err := s.seqs.Next()
		if err != nil {
			return 0, fmt.Errorf("cache: allocate sequence: %w", err)
		}
		if n > 0 {
			for {
				cur := s.last.Load()
				if n <= cur || s.last.CompareAndSwap(cur, n) {
					break
				}
			}
			return n, nil
		}
	}
}

// ---- key encoding ----

func u64(b []byte, v uint64) []byte { return binary.BigEndian.AppendUint64(b, v) }

func nodeKey(id uint64) []byte { return u64([]byte("n/"), id) }
func childPrefix(parent uint64) []byte {
	return append(u64([]byte("c/"), parent), '/')
}
func childKey(parent uint64, name string) []byte {
	return append(childPrefix(parent), name...)
}
func remoteKey(rid int64) []byte      { return u64([]byte("r/"), uint64(rid)) }
func jobKey(id uint64) []byte         { return u64([]byte("j/"), id) }
func mpKey(id uint64) []byte          { return u64([]byte("m/"), id) }
func partPrefix(id uint64) []byte     { return append(u64([]byte("p/"), id), '/') }
func delKey(rid int64) []byte         { return u64([]byte("d/"), uint64(rid)) }
func tombKey(rid int64) []byte        { return u64([]byte("t/"), uint64(rid)) }
func abortKey(uploadID string) []byte { return append([]byte("a/"), uploadID...) }
func extKey(id uint64) []byte         { return u64([]byte("x/"), id) }

func partKey(id uint64, n int) []byte {
	return binary.BigEndian.AppendUint32(partPrefix(id), uint32(n))
}

func getJSON(txn *badger.Txn, key []byte, v any) error {
	item, err := txn.Get(key)
	if err != nil {
		return err
	}
	return item.Value(func(b []byte) error { return json.Unmarshal(b, v) })
}

func setJSON(txn *badger.Txn, key []byte, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return txn.Set(key, b)
}

// update runs fn in a read-write transaction under s.mu; jobs it enqueued
// are announced to the hook after the commit, outside the lock.
func (s *Store) update(fn func(txn *badger.Txn) error) error {
	s.mu.Lock()
	s.toFire, s.touched = nil, nil
	err := s.db.Update(fn)
	fire := s.toFire
	s.nodes.invalidate(s.touched)
	s.toFire, s.touched = nil, nil
	s.mu.Unlock()
	if err == nil {
		for _, j := range fire {
			s.fire(j)
		}
	}
	return err
}

// badgerLogger routes badger's messages into zerolog.
type badgerLogger struct{ l zerolog.Logger }

func (b badgerLogger) Errorf(f string, a ...any)   { b.l.Error().Msgf("badger: "+f, a...) }
func (b badgerLogger) Warningf(f string, a ...any) { b.l.Warn().Msgf("badger: "+f, a...) }
func (b badgerLogger) Infof(f string, a ...any)    { b.l.Debug().Msgf("badger: "+f, a...) }
func (b badgerLogger) Debugf(f string, a ...any)   {}
