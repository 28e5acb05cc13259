package emulator

import (
	"net/http"
	"sort"
	"strings"
	"time"
	"unicode/utf8"
)

// checkName validates a name given to POST /folders or a rename.
func checkName(name string) string {
	switch {
	case strings.TrimSpace(name) == "":
		return "The name field is required."
	case len(name) > 255:
		return "The name may not be greater than 255 characters."
	case !utf8.ValidString(name) || strings.ContainsAny(name, "/\x00"):
		return "The name contains invalid characters."
	}
	return ""
}

// POST /folders {name, parentId, workspaceId}
func (s *Server) handleCreateFolder(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Name      string `json:"name"`
		ParentID  optInt `json:"parentId"`
		Workspace optInt `json:"workspaceId"`
	}
	if err := decodeBody(r, &body); err != nil {
		badBody(w, err)
		return
	}
	if msg := checkName(body.Name); msg != "" {
		invalid(w, "name", msg)
		return
	}
	ws := workspaceOf(r, body.Workspace)
	if body.ParentID.Set && body.ParentID.V == 0 && s.Quirks().StrictParentIDZero {
		invalid(w, "parentId", "The selected parent id is invalid.")
		return
	}
	parent := body.ParentID.or(0)
	s.mu.Lock()
	if parent != 0 {
		p := s.st.liveFolder(parent)
		if p == nil {
			s.mu.Unlock()
			invalid(w, "parentId", "The selected parent id is invalid.")
			return
		}
		ws = p.Workspace
	}
	if len(s.st.findLive(ws, parent, body.Name, true)) > 0 {
		s.mu.Unlock()
		invalid(w, "name", "A folder with same name already exists.")
		return
	}
	e := s.newFolderLocked(ws, parent, body.Name, time.Now())
	err := s.commitLocked(&record{Entries: []*entry{e}})
	var out entryJSON
	if err == nil {
		out = s.renderLocked(s.st.entries[e.ID])
	}
	s.mu.Unlock()
	if err != nil {
		serverError(w, err)
		return
	}
	s.maybeCompact()
	writeJSON(w, http.StatusOK, success(map[string]any{"folder": out}))
}

func (s *Server) newFolderLocked(ws, parent int64, name string, now time.Time) *entry {
	return &entry{ID: s.st.allocID(), Workspace: ws, Parent: parent, Name: name, Type: "folder",
		Created: now, Updated: now}
}

// ensureFoldersLocked resolves the folder part of a relativePath under
// parent, creating missing folders. It returns the innermost folder id and
// the folders to create (not yet committed).
func (s *Server) ensureFoldersLocked(ws, parent int64, dirs []string, now time.Time) (int64, []*entry) {
	var created []*entry
	fresh := false
	for _, d := range dirs {
		if !fresh {
			if ex := s.st.findLive(ws, parent, d, true); len(ex) > 0 {
				parent = ex[0].ID
				continue
			}
		}
		f := s.newFolderLocked(ws, parent, d, now)
		created = append(created, f)
		parent, fresh = f.ID, true
	}
	return parent, created
}

// splitRelPath splits a relativePath into its folders and leaf name;
// dropZero drops folder segments named "0" (production's PHP falsy bug).
func splitRelPath(rel string, dropZero bool) (dirs []string, leaf string) {
	segs := strings.Split(strings.ReplaceAll(rel, "\\", "/"), "/")
	leaf = segs[len(segs)-1]
	for _, d := range segs[:len(segs)-1] {
		if d == "" || d == "." || (dropZero && d == "0") {
			continue
		}
		dirs = append(dirs, d)
	}
	return dirs, leaf
}

// GET /users/{id}/folders: every live folder of the workspace, slim.
func (s *Server) handleUserFolders(w http.ResponseWriter, r *http.Request) {
	ws := workspaceOf(r, optInt{})
	type slim struct {
		ID          int64           `json:"id"`
		Name        string          `json:"name"`
		ParentID    *int64          `json:"parent_id"`
		Path        string          `json:"path"`
		Type        string          `json:"type"`
		WorkspaceID int64           `json:"workspace_id"`
		Hash        string          `json:"hash"`
		Permissions map[string]bool `json:"permissions"`
	}
	s.mu.RLock()
	out := []slim{}
	for _, e := range s.st.entries {
		if e.Workspace != ws || !e.isFolder() || !e.live() {
			continue
		}
		j := s.renderLocked(e)
		out = append(out, slim{e.ID, e.Name, j.ParentID, j.Path, "folder", ws, j.Hash, allPermissions})
	}
	s.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	writeJSON(w, http.StatusOK, success(map[string]any{
		"folders":    out,
		"rootFolder": map[string]any{"type": "folder", "id": 0, "hash": "0", "path": "", "name": "All Files", "workspace_id": ws},
	}))
}

// GET /folders/{ref}/path: the breadcrumb from the root to the folder.
func (s *Server) handleFolderPath(w http.ResponseWriter, r *http.Request) {
	ref := r.PathValue("ref")
	id, ok := parseRef(ref)
	s.mu.RLock()
	f := s.st.entries[id]
	if !ok || f == nil || !f.isFolder() {
		s.mu.RUnlock()
		notFound(w, "FileEntry", ref)
		return
	}
	var chain []*entry
	for e, n := f, 0; e != nil && n < 10000; n++ {
		chain = append([]*entry{e}, chain...)
		if e.Parent == 0 {
			break
		}
		e = s.st.entries[e.Parent]
	}
	out := s.renderAllLocked(chain)
	s.mu.RUnlock()
	writeJSON(w, http.StatusOK, success(map[string]any{"path": out, "seo": nil}))
}

// GET /folders/{ref}/count: the number of live entries in the folder.
func (s *Server) handleFolderCount(w http.ResponseWriter, r *http.Request) {
	ref := r.PathValue("ref")
	id, ok := parseRef(ref)
	s.mu.RLock()
	f := s.st.entries[id]
	if !ok || f == nil || !f.isFolder() {
		s.mu.RUnlock()
		notFound(w, "Folder", ref)
		return
	}
	n := 0
	for _, e := range s.st.children[childKey{f.Workspace, f.ID}] {
		if e.live() {
			n++
		}
	}
	s.mu.RUnlock()
	writeJSON(w, http.StatusOK, success(map[string]any{"count": n, "seo": nil}))
}
