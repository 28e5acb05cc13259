package emulator

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// minPartSize is S3's smallest non-final part.
const minPartSize = 5 << 20

// uploadRef is the {key, uploadId} pair of every multipart call.
type uploadRef struct {
	Key      string `json:"key"`
	UploadID string `json:"uploadId"`
}

// lookupLocked returns the open upload named by ref, or nil.
func (s *Server) lookupLocked(ref uploadRef) *upload {
	u := s.st.uploads[ref.UploadID]
	if u == nil || (ref.Key != "" && ref.Key != u.key()) {
		return nil
	}
	return u
}

func noSuchUpload(w http.ResponseWriter) {
	msgError(w, http.StatusNotFound, "NoSuchUpload: The specified multipart upload does not exist.")
}

// POST /s3/multipart/create {filename, mime, size, extension, workspaceId, ...}
func (s *Server) handleCreateMultipart(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Filename  string `json:"filename"`
		Mime      string `json:"mime"`
		Size      optInt `json:"size"`
		Workspace optInt `json:"workspaceId"`
	}
	if err := decodeBody(r, &body); err != nil {
		badBody(w, err)
		return
	}
	if body.Filename == "" {
		invalid(w, "filename", "The filename field is required.")
		return
	}
	if body.Size.V < 0 {
		invalid(w, "size", "The size must be at least 0.")
		return
	}
	var id [48]byte
	_, _ = rand.Read(id[:])
	u := &upload{ID: base64.RawURLEncoding.EncodeToString(id[:]), UUID: newUUID(), Filename: body.Filename,
		Mime: body.Mime, Size: body.Size.V, Workspace: workspaceOf(r, body.Workspace), Created: time.Now()}
	s.mu.Lock()
	err := s.commitLocked(&record{Upload: u})
	s.mu.Unlock()
	if err != nil {
		serverError(w, err)
		return
	}
	s.maybeCompact()
	writeJSON(w, http.StatusOK, map[string]any{"key": u.key(), "uploadId": u.ID, "acl": "private", "status": "success"})
}

// POST /s3/multipart/batch-sign-part-urls {key, uploadId, partNumbers}
func (s *Server) handleSignParts(w http.ResponseWriter, r *http.Request) {
	var body struct {
		uploadRef
		PartNumbers idList `json:"partNumbers"`
	}
	if err := decodeBody(r, &body); err != nil {
		badBody(w, err)
		return
	}
	if len(body.PartNumbers) == 0 {
		invalid(w, "partNumbers", "The part numbers field is required.")
		return
	}
	s.mu.RLock()
	u := s.lookupLocked(body.uploadRef)
	s.mu.RUnlock()
	if u == nil {
		noSuchUpload(w)
		return
	}
	type signed struct {
		PartNumber int64  `json:"partNumber"`
		URL        string `json:"url"`
	}
	urls := make([]signed, 0, len(body.PartNumbers))
	for _, n := range body.PartNumbers {
		if n < 1 || n > 10000 {
			invalid(w, "partNumbers", fmt.Sprintf("Part number %d is not between 1 and 10000.", n))
			return
		}
		q := url.Values{"partNumber": {strconv.FormatInt(n, 10)}, "uploadId": {u.ID}}
		urls = append(urls, signed{n, s.presign(r, http.MethodPut, u.UUID, q)})
	}
	writeJSON(w, http.StatusOK, success(map[string]any{"urls": urls}))
}

// POST /s3/multipart/complete {key, uploadId, parts:[{PartNumber, ETag}]}
// enforces the S3 rules and turns the parts into a stored object (a
// manifest of the part files). It creates no entry.
func (s *Server) handleComplete(w http.ResponseWriter, r *http.Request) {
	var body struct {
		uploadRef
		Parts []struct {
			PartNumber optInt `json:"PartNumber"`
			ETag       string `json:"ETag"`
		} `json:"parts"`
	}
	if err := decodeBody(r, &body); err != nil {
		badBody(w, err)
		return
	}
	q := s.Quirks()
	s.mu.Lock()
	u := s.lookupLocked(body.uploadRef)
	if u == nil {
		end, ok := s.st.ended[body.UploadID]
		s.mu.Unlock()
		if ok && end.Completed && (body.Key == "" || body.Key == "uploads/"+end.UUID+"/"+end.UUID) {
			writeJSON(w, http.StatusOK, map[string]any{"location": location(r, end.UUID), "status": "success"})
			return
		}
		noSuchUpload(w)
		return
	}
	var chosen []*part
	var problem string
	for i, p := range body.Parts {
		n := int(p.PartNumber.V)
		have := u.Parts[n]
		switch {
		case !p.PartNumber.Set:
			problem = fmt.Sprintf("InvalidPart: part %d has no PartNumber", i+1)
		case i > 0 && n <= int(body.Parts[i-1].PartNumber.V):
			problem = fmt.Sprintf("InvalidPartOrder: part numbers must be ascending and unique (%d after %d)", n, body.Parts[i-1].PartNumber.V)
		case have == nil:
			problem = fmt.Sprintf("InvalidPart: part %d was not uploaded", n)
		case !strings.EqualFold(strings.Trim(strings.TrimSpace(p.ETag), `"`), have.ETag):
			problem = fmt.Sprintf("InvalidPart: the ETag of part %d does not match (got %s)", n, p.ETag)
		}
		if problem != "" {
			break
		}
		chosen = append(chosen, have)
	}
	if problem == "" {
		problem = checkPartSizes(chosen, q.EqualPartSizes)
	}
	if problem != "" {
		s.mu.Unlock()
		msgError(w, http.StatusBadRequest, problem)
		return
	}
	o := &object{UUID: u.UUID}
	keep := make(map[string]bool)
	for _, p := range chosen {
		o.Files = append(o.Files, objFile{Name: p.File, Size: p.Size})
		o.Size += p.Size
		keep[p.File] = true
	}
	var unused []string
	for _, p := range u.Parts {
		if !keep[p.File] {
			unused = append(unused, s.dirs.objFile(u.UUID, p.File))
		}
	}
	err := s.commitLocked(&record{Objects: []*object{o}, End: &endRec{Upload: u.ID, Completed: true}})
	s.mu.Unlock()
	if err != nil {
		serverError(w, err)
		return
	}
	s.removeFiles(unused)
	s.maybeCompact()
	writeJSON(w, http.StatusOK, map[string]any{"location": location(r, u.UUID), "status": "success"})
}

// checkPartSizes applies the S3 size rules to the parts of a complete.
func checkPartSizes(parts []*part, equal bool) string {
	if len(parts) == 0 {
		return "MalformedXML: at least one part is required"
	}
	for _, p := range parts[:len(parts)-1] {
		if p.Size < minPartSize {
			return fmt.Sprintf("EntityTooSmall: part %d is %d bytes; every part but the last must be at least %d bytes", p.N, p.Size, minPartSize)
		}
		if equal && p.Size != parts[0].Size {
			return fmt.Sprintf("InvalidPart: part %d is %d bytes; all non-final parts must be %d bytes like part %d", p.N, p.Size, parts[0].Size, parts[0].N)
		}
	}
	if last := parts[len(parts)-1]; equal && len(parts) > 1 && last.Size > parts[0].Size {
		return fmt.Sprintf("InvalidPart: the last part (%d bytes) is larger than the others (%d bytes)", last.Size, parts[0].Size)
	}
	return ""
}

func location(r *http.Request, uuid string) string {
	return origin(r) + storagePrefix + "drimestorage/" + url.PathEscape("uploads/"+uuid+"/"+uuid)
}

// POST /s3/multipart/abort {key, uploadId}
func (s *Server) handleAbort(w http.ResponseWriter, r *http.Request) {
	var body uploadRef
	if err := decodeBody(r, &body); err != nil {
		badBody(w, err)
		return
	}
	s.mu.Lock()
	u := s.lookupLocked(body)
	if u == nil {
		end, ok := s.st.ended[body.UploadID]
		s.mu.Unlock()
		if ok && !end.Completed {
			writeJSON(w, http.StatusOK, success(nil))
			return
		}
		noSuchUpload(w)
		return
	}
	err := s.commitLocked(&record{End: &endRec{Upload: u.ID}})
	s.mu.Unlock()
	if err != nil {
		serverError(w, err)
		return
	}
	s.removeFiles([]string{s.dirs.objDir(u.UUID)})
	writeJSON(w, http.StatusOK, success(nil))
}

// POST /s3/multipart/get-uploaded-parts {key, uploadId}
func (s *Server) handleUploadedParts(w http.ResponseWriter, r *http.Request) {
	var body uploadRef
	if err := decodeBody(r, &body); err != nil {
		badBody(w, err)
		return
	}
	type listed struct {
		PartNumber int    `json:"PartNumber"`
		ETag       string `json:"ETag"`
		Size       int64  `json:"Size"`
	}
	s.mu.RLock()
	u := s.lookupLocked(body)
	var parts []listed
	if u != nil {
		for _, p := range u.Parts {
			parts = append(parts, listed{p.N, `"` + p.ETag + `"`, p.Size})
		}
		sort.Slice(parts, func(i, j int) bool { return parts[i].PartNumber < parts[j].PartNumber })
	}
	s.mu.RUnlock()
	if u == nil {
		noSuchUpload(w)
		return
	}
	if parts == nil {
		parts = []listed{}
	}
	writeJSON(w, http.StatusOK, success(map[string]any{"parts": parts}))
}
