package emulator

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
)

// compactAfter is the journal size that triggers a compaction.
const compactAfter = 64 << 20

// record is one atomic change of the state: one line of the journal.
// Its parts are applied in the order of the fields.
type record struct {
	Upload  *upload   `json:"u,omitempty"`  // a new multipart session
	Part    *partRec  `json:"p,omitempty"`  // a part stored (replaces an older one)
	Objects []*object `json:"o,omitempty"`  // objects created or replaced
	Entries []*entry  `json:"e,omitempty"`  // entries created or replaced
	Drop    []int64   `json:"d,omitempty"`  // entries deleted forever
	DropObj []string  `json:"do,omitempty"` // objects deleted
	End     *endRec   `json:"end,omitempty"`
}

type partRec struct {
	Upload string `json:"uid"`
	Part   *part  `json:"part"`
}

type endRec struct {
	Upload    string `json:"uid"`
	Completed bool   `json:"completed,omitempty"`
}

// apply changes st by rec. It never fails: a record naming something that
// does not exist (any more) is ignored for that part.
func (st *state) apply(rec *record) {
	if u := rec.Upload; u != nil {
		c := *u
		c.Parts = make(map[int]*part, len(u.Parts))
		for n, p := range u.Parts {
			c.Parts[n] = p
		}
		st.uploads[c.ID] = &c
	}
	if p := rec.Part; p != nil && p.Part != nil {
		if u := st.uploads[p.Upload]; u != nil {
			u.Parts[p.Part.N] = p.Part
		}
	}
	for _, o := range rec.Objects {
		st.objects[o.UUID] = o
	}
	for _, e := range rec.Entries {
		c := *e
		st.put(&c)
	}
	for _, id := range rec.Drop {
		st.remove(id)
	}
	for _, u := range rec.DropObj {
		delete(st.objects, u)
	}
	if end := rec.End; end != nil {
		if u := st.uploads[end.Upload]; u != nil {
			st.ended[end.Upload] = ended{UUID: u.UUID, Completed: end.Completed}
			delete(st.uploads, end.Upload)
		}
	}
}

// snapshot is the whole durable state at the start of journal Gen.
type snapshot struct {
	Version int       `json:"version"`
	Gen     int64     `json:"gen"`
	NextID  int64     `json:"next_id"`
	Entries []*entry  `json:"entries"`
	Objects []*object `json:"objects"`
	Uploads []*upload `json:"uploads"`
}

// journal appends records to meta/journal-<gen>.jsonl. It is guarded by
// Server.mu (exclusive) except size, which is read without it.
type journal struct {
	dir   string
	gen   int64
	f     *os.File
	size  atomic.Int64
	fsync bool
}

func journalPath(dir string, gen int64) string {
	return filepath.Join(dir, fmt.Sprintf("journal-%06d.jsonl", gen))
}

// open starts a new, empty journal file of generation gen.
func (j *journal) open(gen int64) error {
	f, err := os.OpenFile(journalPath(j.dir, gen), os.O_CREATE|os.O_TRUNC|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("open journal: %w", err)
	}
	if j.f != nil {
		_ = j.f.Close()
	}
	j.f, j.gen = f, gen
	j.size.Store(0)
	return nil
}

// append writes rec as one line with a single write call.
func (j *journal) append(rec *record) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encode journal record: %w", err)
	}
	b = append(b, '\n')
	n, err := j.f.Write(b)
	j.size.Add(int64(n))
	if err != nil {
		return fmt.Errorf("append journal: %w", err)
	}
	if j.fsync {
		if err := j.f.Sync(); err != nil {
			return fmt.Errorf("sync journal: %w", err)
		}
	}
	return nil
}

func (j *journal) close() error {
	if j.f == nil {
		return nil
	}
	err := j.f.Close()
	j.f = nil
	return err
}

// loadState reads the snapshot and replays the journals after it. It returns
// the state and the generation of the last journal replayed.
func loadState(dir string) (*state, int64, error) {
	st := newState()
	var snap snapshot
	b, err := os.ReadFile(filepath.Join(dir, "snapshot.json"))
	switch {
	case errors.Is(err, os.ErrNotExist):
		snap.Gen = 1
	case err != nil:
		return nil, 0, fmt.Errorf("read snapshot: %w", err)
	default:
		if err := json.Unmarshal(b, &snap); err != nil {
			return nil, 0, fmt.Errorf("decode snapshot: %w", err)
		}
	}
	st.apply(&record{Objects: snap.Objects, Entries: snap.Entries})
	for _, u := range snap.Uploads {
		st.apply(&record{Upload: u})
	}
	if snap.NextID > st.nextID {
		st.nextID = snap.NextID
	}
	gen := snap.Gen
	for ; ; gen++ {
		f, err := os.Open(journalPath(dir, gen))
		if errors.Is(err, os.ErrNotExist) {
			break
		}
		if err != nil {
			return nil, 0, fmt.Errorf("open journal: %w", err)
		}
		err = replay(st, f)
		_ = f.Close()
		if err != nil {
			return nil, 0, fmt.Errorf("replay journal %d: %w", gen, err)
		}
	}
	return st, gen - 1, nil
}

// replay applies every complete record of r. A last line that is torn (no
// newline, or not valid JSON) is ignored; a bad line followed by good ones is
// corruption.
func replay(st *state, r io.Reader) error {
	br := bufio.NewReaderSize(r, 1<<20)
	var bad error
	for line := 1; ; line++ {
		b, err := br.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			return nil // empty or torn tail (no newline)
		}
		if err != nil {
			return fmt.Errorf("read line %d: %w", line, err)
		}
		if bad != nil {
			return bad
		}
		b = bytes.TrimSpace(b)
		if len(b) == 0 {
			continue
		}
		var rec record
		if err := json.Unmarshal(b, &rec); err != nil {
			bad = fmt.Errorf("line %d: %w", line, err)
			continue
		}
		st.apply(&rec)
	}
}

// encodeSnapshot serialises st as the snapshot that precedes journal gen.
func encodeSnapshot(st *state, gen int64) ([]byte, error) {
	snap := snapshot{Version: 1, Gen: gen, NextID: st.nextID}
	for _, e := range st.entries {
		snap.Entries = append(snap.Entries, e)
	}
	sort.Slice(snap.Entries, func(i, j int) bool { return snap.Entries[i].ID < snap.Entries[j].ID })
	for _, o := range st.objects {
		snap.Objects = append(snap.Objects, o)
	}
	sort.Slice(snap.Objects, func(i, j int) bool { return snap.Objects[i].UUID < snap.Objects[j].UUID })
	for _, u := range st.uploads {
		snap.Uploads = append(snap.Uploads, u)
	}
	sort.Slice(snap.Uploads, func(i, j int) bool { return snap.Uploads[i].ID < snap.Uploads[j].ID })
	b, err := json.Marshal(&snap)
	if err != nil {
		return nil, fmt.Errorf("encode snapshot: %w", err)
	}
	return b, nil
}

// writeSnapshot installs b as meta/snapshot.json atomically and removes the
// journals older than gen.
func writeSnapshot(dir string, b []byte, gen int64) error {
	if err := writeFileAtomic(dir, "snapshot.json", b); err != nil {
		return err
	}
	names, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("list meta dir: %w", err)
	}
	for _, d := range names {
		n := d.Name()
		if !strings.HasPrefix(n, "journal-") || !strings.HasSuffix(n, ".jsonl") {
			continue
		}
		g, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimPrefix(n, "journal-"), ".jsonl"), 10, 64)
		if err == nil && g < gen {
			_ = os.Remove(filepath.Join(dir, n))
		}
	}
	return nil
}

// writeFileAtomic writes dir/name through a synced temp file and a rename.
func writeFileAtomic(dir, name string, b []byte) error {
	tmp, err := os.CreateTemp(dir, name+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("sync %s: %w", name, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("close %s: %w", name, err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(dir, name)); err != nil {
		return fmt.Errorf("install %s: %w", name, err)
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync dir: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync dir %s: %w", dir, err)
	}
	return nil
}
