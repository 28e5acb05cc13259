package emulator

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"
)

func TestListingPagination(t *testing.T) {
	h := newHarness(t, nil)
	big := h.mkdir(0, "big")
	const n = 2000
	for i := range n {
		if _, err := h.srv.InsertEntry(context.Background(), 0, big.ID, fmt.Sprintf("file-%04d.txt", i), "file", []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	h.upload(0, "root.txt", []byte("r"))

	start := time.Now()
	p := h.list(fmt.Sprintf("folderId=%d&perPage=500&orderBy=name&orderDir=asc", big.ID))
	if p.PerPage != 200 || len(p.Data) != 200 || p.Total != n || p.LastPage != 10 || p.CurrentPage != 1 ||
		*p.From != 1 || *p.To != 200 || p.NextPageURL == nil || p.Folder == nil || p.Folder.ID != big.ID {
		t.Fatalf("page 1: per_page %d len %d total %d last %d", p.PerPage, len(p.Data), p.Total, p.LastPage)
	}
	all := h.listAll(fmt.Sprintf("folderId=%d&orderBy=name&orderDir=asc", big.ID))
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("listing 2,000 entries took %v", d)
	}
	seen := make(map[int64]bool)
	for i, e := range all {
		if seen[e.ID] || e.Name != fmt.Sprintf("file-%04d.txt", i) {
			t.Fatalf("entry %d: %+v", i, e)
		}
		seen[e.ID] = true
	}
	if len(all) != n {
		t.Fatalf("walked %d entries", len(all))
	}
	// Past the end: empty data.
	if p = h.list(fmt.Sprintf("folderId=%d&perPage=200&page=11", big.ID)); len(p.Data) != 0 || p.From != nil {
		t.Fatalf("page 11: %+v", p)
	}
	// Descending by name.
	if p = h.list(fmt.Sprintf("folderId=%d&perPage=1&orderBy=name&orderDir=desc", big.ID)); p.Data[0].Name != "file-1999.txt" {
		t.Fatalf("desc: %s", p.Data[0].Name)
	}

	// Root listing: no folder filter, folderId=0, parentIds=0 → root entries only.
	for _, q := range []string{"", "folderId=0", "parentIds=0", "parentIds[]=0"} {
		p = h.list(q)
		names := names(p.Data)
		if p.Total != 2 || p.Folder != nil || strings.Join(names, ",") != "big,root.txt" {
			t.Fatalf("root listing %q: %v", q, names)
		}
	}
	// parentIds with several folders; type=folder; query searches the workspace.
	other := h.mkdir(0, "other")
	h.upload(other.ID, "o.txt", []byte("o"))
	if p = h.list(fmt.Sprintf("parentIds=%d,%d&perPage=1", big.ID, other.ID)); p.Total != n+1 {
		t.Fatalf("parentIds: %d", p.Total)
	}
	if p = h.list("type=folder"); p.Total != 2 {
		t.Fatalf("type=folder: %d", p.Total)
	}
	if p = h.list("query=FILE-00"); p.Total != 100 {
		t.Fatalf("query: %d", p.Total)
	}
	h.call("GET", "/api/v1/drive/file-entries?folderId=999", nil, http.StatusNotFound, nil)

	// Quirks: lazy last_page and parentIds 500.
	h.srv.SetQuirks(Quirks{LazyLastPage: true, ParentIDs500: true})
	for page := 1; page <= 10; page++ {
		p = h.list(fmt.Sprintf("folderId=%d&perPage=200&page=%d", big.ID, page))
		if want := min(page+1, 10); p.LastPage != want {
			t.Fatalf("lazy last_page on page %d: %d", page, p.LastPage)
		}
	}
	resp := h.request("GET", "/api/v1/drive/file-entries?parentIds=0", nil, nil)
	resp.Body.Close()
	if resp.StatusCode != http.StatusInternalServerError || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("parentIds500: %d", resp.StatusCode)
	}
}

func names(es []wireEntry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.Name
	}
	sort.Strings(out)
	return out
}

func TestFoldersAndHelpers(t *testing.T) {
	h := newHarness(t, nil)
	a := h.mkdir(0, "a")
	b := h.mkdir(a.ID, "b")
	h.mkdir(0, "A") // case-sensitive: not a duplicate
	var e struct {
		Status  string              `json:"status"`
		Message string              `json:"message"`
		Errors  map[string][]string `json:"errors"`
	}
	h.call("POST", "/api/v1/folders", map[string]any{"name": "a", "parentId": nil}, http.StatusUnprocessableEntity, &e)
	if e.Status != "error" || !strings.Contains(e.Message, "folder with same name already exists") || len(e.Errors) == 0 {
		t.Fatalf("duplicate folder: %+v", e)
	}
	h.call("POST", "/api/v1/folders", map[string]any{"name": "b", "parentId": fmt.Sprint(a.ID)}, http.StatusUnprocessableEntity, nil)
	h.call("POST", "/api/v1/folders", map[string]any{"name": "x", "parentId": 123}, http.StatusUnprocessableEntity, nil)
	h.call("POST", "/api/v1/folders", map[string]any{"name": ""}, http.StatusUnprocessableEntity, nil)
	h.call("POST", "/api/v1/folders", map[string]any{"name": "zero", "parentId": 0}, http.StatusOK, nil)
	h.srv.SetQuirks(Quirks{StrictParentIDZero: true})
	h.call("POST", "/api/v1/folders", map[string]any{"name": "zero2", "parentId": 0}, http.StatusUnprocessableEntity, nil)
	h.srv.SetQuirks(Quirks{})
	if b.Path != fmt.Sprintf("%d/%d", a.ID, b.ID) || b.Hash != wantHash(b.ID) {
		t.Fatalf("folder b: %+v", b)
	}

	var path struct{ Path []wireEntry }
	h.call("GET", "/api/v1/folders/"+b.Hash+"/path", nil, http.StatusOK, &path)
	if len(path.Path) != 2 || path.Path[0].ID != a.ID || path.Path[1].ID != b.ID {
		t.Fatalf("path: %+v", path)
	}
	h.upload(a.ID, "f.txt", []byte("f"))
	var count struct{ Count int }
	h.call("GET", fmt.Sprintf("/api/v1/folders/%d/count", a.ID), nil, http.StatusOK, &count)
	if count.Count != 2 {
		t.Fatalf("count: %+v", count)
	}
	h.call("GET", "/api/v1/folders/1/count", nil, http.StatusNotFound, nil)
	var all struct {
		Folders    []map[string]any `json:"folders"`
		RootFolder map[string]any   `json:"rootFolder"`
	}
	h.call("GET", "/api/v1/users/15843/folders?workspaceId=0", nil, http.StatusOK, &all)
	if len(all.Folders) != 4 || all.RootFolder["hash"] != "0" {
		t.Fatalf("user folders: %+v", all)
	}
	var avail struct{ Available string }
	h.call("POST", "/api/v1/entry/getAvailableName", map[string]any{"name": "f.txt", "parentId": a.ID}, http.StatusOK, &avail)
	if avail.Available != "f (1).txt" {
		t.Fatalf("available: %+v", avail)
	}
	var val struct {
		Errors     bool     `json:"errors"`
		Duplicates []string `json:"duplicates"`
	}
	h.call("POST", "/api/v1/uploads/validate", map[string]any{"files": []any{map[string]any{"name": "f.txt", "size": 1}, map[string]any{"name": "g.txt"}}, "parentId": a.ID}, http.StatusOK, &val)
	if !val.Errors || len(val.Duplicates) != 1 || val.Duplicates[0] != "f.txt" {
		t.Fatalf("validate: %+v", val)
	}
}

func TestUploadsRelativePathAndVersions(t *testing.T) {
	h := newHarness(t, nil)
	// relativePath folders are created relative to the root without parentId.
	buf, ct := uploadForm(map[string]string{"relativePath": "/Backups/2024/0/x.txt"}, "x.txt", []byte("xx"))
	resp := h.request("POST", "/api/v1/uploads", buf, map[string]string{"Content-Type": ct})
	var out struct{ FileEntry wireEntry }
	_ = json.NewDecoder(resp.Body).Decode(&out)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || strings.Count(out.FileEntry.Path, "/") != 3 {
		t.Fatalf("relativePath upload: %d %+v", resp.StatusCode, out.FileEntry)
	}
	h.srv.SetQuirks(Quirks{DropZeroSegments: true})
	buf, ct = uploadForm(map[string]string{"relativePath": "Backups/2024/0/y.txt"}, "y.txt", []byte("yy"))
	resp = h.request("POST", "/api/v1/uploads", buf, map[string]string{"Content-Type": ct})
	_ = json.NewDecoder(resp.Body).Decode(&out)
	resp.Body.Close()
	if strings.Count(out.FileEntry.Path, "/") != 2 {
		t.Fatalf("dropZeroSegments: %+v", out.FileEntry)
	}
	if p := h.list("type=folder"); p.Total != 1 || p.Data[0].Name != "Backups" {
		t.Fatalf("root after relativePath uploads: %+v", names(p.Data))
	}

	// Names keep their UTF-8 and quotes.
	for _, name := range []string{"été 2024 \"q\".txt", "日本語.md", "0"} {
		if e := h.upload(0, name, []byte("u")); e.Name != name {
			t.Fatalf("upload %q named %q", name, e.Name)
		}
	}

	// Zero-byte file; same-name upload duplicates by default.
	first := h.upload(0, "same.txt", nil)
	if first.FileSize != 0 {
		t.Fatalf("empty upload: %+v", first)
	}
	second := h.upload(0, "same.txt", []byte("v2"))
	if p := h.list("query=same"); p.Total != 2 {
		t.Fatalf("duplicate mode: %d", p.Total)
	}
	// version mode: the older entries become backups and leave listings.
	h.srv.SetQuirks(Quirks{SameNameUpload: "version"})
	third := h.upload(0, "same.txt", []byte("v3"))
	p := h.list("")
	for _, e := range p.Data {
		if e.Name == "same.txt" && e.ID != third.ID {
			t.Fatalf("old version still listed: %+v", e)
		}
	}
	if b := h.list("backup=1"); b.Total != 2 || !b.Data[0].Backup {
		t.Fatalf("backups: %+v", b)
	}
	h.call("POST", "/api/v1/file-entries/delete", map[string]any{"entryIds": []any{second.ID}}, http.StatusUnprocessableEntity, nil)
}

// BenchmarkListWorkspace walks a root of 11,000 entries, 200 per page.
func BenchmarkListWorkspace(b *testing.B) {
	h := newHarness(b, nil)
	for i := range 11000 {
		if _, err := h.srv.InsertEntry(context.Background(), 0, 0, fmt.Sprintf("e%05d", i), "folder", nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for range b.N {
		if all := h.listAll("orderBy=name&orderDir=asc"); len(all) != 11000 {
			b.Fatalf("listed %d", len(all))
		}
	}
}
