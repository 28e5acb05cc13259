package drime

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"
)

// Client talks to one Drime workspace with one token. It is immutable after
// New and safe for concurrent use.
type Client struct {
	base      string   // API root without trailing slash
	origin    *url.URL // scheme://host, for entry urls relative to the origin
	token     string
	workspace int64
	hc        *http.Client
	log       zerolog.Logger
	policy    RetryPolicy
	observe   func(op string, status int, d time.Duration)

	// Test hooks; New sets the real ones.
	sleep  func(ctx context.Context, d time.Duration) error
	jitter func(n int64) int64 // uniform in [0, n)
}

// maxJSONBody bounds what we read of a JSON answer; listings of 200
// entries are well under 1 MiB.
const maxJSONBody = 32 << 20

// New validates cfg and returns a Client. BaseURL must be http or https;
// a trailing slash is tolerated. When cfg.HTTPClient is given, a copy of it
// is used whose CheckRedirect also strips Authorization.
func New(cfg Config) (*Client, error) {
	raw := strings.TrimRight(strings.TrimSpace(cfg.BaseURL), "/")
	if raw == "" {
		raw = DefaultBaseURL
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("drime: invalid base URL %q", redactURL(raw))
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("drime: base URL %q must be an http or https URL", redactURL(raw))
	}
	if strings.ContainsAny(cfg.Token, "\r\n") {
		return nil, errors.New("drime: token contains a line break")
	}
	u.RawQuery, u.Fragment, u.User = "", "", nil
	c := &Client{
		base:      u.String(),
		origin:    &url.URL{Scheme: u.Scheme, Host: u.Host},
		token:     cfg.Token,
		workspace: cfg.Workspace,
		log:       cfg.Logger,
		policy:    cfg.Retry.withDefaults(),
		observe:   cfg.Observe,
		sleep:     sleepCtx,
		jitter:    randInt63n,
	}
	if cfg.HTTPClient != nil {
		hc := *cfg.HTTPClient
		hc.CheckRedirect = stripAuthOnRedirect(cfg.HTTPClient.CheckRedirect)
		c.hc = &hc
	} else {
		c.hc = defaultHTTPClient()
	}
	return c, nil
}

// defaultHTTPClient is tuned for many parallel part uploads and range reads
// to few hosts. There is deliberately no overall Timeout: bodies can be
// gigabytes; stalls are bounded by the dial/TLS/header timeouts and ctx.
func defaultHTTPClient() *http.Client {
	tr := &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: (&net.Dialer{
			Timeout:   30 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   15 * time.Second,
		ResponseHeaderTimeout: 3 * time.Minute, // complete of a huge upload is slow
		ExpectContinueTimeout: time.Second,
		TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12},
	}
	return &http.Client{Transport: tr, CheckRedirect: stripAuthOnRedirect(nil)}
}

// stripAuthOnRedirect deletes Authorization on every redirect. Go drops it
// only across hosts; a redirect to storage on the same host (the emulator,
// a proxy) must not see the token either.
func stripAuthOnRedirect(next func(*http.Request, []*http.Request) error) func(*http.Request, []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		req.Header.Del("Authorization")
		if next != nil {
			return next(req, via)
		}
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		return nil
	}
}

// request describes one HTTP exchange.
type request struct {
	op     string // Op* constant: logs, metrics
	what   string // human operation for errors, e.g. "create folder"
	method string
	url    string // absolute
	query  url.Values
	header http.Header
	// body returns a fresh body for every attempt (nil = none).
	body        func() (io.Reader, int64)
	contentType string
	auth        bool // send the bearer token (API host only)
	storage     bool // presigned storage: 403 means an expired URL
}

// apiRequest builds a request to the API at path (e.g. "/folders").
func (c *Client) apiRequest(op, what, method, path string, q url.Values) *request {
	return &request{op: op, what: what, method: method, url: c.base + path, query: q, auth: true}
}

// withWorkspace returns q (or a new Values) carrying workspaceId.
func (c *Client) withWorkspace(q url.Values) url.Values {
	if q == nil {
		q = url.Values{}
	}
	q.Set("workspaceId", strconv.FormatInt(c.workspace, 10))
	return q
}

// jsonBody makes r send v as JSON; encoded once, re-sent on retries.
func (r *request) jsonBody(v any) *request {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("drime: encoding %s body: %v", r.what, err)) // our own types: a bug
	}
	r.body = func() (io.Reader, int64) { return bytes.NewReader(b), int64(len(b)) }
	r.contentType = "application/json"
	return r
}

// send performs one exchange and returns the response whatever its status;
// the caller closes the body. A failure to get a response becomes a
// *TransportError, unless ctx ended.
func (c *Client) send(ctx context.Context, r *request) (*http.Response, error) {
	u := r.url
	if len(r.query) > 0 {
		sep := "?"
		if strings.Contains(u, "?") {
			sep = "&"
		}
		u += sep + r.query.Encode()
	}
	var body io.Reader
	var length int64
	if r.body != nil {
		body, length = r.body()
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u, body)
	if err != nil {
		return nil, fmt.Errorf("drime: %s: building request for %s: %v", r.what, redactURL(u), redactErr(err))
	}
	if r.body != nil {
		req.ContentLength = length
		if length == 0 {
			req.Body = http.NoBody
		}
		// Lets the transport re-send the body on a 307/308 redirect.
		req.GetBody = func() (io.ReadCloser, error) {
			b, _ := r.body()
			return io.NopCloser(b), nil
		}
	}
	for k, vs := range r.header {
		req.Header[k] = vs
	}
	if r.contentType != "" {
		req.Header.Set("Content-Type", r.contentType)
	}
	if r.auth {
		req.Header.Set("Accept", "application/json")
		if c.token != "" {
			req.Header.Set("Authorization", "Bearer "+c.token)
		}
	}
	req.Header.Set("User-Agent", "drimefs")

	start := time.Now()
	resp, err := c.hc.Do(req)
	d := time.Since(start)
	status := 0
	if resp != nil {
		status = resp.StatusCode
	}
	if c.observe != nil {
		c.observe(r.op, status, d)
	}
	c.log.Debug().Str("op", r.op).Str("method", r.method).Str("url", redactURL(u)).
		Int("status", status).Dur("duration", d).Msg("drime exchange")
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("drime: %s %s %s: %w", r.what, r.method, redactURL(u), ctx.Err())
		}
		var le *localBodyError
		if errors.As(err, &le) {
			// Our side failed; sending again would fail the same way.
			return nil, fmt.Errorf("drime: %s %s %s: %w", r.what, r.method, redactURL(u), le)
		}
		return nil, &TransportError{Op: r.what, Method: r.method, URL: redactURL(u), Err: redactErr(err)}
	}
	return resp, nil
}

// statusError returns nil for 2xx, else an *APIError built from the body.
func (c *Client) statusError(r *request, resp *http.Response) error {
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	storage := r.storage
	if resp.Request != nil && resp.Request.URL.Host != c.origin.Host {
		storage = true // a redirect took us to storage
	}
	return &APIError{
		Op:         r.what,
		Method:     r.method,
		Path:       c.errPath(r),
		Status:     resp.StatusCode,
		Message:    errorBody(resp.StatusCode, body, c.token),
		RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After")),
		Storage:    storage,
	}
}

// doJSON performs one exchange, maps a non-2xx answer to an *APIError and
// decodes a 2xx JSON body into out (when out is non-nil and the body is
// not empty). A body that cannot be read completely is a transport error.
func (c *Client) doJSON(ctx context.Context, r *request, out any) error {
	_, err := c.doRaw(ctx, r, out)
	return err
}

// doRaw is doJSON that also returns the raw body, for callers that need to
// look for one of several shapes.
func (c *Client) doRaw(ctx context.Context, r *request, out any) ([]byte, error) {
	resp, err := c.send(ctx, r)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if err := c.statusError(r, resp); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxJSONBody))
	if err != nil {
		return nil, c.readError(ctx, r, err)
	}
	data = bytes.TrimSpace(data)
	if len(data) > 0 && data[0] == '<' {
		// A maintenance or challenge page in front of the API: no answer
		// we can use, so treated like a lost one (retried, verified).
		return nil, &TransportError{Op: r.what, Method: r.method, URL: redactURL(r.url), Err: errHTMLAnswer}
	}
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return nil, fmt.Errorf("drime: %s %s %s: decoding response: %w", r.what, r.method, redactURL(r.url), err)
		}
	}
	return data, nil
}

// readError wraps a failure to read a response body: the context's error
// when ctx ended, else a *TransportError (the answer was lost mid-way).
func (c *Client) readError(ctx context.Context, r *request, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("drime: %s %s %s: %w", r.what, r.method, redactURL(r.url), ctx.Err())
	}
	return &TransportError{Op: r.what, Method: r.method, URL: redactURL(r.url), Err: redactErr(err)}
}

// callJSON is doJSON under the retry policy; for idempotent requests only.
func (c *Client) callJSON(ctx context.Context, r *request, out any) error {
	return c.retry(ctx, r.op, r.what, func(int, error) error { return c.doJSON(ctx, r, out) })
}

// errPath names r's target in errors: the API path ("/folders" reads
// better than the full URL), else scheme://host/path; never a query.
func (c *Client) errPath(r *request) string {
	p := redactURL(r.url)
	if r.auth && strings.HasPrefix(p, c.base+"/") {
		return strings.TrimPrefix(p, c.base)
	}
	return p
}

// redactURL keeps scheme://host/path: query strings carry presigned
// signatures and must never reach logs or errors.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		if i := strings.IndexAny(raw, "?#"); i >= 0 {
			return raw[:i]
		}
		return raw
	}
	u.RawQuery, u.Fragment, u.User = "", "", nil
	u.ForceQuery = false
	return u.String()
}

// redactErr strips the *url.Error wrapper, whose text repeats the full URL
// (query included), keeping only its cause.
func redactErr(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// entryURL resolves an entry's url (relative to the origin, or absolute).
func (c *Client) entryURL(raw string) (*url.URL, error) {
	ref, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return nil, fmt.Errorf("invalid entry url %q", redactURL(raw))
	}
	if ref.IsAbs() {
		return ref, nil
	}
	ref.Path = "/" + strings.TrimLeft(ref.Path, "/")
	return c.origin.ResolveReference(ref), nil
}

// sameOrigin reports whether u is on the API host, i.e. may see the token.
func (c *Client) sameOrigin(u *url.URL) bool {
	return strings.EqualFold(u.Scheme, c.origin.Scheme) && strings.EqualFold(u.Host, c.origin.Host)
}

// errHTMLAnswer: a 2xx answer that is an HTML page, not the JSON or bytes
// asked for.
var errHTMLAnswer = errors.New("HTML page instead of the expected answer")

// localBodyError is a failure to read the local data being uploaded (an
// I/O error, or a file that shrank under us). It is not the network's
// fault, so it is never retried.
type localBodyError struct{ err error }

func (e *localBodyError) Error() string { return "reading local data: " + e.err.Error() }
func (e *localBodyError) Unwrap() error { return e.err }

// errShortBody: the local data ended before its declared size.
var errShortBody = errors.New("data shorter than its declared size (changed while uploading?)")

// sizedBody reads exactly size bytes from r at offset 0 and marks every
// local failure as a *localBodyError.
func sizedBody(r io.ReaderAt, size int64) io.Reader {
	return &exactBody{r: io.NewSectionReader(r, 0, size), left: size}
}

type exactBody struct {
	r    io.Reader
	left int64
}

func (b *exactBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.left -= int64(n)
	switch {
	case err == io.EOF && b.left > 0:
		return n, &localBodyError{errShortBody}
	case err != nil && err != io.EOF:
		return n, &localBodyError{err}
	}
	return n, err
}
