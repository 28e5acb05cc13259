package emulator

import (
	"sort"
	"strings"
	"time"
)

// firstID is the id of the first entry of a fresh data dir; production ids
// are of the same magnitude, so hashes need no padding by default.
const firstID = 480000000

// entry is a file or folder as stored (journal and snapshot form). Entries
// held by state are never modified in place: a change is a new copy passed to
// state.put, which keeps the indexes right.
type entry struct {
	ID          int64     `json:"id"`
	Workspace   int64     `json:"ws,omitempty"`
	Parent      int64     `json:"parent,omitempty"` // 0 = workspace root
	Name        string    `json:"name"`
	Type        string    `json:"type"` // "folder" or a file type
	Size        int64     `json:"size,omitempty"`
	Mime        string    `json:"mime,omitempty"`
	Ext         string    `json:"ext,omitempty"`
	Object      string    `json:"obj,omitempty"` // stored object uuid (file_name, disk_prefix)
	Description *string   `json:"desc,omitempty"`
	Created     time.Time `json:"created"`
	Updated     time.Time `json:"updated"`
	Deleted     time.Time `json:"deleted,omitzero"`     // in the trash since
	TrashedBy   int64     `json:"trashed_by,omitempty"` // the entry whose deletion trashed this one
	Backup      bool      `json:"backup,omitempty"`     // an old version (sameNameUpload=version)
}

func (e *entry) isFolder() bool { return e.Type == "folder" }
func (e *entry) trashed() bool  { return !e.Deleted.IsZero() }

// live reports whether e shows up in normal listings and can be mutated.
func (e *entry) live() bool { return !e.trashed() && !e.Backup }

// object is the stored bytes of one upload: a list of files under
// objects/<uuid>/ read one after the other.
type object struct {
	UUID  string    `json:"uuid"`
	Files []objFile `json:"files"`
	Size  int64     `json:"size"`
}

type objFile struct {
	Name string `json:"name"` // base name inside objects/<uuid>/
	Size int64  `json:"size"`
}

// upload is an open multipart upload session.
type upload struct {
	ID        string        `json:"id"`
	UUID      string        `json:"uuid"`
	Filename  string        `json:"filename"`
	Mime      string        `json:"mime,omitempty"`
	Size      int64         `json:"size"`
	Workspace int64         `json:"ws,omitempty"`
	Created   time.Time     `json:"created"`
	Parts     map[int]*part `json:"parts,omitempty"`
}

type part struct {
	N    int    `json:"n"`
	File string `json:"file"` // base name inside objects/<uuid>/
	ETag string `json:"etag"` // md5 hex, unquoted
	Size int64  `json:"size"`
}

func (u *upload) key() string { return "uploads/" + u.UUID + "/" + u.UUID }

// ended remembers how a multipart upload finished (not durable).
type ended struct {
	UUID      string
	Completed bool
}

type childKey struct{ ws, parent int64 }

// state is the whole metadata, guarded by Server.mu.
type state struct {
	nextID   int64
	entries  map[int64]*entry
	children map[childKey]map[int64]*entry // every entry under a parent, trashed and backups included
	objects  map[string]*object
	refs     map[string]int // entries per object uuid
	uploads  map[string]*upload
	ended    map[string]ended
}

func newState() *state {
	return &state{
		nextID:   firstID,
		entries:  make(map[int64]*entry),
		children: make(map[childKey]map[int64]*entry),
		objects:  make(map[string]*object),
		refs:     make(map[string]int),
		uploads:  make(map[string]*upload),
		ended:    make(map[string]ended),
	}
}

func keyOf(e *entry) childKey { return childKey{e.Workspace, e.Parent} }

// folderKey is the child index key of the folder id (0 = root of ws).
func (st *state) folderKey(ws, id int64) childKey {
	if id != 0 {
		if f := st.entries[id]; f != nil {
			ws = f.Workspace
		}
	}
	return childKey{ws, id}
}

// put inserts or replaces e, keeping the child index and object refs.
func (st *state) put(e *entry) {
	if old := st.entries[e.ID]; old != nil {
		st.unindex(old)
	}
	st.entries[e.ID] = e
	k := keyOf(e)
	m := st.children[k]
	if m == nil {
		m = make(map[int64]*entry)
		st.children[k] = m
	}
	m[e.ID] = e
	if e.Object != "" {
		st.refs[e.Object]++
	}
	if e.ID >= st.nextID {
		st.nextID = e.ID + 1
	}
}

func (st *state) unindex(e *entry) {
	k := keyOf(e)
	if m := st.children[k]; m != nil {
		delete(m, e.ID)
		if len(m) == 0 {
			delete(st.children, k)
		}
	}
	if e.Object != "" {
		if st.refs[e.Object]--; st.refs[e.Object] <= 0 {
			delete(st.refs, e.Object)
		}
	}
}

func (st *state) remove(id int64) {
	if e := st.entries[id]; e != nil {
		st.unindex(e)
		delete(st.entries, id)
	}
}

// allocID hands out the next entry id.
func (st *state) allocID() int64 {
	id := st.nextID
	st.nextID++
	return id
}

// childrenOf returns the entries directly under folder id (0 = root of ws),
// sorted by id.
func (st *state) childrenOf(ws, id int64) []*entry {
	m := st.children[st.folderKey(ws, id)]
	out := make([]*entry, 0, len(m))
	for _, e := range m {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// subtree returns e and all its descendants (every state), parents first.
func (st *state) subtree(e *entry) []*entry {
	out := []*entry{e}
	for i := 0; i < len(out); i++ {
		if out[i].isFolder() {
			out = append(out, st.childrenOf(out[i].Workspace, out[i].ID)...)
		}
	}
	return out
}

// isAncestor reports whether folder a is b or one of b's ancestors.
func (st *state) isAncestor(a, b int64) bool {
	for id, n := b, 0; id != 0 && n < 10000; n++ {
		if id == a {
			return true
		}
		e := st.entries[id]
		if e == nil {
			return false
		}
		id = e.Parent
	}
	return false
}

// liveFolder returns the live folder id, or nil.
func (st *state) liveFolder(id int64) *entry {
	e := st.entries[id]
	if e == nil || !e.isFolder() || !e.live() {
		return nil
	}
	return e
}

// findLive returns the live children of folder id named name (exact,
// case-sensitive), lowest id first; folders restricts the match to folders.
func (st *state) findLive(ws, id int64, name string, folders bool) []*entry {
	var out []*entry
	for _, e := range st.children[st.folderKey(ws, id)] {
		if e.Name == name && e.live() && (!folders || e.isFolder()) {
			out = append(out, e)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// availableName returns name, or "base (n).ext" for the smallest n that is
// not taken by a live entry in folder id.
func (st *state) availableName(ws, id int64, name string) string {
	taken := make(map[string]bool)
	for _, e := range st.children[st.folderKey(ws, id)] {
		if e.live() {
			taken[e.Name] = true
		}
	}
	if !taken[name] {
		return name
	}
	base, ext := name, ""
	if i := strings.LastIndexByte(name, '.'); i > 0 {
		base, ext = name[:i], name[i:]
	}
	for n := 1; ; n++ {
		c := base + " (" + itoa(int64(n)) + ")" + ext
		if !taken[c] {
			return c
		}
	}
}

// usedBytes sums the sizes of the non-trashed files of workspace ws.
func (st *state) usedBytes(ws int64) int64 {
	var n int64
	for _, e := range st.entries {
		if e.Workspace == ws && !e.isFolder() && !e.trashed() {
			n += e.Size
		}
	}
	return n
}
