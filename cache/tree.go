package cache

import (
	"errors"
	"fmt"
	"path"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// Get returns the node with the given id.
func (s *Store) Get(id uint64) (Node, error) {
	if n, ok := s.nodes.get(id); ok {
		n.Replaces = append([]int64(nil), n.Replaces...)
		return n, nil
	}
	var n Node
	err := s.view(func(txn *badger.Txn, gen uint64) error {
		var err error
		n, err = s.readNode(txn, gen, id)
		return err
	})
	return n, err
}

// Lookup returns the child of parent called name.
func (s *Store) Lookup(parent uint64, name string) (Node, error) {
	var n Node
	err := s.view(func(txn *badger.Txn, gen uint64) error {
		id, err := lookupID(txn, parent, name)
		if err != nil {
			return err
		}
		n, err = s.readNode(txn, gen, id)
		return err
	})
	return n, err
}

// ByRemote returns the node mirroring a Drime entry.
func (s *Store) ByRemote(rid int64) (Node, error) {
	var n Node
	err := s.db.View(func(txn *badger.Txn) error {
		id, err := remoteOwner(txn, rid)
		if err != nil {
			return err
		}
		n, err = getNode(txn, id)
		return err
	})
	return n, err
}

func remoteOwner(txn *badger.Txn, rid int64) (uint64, error) {
	item, err := txn.Get(remoteKey(rid))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return 0, ErrNotFound
	}
	if err != nil {
		return 0, err
	}
	var id uint64
	err = item.Value(func(b []byte) error {
		if len(b) == 8 {
			id = be64(b)
		}
		return nil
	})
	return id, err
}

// Children returns the children of a folder, sorted by name.
func (s *Store) Children(parent uint64) ([]Node, error) {
	var out []Node
	err := s.view(func(txn *badger.Txn, gen uint64) error {
		var err error
		out, err = s.children(txn, parent, gen)
		return err
	})
	return out, err
}

func children(txn *badger.Txn, parent uint64) ([]Node, error) {
	return (*Store)(nil).children(txn, parent, 0)
}

// children lists a folder's nodes; with a store, through the node cache.
func (s *Store) children(txn *badger.Txn, parent uint64, gen uint64) ([]Node, error) {
	it := txn.NewIterator(badger.IteratorOptions{Prefix: childPrefix(parent), PrefetchValues: true, PrefetchSize: 64})
	defer it.Close()
	var ids []uint64
	for it.Rewind(); it.Valid(); it.Next() {
		if err := it.Item().Value(func(b []byte) error {
			if len(b) == 8 {
				ids = append(ids, be64(b))
			}
			return nil
		}); err != nil {
			return nil, err
		}
	}
	out := make([]Node, 0, len(ids))
	for _, id := range ids {
		var n Node
		var err error
		if s != nil {
			n, err = s.readNode(txn, gen, id)
		} else {
			n, err = getNode(txn, id)
		}
		if errors.Is(err, ErrNotFound) {
			continue // index without node: ignore, repaired on next write
		}
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, nil
}

func hasChildren(txn *badger.Txn, parent uint64) bool {
	it := txn.NewIterator(badger.IteratorOptions{Prefix: childPrefix(parent)})
	defer it.Close()
	it.Rewind()
	return it.Valid()
}

// Path returns the node's path from the mount root ("/" for the root).
func (s *Store) Path(id uint64) (string, error) {
	var parts []string
	err := s.db.View(func(txn *badger.Txn) error {
		for id != RootID {
			n, err := getNode(txn, id)
			if err != nil {
				return err
			}
			parts = append(parts, n.Name)
			id = n.Parent
			if len(parts) > 4096 {
				return fmt.Errorf("cache: path of %d: cycle", id)
			}
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	p := "/"
	for i := len(parts) - 1; i >= 0; i-- {
		p = path.Join(p, parts[i])
	}
	return p, nil
}

// Create adds a new local file or folder under parent. A file starts dirty
// and empty (its job is recorded on close); a folder gets a job at once so
// that it is created in Drime.
func (s *Store) Create(parent uint64, name string, dir bool, mode uint32, now time.Time) (Node, error) {
	var n Node
	err := s.update(func(txn *badger.Txn) error {
		p, err := getNode(txn, parent)
		if err != nil {
			return err
		}
		if !p.Dir {
			return ErrNotDir
		}
		if _, err := lookupID(txn, parent, name); err == nil {
			return ErrExist
		} else if !errors.Is(err, ErrNotFound) {
			return err
		}
		id, err := s.nextID()
		if err != nil {
			return err
		}
		n = Node{ID: id, Parent: parent, Name: name, Dir: dir, Mode: mode & 0o7777, Mtime: now, Ctime: now, LocalChange: now}
		if dir {
			n.Listed = now // a new folder has no remote children to fetch
		} else {
			n.Dirty, n.Gen = true, 1
		}
		if err := s.link(txn, &n); err != nil {
			return err
		}
		if dir {
			_, err = s.enqueue(txn, &n, 0)
		}
		return err
	})
	return n, err
}

// Update applies fn to the node in one transaction. fn may change sizes,
// times, flags and the remote id, not the name or parent (see Rename).
func (s *Store) Update(id uint64, fn func(n *Node) error) (Node, error) {
	var n Node
	err := s.update(func(txn *badger.Txn) error {
		var err error
		if n, err = getNode(txn, id); err != nil {
			return err
		}
		before := n
		if err := fn(&n); err != nil {
			return err
		}
		if n.Name != before.Name || n.Parent != before.Parent || n.ID != before.ID {
			return fmt.Errorf("cache: update of node %d changed its place: %w", id, ErrInvalid)
		}
		if n.RemoteID != before.RemoteID {
			rid := n.RemoteID
			n.RemoteID = before.RemoteID
			if err := setRemote(txn, &n, rid); err != nil {
				return err
			}
		}
		return s.putNode(txn, &n)
	})
	return n, err
}

// Rename moves node id to newParent/newName. An existing target is replaced
// (unless noReplace) and returned; its Drime entries are deleted after the
// source's pending upload (if the source is pending) or queued for deletion
// now. Moving a folder below itself is ErrInvalid. remoteDone says the
// caller already renamed the Drime entry; otherwise a clean entry gets a
// place job (a pending one lands in the new place when uploaded).
func (s *Store) Rename(id, newParent uint64, newName string, noReplace, remoteDone bool, now time.Time) (*Node, error) {
	var replaced *Node
	var gone uint64
	err := s.update(func(txn *badger.Txn) error {
		n, err := getNode(txn, id)
		if err != nil {
			return err
		}
		if n.Parent == newParent && n.Name == newName {
			return nil
		}
		p, err := getNode(txn, newParent)
		if err != nil {
			return err
		}
		if !p.Dir {
			return ErrNotDir
		}
		for up := newParent; n.Dir && up != RootID; {
			if up == id {
				return ErrInvalid
			}
			a, err := getNode(txn, up)
			if err != nil {
				return err
			}
			up = a.Parent
		}
		if tid, err := lookupID(txn, newParent, newName); err == nil {
			t, err := getNode(txn, tid)
			if err != nil {
				return err
			}
			if err := checkReplace(txn, &n, &t, noReplace); err != nil {
				return err
			}
			var doomed []int64
			if t.RemoteID != 0 {
				doomed = append(doomed, t.RemoteID)
			}
			doomed = append(doomed, t.Replaces...)
			if !n.Dir && n.Pending() {
				n.Replaces = append(n.Replaces, doomed...)
				doomed = nil
			}
			if err := s.drop(txn, &t, doomed); err != nil {
				return err
			}
			replaced = &t
			gone = t.ID
		} else if !errors.Is(err, ErrNotFound) {
			return err
		}
		if err := unlinkIndexes(txn, &n); err != nil {
			return err
		}
		n.Parent, n.Name, n.LocalChange, n.Ctime = newParent, newName, now, now
		if remoteDone {
			n.placed(newParent, newName)
		}
		if err := s.link(txn, &n); err != nil {
			return err
		}
		if n.Misplaced() && !(n.Dirty && !n.Dir) {
			_, err = s.enqueuePlace(txn, &n)
		}
		return err
	})
	if err == nil && gone != 0 {
		s.Files.forget(gone)
	}
	return replaced, err
}

func checkReplace(txn *badger.Txn, n, t *Node, noReplace bool) error {
	switch {
	case noReplace:
		return ErrExist
	case t.Dir && !n.Dir:
		return ErrIsDir
	case !t.Dir && n.Dir:
		return ErrNotDir
	case t.Dir && hasChildren(txn, t.ID):
		return ErrNotEmpty
	}
	return nil
}

// Remove deletes a file or an empty folder from the tree; its Drime entries
// are queued for deletion, its job cancelled and its multipart upload queued
// for abort. The content file is removed.
func (s *Store) Remove(id uint64) (Node, error) {
	var n Node
	err := s.update(func(txn *badger.Txn) error {
		var err error
		if n, err = getNode(txn, id); err != nil {
			return err
		}
		if id == RootID {
			return ErrInvalid
		}
		if n.Dir && hasChildren(txn, id) {
			return ErrNotEmpty
		}
		doomed := append([]int64(nil), n.Replaces...)
		if n.RemoteID != 0 {
			doomed = append(doomed, n.RemoteID)
		}
		return s.drop(txn, &n, doomed)
	})
	if err == nil {
		s.Files.forget(id)
	}
	return n, err
}

// drop removes node n (no children) and everything queued for it, and
// queues the given Drime entries for deletion. Must hold s.mu. The caller
// forgets the content file after the transaction commits.
func (s *Store) drop(txn *badger.Txn, n *Node, doomed []int64) error {
	if err := unlinkIndexes(txn, n); err != nil {
		return err
	}
	if err := txn.Delete(nodeKey(n.ID)); err != nil {
		return err
	}
	s.touched = append(s.touched, n.ID)
	if err := txn.Delete(jobKey(n.ID)); err != nil {
		return err
	}
	if err := s.dropMultipart(txn, n.ID, true); err != nil {
		return err
	}
	if err := txn.Delete(extKey(n.ID)); err != nil {
		return err
	}
	for _, rid := range doomed {
		if err := s.queueDelete(txn, rid); err != nil {
			return err
		}
	}
	return nil
}
