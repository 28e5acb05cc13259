package cache

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"

	"github.com/dgraph-io/badger/v4"
)

// recover runs at Open. It brings the queue in line with the content files,
// so that nothing written before a crash is forgotten:
//   - a dirty file gets a job for what its content file holds now (writes
//     after the last close are included; a missing file means empty);
//   - a folder not yet in Drime gets a job;
//   - content files and cache records of removed nodes are deleted.
func (s *Store) recover() error {
	var nodes []Node
	err := s.scan("n/", func(b []byte) error {
		var n Node
		if err := decodeNode(b, &n); err != nil {
			return err
		}
		nodes = append(nodes, n)
		return nil
	})
	if err != nil {
		return fmt.Errorf("cache: recover: scan tree: %w", err)
	}
	live := make(map[uint64]bool, len(nodes))
	for i := range nodes {
		n := &nodes[i]
		live[n.ID] = true
		switch {
		case n.ID == RootID:
		case n.Dir && n.RemoteID == 0:
			if err := s.recoverDir(n); err != nil {
				return err
			}
		case !n.Dir && n.Dirty:
			if err := s.recoverFile(n); err != nil {
				return err
			}
		}
	}
	s.dropOrphans(live)
	return s.loadLastSeq()
}

func (s *Store) recoverDir(n *Node) error {
	if _, ok, err := s.Job(n.ID); err != nil || ok {
		return err
	}
	return s.update(func(txn *badger.Txn) error {
		_, err := s.enqueue(txn, n, 0)
		return err
	})
}

func (s *Store) recoverFile(n *Node) error {
	path := s.Files.Path(n.ID)
	st, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		f, cerr := s.Files.Open(n.ID, os.O_CREATE|os.O_WRONLY)
		if cerr != nil {
			return cerr
		}
		f.Close()
		st, err = os.Stat(path)
	}
	if err != nil {
		return fmt.Errorf("cache: recover %d: %w", n.ID, err)
	}
	s.Files.setDirty(n.ID, st.Size())
	j, ok, err := s.Job(n.ID)
	if err != nil {
		return err
	}
	if ok && j.Gen == n.Gen && j.Size == st.Size() && n.Size == st.Size() {
		return nil
	}
	s.log.Info().Uint64("node", n.ID).Str("name", n.Name).Int64("size", st.Size()).
		Msg("recovered content written before the last stop; queued for upload")
	_, err = s.Commit(n.ID, st.Size(), st.ModTime())
	return err
}

// dropOrphans deletes content files and cache records of nodes that no
// longer exist (a crash between removing a node and its file).
func (s *Store) dropOrphans(live map[uint64]bool) {
	ents, err := os.ReadDir(s.Files.dir)
	if err != nil {
		s.log.Warn().Err(err).Msg("listing content files")
		return
	}
	for _, e := range ents {
		id, err := strconv.ParseUint(e.Name(), 10, 64)
		if err != nil || live[id] {
			continue
		}
		s.Files.forget(id)
	}
	s.Files.mu.Lock()
	var stale []uint64
	for id := range s.Files.ents {
		if !live[id] {
			stale = append(stale, id)
		}
	}
	s.Files.mu.Unlock()
	for _, id := range stale {
		s.Files.forget(id)
	}
}

func (s *Store) loadLastSeq() error {
	var max uint64
	jobs, err := s.Jobs()
	if err != nil {
		return err
	}
	for _, j := range jobs {
		max = maxU(max, j.Seq)
	}
	ds, err := s.Deletions()
	if err != nil {
		return err
	}
	for _, d := range ds {
		max = maxU(max, d.Seq)
	}
	if s.last.Load() < max {
		s.last.Store(max)
	}
	return nil
}

func maxU(a, b uint64) uint64 {
	if a > b {
		return a
	}
	return b
}

// LastSeq is the newest queue sequence number handed out: a sync barrier
// waits for every job and deletion with a FirstSeq (Seq) up to it.
func (s *Store) LastSeq() uint64 { return s.last.Load() }
