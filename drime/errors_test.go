package drime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
)

func TestAPIErrorIs(t *testing.T) {
	all := []error{ErrNotFound, ErrUnauthorized, ErrForbidden, ErrAlreadyExists, ErrRateLimited,
		ErrInvalidEntryIDs, ErrURLExpired, ErrUnavailable}
	for _, tc := range []struct {
		status  int
		msg     string
		storage bool
		want    []error
	}{
		{401, "Unauthenticated.", false, []error{ErrUnauthorized}},
		{403, "This action is unauthorized.", false, []error{ErrForbidden}},
		{403, "AccessDenied: Request has expired", true, []error{ErrURLExpired}},
		{404, "No query results for model [App\\FileEntry] 1", false, []error{ErrNotFound}},
		{422, "Folder with same name already exists", false, []error{ErrAlreadyExists}},
		{422, "The selected entry ids is invalid.", false, []error{ErrInvalidEntryIDs}},
		{400, "The selected Entry Ids is invalid.", false, []error{ErrInvalidEntryIDs}},
		{422, "The given data was invalid.", false, nil},
		{429, "Too Many Attempts.", false, []error{ErrRateLimited}},
		{500, "Server Error", false, []error{ErrUnavailable}},
		{520, "HTML error page from server", false, []error{ErrUnavailable}},
		{400, "bad", false, nil},
	} {
		err := fmt.Errorf("wrapped: %w", &APIError{Op: "x", Status: tc.status, Message: tc.msg, Storage: tc.storage})
		for _, s := range all {
			want := false
			for _, w := range tc.want {
				want = want || w == s
			}
			if got := errors.Is(err, s); got != want {
				t.Errorf("%d %q storage=%v: errors.Is(%v) = %v, want %v", tc.status, tc.msg, tc.storage, s, got, want)
			}
		}
	}
}

func TestAPIErrorString(t *testing.T) {
	e := &APIError{Op: "create folder", Method: "POST", Path: "/folders", Status: 422,
		Message: "Folder with same name already exists"}
	if got, want := e.Error(), "drime: create folder POST /folders: 422 Folder with same name already exists"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestTransportError(t *testing.T) {
	err := fmt.Errorf("ctx: %w", &TransportError{Op: "put part", Method: "PUT", URL: "http://h/p", Err: io.ErrUnexpectedEOF})
	if !errors.Is(err, ErrUnavailable) || !errors.Is(err, io.ErrUnexpectedEOF) || !IsRetryable(err) {
		t.Errorf("transport error: unavailable=%v eof=%v retryable=%v",
			errors.Is(err, ErrUnavailable), errors.Is(err, io.ErrUnexpectedEOF), IsRetryable(err))
	}
}

func TestIsRetryable(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{&APIError{Status: 429}, true},
		{&APIError{Status: 500}, true},
		{&APIError{Status: 502}, true},
		{&APIError{Status: 503}, true},
		{&APIError{Status: 504}, true},
		{&APIError{Status: 509}, true},
		{&APIError{Status: 520}, true},
		{&APIError{Status: 524}, true},
		{&APIError{Status: 501}, false},
		{&APIError{Status: 400}, false},
		{&APIError{Status: 403, Storage: true}, false},
		{&APIError{Status: 404}, false},
		{&APIError{Status: 422}, false},
		{&TransportError{Err: io.EOF}, true},
		{&TransportError{Err: context.Canceled}, false},
		{context.DeadlineExceeded, false},
		{errors.New("other"), false},
	} {
		if got := IsRetryable(tc.err); got != tc.want {
			t.Errorf("IsRetryable(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
	if ambiguous(&APIError{Status: 429}) || !ambiguous(&APIError{Status: 502}) || !ambiguous(&TransportError{Err: io.EOF}) {
		t.Error("ambiguous: 429 must not be, 502 and transport errors must be")
	}
}

func TestErrorBody(t *testing.T) {
	for _, tc := range []struct {
		status int
		body   string
		want   string
	}{
		{401, `{"message":"Unauthenticated."}`, "Unauthenticated."},
		{422, `{"status":"error","message":"The given data was invalid.","errors":{"name":["The name field is required."],"a":"plain"}}`,
			"The given data was invalid. (a: plain; name: The name field is required.)"},
		{422, `{"errors":{"entryIds":["The selected entry ids is invalid."]}}`, "entryIds: The selected entry ids is invalid."},
		{520, "<!DOCTYPE html>\n<html><head><title>example.com | 520: Web server is returning an unknown error</title>" +
			strings.Repeat("<div>x</div>", 500), "HTML error page from server (example.com | 520: Web server is returning an unknown error)"},
		{502, "  <html><body>Bad gateway</body></html>", "HTML error page from server"},
		{403, `<?xml version="1.0"?><Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>`,
			"AccessDenied: Request has expired"},
		{500, "", "Internal Server Error"},
		{400, "plain text\nsecond line", "plain text"},
		{401, `{"message":"bad token ` + testToken + `"}`, "bad token [redacted]"},
	} {
		if got := errorBody(tc.status, []byte(tc.body), testToken); got != tc.want {
			t.Errorf("errorBody(%d, %.40q) = %q, want %q", tc.status, tc.body, got, tc.want)
		}
	}
	long := errorBody(400, []byte(strings.Repeat("é", 400)), "")
	if len(long) > 310 || !strings.HasSuffix(long, "…") {
		t.Errorf("long message not clipped: %d bytes", len(long))
	}
}

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://r2.example.com/uploads/u/u?partNumber=1&X-Amz-Signature=abc": "https://r2.example.com/uploads/u/u",
		"http://user:pw@h:8080/p?sig=1#frag":                                  "http://h:8080/p",
		"/relative?x=1":                                                       "/relative",
		"::bad?sig=1":                                                         "::bad",
	} {
		if got := redactURL(in); got != want {
			t.Errorf("redactURL(%q) = %q, want %q", in, got, want)
		}
	}
}
