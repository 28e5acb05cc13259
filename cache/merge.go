package cache

import (
	"errors"
	"sort"
	"strings"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// RemoteEntry is what a Drime listing says about one child of a folder.
type RemoteEntry struct {
	ID      int64
	Name    string
	Dir     bool
	Size    int64
	Hash    string
	URL     string
	Created time.Time
	Updated time.Time
}

// MergeResult says what a merge changed, for kernel notifications.
type MergeResult struct {
	Names   []string // names in the folder whose lookup result changed
	Content []uint64 // files whose content changed (remapped to a new entry)
	Removed []uint64 // nodes removed from the tree
}

// Empty reports whether the merge changed nothing visible.
func (r *MergeResult) Empty() bool {
	return len(r.Names) == 0 && len(r.Content) == 0 && len(r.Removed) == 0
}

// ValidRemoteName reports whether a name from Drime can be a path component.
func ValidRemoteName(name string) bool {
	return name != "" && name != "." && name != ".." && !strings.ContainsAny(name, "/\x00")
}

// Merge folds a fresh listing of folder parent into the tree. Local changes
// win: a pending file is never hidden, an entry deleted here is never
// brought back, and a recent local rename or upload is not undone by a
// listing that does not show it yet. Among same-name entries the newest
// (highest id) wins.
func (s *Store) Merge(parent uint64, listing []RemoteEntry, now time.Time) (MergeResult, error) {
	s.mu.Lock()
	var res MergeResult
	ct := &chunkTxn{db: s.db}
	s.toFire, s.touched = nil, nil
	err := s.merge(ct, parent, listing, now, &res)
	if err == nil {
		err = ct.commit()
	}
	ct.discard()
	fire := s.toFire
	s.nodes.invalidate(s.touched)
	s.toFire, s.touched = nil, nil
	s.mu.Unlock()
	if err != nil {
		return res, err
	}
	for _, j := range fire {
		s.fire(j)
	}
	for _, id := range res.Removed {
		s.Files.forget(id)
	}
	for _, id := range res.Content {
		s.Files.forget(id)
	}
	return res, nil
}

func (s *Store) merge(ct *chunkTxn, parent uint64, listing []RemoteEntry, now time.Time, res *MergeResult) error {
	txn, err := ct.txn()
	if err != nil {
		return err
	}
	p, err := getNode(txn, parent)
	if err != nil {
		return err
	}
	if !p.Dir {
		return ErrNotDir
	}
	// The kernel cannot hold anything about the names of a folder listed
	// for the first time (lookups wait for the listing): telling it about
	// them would only throw away what it is caching right now.
	defer func(first bool) {
		if first {
			res.Names = nil
		}
	}(p.Listed.IsZero())
	local, err := children(txn, parent)
	if err != nil {
		return err
	}
	byID := make(map[int64]*RemoteEntry, len(listing))
	byName := make(map[string][]*RemoteEntry, len(listing))
	for i := range listing {
		e := &listing[i]
		if !ValidRemoteName(e.Name) || s.tombstoned(txn, e.ID, now) {
			continue
		}
		byID[e.ID] = e
		byName[e.Name] = append(byName[e.Name], e)
	}
	for _, es := range byName {
		sort.Slice(es, func(a, b int) bool { return es[a].ID > es[b].ID })
	}
	used := map[int64]bool{}
	taken := map[string]bool{}
	recent := func(n *Node) bool { return now.Sub(n.LocalChange) < s.opts.OverlayTTL }

	for i := range local {
		n := &local[i]
		taken[n.Name] = true
		if n.RemoteID != 0 {
			if e, ok := byID[n.RemoteID]; ok && e.Dir == n.Dir {
				used[e.ID] = true
				if err := s.refresh(ct, n, e, recent(n), res); err != nil {
					return err
				}
				continue
			}
		}
		if n.Pending() || recent(n) {
			continue // ours and not in Drime yet, or the listing lags
		}
		// The entry we knew is gone: replaced by a newer one of the same
		// name, or deleted in Drime.
		if e := newest(byName[n.Name], used, n.Dir); e != nil {
			used[e.ID] = true
			if err := s.remap(ct, n, e, res); err != nil {
				return err
			}
			continue
		}
		if err := s.vanish(ct, n, now, res); err != nil {
			return err
		}
	}
	for name, es := range byName {
		if taken[name] {
			continue
		}
		e := newest(es, used, false)
		if e == nil {
			e = newest(es, used, true)
		}
		if e == nil {
			continue
		}
		used[e.ID] = true
		if err := s.adopt(ct, parent, e, now, res); err != nil {
			return err
		}
	}
	txn, err = ct.txn()
	if err != nil {
		return err
	}
	if p, err = getNode(txn, parent); err != nil {
		return err
	}
	p.Listed = now
	return s.putNode(txn, &p)
}

// newest returns the highest-id unused entry of the wanted kind.
func newest(es []*RemoteEntry, used map[int64]bool, dir bool) *RemoteEntry {
	for _, e := range es {
		if !used[e.ID] && e.Dir == dir {
			return e
		}
	}
	return nil
}

// refresh updates a node from its own entry in the listing.
func (s *Store) refresh(ct *chunkTxn, n *Node, e *RemoteEntry, recent bool, res *MergeResult) error {
	changed := false
	if !n.Dirty && !n.Dir && e.Size != n.Size {
		n.Size = e.Size
		changed = true
		res.Content = append(res.Content, n.ID)
	}
	if e.Hash != n.RemoteHash || e.URL != n.RemoteURL {
		n.RemoteHash, n.RemoteURL = e.Hash, e.URL
		changed = true
	}
	if n.RemoteParent != n.Parent {
		n.RemoteParent = n.Parent // listed here: that is where the entry is
		changed = true
	}
	if e.Name != n.RemoteName && !recent && !n.Misplaced() {
		// Renamed in Drime. Follow unless the new name is taken here.
		txn, err := ct.txn()
		if err != nil {
			return err
		}
		if _, err := lookupID(txn, n.Parent, e.Name); errors.Is(err, ErrNotFound) {
			res.Names = append(res.Names, n.Name, e.Name)
			if err := txn.Delete(childKey(n.Parent, n.Name)); err != nil {
				return err
			}
			n.Name = e.Name
			n.placed(n.Parent, e.Name)
			return s.link(txn, n)
		}
	}
	if !changed {
		return nil
	}
	txn, err := ct.txn()
	if err != nil {
		return err
	}
	return s.putNode(txn, n)
}

// remap points a clean node at a newer entry of the same name: its content
// changed in Drime, so the cached copy is dropped.
func (s *Store) remap(ct *chunkTxn, n *Node, e *RemoteEntry, res *MergeResult) error {
	txn, err := ct.txn()
	if err != nil {
		return err
	}
	if err := setRemote(txn, n, e.ID); err != nil {
		return err
	}
	n.RemoteHash, n.RemoteURL = e.Hash, e.URL
	n.placed(n.Parent, n.Name)
	if !n.Dir {
		n.Size, n.Mtime = e.Size, e.Updated
		res.Content = append(res.Content, n.ID)
		if err := txn.Delete(extKey(n.ID)); err != nil {
			return err
		}
	}
	res.Names = append(res.Names, n.Name)
	return s.putNode(txn, n)
}

// adopt adds a node for an entry seen for the first time in this folder, or
// moves here a clean node that Drime says was moved.
func (s *Store) adopt(ct *chunkTxn, parent uint64, e *RemoteEntry, now time.Time, res *MergeResult) error {
	txn, err := ct.txn()
	if err != nil {
		return err
	}
	if owner, err := remoteOwner(txn, e.ID); err == nil {
		n, err := getNode(txn, owner)
		if err != nil {
			return err
		}
		if n.Pending() || n.Misplaced() || now.Sub(n.LocalChange) < s.opts.OverlayTTL || n.Dir != e.Dir {
			return nil
		}
		if _, err := lookupID(txn, parent, e.Name); err == nil {
			return nil // the name is taken here
		}
		if err := txn.Delete(childKey(n.Parent, n.Name)); err != nil {
			return err
		}
		n.Parent, n.Name = parent, e.Name
		n.placed(parent, e.Name)
		res.Names = append(res.Names, e.Name)
		return s.link(txn, &n)
	}
	id, err := s.nextID()
	if err != nil {
		return err
	}
	n := Node{ID: id, Parent: parent, Name: e.Name, Dir: e.Dir, Size: e.Size,
		Mtime: e.Updated, Ctime: e.Updated, RemoteID: e.ID, RemoteHash: e.Hash, RemoteURL: e.URL,
		RemoteParent: parent, RemoteName: e.Name}
	if e.Dir {
		n.Size = 0
	}
	if n.Mtime.IsZero() {
		n.Mtime, n.Ctime = now, now
	}
	res.Names = append(res.Names, e.Name)
	return s.link(txn, &n)
}

// vanish handles a clean node whose entry is gone from Drime: it is removed,
// except for pending content inside a folder, which is kept (and its folders
// are created again on upload).
func (s *Store) vanish(ct *chunkTxn, n *Node, now time.Time, res *MergeResult) error {
	keep, err := s.vanishTree(ct, n, now, res)
	if err != nil {
		return err
	}
	if !keep {
		res.Names = append(res.Names, n.Name)
	}
	return nil
}

func (s *Store) vanishTree(ct *chunkTxn, n *Node, now time.Time, res *MergeResult) (bool, error) {
	keep := n.Dirty || (n.Dir && n.RemoteID == 0) || s.Writers(n.ID) > 0
	if n.Dir {
		txn, err := ct.txn()
		if err != nil {
			return false, err
		}
		kids, err := children(txn, n.ID)
		if err != nil {
			return false, err
		}
		for i := range kids {
			k, err := s.vanishTree(ct, &kids[i], now, res)
			if err != nil {
				return false, err
			}
			keep = keep || k
		}
	}
	txn, err := ct.txn()
	if err != nil {
		return false, err
	}
	if !keep {
		res.Removed = append(res.Removed, n.ID)
		return false, s.drop(txn, n, nil)
	}
	// Pending content below a folder deleted in Drime: keep it and let the
	// uploader create the folders again.
	if err := setRemote(txn, n, 0); err != nil {
		return false, err
	}
	if n.Dir {
		if _, err := s.enqueue(txn, n, 0); err != nil {
			return false, err
		}
	}
	return true, s.putNode(txn, n)
}

// chunkTxn spreads a large change over several badger transactions (one
// transaction has a size limit). The caller holds Store.mu throughout.
type chunkTxn struct {
	db  *badger.DB
	cur *badger.Txn
	ops int
}

const chunkOps = 200

func (c *chunkTxn) txn() (*badger.Txn, error) {
	if c.cur != nil && c.ops >= chunkOps {
		if err := c.commit(); err != nil {
			return nil, err
		}
	}
	if c.cur == nil {
		c.cur = c.db.NewTransaction(true)
		c.ops = 0
	}
	c.ops++
	return c.cur, nil
}

func (c *chunkTxn) commit() error {
	if c.cur == nil {
		return nil
	}
	err := c.cur.Commit()
	c.cur = nil
	return err
}

func (c *chunkTxn) discard() {
	if c.cur != nil {
		c.cur.Discard()
		c.cur = nil
	}
}
