package emulator

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestParseFaults(t *testing.T) {
	fs, err := ParseFaults(" put-part:500:0.2, sign:429:0.1,any:latency=20ms:1,download:truncate:1,list:html:0.5,move:lost:1,upload:drop:0 ,")
	if err != nil {
		t.Fatal(err)
	}
	want := []Fault{
		{Op: "put-part", Kind: KindStatus, Status: 500, Rate: 0.2},
		{Op: "sign", Kind: KindStatus, Status: 429, Rate: 0.1},
		{Op: "any", Kind: KindLatency, Latency: 20 * time.Millisecond, Rate: 1},
		{Op: "download", Kind: KindTruncate, Rate: 1},
		{Op: "list", Kind: KindHTML, Rate: 0.5},
		{Op: "move", Kind: KindLost, Rate: 1},
		{Op: "upload", Kind: KindDrop, Rate: 0},
	}
	if fmt.Sprint(fs) != fmt.Sprint(want) {
		t.Fatalf("parsed %v\nwant %v", fs, want)
	}
	if fs, err := ParseFaults(""); err != nil || len(fs) != 0 {
		t.Fatalf("empty spec: %v %v", fs, err)
	}
	for _, bad := range []string{"list:500", "lsit:500:1", "list:200:1", "list:500:2", "list:500:x", "list:latency=abc:1", "list:boom:1", "list:500:-0.1"} {
		_, err := ParseFaults("any:503:0.1," + bad)
		if err == nil || !strings.Contains(err.Error(), bad) {
			t.Errorf("spec item %q: error %v does not name it", bad, err)
		}
	}
}

func TestFaultKinds(t *testing.T) {
	h := newHarness(t, nil)
	// Status kinds: 4xx JSON, 429 with Retry-After, 5xx and 52x HTML.
	for _, c := range []struct {
		spec, ctype string
		status      int
	}{
		{"list:404:1", "application/json", 404},
		{"list:429:1", "application/json", 429},
		{"list:503:1", "text/html", 503},
		{"any:520:1", "text/html", 520},
		{"list:html:1", "text/html", 200},
	} {
		if err := h.srv.SetFaults(c.spec); err != nil {
			t.Fatal(err)
		}
		resp := h.request("GET", "/api/v1/drive/file-entries", nil, nil)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.status || !strings.HasPrefix(resp.Header.Get("Content-Type"), c.ctype) {
			t.Errorf("%s: %d %s %s", c.spec, resp.StatusCode, resp.Header.Get("Content-Type"), b)
		}
		if c.status == 429 && resp.Header.Get("Retry-After") != "1" {
			t.Errorf("429 without Retry-After: 1")
		}
		if c.status == 520 && !bytes.Contains(b, []byte("520")) {
			t.Errorf("520 body: %s", b)
		}
	}
	// OP matching: a list fault leaves other routes alone.
	_ = h.srv.SetFaults("list:500:1")
	h.call("GET", "/api/v1/user/space-usage", nil, http.StatusOK, nil)
	_ = h.srv.SetFaults("")

	// drop: the connection closes and the work is not done.
	_ = h.srv.SetFaults("folders:drop:1")
	if err := h.rawErr("POST", "/api/v1/folders", `{"name":"dropped"}`); err == nil {
		t.Fatal("drop: request succeeded")
	}
	// lost: the connection closes but the work is done.
	_ = h.srv.SetFaults("folders:lost:1")
	if err := h.rawErr("POST", "/api/v1/folders", `{"name":"lost"}`); err == nil {
		t.Fatal("lost: request succeeded")
	}
	_ = h.srv.SetFaults("")
	if got := strings.Join(names(h.list("").Data), ","); got != "lost" {
		t.Fatalf("after drop and lost: %q", got)
	}

	// latency delays, then answers normally.
	_ = h.srv.SetFaults("list:latency=150ms:1")
	start := time.Now()
	h.call("GET", "/api/v1/drive/file-entries", nil, http.StatusOK, nil)
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Fatalf("latency: answered after %v", d)
	}

	// truncate: full Content-Length, about half the body, then EOF.
	_ = h.srv.SetFaults("")
	content := bytes.Repeat([]byte("0123456789"), 100000)
	f := h.upload(0, "t.bin", content)
	_ = h.srv.SetFaults("download:truncate:1")
	resp := h.request("GET", fmt.Sprintf("/api/v1/file-entries/%d", f.ID), nil, nil)
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.ContentLength != int64(len(content)) || !errors.Is(err, io.ErrUnexpectedEOF) ||
		len(got) != len(content)/2 || !bytes.Equal(got, content[:len(got)]) {
		t.Fatalf("truncate: status %d length %d read %d err %v", resp.StatusCode, resp.ContentLength, len(got), err)
	}

	// put-part faults hit the storage endpoint.
	_ = h.srv.SetFaults("put-part:502:1")
	up := h.createMultipart("p.bin", 10)
	url := h.signParts(up, 1)[1]
	if status, _ := h.putPart(url, strings.NewReader("abc"), 3); status != 502 {
		t.Fatalf("put-part 502: %d", status)
	}
	_ = h.srv.SetFaults("")

	// Rates are drawn from the seeded RNG: about half of 400 requests fail.
	_ = h.srv.SetFaults("list:500:0.5")
	failed := 0
	for range 400 {
		resp := h.request("GET", "/api/v1/drive/file-entries", nil, nil)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode == 500 {
			failed++
		}
	}
	if failed < 140 || failed > 260 {
		t.Fatalf("rate 0.5: %d of 400 failed", failed)
	}
}

// rawErr sends a JSON request on a fresh connection and returns the
// transport error (nil if an answer arrived).
func (h *harness) rawErr(method, path, body string) error {
	req, _ := http.NewRequest(method, h.ts.URL+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+h.token)
	req.Header.Set("Content-Type", "application/json")
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Do(req)
	if err == nil {
		resp.Body.Close()
	}
	return err
}

func TestAdminRoutes(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Faults = "sign:429:0.1" })
	if b := h.call("GET", "/__emulator/faults", nil, 200, nil); strings.TrimSpace(string(b)) != "sign:429:0.1" {
		t.Fatalf("initial faults: %q", b)
	}
	h.call("PUT", "/__emulator/faults", "put-part:500:0.2,any:latency=20ms:1", 200, nil)
	if got := h.srv.FaultSpec(); got != "put-part:500:0.2,any:latency=20ms:1" {
		t.Fatalf("faults after PUT: %q", got)
	}
	if b := h.call("PUT", "/__emulator/faults", "list:nope:1", 400, nil); !strings.Contains(string(b), "list:nope:1") {
		t.Fatalf("bad spec answer: %s", b)
	}
	h.call("PUT", "/__emulator/faults", "", 200, nil)
	if h.srv.FaultSpec() != "" {
		t.Fatalf("faults not cleared: %q", h.srv.FaultSpec())
	}

	var q map[string]any
	h.call("PUT", "/__emulator/quirks", `{"sameNameUpload":"version","listingLag":"2s","renamedFolderEmpty":500,"lazyLastPage":true,"strictParentIDZero":1}`, 200, &q)
	got := h.srv.Quirks()
	if got.SameNameUpload != "version" || got.ListingLag != 2*time.Second || got.RenamedFolderEmpty != 500*time.Millisecond ||
		!got.LazyLastPage || !got.StrictParentIDZero || got.DownloadRedirect {
		t.Fatalf("quirks after PUT: %+v", got)
	}
	h.call("GET", "/__emulator/quirks", nil, 200, &q)
	if q["listingLag"] != "2s" || q["lazyLastPage"] != true || q["parentIds500"] != false {
		t.Fatalf("GET quirks: %v", q)
	}
	h.call("PUT", "/__emulator/quirks", `{"sameNameUpload":"sometimes"}`, 400, nil)
	h.call("PUT", "/__emulator/quirks", `{}`, 200, nil)
	if h.srv.Quirks() != (Quirks{}) {
		t.Fatalf("quirks not reset: %+v", h.srv.Quirks())
	}

	// Raw entries with names the API refuses.
	var dots, slash wireEntry
	h.call("POST", "/__emulator/entries", `{"parentId":null,"name":"..","type":"folder"}`, 200, &dots)
	h.call("POST", "/__emulator/entries", map[string]any{"parentId": dots.ID, "name": "a/b", "type": "file", "content": "aGVsbG8="}, 200, &slash)
	h.call("POST", "/__emulator/entries", map[string]any{"parentId": dots.ID, "name": "a/b", "type": "file"}, 200, nil)
	p := h.list(fmt.Sprintf("folderId=%d", dots.ID))
	if dots.Name != ".." || p.Total != 2 || p.Data[0].Name != "a/b" || p.Data[1].Name != "a/b" {
		t.Fatalf("raw entries: %+v", p.Data)
	}
	if _, b := h.download(fmt.Sprintf("/api/v1/file-entries/%d", slash.ID), ""); string(b) != "hello" {
		t.Fatalf("raw entry content: %q", b)
	}
	h.call("GET", "/__emulator/nope", nil, 404, nil)
}

func TestStats(t *testing.T) {
	h := newHarness(t, nil)
	h.list("")
	h.list("")
	h.upload(0, "a.txt", []byte("12345"))
	h.mkdir(0, "d")
	up := h.createMultipart("m.bin", 6<<20)
	h.putParts(up, 5<<20, 1<<20)
	_ = h.srv.SetFaults("list:503:1")
	h.request("GET", "/api/v1/drive/file-entries", nil, nil).Body.Close()
	h.request("GET", "/api/v1/me/workspaces", nil, nil).Body.Close()

	var st Stats
	h.call("GET", "/__emulator/stats", nil, 200, &st)
	want := map[string]int64{"list": 3, "upload": 1, "folders": 1, "create": 1, "sign": 1, "put-part": 2, "other": 1, "download": 0}
	for op, n := range want {
		if st.Requests[op] != n {
			t.Errorf("requests[%s] = %d, want %d (%v)", op, st.Requests[op], n, st.Requests)
		}
	}
	if st.UploadBytes != 5 || st.PutPartBytes != 6<<20 || st.PartSizes["5242880"] != 1 || st.PartSizes["1048576"] != 1 {
		t.Errorf("bytes: %+v", st)
	}
	if st.FaultsInjected["list:503"] != 1 {
		t.Errorf("faults injected: %v", st.FaultsInjected)
	}
	h.call("DELETE", "/__emulator/stats", nil, 200, nil)
	if st = h.srv.Stats(); st.Requests["list"] != 0 || st.PutPartBytes != 0 || len(st.PartSizes) != 0 {
		t.Errorf("after reset: %+v", st)
	}
}
