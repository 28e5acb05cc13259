package cache

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// Deletion is a Drime entry that must be deleted (a file removed here, or an
// older version replaced by an upload).
type Deletion struct {
	RemoteID int64     `json:"rid"`
	Seq      uint64    `json:"seq"`
	Queued   time.Time `json:"queued"`
	Failed   bool      `json:"failed,omitempty"`
	Reason   string    `json:"reason,omitempty"`
}

// Abort is a multipart upload that must be aborted.
type Abort struct {
	Key      string `json:"key"`
	UploadID string `json:"upload_id"`
}

// Multipart is the durable progress of a file's multipart upload.
type Multipart struct {
	Gen       uint64         `json:"gen"`
	Key       string         `json:"key"`
	UploadID  string         `json:"upload_id"`
	PartSize  int64          `json:"part_size"`
	Size      int64          `json:"size"`
	Completed bool           `json:"completed,omitempty"`
	Parts     map[int]string `json:"-"` // part number → ETag, from p/ keys
}

// Attempt records that a request creating an entry (POST /uploads, or the
// registration of a multipart upload) was sent. A request sent just before
// a crash may create an entry nobody recorded; attempts stay in the store
// (even after their node is removed) until the uploader has either
// recorded their result or swept away what they left.
type Attempt struct {
	Node   uint64    `json:"node"`
	Seq    uint64    `json:"seq"`
	Gen    uint64    `json:"gen"`
	Name   string    `json:"name"`
	Size   int64     `json:"size"`
	Parent int64     `json:"parent"` // Drime folder id
	At     time.Time `json:"at"`
	// FileName is the storage name (the multipart key's UUID) of a
	// registration attempt; empty for POST /uploads.
	FileName string `json:"file_name,omitempty"`
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

func attemptPrefix(id uint64) []byte   { return append(u64([]byte("u/"), id), '/') }
func attemptKey(id, seq uint64) []byte { return u64(attemptPrefix(id), seq) }

// queueDelete records that Drime entry rid must be deleted and hides it from
// listings. Must hold s.mu.
func (s *Store) queueDelete(txn *badger.Txn, rid int64) error {
	if rid == 0 {
		return nil
	}
	seq, err := s.nextSeq()
	if err != nil {
		return err
	}
	if err := setJSON(txn, delKey(rid), &Deletion{RemoteID: rid, Seq: seq, Queued: time.Now()}); err != nil {
		return fmt.Errorf("cache: queue deletion of %d: %w", rid, err)
	}
	return setJSON(txn, tombKey(rid), time.Now())
}

// QueueDelete records that Drime entries must be deleted.
func (s *Store) QueueDelete(rids ...int64) error {
	return s.update(func(txn *badger.Txn) error {
		for _, rid := range rids {
			if err := s.queueDelete(txn, rid); err != nil {
				return err
			}
		}
		return nil
	})
}

// Deletions returns the pending deletions.
func (s *Store) Deletions() ([]Deletion, error) {
	var out []Deletion
	err := s.scan("d/", func(b []byte) error {
		var d Deletion
		if err := json.Unmarshal(b, &d); err != nil {
			return err
		}
		out = append(out, d)
		return nil
	})
	return out, err
}

// DeleteDone records that a Drime entry is gone. Its tombstone stays for the
// tombstone TTL so that lagging listings do not bring it back.
func (s *Store) DeleteDone(rid int64) error {
	return s.update(func(txn *badger.Txn) error {
		if err := txn.Delete(delKey(rid)); err != nil {
			return err
		}
		return setJSON(txn, tombKey(rid), time.Now())
	})
}

// DeleteFailed marks a deletion failed with a reason.
func (s *Store) DeleteFailed(rid int64, reason string) error {
	return s.update(func(txn *badger.Txn) error {
		var d Deletion
		if err := getJSON(txn, delKey(rid), &d); err != nil {
			if errors.Is(err, badger.ErrKeyNotFound) {
				return nil
			}
			return err
		}
		d.Failed, d.Reason = true, reason
		return setJSON(txn, delKey(rid), &d)
	})
}

func (s *Store) retryDeletes(txn *badger.Txn) error {
	var ds []Deletion
	it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte("d/"), PrefetchValues: true})
	for it.Rewind(); it.Valid(); it.Next() {
		var d Deletion
		if err := it.Item().Value(func(b []byte) error { return json.Unmarshal(b, &d) }); err != nil {
			it.Close()
			return err
		}
		if d.Failed {
			ds = append(ds, d)
		}
	}
	it.Close()
	for _, d := range ds {
		d.Failed, d.Reason = false, ""
		if err := setJSON(txn, delKey(d.RemoteID), &d); err != nil {
			return err
		}
	}
	return nil
}

// tombstoned reports whether a Drime entry was deleted here recently (or
// its deletion is pending).
func (s *Store) tombstoned(txn *badger.Txn, rid int64, now time.Time) bool {
	if _, err := txn.Get(delKey(rid)); err == nil {
		return true
	}
	var at time.Time
	if err := getJSON(txn, tombKey(rid), &at); err != nil {
		return false
	}
	return now.Sub(at) < s.opts.TombstoneTTL
}

// IsDeleted reports whether Drime entry rid was deleted (or is being
// deleted) through this mount.
func (s *Store) IsDeleted(rid int64) bool {
	var dead bool
	_ = s.db.View(func(txn *badger.Txn) error {
		dead = s.tombstoned(txn, rid, time.Now())
		return nil
	})
	return dead
}

// Aborts returns the multipart uploads waiting to be aborted.
func (s *Store) Aborts() ([]Abort, error) {
	var out []Abort
	err := s.scan("a/", func(b []byte) error {
		var a Abort
		if err := json.Unmarshal(b, &a); err != nil {
			return err
		}
		out = append(out, a)
		return nil
	})
	return out, err
}

// AbortDone forgets an abort once Drime confirmed it (or no longer knows the
// upload).
func (s *Store) AbortDone(uploadID string) error {
	return s.update(func(txn *badger.Txn) error { return txn.Delete(abortKey(uploadID)) })
}

// Multipart returns a file's multipart progress with its committed parts.
func (s *Store) Multipart(id uint64) (Multipart, bool, error) {
	var mp Multipart
	found := false
	err := s.db.View(func(txn *badger.Txn) error {
		if err := getJSON(txn, mpKey(id), &mp); err != nil {
			if errors.Is(err, badger.ErrKeyNotFound) {
				return nil
			}
			return err
		}
		found = true
		mp.Parts = map[int]string{}
		it := txn.NewIterator(badger.IteratorOptions{Prefix: partPrefix(id), PrefetchValues: true})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			k := it.Item().Key()
			n := int(be32(k[len(k)-4:]))
			if err := it.Item().Value(func(b []byte) error {
				mp.Parts[n] = string(b)
				return nil
			}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return mp, false, fmt.Errorf("cache: read multipart state of %d: %w", id, err)
	}
	return mp, found, nil
}

func be32(b []byte) uint32 {
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

// StartMultipart records a new multipart upload for a file; a previous one
// is queued for abort.
func (s *Store) StartMultipart(id uint64, mp Multipart) error {
	return s.update(func(txn *badger.Txn) error {
		if err := s.dropMultipart(txn, id, true); err != nil {
			return err
		}
		return setJSON(txn, mpKey(id), &mp)
	})
}

// SavePart commits one finished part's ETag, if uploadID is still the
// file's current multipart upload.
func (s *Store) SavePart(id uint64, uploadID string, part int, etag string) error {
	return s.update(func(txn *badger.Txn) error {
		var mp Multipart
		if err := getJSON(txn, mpKey(id), &mp); err != nil {
			if errors.Is(err, badger.ErrKeyNotFound) {
				return ErrNotFound
			}
			return err
		}
		if mp.UploadID != uploadID {
			return ErrNotFound
		}
		return txn.Set(partKey(id, part), []byte(etag))
	})
}

// MarkCompleted records that Drime completed the file's multipart upload
// (the object exists; it still has to be registered).
func (s *Store) MarkCompleted(id uint64, uploadID string) error {
	return s.update(func(txn *badger.Txn) error {
		var mp Multipart
		if err := getJSON(txn, mpKey(id), &mp); err != nil {
			return err
		}
		if mp.UploadID != uploadID {
			return ErrNotFound
		}
		mp.Completed = true
		return setJSON(txn, mpKey(id), &mp)
	})
}

// DropMultipart forgets a file's multipart upload; abort queues it for
// abort in Drime.
func (s *Store) DropMultipart(id uint64, abort bool) error {
	return s.update(func(txn *badger.Txn) error { return s.dropMultipart(txn, id, abort) })
}

func (s *Store) dropMultipart(txn *badger.Txn, id uint64, abort bool) error {
	var mp Multipart
	err := getJSON(txn, mpKey(id), &mp)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if abort && !mp.Completed {
		if err := setJSON(txn, abortKey(mp.UploadID), &Abort{Key: mp.Key, UploadID: mp.UploadID}); err != nil {
			return err
		}
	}
	if err := txn.Delete(mpKey(id)); err != nil {
		return err
	}
	it := txn.NewIterator(badger.IteratorOptions{Prefix: partPrefix(id)})
	var keys [][]byte
	for it.Rewind(); it.Valid(); it.Next() {
		keys = append(keys, it.Item().KeyCopy(nil))
	}
	it.Close()
	for _, k := range keys {
		if err := txn.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// AddAttempt records that a request creating an entry is about to be sent.
func (s *Store) AddAttempt(a Attempt) (Attempt, error) {
	err := s.update(func(txn *badger.Txn) error {
		seq, err := s.nextSeq()
		if err != nil {
			return err
		}
		a.Seq = seq
		return setJSON(txn, attemptKey(a.Node, seq), &a)
	})
	return a, err
}

// Attempts returns the recorded attempts of node id (all nodes when id is
// 0), oldest first.
func (s *Store) Attempts(id uint64) ([]Attempt, error) {
	prefix := "u/"
	if id != 0 {
		prefix = string(attemptPrefix(id))
	}
	var out []Attempt
	err := s.scan(prefix, func(b []byte) error {
		var a Attempt
		if err := json.Unmarshal(b, &a); err != nil {
			return err
		}
		out = append(out, a)
		return nil
	})
	return out, err
}

// DropAttempt forgets an attempt whose result is accounted for.
func (s *Store) DropAttempt(a Attempt) error {
	return s.update(func(txn *badger.Txn) error { return txn.Delete(attemptKey(a.Node, a.Seq)) })
}

// scan calls fn with every value under a key prefix.
func (s *Store) scan(prefix string, fn func(v []byte) error) error {
	return s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(prefix), PrefetchValues: true})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			if err := it.Item().Value(fn); err != nil {
				return err
			}
		}
		return nil
	})
}
