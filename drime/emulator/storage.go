package emulator

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// The storage endpoint stands in for Cloudflare R2: presigned URLs of the
// form /_storage/uploads/<uuid>/<uuid>?...&expires=<unix>&sig=<hmac> accept
// part PUTs (partNumber, uploadId), whole-object PUTs (simple presign) and
// GETs (download redirects). A signature covers the method, the path and
// every other query parameter.

// loadSecret reads the signing key, creating it on first use.
func loadSecret(root string) ([]byte, error) {
	b, err := os.ReadFile(filepath.Join(root, "secret"))
	if err == nil && len(b) >= 32 {
		return b, nil
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read secret: %w", err)
	}
	b = []byte(randHex(32))
	if err := writeFileAtomic(root, "secret", b); err != nil {
		return nil, err
	}
	return b, nil
}

func (s *Server) signature(method, path string, q url.Values) string {
	m := hmac.New(sha256.New, s.secret)
	m.Write([]byte(method + "\n" + path + "\n" + q.Encode()))
	return hex.EncodeToString(m.Sum(nil))
}

// origin is the scheme and host the request came to.
func origin(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// presign returns an absolute storage URL for method on object uuid.
func (s *Server) presign(r *http.Request, method, uuid string, q url.Values) string {
	if q == nil {
		q = url.Values{}
	}
	p := storagePrefix + "uploads/" + uuid + "/" + uuid
	q.Set("expires", strconv.FormatInt(time.Now().Add(s.cfg.PartURLTTL).Unix(), 10))
	q.Set("sig", s.signature(method, p, q))
	return origin(r) + p + "?" + q.Encode()
}

// checkSignature verifies the sig and expiry of a storage request.
func (s *Server) checkSignature(r *http.Request) (code, msg string, ok bool) {
	q := r.URL.Query()
	sig := q.Get("sig")
	q.Del("sig")
	method := r.Method
	if method == http.MethodHead {
		method = http.MethodGet
	}
	want := s.signature(method, r.URL.Path, q)
	if sig == "" || !hmac.Equal([]byte(sig), []byte(want)) {
		return "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided.", false
	}
	exp, err := strconv.ParseInt(q.Get("expires"), 10, 64)
	if err != nil || time.Now().After(time.Unix(exp, 0)) {
		return "AccessDenied", "Request has expired", false
	}
	return "", "", true
}

// serveStorage handles every /_storage/ request.
func (s *Server) serveStorage(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "" && !s.Quirks().AllowAuthOnStorage {
		s3Error(w, http.StatusForbidden, "AccessDenied",
			"Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified")
		return
	}
	rest := strings.TrimPrefix(r.URL.Path, storagePrefix+"uploads/")
	a, b, found := strings.Cut(rest, "/")
	if !found || a == "" || a != b || strings.Contains(a, "/") || strings.Contains(a, ".") {
		s3Error(w, http.StatusNotFound, "NoSuchKey", "The specified key does not exist.")
		return
	}
	if code, msg, ok := s.checkSignature(r); !ok {
		s3Error(w, http.StatusForbidden, code, msg)
		return
	}
	q := r.URL.Query()
	switch {
	case r.Method == http.MethodPut && q.Has("uploadId"):
		s.putPart(w, r, a, q.Get("uploadId"), q.Get("partNumber"))
	case r.Method == http.MethodPut:
		s.putObject(w, r, a)
	case r.Method == http.MethodGet || r.Method == http.MethodHead:
		s.getObject(w, r, a, q.Get("entry"))
	default:
		s3Error(w, http.StatusMethodNotAllowed, "MethodNotAllowed", "The specified method is not allowed against this resource.")
	}
}

// putPart stores one part of a multipart upload.
func (s *Server) putPart(w http.ResponseWriter, r *http.Request, uuid, uploadID, num string) {
	n, err := strconv.Atoi(num)
	if err != nil || n < 1 || n > 10000 {
		s3Error(w, http.StatusBadRequest, "InvalidArgument", "Part number must be an integer between 1 and 10000, inclusive")
		return
	}
	s.mu.RLock()
	u := s.st.uploads[uploadID]
	known := u != nil && u.UUID == uuid
	s.mu.RUnlock()
	if !known {
		s3Error(w, http.StatusNotFound, "NoSuchUpload", "The specified multipart upload does not exist.")
		return
	}
	rec, err := s.receive(r.Context(), countingReader{r.Body, &s.stats.putBytes}, true)
	if err != nil {
		s3Error(w, http.StatusBadRequest, "IncompleteBody", "You did not provide the number of bytes specified by the Content-Length HTTP header.")
		return
	}
	name := fmt.Sprintf("part-%05d-%s", n, randHex(4))
	if err := s.install(rec, uuid, name); err != nil {
		s3Error(w, http.StatusInternalServerError, "InternalError", err.Error())
		return
	}
	p := &part{N: n, File: name, ETag: rec.md5, Size: rec.size}
	s.mu.Lock()
	var old *part
	u = s.st.uploads[uploadID]
	if u == nil {
		err = errors.New("upload ended")
	} else {
		old = u.Parts[n]
		err = s.commitLocked(&record{Part: &partRec{Upload: uploadID, Part: p}})
	}
	s.mu.Unlock()
	if err != nil {
		s.removeFiles([]string{s.dirs.objFile(uuid, name)})
		s3Error(w, http.StatusNotFound, "NoSuchUpload", "The specified multipart upload does not exist.")
		return
	}
	if old != nil {
		s.removeFiles([]string{s.dirs.objFile(uuid, old.File)})
	}
	s.maybeCompact()
	s.stats.partSize(rec.size)
	w.Header().Set("ETag", `"`+rec.md5+`"`)
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
}

// putObject stores a whole object (simple presign).
func (s *Server) putObject(w http.ResponseWriter, r *http.Request, uuid string) {
	s.mu.RLock()
	inUse := s.st.refs[uuid] > 0
	s.mu.RUnlock()
	if inUse {
		s3Error(w, http.StatusForbidden, "AccessDenied", "The object is registered and cannot be replaced.")
		return
	}
	rec, err := s.receive(r.Context(), countingReader{r.Body, &s.stats.putBytes}, true)
	if err != nil {
		s3Error(w, http.StatusBadRequest, "IncompleteBody", "You did not provide the number of bytes specified by the Content-Length HTTP header.")
		return
	}
	name := "blob-" + randHex(4)
	if err := s.install(rec, uuid, name); err != nil {
		s3Error(w, http.StatusInternalServerError, "InternalError", err.Error())
		return
	}
	o := &object{UUID: uuid, Files: []objFile{{Name: name, Size: rec.size}}, Size: rec.size}
	s.mu.Lock()
	old := s.st.objects[uuid]
	if s.st.refs[uuid] > 0 {
		err = errors.New("the object was registered meanwhile")
	} else {
		err = s.commitLocked(&record{Objects: []*object{o}})
	}
	s.mu.Unlock()
	if err != nil {
		s.removeFiles([]string{s.dirs.objFile(uuid, name)})
		s3Error(w, http.StatusConflict, "OperationAborted", err.Error())
		return
	}
	if old != nil {
		var paths []string
		for _, f := range old.Files {
			paths = append(paths, s.dirs.objFile(uuid, f.Name))
		}
		s.removeFiles(paths)
	}
	s.maybeCompact()
	w.Header().Set("ETag", `"`+rec.md5+`"`)
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
}

// getObject serves an object's bytes; entry, when given, names the entry
// whose name and mime the headers use.
func (s *Server) getObject(w http.ResponseWriter, r *http.Request, uuid, entryRef string) {
	s.mu.RLock()
	o := s.st.objects[uuid]
	var e *entry
	if id, ok := parseRef(entryRef); ok {
		if x := s.st.entries[id]; x != nil && x.Object == uuid {
			c := *x
			e = &c
		}
	}
	s.mu.RUnlock()
	if o == nil {
		s3Error(w, http.StatusNotFound, "NoSuchKey", "The specified key does not exist.")
		return
	}
	if e == nil {
		e = &entry{Name: uuid, Mime: "application/octet-stream"}
	}
	s.serveObject(w, r, e, o)
}
