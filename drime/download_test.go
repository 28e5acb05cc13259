package drime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

const content = "0123456789abcdefghij" // 20 bytes

// rangeServer serves content honouring single ranges like storage does.
func rangeServer(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/octet-stream")
	rng := r.Header.Get("Range")
	if rng == "" {
		_, _ = io.WriteString(w, content)
		return
	}
	a, b, _ := strings.Cut(strings.TrimPrefix(rng, "bytes="), "-")
	start, _ := strconv.Atoi(a)
	end := len(content) - 1
	if b != "" {
		end, _ = strconv.Atoi(b)
		end = min(end, len(content)-1)
	}
	if start >= len(content) {
		w.Header().Set("Content-Range", fmt.Sprintf("bytes */%d", len(content)))
		w.WriteHeader(416)
		return
	}
	w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, end, len(content)))
	w.WriteHeader(206)
	_, _ = io.WriteString(w, content[start:end+1])
}

var testEntry = &Entry{ID: 42, Hash: "NDJ8cGFkZGluZw", URL: "api/v1/file-entries/42", Size: int64(len(content))}

func read(t *testing.T, c *Client, off, length int64) (string, error) {
	t.Helper()
	rc, err := c.Download(context.Background(), testEntry, off, length)
	if err != nil {
		return "", err
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	return string(b), err
}

func TestDownload206(t *testing.T) {
	f := newFake(t, rangeServer)
	c := f.client()
	for _, tc := range []struct {
		off, length int64
		want        string
	}{
		{0, -1, content}, {0, 5, "01234"}, {5, 5, "56789"}, {15, -1, "fghij"}, {15, 100, "fghij"}, {19, 1, "j"}, {20, -1, ""},
		{3, 0, ""},
	} {
		got, err := read(t, c, tc.off, tc.length)
		if err != nil || got != tc.want {
			t.Errorf("Download(%d, %d) = %q, %v; want %q", tc.off, tc.length, got, err, tc.want)
		}
	}
	if _, err := read(t, c, 25, 5); statusOf(err) != 416 {
		t.Errorf("beyond the end: %v, want a 416 error", err)
	}
	r := f.reqs()[1]
	if r.Header.Get("Range") != "bytes=0-4" || r.Header.Get("Authorization") != "Bearer "+testToken ||
		r.Path != "/api/v1/file-entries/42" {
		t.Errorf("request %s Range=%q", r.Path, r.Header.Get("Range"))
	}
}

// A server that ignores Range answers 200 with the whole file; the client
// skips to the offset itself.
func TestDownload200Skip(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, content) })
	c := f.client()
	for _, tc := range []struct {
		off, length int64
		want        string
	}{{0, -1, content}, {7, 3, "789"}, {15, -1, "fghij"}, {18, 10, "ij"}, {20, -1, ""}} {
		got, err := read(t, c, tc.off, tc.length)
		if err != nil || got != tc.want {
			t.Errorf("Download(%d, %d) = %q, %v; want %q", tc.off, tc.length, got, err, tc.want)
		}
	}
}

func TestDownloadTruncated(t *testing.T) {
	for name, h := range map[string]http.HandlerFunc{
		"206 short body": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Range", "bytes 0-9/20")
			w.Header().Set("Content-Length", "10")
			w.WriteHeader(206)
			_, _ = io.WriteString(w, "01234") // then the connection dies
		},
		"206 wrong Content-Length": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Range", "bytes 0-9/20")
			w.Header().Set("Content-Length", "5")
			w.WriteHeader(206)
			_, _ = io.WriteString(w, "01234")
		},
		"200 short body": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "20")
			_, _ = io.WriteString(w, "01234")
		},
	} {
		f := newFake(t, h)
		got, err := read(t, f.client(), 0, 10)
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("%s: got %q, %v; want io.ErrUnexpectedEOF", name, got, err)
		}
	}
	// The skip on a 200 hits the early end: a transport error (retried).
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "20")
		_, _ = io.WriteString(w, "0123")
	})
	if _, err := read(t, f.client(), 10, 5); !errors.Is(err, io.ErrUnexpectedEOF) || !errors.Is(err, ErrUnavailable) {
		t.Errorf("short skip: %v", err)
	}
}

func TestDownloadBadContentRange(t *testing.T) {
	for name, cr := range map[string]string{
		"wrong start": "bytes 0-9/20", "missing": "", "garbage": "bytes x-y/z", "short range": "bytes 5-6/20",
	} {
		f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
			if cr != "" {
				w.Header().Set("Content-Range", cr)
			}
			w.WriteHeader(206)
			_, _ = io.WriteString(w, "0123456789")
		})
		if got, err := read(t, f.client(), 5, 5+boolInt(name == "short range")); err == nil {
			t.Errorf("%s: got %q, want an error", name, got)
		}
	}
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func TestDownloadFallbackToHash(t *testing.T) {
	for _, status := range []int{404, 405} {
		f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/api/v1/file-entries/42" {
				w.WriteHeader(status)
				return
			}
			if r.URL.Path != "/api/v1/file-entries/download/"+testEntry.Hash {
				t.Errorf("fallback went to %s", r.URL.Path)
			}
			rangeServer(w, r)
		})
		got, err := read(t, f.client(), 2, 3)
		if err != nil || got != "234" {
			t.Errorf("status %d: %q, %v", status, got, err)
		}
	}
	// Both gone: ErrNotFound.
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(404) })
	if _, err := read(t, f.client(), 0, 1); !errors.Is(err, ErrNotFound) {
		t.Errorf("both 404: %v", err)
	}
	// JSON metadata instead of bytes also falls back.
	f = newFake(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/v1/file-entries/42" {
			writeJSON(w, 200, map[string]any{"fileEntry": map[string]any{"id": 42}})
			return
		}
		rangeServer(w, r)
	})
	if got, err := read(t, f.client(), 0, 2); err != nil || got != "01" {
		t.Errorf("JSON answer: %q, %v", got, err)
	}
}

func TestDownloadHTMLIsError(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, "<html><body>Log in</body></html>")
	})
	_, err := read(t, f.client(), 0, -1)
	if err == nil || !strings.Contains(err.Error(), "HTML") {
		t.Errorf("err = %v", err)
	}
	// An HTML file is just bytes.
	c := f.client()
	rc, err := c.Download(context.Background(), &Entry{ID: 1, URL: "x/1", Mime: "text/html"}, 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	rc.Close()
}

func TestDownloadRetriesRequestPhase(t *testing.T) {
	n := 0
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		n++
		if n < 3 {
			w.WriteHeader([]int{502, 429}[n-1])
			return
		}
		rangeServer(w, r)
	})
	if got, err := read(t, f.client(), 1, 2); err != nil || got != "12" {
		t.Errorf("%q, %v", got, err)
	}
}

func TestParseContentRange(t *testing.T) {
	for in, want := range map[string][4]int64{
		"bytes 0-9/20":  {0, 9, 20, 1},
		"bytes 5-5/*":   {5, 5, -1, 1},
		"bytes */20":    {-1, -1, 20, 1},
		"bytes 9-0/20":  {0, 0, 0, 0},
		"items 0-1/2":   {0, 0, 0, 0},
		"bytes 0-1":     {0, 0, 0, 0},
		"bytes -1-2/20": {0, 0, 0, 0},
	} {
		s, e, tot, ok := parseContentRange(in)
		if ok != (want[3] == 1) || (ok && (s != want[0] || e != want[1] || tot != want[2])) {
			t.Errorf("parseContentRange(%q) = %d %d %d %v", in, s, e, tot, ok)
		}
	}
}
