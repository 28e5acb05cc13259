package drime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Download returns a reader of length bytes of e starting at off (length
// < 0: to the end of the file). The reader yields exactly the bytes asked
// for, fewer only where the file ends, and io.ErrUnexpectedEOF when the
// body stops early; ctx governs the whole read.
//
// It reads GET <origin>/<e.URL> (or /file-entries/{id} when URL is empty)
// with a Range header, falls back to /file-entries/download/{hash} on
// 404/405 or a JSON answer, and follows redirects without Authorization
// (drime-api.md §7.3). A 206 must start at off; a 200 carries the whole
// file and the first off bytes are discarded here. Only the request phase
// is retried; a failure while the caller reads is the caller's to retry.
func (c *Client) Download(ctx context.Context, e *Entry, off, length int64) (io.ReadCloser, error) {
	if e == nil {
		return nil, errors.New("drime: download: nil entry")
	}
	if off < 0 {
		return nil, fmt.Errorf("drime: download %d: negative offset %d", e.ID, off)
	}
	if length == 0 {
		return io.NopCloser(strings.NewReader("")), nil
	}
	targets, err := c.downloadTargets(e)
	if err != nil {
		return nil, err
	}
	var out io.ReadCloser
	err = c.retry(ctx, OpDownload, fmt.Sprintf("download %d", e.ID), func(int, error) error {
		for i, t := range targets {
			rc, err := c.downloadOnce(ctx, e, t, off, length)
			if err != nil && i+1 < len(targets) && (errors.Is(err, errJSONNotBytes) || fallbackStatus(statusOf(err))) {
				continue
			}
			out = rc
			return err
		}
		return nil // not reached: the last target always returns
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// errJSONNotBytes: the URL answered with JSON (metadata) instead of the
// file's bytes; drime-api.md §14.3 says this URL's answer is disputed.
var errJSONNotBytes = errors.New("JSON answer where file bytes were expected")

func fallbackStatus(s int) bool { return s == http.StatusNotFound || s == http.StatusMethodNotAllowed }

func (c *Client) downloadTargets(e *Entry) ([]*request, error) {
	var out []*request
	what := fmt.Sprintf("download %d", e.ID)
	if e.URL != "" {
		u, err := c.entryURL(e.URL)
		if err != nil {
			return nil, fmt.Errorf("drime: %s: %w", what, err)
		}
		out = append(out, &request{op: OpDownload, what: what, method: http.MethodGet, url: u.String(),
			auth: c.sameOrigin(u)})
	} else if e.ID != 0 {
		out = append(out, c.apiRequest(OpDownload, what, http.MethodGet, "/file-entries/"+strconv.FormatInt(e.ID, 10), nil))
	}
	if e.Hash != "" {
		out = append(out, c.apiRequest(OpDownload, what, http.MethodGet, "/file-entries/download/"+url.PathEscape(e.Hash), nil))
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("drime: %s: entry has no url, id or hash", what)
	}
	return out, nil
}

// downloadOnce makes one ranged request and checks the answer.
func (c *Client) downloadOnce(ctx context.Context, e *Entry, r *request, off, length int64) (io.ReadCloser, error) {
	// identity: a gzipped body would make Content-Range and
	// Content-Length describe bytes other than the ones we count.
	r.header = http.Header{"Accept-Encoding": {"identity"}}
	switch {
	case length > 0:
		r.header.Set("Range", fmt.Sprintf("bytes=%d-%d", off, off+length-1))
	case off > 0:
		r.header.Set("Range", fmt.Sprintf("bytes=%d-", off))
	}
	resp, err := c.send(ctx, r)
	if err != nil {
		return nil, err
	}
	fail := func(msg string, args ...any) (io.ReadCloser, error) {
		drainClose(resp.Body)
		return nil, &APIError{Op: r.what, Method: r.method, Path: c.errPath(r), Status: resp.StatusCode,
			Message: fmt.Sprintf(msg, args...)}
	}
	if resp.StatusCode == http.StatusRequestedRangeNotSatisfiable {
		total := e.Size
		if _, _, t, ok := parseContentRange(resp.Header.Get("Content-Range")); ok && t >= 0 {
			total = t
		}
		if off == total {
			drainClose(resp.Body) // reading at the end of the file: nothing to read
			return io.NopCloser(strings.NewReader("")), nil
		}
		return fail("range starting at %d not satisfiable (file size %d)", off, total)
	}
	if err := c.statusError(r, resp); err != nil {
		resp.Body.Close()
		return nil, err
	}
	ctype, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	switch {
	case ctype == "text/html" && !isHTMLFile(e):
		drainClose(resp.Body)
		return nil, &TransportError{Op: r.what, Method: r.method, URL: redactURL(r.url), Err: errHTMLAnswer}
	case ctype == "application/json" && !isJSONFile(e):
		drainClose(resp.Body)
		return nil, fmt.Errorf("drime: %s %s %s: %w", r.what, r.method, redactURL(r.url), errJSONNotBytes)
	}

	switch resp.StatusCode {
	case http.StatusPartialContent:
		start, end, total, ok := parseContentRange(resp.Header.Get("Content-Range"))
		if !ok {
			return fail("206 without a valid Content-Range")
		}
		if start != off {
			return fail("server sent a range starting at %d, asked for %d", start, off)
		}
		n := end - start + 1
		if total >= 0 {
			want := total - off // to the end of the file
			if length > 0 {
				want = min(want, length)
			}
			if n < want {
				return fail("server sent bytes %d-%d, asked for %d bytes (file size %d)", start, end, want, total)
			}
			n = want
		} else if length > 0 {
			n = min(n, length)
		}
		return &exactReader{rc: resp.Body, left: n}, nil
	case http.StatusOK:
		// The whole file: skip to off ourselves.
		total := resp.ContentLength // -1 when unknown
		if total >= 0 && off > total {
			return fail("offset %d beyond the end of the file (%d bytes)", off, total)
		}
		if off > 0 {
			if _, err := io.CopyN(io.Discard, resp.Body, off); err != nil {
				resp.Body.Close()
				if errors.Is(err, io.EOF) {
					err = io.ErrUnexpectedEOF
				}
				return nil, c.readError(ctx, r, err)
			}
		}
		n := int64(-1) // unknown: read to EOF
		if total >= 0 {
			n = total - off
			if length > 0 {
				n = min(n, length)
			}
		} else if length > 0 {
			n = length
		}
		return &exactReader{rc: resp.Body, left: n, lax: total < 0}, nil
	default:
		return fail("unexpected status for a download")
	}
}

// parseContentRange parses "bytes start-end/total" (total -1 for "*") and
// "bytes */total" (start and end -1).
func parseContentRange(v string) (start, end, total int64, ok bool) {
	rest, found := strings.CutPrefix(strings.TrimSpace(v), "bytes ")
	if !found {
		return 0, 0, 0, false
	}
	rng, tot, found := strings.Cut(rest, "/")
	if !found {
		return 0, 0, 0, false
	}
	total = -1
	if tot != "*" {
		t, err := strconv.ParseInt(tot, 10, 64)
		if err != nil || t < 0 {
			return 0, 0, 0, false
		}
		total = t
	}
	if rng == "*" {
		return -1, -1, total, true
	}
	a, b, found := strings.Cut(rng, "-")
	if !found {
		return 0, 0, 0, false
	}
	start, err1 := strconv.ParseInt(a, 10, 64)
	end, err2 := strconv.ParseInt(b, 10, 64)
	if err1 != nil || err2 != nil || start < 0 || end < start {
		return 0, 0, 0, false
	}
	return start, end, total, true
}

func isHTMLFile(e *Entry) bool {
	ext := strings.ToLower(e.Extension)
	return strings.HasPrefix(e.Mime, "text/html") || ext == "html" || ext == "htm"
}

func isJSONFile(e *Entry) bool {
	return strings.Contains(e.Mime, "json") || strings.EqualFold(e.Extension, "json")
}

// exactReader yields left bytes of rc and then io.EOF; a body that ends
// sooner is io.ErrUnexpectedEOF, never a silent short file. left < 0 means
// unknown (read to EOF). lax: the length was only our guess (no
// Content-Length on a 200), so an early EOF is the end of the file.
type exactReader struct {
	rc   io.ReadCloser
	left int64
	lax  bool
}

func (r *exactReader) Read(p []byte) (int, error) {
	if r.left == 0 {
		return 0, io.EOF
	}
	if r.left > 0 && int64(len(p)) > r.left {
		p = p[:r.left]
	}
	n, err := r.rc.Read(p)
	if r.left > 0 {
		r.left -= int64(n)
	}
	switch {
	case err == io.EOF && r.left > 0 && !r.lax:
		return n, io.ErrUnexpectedEOF
	case err == nil && r.left == 0:
		return n, io.EOF
	}
	return n, err
}

func (r *exactReader) Close() error {
	if r.left == 0 {
		// Finished: let a short tail go so the connection is reused.
		drainClose(r.rc)
		return nil
	}
	return r.rc.Close()
}
