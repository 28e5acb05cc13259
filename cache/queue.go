package cache

import (
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// Job says that a node's content (or, for a folder, the folder itself) must
// reach Drime. There is at most one job per node; writing the file again
// replaces it with the newer generation.
type Job struct {
	Node uint64 `json:"node"`
	Dir  bool   `json:"dir,omitempty"`
	// Place: the node's content is in Drime, only its entry must be
	// renamed or moved to where the node is now.
	Place bool   `json:"place,omitempty"`
	Gen   uint64 `json:"gen"`
	Size  int64  `json:"size"`
	// Seq orders jobs; FirstSeq is the Seq of the write that first made the
	// node pending and is kept while it stays pending, so that a sync
	// barrier taken earlier still waits for it.
	Seq      uint64    `json:"seq"`
	FirstSeq uint64    `json:"first"`
	Queued   time.Time `json:"queued"`
	Failed   bool      `json:"failed,omitempty"`
	Reason   string    `json:"reason,omitempty"`
	Attempts int       `json:"attempts,omitempty"`
}

// JobHook is called after a job is committed, outside all locks.
type JobHook func(Job)

// SetJobHook installs the function that wakes the uploader.
func (s *Store) SetJobHook(h JobHook) {
	s.wmu.Lock()
	s.hook = h
	s.wmu.Unlock()
}

func (s *Store) fire(j Job) {
	s.wmu.Lock()
	h := s.hook
	s.wmu.Unlock()
	if h != nil {
		h(j)
	}
}

// enqueue records a job for node n's current generation. Must hold s.mu.
func (s *Store) enqueue(txn *badger.Txn, n *Node, size int64) (Job, error) {
	seq, err := s.nextSeq()
	if err != nil {
		return Job{}, err
	}
	j := Job{Node: n.ID, Dir: n.Dir, Gen: n.Gen, Size: size, Seq: seq, FirstSeq: seq, Queued: time.Now()}
	var old Job
	if err := getJSON(txn, jobKey(n.ID), &old); err == nil {
		j.FirstSeq = old.FirstSeq
	} else if !errors.Is(err, badger.ErrKeyNotFound) {
		return Job{}, err
	}
	if err := setJSON(txn, jobKey(n.ID), &j); err != nil {
		return Job{}, fmt.Errorf("cache: record job for %d: %w", n.ID, err)
	}
	s.toFire = append(s.toFire, j)
	return j, nil
}

// Commit records that a file's content changed: size and mtime as found on
// the content file, a new generation, and a job for it. It is what close and
// fsync call; the job hook fires after the commit.
func (s *Store) Commit(id uint64, size int64, mtime time.Time) (Job, error) {
	var j Job
	err := s.update(func(txn *badger.Txn) error {
		n, err := getNode(txn, id)
		if err != nil {
			return err
		}
		if n.Dir {
			return ErrIsDir
		}
		n.Size, n.Mtime, n.Dirty, n.LocalChange = size, mtime, true, time.Now()
		n.Gen++
		if err := s.putNode(txn, &n); err != nil {
			return err
		}
		if err := txn.Delete(extKey(id)); err != nil {
			return err
		}
		j, err = s.enqueue(txn, &n, size)
		return err
	})
	if err != nil {
		return Job{}, err
	}
	s.Files.setDirty(id, size)
	return j, nil
}

// Job returns the node's job.
func (s *Store) Job(id uint64) (Job, bool, error) {
	var j Job
	err := s.db.View(func(txn *badger.Txn) error { return getJSON(txn, jobKey(id), &j) })
	if errors.Is(err, badger.ErrKeyNotFound) {
		return j, false, nil
	}
	if err != nil {
		return j, false, fmt.Errorf("cache: read job %d: %w", id, err)
	}
	return j, true, nil
}

// Jobs returns every job, oldest first.
func (s *Store) Jobs() ([]Job, error) {
	var out []Job
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte("j/"), PrefetchValues: true})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			var j Job
			if err := it.Item().Value(func(b []byte) error { return jsonUnmarshal(b, &j) }); err != nil {
				return err
			}
			out = append(out, j)
		}
		return nil
	})
	sort.Slice(out, func(a, b int) bool { return out[a].Seq < out[b].Seq })
	return out, err
}

// FinishUpload records that generation gen of file id is now the Drime
// entry remote. If the node changed meanwhile (another generation, or
// removed) the result is stale: the new entry is queued for deletion and
// stale is true. Otherwise the entries it replaced are queued for deletion
// and, unless a writer still has the file open, the node becomes clean and
// its content file read cache. (With a writer open it stays dirty without a
// job: the writer's close commits again if it changed anything.)
func (s *Store) FinishUpload(id, gen uint64, remote RemoteEntry, placedParent uint64, placedName string) (n Node, stale bool, err error) {
	clean := false
	err = s.update(func(txn *badger.Txn) error {
		n, err = getNode(txn, id)
		if errors.Is(err, ErrNotFound) || (err == nil && n.Gen != gen) {
			stale = true
			return s.queueDelete(txn, remote.ID)
		}
		if err != nil {
			return err
		}
		var doomed []int64
		if n.RemoteID != 0 && n.RemoteID != remote.ID {
			doomed = append(doomed, n.RemoteID)
		}
		doomed = append(doomed, n.Replaces...)
		if err := setRemote(txn, &n, remote.ID); err != nil {
			return err
		}
		n.RemoteHash, n.RemoteURL, n.Replaces, n.UploadedGen = remote.Hash, remote.URL, nil, gen
		n.placed(placedParent, placedName)
		clean = s.Writers(id) == 0
		n.Dirty = !clean
		if err := s.putNode(txn, &n); err != nil {
			return err
		}
		if err := txn.Delete(jobKey(id)); err != nil {
			return err
		}
		if n.Misplaced() {
			// Renamed or moved while it was being registered.
			if _, err := s.enqueuePlace(txn, &n); err != nil {
				return err
			}
		}
		for _, rid := range doomed {
			if rid != remote.ID {
				if err := s.queueDelete(txn, rid); err != nil {
					return err
				}
			}
		}
		return s.dropMultipart(txn, id, false)
	})
	if err == nil && clean {
		s.Files.setClean(id, remote.ID, n.Size)
	}
	return n, stale, err
}

// FinishDir records that folder id exists in Drime as entry remote, at
// placedParent/placedName.
func (s *Store) FinishDir(id uint64, remote RemoteEntry, placedParent uint64, placedName string) (Node, error) {
	var n Node
	gone := false
	err := s.update(func(txn *badger.Txn) error {
		var err error
		n, err = getNode(txn, id)
		if errors.Is(err, ErrNotFound) {
			// Removed while it was being created: the new folder goes.
			gone = true
			return s.queueDelete(txn, remote.ID)
		}
		if err != nil {
			return err
		}
		if err := setRemote(txn, &n, remote.ID); err != nil {
			return err
		}
		n.RemoteHash = remote.Hash
		n.placed(placedParent, placedName)
		if err := s.putNode(txn, &n); err != nil {
			return err
		}
		if err := txn.Delete(jobKey(id)); err != nil {
			return err
		}
		if n.Misplaced() {
			_, err = s.enqueuePlace(txn, &n)
		}
		return err
	})
	if err == nil && gone {
		err = fmt.Errorf("node %d: %w", id, ErrNotFound)
	}
	return n, err
}

// enqueuePlace records a place job for a clean node. Must hold s.mu.
func (s *Store) enqueuePlace(txn *badger.Txn, n *Node) (Job, error) {
	j, err := s.enqueue(txn, n, 0)
	if err != nil {
		return j, err
	}
	j.Place = true
	s.toFire[len(s.toFire)-1] = j
	return j, setJSON(txn, jobKey(n.ID), &j)
}

// FinishPlace records that node id's Drime entry is now at parent/name;
// the place job is done if that is where the node still is.
func (s *Store) FinishPlace(id uint64, parent uint64, name string) (Node, error) {
	var n Node
	err := s.update(func(txn *badger.Txn) error {
		var err error
		if n, err = getNode(txn, id); err != nil {
			return err
		}
		n.placed(parent, name)
		if err := s.putNode(txn, &n); err != nil {
			return err
		}
		var j Job
		if err := getJSON(txn, jobKey(id), &j); err == nil && j.Place && !n.Misplaced() {
			return txn.Delete(jobKey(id))
		}
		return nil
	})
	return n, err
}

// FailJob marks generation gen of node id's job failed with a reason. The
// content stays; RetryFailed or the next mount retries it.
func (s *Store) FailJob(id, gen uint64, reason string) error {
	return s.update(func(txn *badger.Txn) error {
		var j Job
		if err := getJSON(txn, jobKey(id), &j); err != nil {
			if errors.Is(err, badger.ErrKeyNotFound) {
				return nil
			}
			return err
		}
		if j.Gen != gen {
			return nil
		}
		j.Failed, j.Reason = true, reason
		j.Attempts++
		return setJSON(txn, jobKey(id), &j)
	})
}

// RetryFailed clears the failed mark of every job and deletion and returns
// the jobs it revived; the hook fires for each.
func (s *Store) RetryFailed() ([]Job, error) {
	var revived []Job
	err := s.update(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte("j/"), PrefetchValues: true})
		var failed []Job
		for it.Rewind(); it.Valid(); it.Next() {
			var j Job
			if err := it.Item().Value(func(b []byte) error { return jsonUnmarshal(b, &j) }); err != nil {
				it.Close()
				return err
			}
			if j.Failed {
				failed = append(failed, j)
			}
		}
		it.Close()
		for _, j := range failed {
			j.Failed, j.Reason = false, ""
			if err := setJSON(txn, jobKey(j.Node), &j); err != nil {
				return err
			}
			revived = append(revived, j)
		}
		return s.retryDeletes(txn)
	})
	if err != nil {
		return nil, fmt.Errorf("cache: retry failed jobs: %w", err)
	}
	for _, j := range revived {
		s.fire(j)
	}
	return revived, nil
}

// Writers returns the number of open write handles of a node.
func (s *Store) Writers(id uint64) int {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	return s.writers[id]
}

// ResetWriters forgets all open write handles (after unmount, when the
// kernel can no longer release them).
func (s *Store) ResetWriters() {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.writers = map[uint64]int{}
}

// AddWriter counts an open write handle (delta +1) or its release (-1).
func (s *Store) AddWriter(id uint64, delta int) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.writers[id] += delta
	if s.writers[id] <= 0 {
		delete(s.writers, id)
	}
}

// MarkDirty turns a clean file's content file into a spool before it is
// opened for writing: from now on the file counts as pending, durably, so a
// crash before close still uploads what was written.
func (s *Store) MarkDirty(id uint64) error {
	var n Node
	err := s.update(func(txn *badger.Txn) error {
		var err error
		if n, err = getNode(txn, id); err != nil {
			return err
		}
		if n.Dirty {
			return nil
		}
		n.Dirty = true
		if err := s.putNode(txn, &n); err != nil {
			return err
		}
		return txn.Delete(extKey(id))
	})
	if err == nil {
		s.Files.setDirty(id, n.Size)
	}
	return err
}

// Unmark is called when the last writer closes without changing anything:
// the file is clean again if its current generation is in Drime and no job
// is queued (a writer that only read, or one open during fsync=remote).
func (s *Store) Unmark(id uint64) error {
	var n Node
	clean := false
	err := s.update(func(txn *badger.Txn) error {
		var err error
		if n, err = getNode(txn, id); err != nil {
			return err
		}
		if _, err := txn.Get(jobKey(id)); err == nil || n.RemoteID == 0 || !n.Dirty || n.UploadedGen != n.Gen {
			return nil
		}
		n.Dirty, clean = false, true
		return s.putNode(txn, &n)
	})
	if err == nil && clean {
		s.Files.setClean(id, n.RemoteID, n.Size)
	}
	return err
}
