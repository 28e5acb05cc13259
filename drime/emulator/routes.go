package emulator

import (
	"bufio"
	"errors"
	"net"
	"net/http"
	"strings"
)

const (
	apiPrefix     = "/api/v1/"
	storagePrefix = "/_storage/"
)

// Fault OP names; every request is counted under one of them or "other".
var opNames = []string{"list", "upload", "create", "sign", "put-part", "complete", "entries",
	"download", "folders", "rename", "move", "delete", "other"}

// routes builds the /api/v1/ router (after auth).
func (s *Server) routes() *http.ServeMux {
	m := http.NewServeMux()
	h := func(pattern string, f http.HandlerFunc) { m.HandleFunc(pattern, f) }
	p := func(method, path string) string { return method + " " + apiPrefix + path }

	h(p("GET", "cli/loggedUser"), s.handleLoggedUser)
	h(p("GET", "me/workspaces"), s.handleWorkspaces)
	h(p("GET", "user/space-usage"), s.handleSpaceUsage)

	h(p("GET", "drive/file-entries"), s.handleList)
	h(p("GET", "users/{id}/folders"), s.handleUserFolders)
	h(p("GET", "folders/{ref}/path"), s.handleFolderPath)
	h(p("GET", "folders/{ref}/count"), s.handleFolderCount)
	h(p("POST", "folders"), s.handleCreateFolder)

	h(p("POST", "uploads"), s.handleUpload)
	h(p("POST", "uploads/validate"), s.handleValidate)
	h(p("POST", "entry/getAvailableName"), s.handleAvailableName)

	h(p("POST", "s3/simple/presign"), s.handlePresign)
	h(p("POST", "s3/multipart/create"), s.handleCreateMultipart)
	h(p("POST", "s3/multipart/batch-sign-part-urls"), s.handleSignParts)
	h(p("POST", "s3/multipart/complete"), s.handleComplete)
	h(p("POST", "s3/multipart/abort"), s.handleAbort)
	h(p("POST", "s3/multipart/get-uploaded-parts"), s.handleUploadedParts)
	h(p("POST", "s3/entries"), s.handleS3Entry)

	h(p("GET", "file-entries/{id}"), s.handleDownloadByID)
	h(p("GET", "file-entries/download/{hash}"), s.handleDownloadByHash)
	h(p("PUT", "file-entries/{id}"), s.handleUpdate)
	h(p("POST", "file-entries/{id}"), s.handleUpdate)
	h(p("POST", "file-entries/move"), s.handleMove)
	h(p("POST", "file-entries/duplicate"), s.handleDuplicate)
	h(p("POST", "file-entries/delete"), s.handleDelete)
	h(p("DELETE", "file-entries"), s.handleDelete)
	h(p("POST", "file-entries/restore"), s.handleRestore)
	h(p("POST", "file-entries/empty-trash"), s.handleEmptyTrash)

	m.HandleFunc(apiPrefix, func(w http.ResponseWriter, r *http.Request) {
		msgError(w, http.StatusNotFound, "The route "+strings.TrimPrefix(r.URL.Path, "/")+" could not be found.")
	})
	return m
}

// apiOp names the fault OP of an API request (path without the prefix).
func apiOp(method, p string) string {
	post := method == http.MethodPost
	switch {
	case p == "drive/file-entries" && (method == http.MethodGet || method == http.MethodHead):
		return "list"
	case p == "uploads" && post:
		return "upload"
	case p == "s3/multipart/create":
		return "create"
	case p == "s3/multipart/batch-sign-part-urls", p == "s3/simple/presign":
		return "sign"
	case p == "s3/multipart/complete":
		return "complete"
	case p == "s3/entries":
		return "entries"
	case p == "folders" && post:
		return "folders"
	case p == "file-entries/move":
		return "move"
	case p == "file-entries/delete", p == "file-entries" && method == http.MethodDelete:
		return "delete"
	case strings.HasPrefix(p, "file-entries/download/"):
		return "download"
	case strings.HasPrefix(p, "file-entries/") && strings.Count(p, "/") == 1:
		switch method {
		case http.MethodGet, http.MethodHead:
			return "download"
		case http.MethodPut, http.MethodPost:
			if rest := strings.TrimPrefix(p, "file-entries/"); rest != "duplicate" && rest != "restore" && rest != "empty-trash" {
				return "rename"
			}
		}
	}
	return "other"
}

func storageOp(method string) string {
	switch method {
	case http.MethodPut:
		return "put-part"
	case http.MethodGet, http.MethodHead:
		return "download"
	}
	return "other"
}

// respWriter records the status for the request log and passes Flush and
// Hijack through, so faults can cut connections.
type respWriter struct {
	http.ResponseWriter
	status   int
	hijacked bool
}

func (w *respWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *respWriter) Write(p []byte) (int, error) {
	if w.hijacked {
		return 0, errConnCut
	}
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

func (w *respWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok && !w.hijacked {
		f.Flush()
	}
}

func (w *respWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("connection cannot be hijacked")
	}
	c, b, err := h.Hijack()
	if err == nil {
		w.hijacked = true
	}
	return c, b, err
}

var errConnCut = errors.New("connection cut by fault")

// cut flushes what was written and closes the connection without finishing
// the response. Without hijacking support it aborts the handler instead.
func (w *respWriter) cut() {
	if w.hijacked {
		return
	}
	if w.status != 0 {
		w.Flush() // push out what was written; never invent a header
	}
	c, _, err := w.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	_ = c.Close()
}
