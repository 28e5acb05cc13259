package emulator

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"
)

// Quirks switches on behaviours observed in production that a client must
// tolerate. All are off by default. JSON field names are camelCase;
// durations are strings ("2s") or numbers of milliseconds.
type Quirks struct {
	// SameNameUpload is "duplicate" (default: a same-name upload is a second
	// entry) or "version" (the older entry gets backup:true and leaves
	// normal listings).
	SameNameUpload string
	// ListingLag delays new and deleted entries in listings.
	ListingLag time.Duration
	// RenamedFolderEmpty lists a renamed folder as empty for this long.
	RenamedFolderEmpty time.Duration
	// LazyLastPage answers last_page = current_page+1 until the last page.
	LazyLastPage bool
	// LiteralPut520 answers a literal PUT /file-entries/{id} with a 520.
	LiteralPut520 bool
	// ParentIDs500 answers listings with parentIds with a 500.
	ParentIDs500 bool
	// LoggedUserNull answers /cli/loggedUser with 200 {"user":null} for bad tokens.
	LoggedUserNull bool
	// StrictParentIDZero rejects parentId 0 in POST /folders.
	StrictParentIDZero bool
	// DropZeroSegments drops relativePath segments named "0".
	DropZeroSegments bool
	// DownloadRedirect answers downloads with 302 to a signed storage URL.
	DownloadRedirect bool
	// EqualPartSizes makes complete require equal non-final part sizes (R2).
	EqualPartSizes bool
	// AllowAuthOnStorage lets storage URLs accept an Authorization header.
	AllowAuthOnStorage bool
}

type quirksJSON struct {
	SameNameUpload     string     `json:"sameNameUpload"`
	ListingLag         jsDuration `json:"listingLag"`
	RenamedFolderEmpty jsDuration `json:"renamedFolderEmpty"`
	LazyLastPage       flexBool   `json:"lazyLastPage"`
	LiteralPut520      flexBool   `json:"literalPut520"`
	ParentIDs500       flexBool   `json:"parentIds500"`
	LoggedUserNull     flexBool   `json:"loggedUserNull"`
	StrictParentIDZero flexBool   `json:"strictParentIDZero"`
	DropZeroSegments   flexBool   `json:"dropZeroSegments"`
	DownloadRedirect   flexBool   `json:"downloadRedirect"`
	EqualPartSizes     flexBool   `json:"equalPartSizes"`
	AllowAuthOnStorage flexBool   `json:"allowAuthOnStorage"`
}

func (q Quirks) MarshalJSON() ([]byte, error) {
	name := q.SameNameUpload
	if name == "" {
		name = "duplicate"
	}
	return json.Marshal(quirksJSON{name, jsDuration(q.ListingLag), jsDuration(q.RenamedFolderEmpty),
		flexBool(q.LazyLastPage), flexBool(q.LiteralPut520), flexBool(q.ParentIDs500), flexBool(q.LoggedUserNull),
		flexBool(q.StrictParentIDZero), flexBool(q.DropZeroSegments), flexBool(q.DownloadRedirect),
		flexBool(q.EqualPartSizes), flexBool(q.AllowAuthOnStorage)})
}

func (q *Quirks) UnmarshalJSON(b []byte) error {
	var j quirksJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return fmt.Errorf("decode quirks: %w", err)
	}
	*q = Quirks{j.SameNameUpload, time.Duration(j.ListingLag), time.Duration(j.RenamedFolderEmpty),
		bool(j.LazyLastPage), bool(j.LiteralPut520), bool(j.ParentIDs500), bool(j.LoggedUserNull),
		bool(j.StrictParentIDZero), bool(j.DropZeroSegments), bool(j.DownloadRedirect),
		bool(j.EqualPartSizes), bool(j.AllowAuthOnStorage)}
	return q.validate()
}

func (q *Quirks) validate() error {
	switch q.SameNameUpload {
	case "", "duplicate", "version":
		return nil
	}
	return fmt.Errorf("quirk sameNameUpload: want duplicate or version, got %q", q.SameNameUpload)
}

// versioning reports whether same-name uploads turn the older entry into a
// backup.
func (q Quirks) versioning() bool { return q.SameNameUpload == "version" }

// jsDuration is a duration written as "250ms" or as milliseconds.
type jsDuration time.Duration

func (d jsDuration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

func (d *jsDuration) UnmarshalJSON(b []byte) error {
	s := strings.TrimSpace(string(b))
	if s == "null" {
		*d = 0
		return nil
	}
	if strings.HasPrefix(s, `"`) {
		var str string
		if err := json.Unmarshal(b, &str); err != nil {
			return err
		}
		if str == "" {
			*d = 0
			return nil
		}
		v, err := time.ParseDuration(str)
		if err != nil {
			return fmt.Errorf("duration %q: %w", str, err)
		}
		*d = jsDuration(v)
		return nil
	}
	var ms float64
	if err := json.Unmarshal(b, &ms); err != nil {
		return fmt.Errorf("duration %s: %w", s, err)
	}
	*d = jsDuration(time.Duration(ms * float64(time.Millisecond)))
	return nil
}

// quirkBox holds the current quirks (a leaf lock).
type quirkBox struct {
	mu sync.RWMutex
	q  Quirks
}

// SetQuirks replaces all quirks.
func (s *Server) SetQuirks(q Quirks) {
	s.quirks.mu.Lock()
	s.quirks.q = q
	s.quirks.mu.Unlock()
}

// Quirks returns the current quirks.
func (s *Server) Quirks() Quirks {
	s.quirks.mu.RLock()
	defer s.quirks.mu.RUnlock()
	return s.quirks.q
}

// ghost is an entry deleted forever that listings still show (listingLag).
type ghost struct {
	e  entry
	at time.Time
}

// noteRenameLocked starts the renamed-folder-empty window of folder id.
// The caller holds s.mu exclusively.
func (s *Server) noteRenameLocked(id int64, q Quirks) {
	now := time.Now()
	for fid, at := range s.renamed {
		if now.Sub(at) >= q.RenamedFolderEmpty {
			delete(s.renamed, fid)
		}
	}
	if q.RenamedFolderEmpty > 0 {
		s.renamed[id] = now
	}
}

// renamedEmptyLocked reports whether folder id lists as empty right now.
// The caller holds s.mu (shared is enough).
func (s *Server) renamedEmptyLocked(id int64, q Quirks, now time.Time) bool {
	at, ok := s.renamed[id]
	return ok && q.RenamedFolderEmpty > 0 && now.Sub(at) < q.RenamedFolderEmpty
}

// noteGhostsLocked keeps entries deleted forever visible for the listing
// lag. The caller holds s.mu exclusively.
func (s *Server) noteGhostsLocked(es []*entry, q Quirks, now time.Time) {
	for id, g := range s.ghosts {
		if now.Sub(g.at) >= q.ListingLag {
			delete(s.ghosts, id)
		}
	}
	if q.ListingLag <= 0 {
		return
	}
	for _, e := range es {
		if e.live() {
			s.ghosts[e.ID] = ghost{e: *e, at: now}
		}
	}
}
