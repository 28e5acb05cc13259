package emulator

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestRenameForms(t *testing.T) {
	h := newHarness(t, nil)
	f := h.upload(0, "a.txt", []byte("a"))
	path := fmt.Sprintf("/api/v1/file-entries/%d", f.ID)
	rename := func(method, p, name string, hdr map[string]string, body map[string]any) (int, wireEntry) {
		if body == nil {
			body = map[string]any{}
		}
		body["name"] = name
		resp := h.request(method, p, body, hdr)
		defer resp.Body.Close()
		var out struct{ FileEntry wireEntry }
		b, _ := io.ReadAll(resp.Body)
		_ = jsonUnmarshal(b, &out)
		return resp.StatusCode, out.FileEntry
	}
	for i, c := range []struct {
		method, path string
		hdr          map[string]string
		body         map[string]any
	}{
		{"PUT", path, nil, nil},
		{"POST", path, map[string]string{"X-HTTP-Method-Override": "PUT"}, nil},
		{"POST", path + "?_method=PUT", nil, nil},
		{"POST", path, nil, map[string]any{"_method": "PUT"}},
		{"POST", "/api/v1/file-entries/" + f.Hash, map[string]string{"X-HTTP-Method-Override": "PUT"}, nil},
	} {
		name := fmt.Sprintf("b%d.txt", i)
		status, e := rename(c.method, c.path, name, c.hdr, c.body)
		if status != http.StatusOK || e.Name != name || e.ID != f.ID {
			t.Fatalf("rename form %d: %d %+v", i, status, e)
		}
	}
	if status, _ := rename("POST", path, "c.txt", nil, nil); status != http.StatusMethodNotAllowed {
		t.Fatalf("plain POST: %d", status)
	}
	if status, _ := rename("PUT", path, "a/b", nil, nil); status != http.StatusUnprocessableEntity {
		t.Fatalf("rename to a/b: %d", status)
	}
	if status, _ := rename("PUT", "/api/v1/file-entries/1", "x", nil, nil); status != http.StatusNotFound {
		t.Fatalf("rename unknown: %d", status)
	}
	h.srv.SetQuirks(Quirks{LiteralPut520: true})
	resp := h.request("PUT", path, map[string]any{"name": "d.txt"}, nil)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 520 || !strings.Contains(string(b), "520") {
		t.Fatalf("literalPut520: %d", resp.StatusCode)
	}
	if status, e := rename("POST", path, "e.txt", map[string]string{"X-HTTP-Method-Override": "PUT"}, nil); status != http.StatusOK || e.Name != "e.txt" {
		t.Fatalf("override under literalPut520: %d", status)
	}

	// renamedFolderEmpty: a renamed folder lists empty for a while.
	h.srv.SetQuirks(Quirks{RenamedFolderEmpty: 500 * time.Millisecond})
	d := h.mkdir(0, "dir")
	h.upload(d.ID, "in.txt", []byte("i"))
	h.call("PUT", fmt.Sprintf("/api/v1/file-entries/%d", d.ID), map[string]any{"name": "dir2"}, http.StatusOK, nil)
	if p := h.list(fmt.Sprintf("folderId=%d", d.ID)); p.Total != 0 {
		t.Fatalf("renamed folder not empty: %d", p.Total)
	}
	time.Sleep(550 * time.Millisecond)
	if p := h.list(fmt.Sprintf("folderId=%d", d.ID)); p.Total != 1 {
		t.Fatalf("renamed folder after the window: %d", p.Total)
	}
}

func TestMoveDuplicate(t *testing.T) {
	h := newHarness(t, nil)
	src := h.mkdir(0, "src")
	dst := h.mkdir(0, "dst")
	sub := h.mkdir(src.ID, "sub")
	f := h.upload(sub.ID, "f.txt", []byte("ffff"))
	g := h.upload(0, "g.txt", []byte("g"))

	var mv struct{ Entries []wireEntry }
	h.call("POST", "/api/v1/file-entries/move", map[string]any{"entryIds": []any{fmt.Sprint(g.ID)}, "destinationId": fmt.Sprint(dst.ID), "workspaceId": "0"}, http.StatusOK, &mv)
	if len(mv.Entries) != 1 || *mv.Entries[0].ParentID != dst.ID {
		t.Fatalf("move: %+v", mv)
	}
	// Replay: "No valid entries to move".
	b := h.call("POST", "/api/v1/file-entries/move", map[string]any{"entryIds": []any{g.ID}, "destinationId": dst.ID}, http.StatusUnprocessableEntity, nil)
	if !strings.Contains(string(b), "No valid entries to move") {
		t.Fatalf("replayed move: %s", b)
	}
	h.call("POST", "/api/v1/file-entries/move", map[string]any{"entryIds": []any{999}}, http.StatusUnprocessableEntity, nil)
	// A folder cannot move into itself.
	h.call("POST", "/api/v1/file-entries/move", map[string]any{"entryIds": []any{src.ID}, "destinationId": sub.ID}, http.StatusUnprocessableEntity, nil)
	// Root as "", null and absent.
	for _, body := range []map[string]any{{"destinationId": ""}, {"destinationId": nil}, {}} {
		body["entryIds"] = []any{g.ID}
		h.call("POST", "/api/v1/file-entries/move", body, http.StatusOK, &mv)
		if mv.Entries[0].ParentID != nil {
			t.Fatalf("move to root %v: %+v", body, mv.Entries[0])
		}
		h.call("POST", "/api/v1/file-entries/move", map[string]any{"entryIds": []any{g.ID}, "destinationId": dst.ID}, http.StatusOK, nil)
	}
	h.call("POST", "/api/v1/file-entries/move", map[string]any{"entryIds": []any{g.ID}}, http.StatusOK, nil)

	// Duplicate copies folders recursively.
	var dup struct{ Entries []wireEntry }
	h.call("POST", "/api/v1/file-entries/duplicate", map[string]any{"entryIds": []any{src.ID}, "destinationId": dst.ID}, http.StatusOK, &dup)
	if len(dup.Entries) != 1 || dup.Entries[0].Name != "src" || dup.Entries[0].ID == src.ID {
		t.Fatalf("duplicate: %+v", dup)
	}
	copySub := h.list(fmt.Sprintf("folderId=%d", dup.Entries[0].ID))
	if copySub.Total != 1 || copySub.Data[0].Name != "sub" {
		t.Fatalf("copied folder: %+v", copySub)
	}
	copyFile := h.list(fmt.Sprintf("folderId=%d", copySub.Data[0].ID))
	if copyFile.Total != 1 || copyFile.Data[0].ID == f.ID {
		t.Fatalf("copied file: %+v", copyFile)
	}
	_, body := h.download(fmt.Sprintf("/api/v1/file-entries/%d", copyFile.Data[0].ID), "")
	if string(body) != "ffff" {
		t.Fatalf("copied bytes: %q", body)
	}
	// Deleting the original forever keeps the copy's bytes.
	h.call("POST", "/api/v1/file-entries/delete", map[string]any{"entryIds": []any{f.ID}, "deleteForever": true}, http.StatusOK, nil)
	if _, body = h.download(fmt.Sprintf("/api/v1/file-entries/%d", copyFile.Data[0].ID), ""); string(body) != "ffff" {
		t.Fatalf("copy after original deleted: %q", body)
	}
	// Copy into the same folder gets a free name.
	h.call("POST", "/api/v1/file-entries/duplicate", map[string]any{"entryIds": []any{g.ID}}, http.StatusOK, &dup)
	if dup.Entries[0].Name != "g (1).txt" {
		t.Fatalf("same-folder copy: %+v", dup.Entries[0])
	}
}

func TestDeleteTrashRestore(t *testing.T) {
	h := newHarness(t, nil)
	d := h.mkdir(0, "d")
	inner := h.upload(d.ID, "in.txt", []byte("in"))
	f := h.upload(0, "f.txt", []byte("f"))

	h.call("POST", "/api/v1/file-entries/delete", map[string]any{"entryIds": []any{fmt.Sprint(d.ID), f.ID}, "deleteForever": false}, http.StatusOK, nil)
	if p := h.list(""); p.Total != 0 {
		t.Fatalf("root after trash: %v", names(p.Data))
	}
	trash := h.list("deletedOnly=true")
	if trash.Total != 2 || trash.Data[0].DeletedAt == nil {
		t.Fatalf("trash: %v", names(trash.Data))
	}
	if p := h.list(fmt.Sprintf("folderId=%d&deletedOnly=1", d.ID)); p.Total != 1 || p.Data[0].ID != inner.ID {
		t.Fatalf("trashed folder content: %+v", p)
	}
	// Deleting again, or an unknown id, is 422 with the production message.
	for _, ids := range [][]any{{f.ID}, {inner.ID}, {12345}, {f.ID, 12345}} {
		b := h.call("POST", "/api/v1/file-entries/delete", map[string]any{"entryIds": ids}, http.StatusUnprocessableEntity, nil)
		if !strings.Contains(string(b), "The selected entry ids is invalid.") {
			t.Fatalf("delete %v: %s", ids, b)
		}
	}
	// Restore the folder: its subtree comes back.
	h.call("POST", "/api/v1/file-entries/restore", map[string]any{"entryIds": []any{d.ID}}, http.StatusOK, nil)
	if p := h.list(fmt.Sprintf("folderId=%d", d.ID)); p.Total != 1 {
		t.Fatalf("restored folder: %+v", p)
	}
	h.call("POST", "/api/v1/file-entries/restore", map[string]any{"entryIds": []any{d.ID}}, http.StatusUnprocessableEntity, nil)
	// Empty the trash: f is gone forever.
	h.call("POST", "/api/v1/file-entries/delete", map[string]any{"entryIds": []any{}, "emptyTrash": true}, http.StatusOK, nil)
	if p := h.list("deletedOnly=1"); p.Total != 0 {
		t.Fatalf("trash after emptyTrash: %+v", p)
	}
	h.call("GET", fmt.Sprintf("/api/v1/file-entries/%d", f.ID), nil, http.StatusNotFound, nil)
	// Permanent delete of a live folder.
	h.call("POST", "/api/v1/file-entries/delete", map[string]any{"entryIds": []any{d.ID}, "deleteForever": 1}, http.StatusOK, nil)
	b := h.call("GET", fmt.Sprintf("/api/v1/file-entries/%d", inner.ID), nil, http.StatusNotFound, nil)
	if !strings.Contains(string(b), `No query results for model [App\\FileEntry]`) {
		t.Fatalf("404 body: %s", b)
	}
}

func TestListingLag(t *testing.T) {
	h := newHarness(t, nil)
	old := h.upload(0, "old.txt", []byte("o"))
	h.srv.SetQuirks(Quirks{ListingLag: 500 * time.Millisecond})
	h.upload(0, "new.txt", []byte("n"))
	gone := h.upload(0, "gone.txt", []byte("g"))
	time.Sleep(520 * time.Millisecond)
	h.call("POST", "/api/v1/file-entries/delete", map[string]any{"entryIds": []any{old.ID}}, http.StatusOK, nil)
	h.call("POST", "/api/v1/file-entries/delete", map[string]any{"entryIds": []any{gone.ID}, "deleteForever": true}, http.StatusOK, nil)
	fresh := h.upload(0, "fresh.txt", []byte("f"))
	if got := strings.Join(names(h.list("").Data), ","); got != "gone.txt,new.txt,old.txt" {
		t.Fatalf("during the lag: %s", got)
	}
	time.Sleep(520 * time.Millisecond)
	if got := strings.Join(names(h.list("").Data), ","); got != "fresh.txt,new.txt" {
		t.Fatalf("after the lag: %s (fresh %d)", got, fresh.ID)
	}
}

func TestDownloadRanges(t *testing.T) {
	h := newHarness(t, nil)
	f := h.upload(0, "r.txt", []byte("0123456789"))
	path := fmt.Sprintf("/api/v1/file-entries/%d", f.ID)
	for _, c := range []struct {
		rng, body, cr string
		status        int
	}{
		{"bytes=2-4", "234", "bytes 2-4/10", 206},
		{"bytes=7-", "789", "bytes 7-9/10", 206},
		{"bytes=-2", "89", "bytes 8-9/10", 206},
		{"bytes=5-100", "56789", "bytes 5-9/10", 206},
		{"bytes=10-", "", "bytes */10", 416},
		{"bytes=0-1,4-5", "0123456789", "", 200},
		{"", "0123456789", "", 200},
	} {
		resp, body := h.download(path, c.rng)
		if resp.StatusCode != c.status || resp.Header.Get("Content-Range") != c.cr || (c.status != 416 && string(body) != c.body) {
			t.Errorf("Range %q: %d %q %q", c.rng, resp.StatusCode, resp.Header.Get("Content-Range"), body)
		}
	}
	resp := h.request("HEAD", "/api/v1/file-entries/download/"+f.Hash+"==", nil, nil)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.ContentLength != 10 || resp.Header.Get("Accept-Ranges") != "bytes" || resp.Header.Get("Content-Type") != "text/plain" {
		t.Fatalf("HEAD: %d %d %v", resp.StatusCode, resp.ContentLength, resp.Header)
	}
}
