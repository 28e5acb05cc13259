package cache

import (
	"sync"

	"github.com/dgraph-io/badger/v4"
)

// nodeCache keeps recently read nodes decoded in memory, for lookups and
// listings. It is bounded (nodeCacheMax entries, about a few MB) and
// never stale: every committed write of a node removes it, and a reader
// may add a node only if no write committed since its read transaction
// began (gen did not move).
type nodeCache struct {
	mu  sync.Mutex
	gen uint64
	m   map[uint64]Node
}

const nodeCacheMax = 16384

func (c *nodeCache) snapshot() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

func (c *nodeCache) get(id uint64) (Node, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, ok := c.m[id]
	return n, ok
}

func (c *nodeCache) put(gen uint64, n Node) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if c.m == nil {
		c.m = make(map[uint64]Node)
	}
	if len(c.m) >= nodeCacheMax {
		for k := range c.m { // drop an arbitrary tenth
			delete(c.m, k)
			if len(c.m) < nodeCacheMax*9/10 {
				break
			}
		}
	}
	n.Replaces = append([]int64(nil), n.Replaces...)
	c.m[n.ID] = n
}

func (c *nodeCache) invalidate(ids []uint64) {
	if len(ids) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	for _, id := range ids {
		delete(c.m, id)
	}
}

// view runs fn in a read transaction whose node reads may use the cache.
func (s *Store) view(fn func(txn *badger.Txn, gen uint64) error) error {
	gen := s.nodes.snapshot()
	return s.db.View(func(txn *badger.Txn) error { return fn(txn, gen) })
}

// readNode reads a node through the cache.
func (s *Store) readNode(txn *badger.Txn, gen uint64, id uint64) (Node, error) {
	if n, ok := s.nodes.get(id); ok {
		n.Replaces = append([]int64(nil), n.Replaces...)
		return n, nil
	}
	n, err := getNode(txn, id)
	if err == nil {
		s.nodes.put(gen, n)
	}
	return n, err
}
