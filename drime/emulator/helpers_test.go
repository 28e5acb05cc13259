package emulator

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
)

const testToken = "123|emulator-test-token"

// harness is one emulator behind a real HTTP server, spoken to with raw
// net/http requests (never the drime client).
type harness struct {
	t     testing.TB
	dir   string
	srv   *Server
	ts    *httptest.Server
	hc    *http.Client
	token string
}

func newHarness(t testing.TB, mod func(*Config)) *harness {
	t.Helper()
	return startHarness(t, t.TempDir(), mod)
}

func startHarness(t testing.TB, dir string, mod func(*Config)) *harness {
	t.Helper()
	cfg := Config{DataDir: dir, Tokens: []string{testToken}, Seed: 42}
	if mod != nil {
		mod(&cfg)
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	h := &harness{t: t, dir: dir, srv: srv, token: testToken}
	h.ts = httptest.NewServer(srv)
	h.hc = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	t.Cleanup(h.stop)
	return h
}

// stop closes the HTTP server and the emulator (idempotent).
func (h *harness) stop() {
	if h.ts != nil {
		h.ts.Close()
		h.ts = nil
	}
	if h.srv != nil {
		if err := h.srv.Close(); err != nil {
			h.t.Errorf("Close: %v", err)
		}
		h.srv = nil
	}
}

// crash simulates kill -9: files are closed without a final snapshot.
func (h *harness) crash() {
	h.ts.Close()
	h.ts = nil
	s := h.srv
	s.mu.Lock()
	s.closed = true
	s.isClosed.Store(true)
	_ = s.j.close()
	s.mu.Unlock()
	_ = s.lock.Close()
	h.srv = nil
}

// request sends method to path (relative to the server, or absolute).
// body: nil, []byte, string, io.Reader (sent raw) or anything else (JSON).
func (h *harness) request(method, path string, body any, hdr map[string]string) *http.Response {
	h.t.Helper()
	var rd io.Reader
	ctype := ""
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	case string:
		rd = strings.NewReader(b)
	case io.Reader:
		rd = b
	default:
		j, err := json.Marshal(b)
		if err != nil {
			h.t.Fatalf("encode body: %v", err)
		}
		rd, ctype = bytes.NewReader(j), "application/json"
	}
	url := path
	if !strings.HasPrefix(path, "http") {
		url = h.ts.URL + path
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		h.t.Fatalf("new request: %v", err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if strings.HasPrefix(path, "/api/v1/") {
		req.Header.Set("Authorization", "Bearer "+h.token)
		req.Header.Set("Accept", "application/json")
	}
	for k, v := range hdr {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := h.hc.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	return resp
}

// call sends a request, checks the status and decodes the JSON answer into
// out (when not nil). It returns the raw body.
func (h *harness) call(method, path string, body any, want int, out any) []byte {
	h.t.Helper()
	resp := h.request(method, path, body, nil)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	if resp.StatusCode != want {
		h.t.Fatalf("%s %s: status %d, want %d; body %s", method, path, resp.StatusCode, want, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			h.t.Fatalf("%s %s: decode %s: %v", method, path, b, err)
		}
	}
	return b
}

// wireEntry is the test's own view of a FileEntry.
type wireEntry struct {
	ID          int64            `json:"id"`
	Name        string           `json:"name"`
	Type        string           `json:"type"`
	Hash        string           `json:"hash"`
	FileSize    int64            `json:"file_size"`
	ParentID    *int64           `json:"parent_id"`
	Mime        *string          `json:"mime"`
	Extension   *string          `json:"extension"`
	FileName    *string          `json:"file_name"`
	DiskPrefix  *string          `json:"disk_prefix"`
	URL         *string          `json:"url"`
	Path        string           `json:"path"`
	WorkspaceID int64            `json:"workspace_id"`
	OwnerID     int64            `json:"owner_id"`
	Backup      bool             `json:"backup"`
	DeletedAt   *string          `json:"deleted_at"`
	CreatedAt   string           `json:"created_at"`
	UpdatedAt   string           `json:"updated_at"`
	Users       []map[string]any `json:"users"`
	Permissions map[string]bool  `json:"permissions"`
}

type wirePage struct {
	Data        []wireEntry `json:"data"`
	Folder      *wireEntry  `json:"folder"`
	CurrentPage int         `json:"current_page"`
	LastPage    int         `json:"last_page"`
	PerPage     int         `json:"per_page"`
	From        *int        `json:"from"`
	To          *int        `json:"to"`
	Total       int         `json:"total"`
	NextPageURL *string     `json:"next_page_url"`
}

func (h *harness) mkdir(parent int64, name string) wireEntry {
	h.t.Helper()
	body := map[string]any{"name": name}
	if parent != 0 {
		body["parentId"] = parent
	}
	var out struct {
		Status string    `json:"status"`
		Folder wireEntry `json:"folder"`
	}
	h.call("POST", "/api/v1/folders", body, http.StatusOK, &out)
	if out.Status != "success" || out.Folder.Type != "folder" || out.Folder.Name != name {
		h.t.Fatalf("mkdir %q: %+v", name, out)
	}
	return out.Folder
}

// uploadForm builds a POST /uploads body.
func uploadForm(fields map[string]string, name string, content []byte) (*bytes.Buffer, string) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, v := range fields {
		_ = mw.WriteField(k, v)
	}
	fw, _ := mw.CreateFormFile("file", name)
	_, _ = fw.Write(content)
	_ = mw.Close()
	return &buf, mw.FormDataContentType()
}

// upload stores a small file with POST /uploads (parent 0 = root).
func (h *harness) upload(parent int64, name string, content []byte) wireEntry {
	h.t.Helper()
	fields := map[string]string{"relativePath": name, "workspaceId": "0"}
	if parent != 0 {
		fields["parentId"] = strconv.FormatInt(parent, 10)
	}
	buf, ct := uploadForm(fields, name, content)
	resp := h.request("POST", "/api/v1/uploads", buf, map[string]string{"Content-Type": ct})
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated {
		h.t.Fatalf("upload %q: status %d: %s", name, resp.StatusCode, b)
	}
	var out struct {
		Status    string    `json:"status"`
		FileEntry wireEntry `json:"fileEntry"`
	}
	if err := json.Unmarshal(b, &out); err != nil || out.Status != "success" {
		h.t.Fatalf("upload %q: %s (%v)", name, b, err)
	}
	return out.FileEntry
}

func (h *harness) list(query string) wirePage {
	h.t.Helper()
	var p wirePage
	h.call("GET", "/api/v1/drive/file-entries?"+query, nil, http.StatusOK, &p)
	return p
}

// listAll walks every page of a listing.
func (h *harness) listAll(query string) []wireEntry {
	h.t.Helper()
	var out []wireEntry
	for page := 1; page < 1000; page++ {
		p := h.list(fmt.Sprintf("%s&perPage=200&page=%d", query, page))
		out = append(out, p.Data...)
		if len(p.Data) == 0 || p.CurrentPage >= p.LastPage {
			break
		}
	}
	return out
}

func (h *harness) download(path, rangeHdr string) (*http.Response, []byte) {
	h.t.Helper()
	hdr := map[string]string{}
	if rangeHdr != "" {
		hdr["Range"] = rangeHdr
	}
	resp := h.request("GET", path, nil, hdr)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatalf("download %s: %v", path, err)
	}
	return resp, b
}

// wantHash is the test's own implementation of drime-api.md §3.1.
func wantHash(id int64) string {
	pre := strconv.FormatInt(id, 10) + "|"
	for i := 0; len(pre) < 10; i++ {
		pre += string("padding"[i%7])
	}
	return strings.TrimRight(base64.StdEncoding.EncodeToString([]byte(pre)), "=")
}

// pattern is deterministic pseudo-random content of any size, readable at
// any offset, in 64 KiB blocks each seeded by its index.
type pattern struct {
	seed uint64
	size int64
}

const patBlock = 64 << 10

func (p pattern) ReadAt(b []byte, off int64) (int, error) {
	if off >= p.size {
		return 0, io.EOF
	}
	n := 0
	blk := make([]byte, patBlock)
	for n < len(b) && off < p.size {
		i := off / patBlock
		var seed [32]byte
		copy(seed[:8], strconv.AppendUint(nil, p.seed, 16))
		copy(seed[8:], strconv.AppendInt(nil, i, 10))
		_, _ = rand.NewChaCha8(seed).Read(blk)
		c := copy(b[n:], blk[off-i*patBlock:min(patBlock, p.size-i*patBlock)])
		n += c
		off += int64(c)
	}
	if n < len(b) {
		return n, io.EOF
	}
	return n, nil
}

// sha returns the SHA-256 hex of p's bytes [off, off+n).
func (p pattern) sha(off, n int64) string {
	s := sha256.New()
	if _, err := io.Copy(s, io.NewSectionReader(p, off, n)); err != nil {
		panic(err)
	}
	return hex.EncodeToString(s.Sum(nil))
}

func shaHex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func newSHA() hash.Hash { return sha256.New() }

func ioSection(r io.ReaderAt, off, n int64) io.Reader { return io.NewSectionReader(r, off, n) }

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
