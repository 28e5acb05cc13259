package emulator

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"testing"
)

// snapshotOf records what a client sees: every listed entry (root, one
// folder, trash) and the bytes of every file.
func snapshotOf(h *harness, folder int64) map[string]string {
	h.t.Helper()
	out := make(map[string]string)
	add := func(scope string, es []wireEntry) {
		for _, e := range es {
			k := fmt.Sprintf("%s/%d", scope, e.ID)
			out[k] = fmt.Sprintf("%s|%s|%d|%v|%s", e.Name, e.Type, e.FileSize, e.DeletedAt != nil, e.Hash)
			if e.Type != "folder" {
				_, b := h.download(fmt.Sprintf("/api/v1/file-entries/%d", e.ID), "")
				out[k+"/sha"] = shaHex(b)
			}
		}
	}
	add("root", h.listAll("orderBy=name&orderDir=asc"))
	add("folder", h.listAll(fmt.Sprintf("folderId=%d", folder)))
	add("trash", h.listAll("deletedOnly=1"))
	return out
}

// populate creates folders, small files, a trashed file and a two-part
// multipart file, plus an open upload with one part.
func populate(t *testing.T, h *harness) (folder int64, open mpUpload) {
	f := h.mkdir(0, "docs")
	for i := range 5 {
		h.upload(f.ID, fmt.Sprintf("f%d.txt", i), []byte(fmt.Sprintf("content %d", i)))
	}
	h.upload(0, "empty", nil)
	gone := h.upload(0, "gone.txt", []byte("bye"))
	h.call("POST", "/api/v1/file-entries/delete", map[string]any{"entryIds": []any{gone.ID}}, http.StatusOK, nil)

	up := h.createMultipart("big.bin", 5<<20+7)
	etags := h.putParts(up, 5<<20, 7)
	if status, body := h.completeStatus(up, []donePart{{1, etags[1]}, {2, etags[2]}}); status != http.StatusOK {
		t.Fatalf("complete: %s", body)
	}
	h.call("POST", "/api/v1/s3/entries", map[string]any{"filename": up.uuid, "size": 5<<20 + 7, "clientName": "big.bin", "parentId": f.ID}, http.StatusOK, nil)

	open = h.createMultipart("open.bin", 6<<20)
	h.putParts(open, 5<<20)
	return f.ID, open
}

func TestRestartKeepsEverything(t *testing.T) {
	dir := t.TempDir()
	h := startHarness(t, dir, nil)
	folder, open := populate(t, h)
	before := snapshotOf(h, folder)
	h.stop()

	h2 := startHarness(t, dir, nil)
	after := snapshotOf(h2, folder)
	compareSnapshots(t, before, after)

	// The open upload survived too and can be finished.
	var listed struct{ Parts []struct{ ETag string } }
	h2.call("POST", "/api/v1/s3/multipart/get-uploaded-parts", map[string]any{"key": open.Key, "uploadId": open.UploadID}, http.StatusOK, &listed)
	if len(listed.Parts) != 1 {
		t.Fatalf("open upload parts after restart: %+v", listed)
	}
	etags := h2.putParts(open, 5<<20, 1<<20)
	if status, body := h2.completeStatus(open, []donePart{{1, etags[1]}, {2, etags[2]}}); status != http.StatusOK {
		t.Fatalf("complete after restart: %s", body)
	}
	// New ids keep growing after a restart.
	e := h2.upload(0, "new.txt", []byte("x"))
	for k := range after {
		var id int64
		fmt.Sscanf(filepath.Base(k), "%d", &id)
		if id >= e.ID {
			t.Fatalf("id %d reused or lower than existing %s", e.ID, k)
		}
	}
}

func TestCrashAndTornJournal(t *testing.T) {
	dir := t.TempDir()
	h := startHarness(t, dir, nil)
	folder, _ := populate(t, h)
	before := snapshotOf(h, folder)
	h.crash()

	// A torn last record (a crash mid-append) is ignored.
	journals, _ := filepath.Glob(filepath.Join(dir, "meta", "journal-*.jsonl"))
	sort.Strings(journals)
	if len(journals) == 0 {
		t.Fatal("no journal")
	}
	f, err := os.OpenFile(journals[len(journals)-1], os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = f.WriteString(`{"e":[{"id":480099999,"name":"torn`)
	f.Close()
	// Orphans of interrupted transfers are collected.
	_ = os.WriteFile(filepath.Join(dir, "tmp", "recv-123"), []byte("partial"), 0o600)
	_ = os.MkdirAll(filepath.Join(dir, "objects", "orphan"), 0o700)

	h2 := startHarness(t, dir, nil)
	compareSnapshots(t, before, snapshotOf(h2, folder))
	if _, err := os.Stat(filepath.Join(dir, "objects", "orphan")); !os.IsNotExist(err) {
		t.Fatalf("orphan object dir kept: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "tmp", "recv-123")); !os.IsNotExist(err) {
		t.Fatalf("temp file kept: %v", err)
	}
	h2.stop()

	// Two emulators on one data dir are refused.
	h3 := startHarness(t, dir, nil)
	if _, err := New(Config{DataDir: dir}); err == nil {
		t.Fatal("second emulator on the same data dir started")
	}
	h3.stop()
}

func TestJournalCorruptionInTheMiddleFails(t *testing.T) {
	dir := t.TempDir()
	h := startHarness(t, dir, nil)
	h.mkdir(0, "a")
	h.crash()
	journals, _ := filepath.Glob(filepath.Join(dir, "meta", "journal-*.jsonl"))
	sort.Strings(journals)
	j := journals[len(journals)-1]
	b, _ := os.ReadFile(j)
	_ = os.WriteFile(j, append([]byte("{garbage\n"), b...), 0o600)
	if _, err := New(Config{DataDir: dir}); err == nil {
		t.Fatal("a corrupt journal line followed by good ones was accepted")
	}
}

func compareSnapshots(t *testing.T, before, after map[string]string) {
	t.Helper()
	if len(before) < 10 {
		t.Fatalf("snapshot too small: %v", before)
	}
	for k, v := range before {
		if after[k] != v {
			t.Errorf("%s: before %q after %q", k, v, after[k])
		}
	}
	for k := range after {
		if _, ok := before[k]; !ok {
			t.Errorf("%s appeared after restart", k)
		}
	}
}

func TestCompactionWhileRunning(t *testing.T) {
	dir := t.TempDir()
	h := startHarness(t, dir, nil)
	h.srv.compactAt = 2000 // bytes: a compaction every few records
	folder, _ := populate(t, h)
	for i := range 30 {
		h.upload(folder, fmt.Sprintf("more-%02d.txt", i), []byte(fmt.Sprint(i)))
	}
	if h.srv.j.gen < 5 {
		t.Fatalf("journal generation %d: no compaction happened", h.srv.j.gen)
	}
	journals, _ := filepath.Glob(filepath.Join(dir, "meta", "journal-*.jsonl"))
	if len(journals) > 2 {
		t.Fatalf("old journals kept: %v", journals)
	}
	before := snapshotOf(h, folder)
	h.crash()
	h2 := startHarness(t, dir, nil)
	compareSnapshots(t, before, snapshotOf(h2, folder))
}

func TestClosedServerAnswers503(t *testing.T) {
	h := newHarness(t, nil)
	if err := h.srv.Close(); err != nil {
		t.Fatal(err)
	}
	if err := h.srv.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	h.call("GET", "/api/v1/drive/file-entries", nil, http.StatusServiceUnavailable, nil)
	h.srv = nil
}
