package emulator

import (
	"net/http"
	"strings"
	"time"
)

// PUT /file-entries/{id} {name, description}, also reached as POST with
// X-HTTP-Method-Override: PUT or _method=PUT (query or body).
func (s *Server) handleUpdate(w http.ResponseWriter, r *http.Request) {
	q := s.Quirks()
	if r.Method == http.MethodPut && q.LiteralPut520 {
		htmlError(w, 520)
		return
	}
	var body struct {
		Name        *string `json:"name"`
		Description *string `json:"description"`
		Method      string  `json:"_method"`
	}
	if err := decodeBody(r, &body); err != nil {
		badBody(w, err)
		return
	}
	if r.Method == http.MethodPost && !isPut(r.Header.Get("X-HTTP-Method-Override")) &&
		!isPut(r.URL.Query().Get("_method")) && !isPut(body.Method) {
		msgError(w, http.StatusMethodNotAllowed, "The POST method is not supported for this route. Supported methods: GET, HEAD, PUT.")
		return
	}
	if body.Name != nil {
		if msg := checkName(*body.Name); msg != "" {
			invalid(w, "name", msg)
			return
		}
	}
	ref := r.PathValue("id")
	id, ok := parseRef(ref)
	s.mu.Lock()
	e := s.st.entries[id]
	if !ok || e == nil || !e.live() {
		s.mu.Unlock()
		notFound(w, "FileEntry", ref)
		return
	}
	c := *e
	if body.Name != nil {
		c.Name = *body.Name
	}
	if body.Description != nil {
		c.Description = body.Description
	}
	c.Updated = time.Now()
	err := s.commitLocked(&record{Entries: []*entry{&c}})
	var out entryJSON
	if err == nil {
		if c.isFolder() && c.Name != e.Name {
			s.noteRenameLocked(c.ID, q)
		}
		out = s.renderLocked(s.st.entries[id])
	}
	s.mu.Unlock()
	if err != nil {
		serverError(w, err)
		return
	}
	s.maybeCompact()
	writeJSON(w, http.StatusOK, success(map[string]any{"fileEntry": out}))
}

func isPut(m string) bool {
	m = strings.ToUpper(strings.TrimSpace(m))
	return m == http.MethodPut || m == http.MethodPatch
}

// entriesBody is the body of move, duplicate, delete and restore.
type entriesBody struct {
	EntryIDs      idList   `json:"entryIds"`
	DestinationID optInt   `json:"destinationId"`
	DeleteForever flexBool `json:"deleteForever"`
	EmptyTrash    flexBool `json:"emptyTrash"`
	Workspace     optInt   `json:"workspaceId"`
}

// destinationLocked resolves destinationId (absent, null, "" or 0 = root).
func (s *Server) destinationLocked(ws int64, dest optInt) (int64, int64, bool) {
	id := dest.or(0)
	if id == 0 {
		return ws, 0, true
	}
	f := s.st.liveFolder(id)
	if f == nil {
		return 0, 0, false
	}
	return f.Workspace, id, true
}

// POST /file-entries/move {entryIds, destinationId}
func (s *Server) handleMove(w http.ResponseWriter, r *http.Request) {
	var body entriesBody
	if err := decodeBody(r, &body); err != nil {
		badBody(w, err)
		return
	}
	now := time.Now()
	s.mu.Lock()
	ws, dest, ok := s.destinationLocked(workspaceOf(r, body.Workspace), body.DestinationID)
	if !ok {
		s.mu.Unlock()
		invalid(w, "destinationId", "The selected destination id is invalid.")
		return
	}
	rec := &record{}
	seen := make(map[int64]bool)
	for _, id := range body.EntryIDs {
		e := s.st.entries[id]
		if seen[id] || e == nil || !e.live() || (e.Parent == dest && e.Workspace == ws) ||
			(e.isFolder() && s.st.isAncestor(e.ID, dest)) {
			continue
		}
		seen[id] = true
		c := *e
		c.Parent, c.Workspace, c.Updated = dest, ws, now
		rec.Entries = append(rec.Entries, &c)
	}
	if len(rec.Entries) == 0 {
		s.mu.Unlock()
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"status": "error", "message": "No valid entries to move"})
		return
	}
	err := s.commitLocked(rec)
	out := s.renderEntriesLocked(rec.Entries)
	s.mu.Unlock()
	if err != nil {
		serverError(w, err)
		return
	}
	s.maybeCompact()
	writeJSON(w, http.StatusOK, success(map[string]any{"entries": out}))
}

// renderEntriesLocked renders the current state of the entries' ids.
func (s *Server) renderEntriesLocked(es []*entry) []entryJSON {
	out := make([]entryJSON, 0, len(es))
	for _, e := range es {
		if cur := s.st.entries[e.ID]; cur != nil {
			out = append(out, s.renderLocked(cur))
		}
	}
	return out
}

// POST /file-entries/duplicate {entryIds, destinationId}: copies, folders
// recursively; a copy into the same folder gets a free "name (n)" name. The
// copies share the stored bytes.
func (s *Server) handleDuplicate(w http.ResponseWriter, r *http.Request) {
	var body entriesBody
	if err := decodeBody(r, &body); err != nil {
		badBody(w, err)
		return
	}
	now := time.Now()
	s.mu.Lock()
	ws, dest, ok := s.destinationLocked(workspaceOf(r, body.Workspace), body.DestinationID)
	if !ok {
		s.mu.Unlock()
		invalid(w, "destinationId", "The selected destination id is invalid.")
		return
	}
	rec := &record{}
	var tops []*entry
	for _, id := range body.EntryIDs {
		e := s.st.entries[id]
		if e == nil || !e.live() || (e.isFolder() && s.st.isAncestor(e.ID, dest)) {
			continue
		}
		newID := make(map[int64]int64)
		for i, x := range s.st.subtree(e) {
			if !x.live() {
				continue
			}
			c := *x
			c.ID, c.Workspace, c.Created, c.Updated = s.st.allocID(), ws, now, now
			newID[x.ID] = c.ID
			if i == 0 {
				c.Parent = dest
				if e.Parent == dest && e.Workspace == ws {
					c.Name = s.st.availableName(ws, dest, e.Name)
				}
				tops = append(tops, &c)
			} else if p, ok := newID[x.Parent]; ok {
				c.Parent = p
			} else {
				continue
			}
			rec.Entries = append(rec.Entries, &c)
		}
	}
	if len(tops) == 0 {
		s.mu.Unlock()
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"status": "error", "message": "No valid entries to duplicate"})
		return
	}
	err := s.commitLocked(rec)
	out := s.renderEntriesLocked(tops)
	s.mu.Unlock()
	if err != nil {
		serverError(w, err)
		return
	}
	s.maybeCompact()
	writeJSON(w, http.StatusOK, success(map[string]any{"entries": out}))
}
