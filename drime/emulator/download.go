package emulator

import (
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// GET|HEAD /file-entries/{id}: the file's bytes (id or hash accepted).
func (s *Server) handleDownloadByID(w http.ResponseWriter, r *http.Request) {
	s.download(w, r, r.PathValue("id"))
}

// GET|HEAD /file-entries/download/{hash}: the file's bytes by hash. Only the
// first of a comma-separated list is served (no zips).
func (s *Server) handleDownloadByHash(w http.ResponseWriter, r *http.Request) {
	ref, _, _ := strings.Cut(r.PathValue("hash"), ",")
	s.download(w, r, ref)
}

func (s *Server) download(w http.ResponseWriter, r *http.Request, ref string) {
	id, ok := parseRef(ref)
	s.mu.RLock()
	var e entry
	var o *object
	x := s.st.entries[id]
	if ok && x != nil {
		e = *x
		o = s.st.objects[x.Object]
	}
	s.mu.RUnlock()
	switch {
	case !ok || x == nil:
		notFound(w, "FileEntry", ref)
		return
	case e.isFolder():
		msgError(w, http.StatusUnprocessableEntity, "Folders can only be downloaded as a zip, which the emulator does not build.")
		return
	case o == nil:
		msgError(w, http.StatusNotFound, "The file's content was not found in storage.")
		return
	}
	if s.Quirks().DownloadRedirect {
		u := s.presign(r, http.MethodGet, e.Object, url.Values{"entry": {itoa(e.ID)}})
		w.Header().Set("Location", u)
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(http.StatusFound)
		return
	}
	s.serveObject(w, r, &e, o)
}

// serveObject answers GET/HEAD with o's bytes: a single Range gives 206 with
// Content-Range, an unsatisfiable one 416; multi-range requests get the
// whole body (200), which HTTP allows.
func (s *Server) serveObject(w http.ResponseWriter, r *http.Request, e *entry, o *object) {
	if strings.Contains(r.Header.Get("Range"), ",") {
		r.Header.Del("Range")
	}
	h := w.Header()
	h.Set("Accept-Ranges", "bytes")
	ct := e.Mime
	if ct == "" {
		ct = "application/octet-stream"
	}
	h.Set("Content-Type", ct)
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": e.Name}))
	if h.Get("Content-Disposition") == "" {
		h.Set("Content-Disposition", "attachment")
	}
	rd := newObjectReader(s.dirs.objDir(o.UUID), o)
	defer rd.Close()
	http.ServeContent(w, r, "", time.Time{}, rd)
}
