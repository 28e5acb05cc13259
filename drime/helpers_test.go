package drime

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// testToken looks like a Sanctum token; tests assert it never leaks.
const testToken = "4711|SeCrEt-T0ken-do-not-log"

// fakeServer is an httptest server with a handler that tests swap, a
// record of requests, and captured client logs.
type fakeServer struct {
	t    *testing.T
	srv  *httptest.Server
	logs *syncBuffer

	mu       sync.Mutex
	handler  http.HandlerFunc
	requests []recorded
	sleeps   []time.Duration
}

type recorded struct {
	Method string
	Path   string
	Query  string
	Header http.Header
	Body   []byte
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newFake(t *testing.T, h http.HandlerFunc) *fakeServer {
	t.Helper()
	f := &fakeServer{t: t, handler: h, logs: &syncBuffer{}}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		f.mu.Lock()
		f.requests = append(f.requests, recorded{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Clone(), body})
		h := f.handler
		f.mu.Unlock()
		h(w, r)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

// client returns a Client against the fake with a fast retry policy and a
// sleep that records delays instead of waiting.
func (f *fakeServer) client() *Client {
	f.t.Helper()
	c, err := New(Config{
		BaseURL: f.srv.URL + "/api/v1/",
		Token:   testToken,
		Logger:  zerolog.New(f.logs).Level(zerolog.DebugLevel),
		Retry:   RetryPolicy{MaxAttempts: 5, Base: time.Millisecond, Cap: 4 * time.Millisecond},
	})
	if err != nil {
		f.t.Fatal(err)
	}
	c.sleep = func(ctx context.Context, d time.Duration) error {
		f.mu.Lock()
		f.sleeps = append(f.sleeps, d)
		f.mu.Unlock()
		return ctx.Err()
	}
	f.t.Cleanup(func() { assertNoSecrets(f.t, "logs", f.logs.String()) })
	return c
}

func (f *fakeServer) reqs() []recorded {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]recorded(nil), f.requests...)
}

func (f *fakeServer) count(path string) int {
	n := 0
	for _, r := range f.reqs() {
		if r.Path == path {
			n++
		}
	}
	return n
}

func (f *fakeServer) setHandler(h http.HandlerFunc) {
	f.mu.Lock()
	f.handler = h
	f.mu.Unlock()
}

// assertNoSecrets fails when text carries the token or a presigned query.
func assertNoSecrets(t *testing.T, what, text string) {
	t.Helper()
	for _, secret := range []string{testToken, "SeCrEt", "X-Amz-Signature", "sig=", "expires="} {
		if strings.Contains(text, secret) {
			t.Errorf("%s contain %q:\n%s", what, secret, text)
		}
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// loseResponse simulates an answer lost after the work was done: the
// connection is closed without a response.
func loseResponse(w http.ResponseWriter) {
	conn, _, err := w.(http.Hijacker).Hijack()
	if err != nil {
		panic(err)
	}
	conn.Close()
}

// entryJSON renders a FileEntry the way Drime does.
func entryJSON(id int64, parent int64, name, typ string, size int64) map[string]any {
	var p any
	if parent != 0 {
		p = parent
	}
	return map[string]any{
		"id": id, "parent_id": p, "name": name, "type": typ, "file_size": size,
		"hash": "h" + name, "url": "api/v1/file-entries/" + jsonNum(id),
		"created_at": "2024-01-15T10:30:00.000000Z", "updated_at": "2024-01-15T10:30:00.000000Z",
		"deleted_at": nil, "backup": false, "permissions": []any{},
	}
}

func jsonNum(n int64) string { b, _ := json.Marshal(n); return string(b) }

// listing answers GET /drive/file-entries with entries in one page.
func listing(entries ...map[string]any) map[string]any {
	if entries == nil {
		entries = []map[string]any{}
	}
	return map[string]any{"data": entries, "current_page": 1, "last_page": 1, "folder": nil}
}

func decodeBody(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Errorf("body %q: %v", b, err) // may run in a handler: no Fatal
		return map[string]any{}
	}
	return m
}
