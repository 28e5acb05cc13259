package drime

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestNewValidatesBaseURL(t *testing.T) {
	for _, bad := range []string{"ftp://h/api", "app.drime.cloud/api/v1", "http://", "::", "file:///x"} {
		if _, err := New(Config{BaseURL: bad, Token: testToken}); err == nil {
			t.Errorf("New(%q) accepted", bad)
		} else {
			assertNoSecrets(t, "error", err.Error())
		}
	}
	for in, want := range map[string][2]string{
		"https://app.drime.cloud/api/v1/":       {"https://app.drime.cloud/api/v1", "https://app.drime.cloud"},
		"http://127.0.0.1:8080/api/v1":          {"http://127.0.0.1:8080/api/v1", "http://127.0.0.1:8080"},
		"":                                      {DefaultBaseURL, "https://app.drime.cloud"},
		"https://u:p@h.example/api/v1?x=1#frag": {"https://h.example/api/v1", "https://h.example"},
	} {
		c, err := New(Config{BaseURL: in})
		if err != nil {
			t.Errorf("New(%q): %v", in, err)
			continue
		}
		if c.base != want[0] || c.origin.String() != want[1] {
			t.Errorf("New(%q): base %q origin %q, want %v", in, c.base, c.origin, want)
		}
	}
	if _, err := New(Config{Token: "a\r\nX-Evil: 1"}); err == nil {
		t.Error("token with a line break accepted")
	}
}

func TestDefaultTransport(t *testing.T) {
	c, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	tr := c.hc.Transport.(*http.Transport)
	if c.hc.Timeout != 0 || tr.MaxIdleConnsPerHost < 64 || tr.TLSClientConfig.InsecureSkipVerify ||
		tr.ResponseHeaderTimeout == 0 || tr.TLSHandshakeTimeout == 0 || c.hc.CheckRedirect == nil {
		t.Errorf("transport not tuned: timeout=%v idle/host=%d", c.hc.Timeout, tr.MaxIdleConnsPerHost)
	}
	// A caller's client is copied, not changed, and still strips the token.
	mine := &http.Client{}
	c, _ = New(Config{HTTPClient: mine})
	if mine.CheckRedirect != nil || c.hc.CheckRedirect == nil {
		t.Error("caller's client modified or redirect guard missing")
	}
}

func TestAPIHeaders(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"user": map[string]any{"id": "15843", "email": "me@example.com", "display_name": "Me"}})
	})
	u, err := f.client().WhoAmI(context.Background())
	if err != nil || u.ID != 15843 || u.Email != "me@example.com" || u.DisplayName != "Me" {
		t.Fatalf("WhoAmI = %+v, %v", u, err)
	}
	r := f.reqs()[0]
	if r.Path != "/api/v1/cli/loggedUser" || r.Header.Get("Authorization") != "Bearer "+testToken ||
		r.Header.Get("Accept") != "application/json" {
		t.Errorf("request %s headers %v", r.Path, r.Header)
	}
}

func TestWhoAmINullUser(t *testing.T) {
	for _, body := range []string{`{"user":null}`, `{"user":[]}`, `{"user":{"id":0}}`, `{}`} {
		f := newFake(t, func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, body) })
		if _, err := f.client().WhoAmI(context.Background()); !errors.Is(err, ErrUnauthorized) {
			t.Errorf("%s: err = %v, want ErrUnauthorized", body, err)
		}
	}
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 401, map[string]any{"message": "Unauthenticated."})
	})
	_, err := f.client().WhoAmI(context.Background())
	if !errors.Is(err, ErrUnauthorized) {
		t.Errorf("401: %v", err)
	}
	assertNoSecrets(t, "error", err.Error())
}

// Go keeps Authorization on same-host redirects; the client must not.
func TestRedirectStripsAuthorization(t *testing.T) {
	var storageAuth []string
	f := newFake(t, nil)
	f.setHandler(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasPrefix(r.URL.Path, "/api/v1/file-entries/download/"):
			http.Redirect(w, r, "/storage/blob?sig=abc&expires=1", http.StatusFound)
		case r.URL.Path == "/api/v1/file-entries/5":
			w.WriteHeader(404)
		case r.URL.Path == "/storage/blob":
			storageAuth = append(storageAuth, r.Header.Get("Authorization"))
			if r.Header.Get("Range") != "bytes=2-4" {
				t.Errorf("Range lost on redirect: %q", r.Header.Get("Range"))
			}
			w.Header().Set("Content-Range", "bytes 2-4/10")
			w.WriteHeader(206)
			_, _ = io.WriteString(w, "cde")
		}
	})
	c := f.client()
	rc, err := c.Download(context.Background(), &Entry{ID: 5, Hash: "NXxwYWRkaW5ncA", Size: 10}, 2, 3)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	if string(b) != "cde" {
		t.Errorf("got %q", b)
	}
	if len(storageAuth) != 1 || storageAuth[0] != "" {
		t.Errorf("storage saw Authorization %q", storageAuth)
	}
	if got := f.reqs()[0].Header.Get("Authorization"); got != "Bearer "+testToken {
		t.Errorf("API request lacked the token: %q", got)
	}
}

// Another host named in an entry url never sees the token either.
func TestForeignHostGetsNoToken(t *testing.T) {
	var auth = "unset"
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth = r.Header.Get("Authorization")
		_, _ = io.WriteString(w, "hello")
	}))
	defer other.Close()
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) { t.Errorf("API called: %s", r.URL) })
	rc, err := f.client().Download(context.Background(), &Entry{ID: 1, URL: other.URL + "/x?sig=1", Size: 5}, 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	if string(b) != "hello" || auth != "" {
		t.Errorf("body %q, Authorization %q", b, auth)
	}
}

// No error string and no log line carries the token or a presigned query,
// whatever goes wrong.
func TestSecretsNeverLeak(t *testing.T) {
	f := newFake(t, nil)
	f.setHandler(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/storage/part":
			w.WriteHeader(403)
			_, _ = io.WriteString(w, `<?xml version="1.0"?><Error><Code>AccessDenied</Code><Message>expired</Message></Error>`)
		case "/storage/drop":
			loseResponse(w)
		default:
			w.WriteHeader(500)
			_, _ = io.WriteString(w, "token was "+r.Header.Get("Authorization")) // a careless server
		}
	})
	c := f.client()
	ctx := context.Background()
	var errs []error
	_, err := c.PutPart(ctx, f.srv.URL+"/storage/part?partNumber=1&X-Amz-Signature=SeCrEt", bytes.NewReader([]byte("x")), 1)
	if !errors.Is(err, ErrURLExpired) {
		t.Errorf("403 from storage: %v, want ErrURLExpired", err)
	}
	errs = append(errs, err)
	_, err = c.PutPart(ctx, f.srv.URL+"/storage/drop?sig=SeCrEt&expires=1", bytes.NewReader([]byte("x")), 1)
	if !errors.Is(err, ErrUnavailable) {
		t.Errorf("dropped PUT: %v", err)
	}
	errs = append(errs, err)
	_, err = c.SpaceUsage(ctx)
	errs = append(errs, err)
	_, err = c.Download(ctx, &Entry{ID: 9, URL: "api/v1/file-entries/9?sig=SeCrEt"}, 0, -1)
	errs = append(errs, err)
	for _, err := range errs {
		if err == nil {
			t.Fatal("expected an error")
		}
		assertNoSecrets(t, "error", err.Error())
	}
	logs := f.logs.String()
	if !strings.Contains(logs, "/storage/part") {
		t.Errorf("logs lack the redacted storage path:\n%s", logs)
	}
	assertNoSecrets(t, "logs", logs)
}

func TestEntryURL(t *testing.T) {
	c, _ := New(Config{BaseURL: "https://app.drime.cloud/api/v1"})
	for in, want := range map[string]string{
		"api/v1/file-entries/1":         "https://app.drime.cloud/api/v1/file-entries/1",
		"/api/v1/file-entries/1":        "https://app.drime.cloud/api/v1/file-entries/1",
		"https://r2.example.com/a?b=1":  "https://r2.example.com/a?b=1",
		"api/v1/file-entries/1?x=y&z=1": "https://app.drime.cloud/api/v1/file-entries/1?x=y&z=1",
	} {
		u, err := c.entryURL(in)
		if err != nil || u.String() != want {
			t.Errorf("entryURL(%q) = %v, %v; want %q", in, u, err, want)
		}
	}
}
