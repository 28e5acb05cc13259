package emulator

import (
	"net/http"
	"strings"
)

// POST /s3/simple/presign {filename, mime, size, extension, ...}: a signed
// storage URL for one whole-object PUT.
func (s *Server) handlePresign(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Filename string `json:"filename"`
		Size     optInt `json:"size"`
	}
	if err := decodeBody(r, &body); err != nil {
		badBody(w, err)
		return
	}
	if body.Filename == "" {
		invalid(w, "filename", "The filename field is required.")
		return
	}
	uuid := newUUID()
	writeJSON(w, http.StatusOK, map[string]any{
		"url":    s.presign(r, http.MethodPut, uuid, nil),
		"key":    "uploads/" + uuid + "/" + uuid,
		"acl":    "private",
		"status": "success",
	})
}

// POST /s3/entries {filename (the UUID), size, clientName, clientMime,
// clientExtension, parentId, relativePath, workspaceId}: registers a stored
// object (completed multipart or simple PUT) as a file entry.
func (s *Server) handleS3Entry(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Filename        string `json:"filename"`
		Size            optInt `json:"size"`
		ClientName      string `json:"clientName"`
		ClientMime      string `json:"clientMime"`
		ClientExtension string `json:"clientExtension"`
		ParentID        optInt `json:"parentId"`
		RelativePath    string `json:"relativePath"`
		Workspace       optInt `json:"workspaceId"`
	}
	if err := decodeBody(r, &body); err != nil {
		badBody(w, err)
		return
	}
	uuid := body.Filename
	if i := strings.LastIndexByte(uuid, '/'); i >= 0 {
		uuid = uuid[i+1:] // tolerate the whole key
	}
	switch {
	case uuid == "":
		invalid(w, "filename", "The filename field is required.")
		return
	case !body.Size.Set:
		invalid(w, "size", "The size field is required.")
		return
	}
	name := body.ClientName
	if name == "" {
		_, name = splitRelPath(body.RelativePath, false)
	}
	if name == "" {
		invalid(w, "clientName", "The client name field is required.")
		return
	}
	q := s.Quirks()
	s.mu.Lock()
	o := s.st.objects[uuid]
	if o == nil {
		s.mu.Unlock()
		invalid(w, "filename", "The selected filename is invalid: no completed upload has this key.")
		return
	}
	if o.Size != body.Size.V {
		s.mu.Unlock()
		invalid(w, "size", "The size does not match the stored object ("+itoa(o.Size)+" bytes).")
		return
	}
	spec := fileSpec{ws: workspaceOf(r, body.Workspace), parent: body.ParentID, relativePath: body.RelativePath,
		name: name, mime: body.ClientMime, ext: body.ClientExtension, obj: o}
	e, field, msg, err := s.createFileLocked(spec, q)
	var out entryJSON
	var parent *entryJSON
	if e != nil {
		out = s.renderLocked(e)
		if p := s.st.entries[e.Parent]; p != nil {
			pj := s.renderLocked(p)
			parent = &pj
		}
	}
	s.mu.Unlock()
	switch {
	case err != nil:
		serverError(w, err)
		return
	case e == nil:
		invalid(w, field, msg)
		return
	}
	s.maybeCompact()
	writeJSON(w, http.StatusOK, success(map[string]any{"fileEntry": withParent{out, parent}}))
}

// withParent is an entry with its embedded parent, as /s3/entries answers.
type withParent struct {
	entryJSON
	Parent *entryJSON `json:"parent"`
}
