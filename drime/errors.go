package drime

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"time"
	"unicode/utf8"
)

// Sentinel errors. Test with errors.Is; *APIError and *TransportError map
// themselves onto these so callers (the fs errno mapper, the uploader) never
// parse status codes or messages.
var (
	ErrNotFound        = errors.New("drime: not found")
	ErrUnauthorized    = errors.New("drime: unauthorized (token invalid or expired)")
	ErrForbidden       = errors.New("drime: forbidden")
	ErrAlreadyExists   = errors.New("drime: already exists")
	ErrRateLimited     = errors.New("drime: rate limited")
	ErrInvalidEntryIDs = errors.New("drime: entry ids invalid")
	// ErrURLExpired: storage refused a presigned URL (403). The caller signs
	// the part again; retrying the same URL cannot help.
	ErrURLExpired = errors.New("drime: presigned URL refused")
	// ErrUnavailable: the service could not be reached or kept failing
	// (network error, 5xx, Cloudflare 52x) after retries.
	ErrUnavailable = errors.New("drime: service unavailable")
)

// APIError is a non-success HTTP answer from Drime or from its storage.
type APIError struct {
	Op      string // human operation, e.g. "create folder"
	Method  string
	Path    string // API path, or scheme://host/path for storage; never a query
	Status  int
	Message string // server message, short, never HTML, never the token
	// RetryAfter is the server's Retry-After (0 when absent).
	RetryAfter time.Duration
	// Storage is set when the answer came from presigned storage rather
	// than the API: there 403 means an expired or refused signature.
	Storage bool
}

func (e *APIError) Error() string {
	return fmt.Sprintf("drime: %s %s %s: %d %s", e.Op, e.Method, e.Path, e.Status, e.Message)
}

// Is maps the status (and, for 422s, the message) onto the sentinels.
func (e *APIError) Is(target error) bool {
	msg := strings.ToLower(e.Message)
	switch target {
	case ErrUnauthorized:
		return e.Status == http.StatusUnauthorized
	case ErrForbidden:
		return e.Status == http.StatusForbidden && !e.Storage
	case ErrURLExpired:
		return e.Status == http.StatusForbidden && e.Storage
	case ErrNotFound:
		return e.Status == http.StatusNotFound
	case ErrAlreadyExists:
		return (e.Status == http.StatusUnprocessableEntity || e.Status == http.StatusConflict) &&
			strings.Contains(msg, "already exists")
	case ErrInvalidEntryIDs:
		return e.Status >= 400 && e.Status < 500 &&
			(strings.Contains(msg, "entry ids is invalid") || strings.Contains(msg, "entry ids are invalid"))
	case ErrRateLimited:
		return e.Status == http.StatusTooManyRequests
	case ErrUnavailable:
		return e.Status >= 500
	}
	return false
}

// messageContains reports whether err is an *APIError whose message contains
// sub (case-insensitive). Used for the few human strings Drime is known for.
func messageContains(err error, sub string) bool {
	var ae *APIError
	return errors.As(err, &ae) && strings.Contains(strings.ToLower(ae.Message), strings.ToLower(sub))
}

// statusOf returns the HTTP status of an *APIError in err's chain, else 0.
func statusOf(err error) int {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Status
	}
	return 0
}

// TransportError is a failure to get an answer at all: connection refused
// or reset, TLS failure, a response lost mid-way, a truncated body. The
// request may or may not have been acted on.
type TransportError struct {
	Op     string // human operation
	Method string
	URL    string // scheme://host/path, never a query
	Err    error
}

func (e *TransportError) Error() string {
	return fmt.Sprintf("drime: %s %s %s: %v", e.Op, e.Method, e.URL, e.Err)
}

func (e *TransportError) Unwrap() error { return e.Err }

// Is makes every transport failure an ErrUnavailable.
func (e *TransportError) Is(target error) bool { return target == ErrUnavailable }

// retryableStatus is the one list of statuses worth another try: rate
// limiting, server errors and Cloudflare's 52x family (as rclone does).
func retryableStatus(code int) bool {
	switch code {
	case 429, 500, 502, 503, 504, 509, 520, 521, 522, 523, 524:
		return true
	}
	return false
}

// IsRetryable reports whether err is worth retrying after a backoff: a
// transport failure or a retryable status. Context cancellation never is.
func IsRetryable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var te *TransportError
	if errors.As(err, &te) {
		return true
	}
	var ae *APIError
	if errors.As(err, &ae) {
		return retryableStatus(ae.Status)
	}
	return false
}

// ambiguous reports whether a failed non-idempotent request may still have
// taken effect: the answer was lost, or the server (or Cloudflare in front
// of it) failed after possibly doing the work. A 429 is refused up front.
func ambiguous(err error) bool {
	if !IsRetryable(err) {
		return false
	}
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Status >= 500
	}
	return true
}

// errorBody turns an error body into a short, safe message: JSON "message"
// (plus the first validation errors), an S3 XML <Message>, a note for HTML
// pages, or the first line of plain text.
func errorBody(status int, body []byte, token string) string {
	msg := extractMessage(bytes.TrimSpace(body))
	if msg == "" {
		msg = http.StatusText(status)
	}
	if token != "" {
		msg = strings.ReplaceAll(msg, token, "[redacted]")
	}
	return msg
}

var (
	xmlMessageRe = regexp.MustCompile(`(?s)<Message>(.*?)</Message>`)
	xmlCodeRe    = regexp.MustCompile(`(?s)<Code>(.*?)</Code>`)
	htmlTitleRe  = regexp.MustCompile(`(?is)<title[^>]*>(.*?)</title>`)
)

func extractMessage(body []byte) string {
	if len(body) == 0 {
		return ""
	}
	if body[0] == '{' {
		var v struct {
			Message json.RawMessage `json:"message"`
			Error   json.RawMessage `json:"error"`
			Errors  json.RawMessage `json:"errors"`
		}
		if json.Unmarshal(body, &v) == nil {
			msg := rawText(v.Message)
			if msg == "" {
				msg = rawText(v.Error)
			}
			if details := validationDetails(v.Errors); details != "" {
				if msg == "" {
					msg = details
				} else {
					msg += " (" + details + ")"
				}
			}
			if msg != "" {
				return clip(msg, 300)
			}
		}
	}
	if body[0] == '<' {
		// S3-style storage errors are XML: keep their code and message.
		if m := xmlMessageRe.FindSubmatch(body); m != nil {
			code := ""
			if c := xmlCodeRe.FindSubmatch(body); c != nil {
				code = string(c[1]) + ": "
			}
			return clip(code+string(m[1]), 300)
		}
		// Never dump HTML (Cloudflare, maintenance, login pages).
		if t := htmlTitleRe.FindSubmatch(body); t != nil {
			return "HTML error page from server (" + clip(strings.TrimSpace(string(t[1])), 100) + ")"
		}
		return "HTML error page from server"
	}
	line, _, _ := bytes.Cut(body, []byte("\n"))
	return clip(string(line), 200)
}

// rawText renders a JSON string (or any scalar) as text; "" for null.
func rawText(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(raw)
}

// validationDetails renders up to three Laravel validation errors; values
// are arrays of strings or plain strings.
func validationDetails(raw json.RawMessage) string {
	var m map[string]json.RawMessage
	if len(raw) == 0 || json.Unmarshal(raw, &m) != nil || len(m) == 0 {
		return ""
	}
	fields := make([]string, 0, len(m))
	for f := range m {
		fields = append(fields, f)
	}
	sort.Strings(fields) // map order is random; messages should not be
	var parts []string
	for _, field := range fields {
		v := m[field]
		var list []string
		if json.Unmarshal(v, &list) != nil {
			list = []string{rawText(v)}
		}
		if len(list) > 0 && list[0] != "" {
			parts = append(parts, field+": "+list[0])
		}
		if len(parts) == 3 {
			break
		}
	}
	return strings.Join(parts, "; ")
}

// clip shortens s to n bytes at a rune boundary and drops control
// characters, so a message is always one printable line.
func clip(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
