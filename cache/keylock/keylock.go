// Package keylock provides mutexes by key, created on demand and dropped
// when unused: one lock per node id without a lock per node in memory.
// Nothing is durable; each Set has one internal mutex that is held only
// while the map of keys changes, never while a key's lock is held.
package keylock

import "sync"

// Set is a set of mutexes by key. The zero value is ready to use.
type Set struct {
	mu sync.Mutex
	m  map[uint64]*entry
}

type entry struct {
	mu   sync.Mutex
	refs int
}

// Lock locks key and returns the function that unlocks it.
func (s *Set) Lock(key uint64) (unlock func()) {
	s.mu.Lock()
	if s.m == nil {
		s.m = map[uint64]*entry{}
	}
	e := s.m[key]
	if e == nil {
		e = &entry{}
		s.m[key] = e
	}
	e.refs++
	s.mu.Unlock()
	e.mu.Lock()
	return func() {
		e.mu.Unlock()
		s.mu.Lock()
		e.refs--
		if e.refs == 0 {
			delete(s.m, key)
		}
		s.mu.Unlock()
	}
}
