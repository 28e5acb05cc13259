package cache

import (
	"errors"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// Node is one folder or file of the mirrored tree. Its ID is stable across
// rename and remount and serves as the inode number.
type Node struct {
	ID     uint64 `json:"id"`
	Parent uint64 `json:"p"`
	Name   string `json:"n"`
	Dir    bool   `json:"d,omitempty"`
	Size   int64  `json:"s,omitempty"`
	// Mtime is the content time shown to users: Drime's updated_at for
	// entries that came from Drime, the local time for content written or
	// touched here (kept while the remote entry stays the same).
	Mtime time.Time `json:"mt"`
	Ctime time.Time `json:"ct"`
	// Mode holds permission bits set here (create mode, chmod). Drime
	// stores none, so they live only in this cache; 0 means the mount's
	// default (from --umask).
	Mode uint32 `json:"m,omitempty"`

	RemoteID   int64  `json:"rid,omitempty"` // 0: not (yet) in Drime
	RemoteHash string `json:"rh,omitempty"`
	RemoteURL  string `json:"ru,omitempty"`
	// RemoteParent and RemoteName are where the Drime entry is: the local
	// folder id and the name it has in Drime. They differ from Parent and
	// Name while a rename or move of a clean entry waits to be applied
	// (a place job).
	RemoteParent uint64 `json:"rp2,omitempty"`
	RemoteName   string `json:"rn,omitempty"`

	// Listed is when a folder's children were last merged from a Drime
	// listing; zero means never.
	Listed time.Time `json:"l,omitempty"`

	// Dirty: the local content file holds content Drime does not have yet.
	Dirty bool `json:"dy,omitempty"`
	// Gen counts content changes; an upload of an older generation is
	// stale. UploadedGen is the newest generation known to be in Drime.
	Gen         uint64 `json:"g,omitempty"`
	UploadedGen uint64 `json:"ug,omitempty"`
	// Replaces lists Drime entries to delete once this node's content is
	// in Drime (a target it was renamed over).
	Replaces []int64 `json:"rp,omitempty"`
	// LocalChange is when the node was last created, renamed or written
	// here; listings older than the overlay TTL do not undo it.
	LocalChange time.Time `json:"lc,omitempty"`
}

// Pending reports whether the node still has to reach Drime.
func (n *Node) Pending() bool { return n.Dirty || n.RemoteID == 0 }

// Misplaced reports whether the node's Drime entry is not (yet) where the
// node is.
func (n *Node) Misplaced() bool {
	return n.RemoteID != 0 && (n.RemoteParent != n.Parent || n.RemoteName != n.Name)
}

// placed records that the Drime entry is at parent/name.
func (n *Node) placed(parent uint64, name string) { n.RemoteParent, n.RemoteName = parent, name }

func getNode(txn *badger.Txn, id uint64) (Node, error) {
	var n Node
	item, err := txn.Get(nodeKey(id))
	if err == nil {
		err = item.Value(func(b []byte) error { return decodeNode(b, &n) })
	}
	if errors.Is(err, badger.ErrKeyNotFound) {
		return n, fmt.Errorf("node %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return n, fmt.Errorf("cache: read node %d: %w", id, err)
	}
	return n, nil
}

// putNode writes a node. Must hold s.mu (inside update or Merge): the
// node cache forgets it once the transaction commits.
func (s *Store) putNode(txn *badger.Txn, n *Node) error {
	if err := txn.Set(nodeKey(n.ID), encodeNode(n)); err != nil {
		return fmt.Errorf("cache: write node %d: %w", n.ID, err)
	}
	s.touched = append(s.touched, n.ID)
	return nil
}

func lookupID(txn *badger.Txn, parent uint64, name string) (uint64, error) {
	item, err := txn.Get(childKey(parent, name))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return 0, ErrNotFound
	}
	if err != nil {
		return 0, fmt.Errorf("cache: lookup %q in %d: %w", name, parent, err)
	}
	var id uint64
	err = item.Value(func(b []byte) error {
		if len(b) != 8 {
			return fmt.Errorf("corrupt child index")
		}
		id = be64(b)
		return nil
	})
	return id, err
}

func be64(b []byte) uint64 {
	return uint64(b[0])<<56 | uint64(b[1])<<48 | uint64(b[2])<<40 | uint64(b[3])<<32 |
		uint64(b[4])<<24 | uint64(b[5])<<16 | uint64(b[6])<<8 | uint64(b[7])
}

// link writes the node and its child index (and remote index).
func (s *Store) link(txn *badger.Txn, n *Node) error {
	if err := s.putNode(txn, n); err != nil {
		return err
	}
	if n.ID != RootID {
		if err := txn.Set(childKey(n.Parent, n.Name), u64(nil, n.ID)); err != nil {
			return err
		}
	}
	if n.RemoteID != 0 {
		return txn.Set(remoteKey(n.RemoteID), u64(nil, n.ID))
	}
	return nil
}

// unlinkIndexes removes the node's child and remote index entries.
func unlinkIndexes(txn *badger.Txn, n *Node) error {
	if err := txn.Delete(childKey(n.Parent, n.Name)); err != nil {
		return err
	}
	if n.RemoteID != 0 {
		if err := delIfOwner(txn, remoteKey(n.RemoteID), n.ID); err != nil {
			return err
		}
	}
	return nil
}

// setRemote changes the node's remote id, keeping the index in step.
func setRemote(txn *badger.Txn, n *Node, rid int64) error {
	if n.RemoteID == rid {
		return nil
	}
	if n.RemoteID != 0 {
		if err := delIfOwner(txn, remoteKey(n.RemoteID), n.ID); err != nil {
			return err
		}
	}
	n.RemoteID = rid
	if rid != 0 {
		return txn.Set(remoteKey(rid), u64(nil, n.ID))
	}
	return nil
}

// delIfOwner deletes an index key only if it still points at id.
func delIfOwner(txn *badger.Txn, key []byte, id uint64) error {
	item, err := txn.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	var owner uint64
	if err := item.Value(func(b []byte) error {
		if len(b) == 8 {
			owner = be64(b)
		}
		return nil
	}); err != nil {
		return err
	}
	if owner != id {
		return nil
	}
	return txn.Delete(key)
}
