package drime

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
)

// Listing and the namespace mutations (rename, delete).

// The server's last_page is lazily current_page+1 until the end, pages
// overlap (an entry moved while listing), and trashed/backup entries are
// mixed in: the client still returns every live entry exactly once.
func TestListFolderPaginationLazyLastPage(t *testing.T) {
	pages := [][]map[string]any{
		{entryJSON(1, 9, "a", "folder", 0), entryJSON(2, 9, "b", "text", 10)},
		{entryJSON(2, 9, "b", "text", 10), entryJSON(3, 9, "c", "text", 5)},
		{entryJSON(4, 9, "d", "text", 1)},
	}
	trashed := entryJSON(5, 9, "trashed", "text", 1)
	trashed["deleted_at"] = "2024-01-15T10:30:00.000000Z"
	old := entryJSON(6, 9, "old", "text", 1)
	old["backup"] = "1"
	pages[2] = append(pages[2], trashed, old)

	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		for k, v := range map[string]string{"folderId": "9", "workspaceId": "0", "perPage": "200",
			"orderBy": "name", "orderDir": "asc"} {
			if q.Get(k) != v {
				t.Errorf("query %s = %q, want %q", k, q.Get(k), v)
			}
		}
		page, _ := strconv.Atoi(q.Get("page"))
		var data []map[string]any
		if page <= len(pages) {
			data = pages[page-1]
		}
		// lazy: last_page is one ahead until the real end
		last := min(page+1, len(pages))
		writeJSON(w, 200, map[string]any{"data": data, "current_page": strconv.Itoa(page), "last_page": last,
			"total": 999, "per_page": 200})
	})
	got, err := f.client().ListFolder(context.Background(), 9)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range got {
		names = append(names, e.Name)
	}
	if len(names) != 4 || names[0] != "a" || names[1] != "b" || names[2] != "c" || names[3] != "d" {
		t.Errorf("names = %v", names)
	}
	if !got[0].IsDir() || got[1].Size != 10 || got[1].ParentID != 9 {
		t.Errorf("entries decoded wrong: %+v", got[:2])
	}
	if n := len(f.reqs()); n != 3 {
		t.Errorf("%d page requests, want 3", n)
	}
}

// Without last_page the loop runs until an empty page.
func TestListFolderUntilEmptyPage(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		page, _ := strconv.Atoi(r.URL.Query().Get("page"))
		data := []map[string]any{}
		if page <= 2 {
			data = append(data, entryJSON(int64(page), 7, "f"+strconv.Itoa(page), "file", 1))
		}
		writeJSON(w, 200, map[string]any{"data": data})
	})
	got, err := f.client().ListFolder(context.Background(), 7)
	if err != nil || len(got) != 2 || len(f.reqs()) != 3 {
		t.Errorf("got %d entries, %v, %d requests", len(got), err, len(f.reqs()))
	}
}

// A server that ignores page= would loop forever; a page of nothing new
// ends the listing.
func TestListFolderServerIgnoresPage(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"data": []any{entryJSON(1, 7, "x", "file", 1)}, "current_page": 1, "last_page": 99})
	})
	got, err := f.client().ListFolder(context.Background(), 7)
	if err != nil || len(got) != 1 || len(f.reqs()) != 2 {
		t.Errorf("got %d entries, %v, %d requests", len(got), err, len(f.reqs()))
	}
}

// The root is listed without folderId and only parent_id == null kept.
func TestListRoot(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		q, _ := url.ParseQuery(r.URL.RawQuery)
		if _, ok := q["folderId"]; ok {
			t.Errorf("root listing sent folderId=%q", q.Get("folderId"))
		}
		child := entryJSON(3, 0, "nested", "file", 1)
		child["parent_id"] = "77"
		writeJSON(w, 200, listing(entryJSON(1, 0, "top", "folder", 0), child, entryJSON(2, 0, "file", "file", 3)))
	})
	got, err := f.client().ListFolder(context.Background(), 0)
	if err != nil || len(got) != 2 || got[0].Name != "top" || got[1].Name != "file" || got[1].ParentID != 0 {
		t.Errorf("root = %+v, %v", got, err)
	}
}

func TestListFolderRetriesPage(t *testing.T) {
	n := 0
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		n++
		if n == 1 {
			w.WriteHeader(520)
			return
		}
		writeJSON(w, 200, listing(entryJSON(1, 7, "x", "file", 1)))
	})
	got, err := f.client().ListFolder(context.Background(), 7)
	if err != nil || len(got) != 1 {
		t.Errorf("got %v, %v", got, err)
	}
}

func TestDeleteGoneIsSuccess(t *testing.T) {
	var batches []string
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			EntryIDs      []int64 `json:"entryIds"`
			DeleteForever bool    `json:"deleteForever"`
		}
		_ = json.NewDecoder(r.Body).Decode(&body)
		batches = append(batches, strings.Trim(strings.Join(strings.Fields(strings.Trim(jsonText(body.EntryIDs), "[]")), ""), ","))
		for _, id := range body.EntryIDs {
			if id == 2 {
				writeJSON(w, 422, map[string]any{"message": "The selected entry ids is invalid."})
				return
			}
		}
		writeJSON(w, 200, map[string]any{"status": "success"})
	})
	if err := f.client().Delete(context.Background(), []int64{1, 2, 3}, true); err != nil {
		t.Fatal(err)
	}
	if len(batches) != 4 || batches[0] != "1,2,3" || batches[3] != "3" {
		t.Errorf("batches = %v", batches)
	}
	f.setHandler(func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 404, map[string]any{"message": "x"}) })
	if err := f.client().Delete(context.Background(), []int64{9}, false); err != nil {
		t.Errorf("404: %v", err)
	}
	f.setHandler(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"status": "success", "errors": map[string]any{"9": "locked"}})
	})
	if err := f.client().Delete(context.Background(), []int64{9}, false); err == nil || !strings.Contains(err.Error(), "locked") {
		t.Errorf("per-entry error ignored: %v", err)
	}
}

func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return string(bytes.ReplaceAll(b, []byte(","), []byte(", ")))
}

func TestRename(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.Header.Get("X-HTTP-Method-Override") != "PUT" ||
			r.URL.Path != "/api/v1/file-entries/77" || r.URL.Query().Get("workspaceId") != "0" {
			t.Errorf("rename sent as %s %s override=%q", r.Method, r.URL, r.Header.Get("X-HTTP-Method-Override"))
		}
		body := decodeBody(t, mustRead(r.Body))
		writeJSON(w, 200, map[string]any{"fileEntry": entryJSON(77, 0, body["name"].(string), "text", 1)})
	})
	e, err := f.client().Rename(context.Background(), 77, "new name")
	if err != nil || e.Name != "new name" || e.ID != 77 {
		t.Errorf("Rename = %+v, %v", e, err)
	}
}

func mustRead(r io.Reader) []byte { b, _ := io.ReadAll(r); return b }
