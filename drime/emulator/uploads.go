package emulator

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"os"
	"time"
)

// fileSpec describes a file entry to create from a stored object.
type fileSpec struct {
	ws           int64
	parent       optInt // absent, null, "" or 0 = root
	relativePath string
	name         string
	mime, ext    string
	obj          *object
	objIsNew     bool // obj is created by the same record
}

// createFileLocked creates the file entry of spec (and the folders of its
// relativePath) in one journal record, applying sameNameUpload. It returns
// the new entry, or a validation field and message.
func (s *Server) createFileLocked(spec fileSpec, q Quirks) (e *entry, field, msg string, err error) {
	if msg := checkName(spec.name); msg != "" {
		return nil, "name", msg, nil
	}
	ws, parent := spec.ws, spec.parent.or(0)
	if parent != 0 {
		p := s.st.liveFolder(parent)
		if p == nil {
			return nil, "parentId", "The selected parent id is invalid.", nil
		}
		ws = p.Workspace
	}
	now := time.Now()
	dirs, _ := splitRelPath(spec.relativePath, q.DropZeroSegments)
	parent, created := s.ensureFoldersLocked(ws, parent, dirs, now)
	mimeType, ext, typ := fileMeta(spec.name, spec.mime, spec.ext)
	e = &entry{ID: s.st.allocID(), Workspace: ws, Parent: parent, Name: spec.name, Type: typ,
		Size: spec.obj.Size, Mime: mimeType, Ext: ext, Object: spec.obj.UUID, Created: now, Updated: now}
	rec := &record{Entries: created}
	if spec.objIsNew {
		rec.Objects = []*object{spec.obj}
	}
	if q.versioning() {
		for _, old := range s.st.findLive(ws, parent, spec.name, false) {
			if !old.isFolder() {
				c := *old
				c.Backup = true
				rec.Entries = append(rec.Entries, &c)
			}
		}
	}
	rec.Entries = append(rec.Entries, e)
	if err := s.commitLocked(rec); err != nil {
		return nil, "", "", err
	}
	return s.st.entries[e.ID], "", "", nil
}

// POST /uploads (multipart/form-data: file, parentId, relativePath,
// workspaceId). The file streams to disk; fields may come before or after it.
func (s *Server) handleUpload(w http.ResponseWriter, r *http.Request) {
	mr, err := r.MultipartReader()
	if err != nil {
		invalid(w, "file", "The file field is required.")
		return
	}
	fields := make(map[string]string)
	var rec received
	var got bool
	var filename, ctype string
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if got {
				_ = os.Remove(rec.tmp)
			}
			badBody(w, err)
			return
		}
		if p.FormName() == "file" && !got {
			rec, err = s.receive(r.Context(), countingReader{p, &s.stats.upBytes}, false)
			if err != nil {
				badBody(w, err)
				return
			}
			got = true
			// The raw filename: Part.FileName would apply filepath.Base.
			if _, params, err := mime.ParseMediaType(p.Header.Get("Content-Disposition")); err == nil {
				filename = params["filename"]
			} else {
				filename = p.FileName()
			}
			ctype = p.Header.Get("Content-Type")
		} else {
			b, _ := io.ReadAll(io.LimitReader(p, 64<<10))
			fields[p.FormName()] = string(b)
		}
		_ = p.Close()
	}
	if !got {
		invalid(w, "file", "The file field is required.")
		return
	}
	spec := fileSpec{relativePath: fields["relativePath"], name: filename, mime: ctype}
	if spec.name == "" {
		_, spec.name = splitRelPath(spec.relativePath, false)
	}
	var bad, bad2 error
	var wsField optInt
	if v, ok := fields["parentId"]; ok {
		spec.parent, bad = optIntString(v)
	}
	if v, ok := fields["workspaceId"]; ok {
		wsField, bad2 = optIntString(v)
	}
	if bad != nil || bad2 != nil {
		_ = os.Remove(rec.tmp)
		invalid(w, "parentId", "The parent id must be an integer.")
		return
	}
	spec.ws = workspaceOf(r, wsField)
	uuid := newUUID()
	name := "blob-" + randHex(4)
	if err := s.install(rec, uuid, name); err != nil {
		serverError(w, err)
		return
	}
	spec.obj = &object{UUID: uuid, Files: []objFile{{Name: name, Size: rec.size}}, Size: rec.size}
	spec.objIsNew = true
	q := s.Quirks()
	s.mu.Lock()
	e, field, msg, err := s.createFileLocked(spec, q)
	var out entryJSON
	if e != nil {
		out = s.renderLocked(e)
	}
	s.mu.Unlock()
	if e == nil {
		s.removeFiles([]string{s.dirs.objDir(uuid)})
		if err != nil {
			serverError(w, err)
		} else {
			invalid(w, field, msg)
		}
		return
	}
	s.maybeCompact()
	writeJSON(w, http.StatusCreated, success(map[string]any{"fileEntry": out}))
}

// POST /uploads/validate {files:[{name,size,relativePath}], parentId}:
// which names already exist (live) in the parent folder.
func (s *Server) handleValidate(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Files []struct {
			Name string `json:"name"`
		} `json:"files"`
		ParentID  optInt `json:"parentId"`
		Workspace optInt `json:"workspaceId"`
	}
	if err := decodeBody(r, &body); err != nil {
		badBody(w, err)
		return
	}
	if len(body.Files) == 0 {
		htmlError(w, http.StatusBadRequest)
		return
	}
	ws := workspaceOf(r, body.Workspace)
	dups := []string{}
	s.mu.RLock()
	for _, f := range body.Files {
		if len(s.st.findLive(ws, body.ParentID.or(0), f.Name, false)) > 0 {
			dups = append(dups, f.Name)
		}
	}
	s.mu.RUnlock()
	writeJSON(w, http.StatusOK, success(map[string]any{"errors": len(dups) > 0, "duplicates": dups}))
}

// POST /entry/getAvailableName {name, parentId}: the name, or the first
// free "name (n).ext" (answered as "available", as production does).
func (s *Server) handleAvailableName(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Name      string `json:"name"`
		ParentID  optInt `json:"parentId"`
		Workspace optInt `json:"workspaceId"`
	}
	if err := decodeBody(r, &body); err != nil {
		badBody(w, err)
		return
	}
	if body.Name == "" {
		invalid(w, "name", "The name field is required.")
		return
	}
	ws := workspaceOf(r, body.Workspace)
	s.mu.RLock()
	name := s.st.availableName(ws, body.ParentID.or(0), body.Name)
	s.mu.RUnlock()
	writeJSON(w, http.StatusOK, success(map[string]any{"available": name}))
}
