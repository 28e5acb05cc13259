package emulator

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestAuth(t *testing.T) {
	h := newHarness(t, nil)
	routes := []struct{ method, path string }{
		{"GET", "/api/v1/cli/loggedUser"},
		{"GET", "/api/v1/drive/file-entries?perPage=1"},
		{"POST", "/api/v1/folders"},
		{"POST", "/api/v1/uploads"},
		{"POST", "/api/v1/s3/multipart/create"},
		{"GET", "/api/v1/file-entries/480000000"},
		{"GET", "/api/v1/user/space-usage"},
		{"GET", "/api/v1/no/such/route"},
	}
	for _, tok := range []string{"", "Bearer wrong", "Basic " + testToken, testToken} {
		for _, r := range routes {
			resp := h.request(r.method, r.path, map[string]any{}, map[string]string{"Authorization": tok})
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized || strings.TrimSpace(string(b)) != `{"message":"Unauthenticated."}` {
				t.Errorf("%s %s with %q: %d %s", r.method, r.path, tok, resp.StatusCode, b)
			}
		}
	}

	// The valid token works; loggedUser names the account.
	var me struct {
		User *struct {
			ID    int64  `json:"id"`
			Email string `json:"email"`
		} `json:"user"`
	}
	h.call("GET", "/api/v1/cli/loggedUser", nil, http.StatusOK, &me)
	if me.User == nil || me.User.ID == 0 || me.User.Email == "" {
		t.Fatalf("loggedUser: %+v", me)
	}

	// Quirk: a bad token gets 200 {"user":null} from loggedUser only.
	h.srv.SetQuirks(Quirks{LoggedUserNull: true})
	h.token = "bad"
	b := h.call("GET", "/api/v1/cli/loggedUser", nil, http.StatusOK, nil)
	if strings.TrimSpace(string(b)) != `{"user":null}` {
		t.Fatalf("loggedUserNull: %s", b)
	}
	h.call("GET", "/api/v1/drive/file-entries", nil, http.StatusUnauthorized, nil)

	// Tokens added and revoked through the admin route.
	h.call("POST", "/__emulator/tokens", map[string]any{"token": "bad"}, http.StatusOK, nil)
	h.call("GET", "/api/v1/drive/file-entries", nil, http.StatusOK, nil)
	h.call("POST", "/__emulator/tokens", map[string]any{"token": "bad", "revoke": true}, http.StatusOK, nil)
	h.call("GET", "/api/v1/drive/file-entries", nil, http.StatusUnauthorized, nil)
	h.srv.AddToken("bad")
	h.call("GET", "/api/v1/drive/file-entries", nil, http.StatusOK, nil)
	h.srv.RevokeToken("bad")
	h.call("GET", "/api/v1/drive/file-entries", nil, http.StatusUnauthorized, nil)
}

func TestAccountRoutes(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.QuotaBytes = 1000000 })
	resp := h.request("GET", "/api/v1/me/workspaces", nil, nil)
	if resp.Header.Get("X-Ratelimit-Limit") != "2000" || resp.Header.Get("X-Ratelimit-Remaining") == "" {
		t.Fatalf("rate-limit headers: %v", resp.Header)
	}
	var wss struct {
		Workspaces []map[string]any `json:"workspaces"`
		Status     string           `json:"status"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&wss)
	resp.Body.Close()
	if wss.Status != "success" || len(wss.Workspaces) == 0 {
		t.Fatalf("workspaces: %+v", wss)
	}
	f := h.mkdir(0, "d")
	a := h.upload(f.ID, "a.txt", []byte("12345"))
	h.upload(0, "b.txt", []byte("123"))
	var usage struct {
		Used      int64  `json:"used"`
		Available int64  `json:"available"`
		Status    string `json:"status"`
	}
	h.call("GET", "/api/v1/user/space-usage?workspaceId=0", nil, http.StatusOK, &usage)
	if usage.Used != 8 || usage.Available != 1000000 || usage.Status != "success" {
		t.Fatalf("space usage: %+v", usage)
	}
	h.call("POST", "/api/v1/file-entries/delete", map[string]any{"entryIds": []any{a.ID}}, http.StatusOK, nil)
	h.call("GET", "/api/v1/user/space-usage", nil, http.StatusOK, &usage)
	if usage.Used != 3 {
		t.Fatalf("space usage after trash: %+v", usage)
	}
}
