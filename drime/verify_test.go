package drime

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// miniDrive is just enough of Drime to test the verify-by-listing paths:
// uploads, registrations, folders and moves that can "lose" their answer
// after doing the work.
type miniDrive struct {
	mu      sync.Mutex
	nextID  int64
	entries map[int64]map[string]any
	lose    map[string]int // path → answers still to lose
	fail    map[string]int // path → 502s still to give before working
}

func newMiniDrive() *miniDrive {
	return &miniDrive{nextID: 100, entries: map[int64]map[string]any{}, lose: map[string]int{}, fail: map[string]int{}}
}

func (d *miniDrive) add(parent int64, name, typ string, size int64, fileName string) map[string]any {
	d.nextID++
	e := entryJSON(d.nextID, parent, name, typ, size)
	e["file_name"] = fileName
	d.entries[d.nextID] = e
	return e
}

func (d *miniDrive) count(name string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for _, e := range d.entries {
		if e["name"] == name {
			n++
		}
	}
	return n
}

func parentOf(e map[string]any) int64 {
	if p, ok := e["parent_id"].(int64); ok {
		return p
	}
	return 0
}

func (d *miniDrive) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	d.mu.Lock()
	defer d.mu.Unlock()
	path := strings.TrimPrefix(r.URL.Path, "/api/v1")
	if d.fail[path] > 0 {
		d.fail[path]--
		w.WriteHeader(502)
		return
	}
	var body map[string]any
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		_ = json.NewDecoder(r.Body).Decode(&body)
	}
	num := func(k string) int64 {
		switch v := body[k].(type) {
		case float64:
			return int64(v)
		case string:
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
		return 0
	}
	var answer any
	status := 200
	switch path {
	case "/drive/file-entries":
		folder, _ := strconv.ParseInt(r.URL.Query().Get("folderId"), 10, 64)
		var data []map[string]any
		for id := int64(0); id <= d.nextID; id++ {
			if e, ok := d.entries[id]; ok && parentOf(e) == folder {
				data = append(data, e)
			}
		}
		answer = map[string]any{"data": data, "current_page": 1, "last_page": 1}
	case "/uploads":
		file, hdr, err := r.FormFile("file")
		if err != nil {
			status, answer = 400, map[string]any{"message": err.Error()}
			break
		}
		content, _ := io.ReadAll(file)
		parent, _ := strconv.ParseInt(r.FormValue("parentId"), 10, 64)
		status, answer = 201, map[string]any{"status": "success",
			"fileEntry": d.add(parent, hdr.Filename, "text", int64(len(content)), "")}
	case "/s3/entries":
		status, answer = 201, map[string]any{"fileEntry": d.add(num("parentId"), body["clientName"].(string), "file", num("size"), body["filename"].(string))}
	case "/folders":
		for _, e := range d.entries {
			if e["name"] == body["name"] && parentOf(e) == num("parentId") {
				writeJSON(w, 422, map[string]any{"message": "Folder with same name already exists"})
				return
			}
		}
		answer = map[string]any{"folder": d.add(num("parentId"), body["name"].(string), "folder", 0, "")}
	case "/file-entries/move":
		moved := 0
		for _, v := range body["entryIds"].([]any) {
			e, ok := d.entries[int64(v.(float64))]
			if ok && parentOf(e) != num("destinationId") {
				e["parent_id"] = body["destinationId"]
				if p, ok := body["destinationId"].(float64); ok {
					e["parent_id"] = int64(p)
				}
				moved++
			}
		}
		if moved == 0 {
			status, answer = 422, map[string]any{"message": "No valid entries to move"}
		}
	default:
		status = 404
	}
	if d.lose[path] > 0 {
		d.lose[path]--
		loseResponse(w)
		return
	}
	writeJSON(w, status, answer)
}

func driveClient(t *testing.T) (*miniDrive, *fakeServer, *Client) {
	d := newMiniDrive()
	f := newFake(t, d.ServeHTTP)
	return d, f, f.client()
}

func TestUploadLostResponseAdoptsEntry(t *testing.T) {
	d, f, c := driveClient(t)
	d.lose["/uploads"] = 1
	e, err := c.Upload(context.Background(), UploadRequest{ParentID: 0, Name: "a.txt", Body: strings.NewReader("hello"), Size: 5})
	if err != nil {
		t.Fatal(err)
	}
	if e.Name != "a.txt" || e.Size != 5 || d.count("a.txt") != 1 || f.count("/api/v1/uploads") != 1 {
		t.Errorf("entry %+v, %d on the drive, %d uploads", e, d.count("a.txt"), f.count("/api/v1/uploads"))
	}
}

// An entry being replaced (same name and size) is excluded from adoption:
// the upload is sent again.
func TestUploadLostResponseExcludeResends(t *testing.T) {
	d, f, c := driveClient(t)
	old := d.add(0, "a.txt", "text", 5, "")
	d.fail["/uploads"] = 1 // 502: maybe did nothing
	e, err := c.Upload(context.Background(), UploadRequest{Name: "a.txt", Body: strings.NewReader("hello"), Size: 5,
		Exclude: []int64{old["id"].(int64)}})
	if err != nil {
		t.Fatal(err)
	}
	if e.ID == old["id"].(int64) || f.count("/api/v1/uploads") != 2 || d.count("a.txt") != 2 {
		t.Errorf("entry %+v adopted the excluded one or not re-sent (%d uploads)", e, f.count("/api/v1/uploads"))
	}
}

func TestUploadFormAndStreaming(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength <= 0 || len(r.TransferEncoding) != 0 {
			t.Errorf("upload not sent with a Content-Length: %d %v", r.ContentLength, r.TransferEncoding)
		}
		file, hdr, err := r.FormFile("file")
		if err != nil {
			t.Error(err)
			return
		}
		b, _ := io.ReadAll(file)
		if string(b) != "data\"x" || hdr.Filename != `we"ird.json` || hdr.Header.Get("Content-Type") != "application/json" {
			t.Errorf("file part %q %q %q", b, hdr.Filename, hdr.Header.Get("Content-Type"))
		}
		for k, v := range map[string]string{"parentId": "42", "relativePath": `we"ird.json`, "workspaceId": "0"} {
			if r.FormValue(k) != v {
				t.Errorf("field %s = %q, want %q", k, r.FormValue(k), v)
			}
		}
		writeJSON(w, 201, map[string]any{"fileEntry": entryJSON(5, 42, hdr.Filename, "text", 6)})
	})
	e, err := f.client().Upload(context.Background(), UploadRequest{ParentID: 42, Name: `we"ird.json`,
		Body: strings.NewReader("data\"x"), Size: 6})
	if err != nil || e.ID != 5 {
		t.Fatalf("Upload = %+v, %v", e, err)
	}
	// root: parentId is sent empty, never "0"
	f.setHandler(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseMultipartForm(1 << 20); err != nil {
			t.Error(err)
			return
		}
		if v, ok := r.MultipartForm.Value["parentId"]; !ok || v[0] != "" {
			t.Errorf("root parentId = %q (sent: %v)", v, ok)
		}
		writeJSON(w, 200, map[string]any{"fileEntry": entryJSON(6, 0, "e", "text", 0)})
	})
	if _, err := f.client().Upload(context.Background(), UploadRequest{Name: "e", Size: 0}); err != nil {
		t.Fatal(err)
	}
}

// A local file that shrank is our failure: reported at once, not retried.
func TestUploadShortBodyNotRetried(t *testing.T) {
	_, f, c := driveClient(t)
	_, err := c.Upload(context.Background(), UploadRequest{Name: "a", Body: strings.NewReader("abc"), Size: 10})
	if err == nil || IsRetryable(err) || !errors.Is(err, errShortBody) {
		t.Errorf("err = %v", err)
	}
	if n := f.count("/api/v1/uploads"); n > 1 {
		t.Errorf("%d upload attempts", n)
	}
}

func TestUploadCleanRejectNotRetried(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 400, map[string]any{"message": "bad upload"})
	})
	_, err := f.client().Upload(context.Background(), UploadRequest{Name: "a", Body: strings.NewReader("abc"), Size: 3})
	if statusOf(err) != 400 || len(f.reqs()) != 1 {
		t.Errorf("err = %v after %d requests", err, len(f.reqs()))
	}
}

func TestRegisterEntryLostResponse(t *testing.T) {
	d, f, c := driveClient(t)
	d.lose["/s3/entries"] = 1
	e, err := c.RegisterEntry(context.Background(), RegisterRequest{Key: "uploads/u-1/u-1", Size: 12 << 20, Name: "big", ParentID: 0})
	if err != nil {
		t.Fatal(err)
	}
	if e.FileName != "u-1" || d.count("big") != 1 || f.count("/api/v1/s3/entries") != 1 {
		t.Errorf("entry %+v, %d entries, %d posts", e, d.count("big"), f.count("/api/v1/s3/entries"))
	}
	body := decodeBody(t, f.reqs()[0].Body)
	if body["filename"] != "u-1" || body["clientExtension"] != "bin" || body["clientMime"] != "application/octet-stream" ||
		body["parentId"] != nil || body["clientName"] != "big" {
		t.Errorf("register body %v", body)
	}
	if _, ok := body["parentId"]; !ok {
		t.Error("parentId must be sent as null for root")
	}
}

func TestCreateFolderReuse(t *testing.T) {
	d, _, c := driveClient(t)
	existing := d.add(5, "docs", "folder", 0, "")
	e, err := c.CreateFolder(context.Background(), 5, "docs")
	if err != nil || e.ID != existing["id"].(int64) || !e.IsDir() {
		t.Fatalf("CreateFolder = %+v, %v", e, err)
	}
	// Case matters: "Docs" is a different folder.
	e, err = c.CreateFolder(context.Background(), 5, "Docs")
	if err != nil || e.ID == existing["id"].(int64) {
		t.Fatalf("CreateFolder(Docs) = %+v, %v", e, err)
	}
}

func TestCreateFolderLostResponse(t *testing.T) {
	d, f, c := driveClient(t)
	d.lose["/folders"] = 1
	e, err := c.CreateFolder(context.Background(), 0, "new")
	if err != nil || e.Name != "new" || d.count("new") != 1 || f.count("/api/v1/folders") != 1 {
		t.Fatalf("CreateFolder = %+v, %v; %d folders", e, err, d.count("new"))
	}
	body := decodeBody(t, f.reqs()[0].Body)
	if _, ok := body["parentId"]; ok {
		t.Errorf("root folder sent parentId %v", body["parentId"])
	}
}

func TestCreateFolderAmbiguous(t *testing.T) {
	d, _, c := driveClient(t)
	d.add(0, "dup", "folder", 0, "")
	d.add(0, "dup", "folder", 0, "")
	_, err := c.CreateFolder(context.Background(), 0, "dup")
	if !errors.Is(err, ErrAlreadyExists) || !strings.Contains(err.Error(), "2 folders") {
		t.Errorf("err = %v", err)
	}
	// A file holding the name is no folder to reuse.
	d.add(0, "file", "text", 3, "")
	if _, err := c.CreateFolder(context.Background(), 0, "file"); !errors.Is(err, ErrAlreadyExists) {
		t.Errorf("err = %v", err)
	}
}

func TestMoveLostResponse(t *testing.T) {
	d, f, c := driveClient(t)
	a := d.add(0, "a", "text", 1, "")
	dest := d.add(0, "dest", "folder", 0, "")
	d.lose["/file-entries/move"] = 1
	if err := c.Move(context.Background(), []int64{a["id"].(int64)}, dest["id"].(int64)); err != nil {
		t.Fatal(err)
	}
	if n := f.count("/api/v1/file-entries/move"); n != 1 {
		t.Errorf("%d move requests, want 1 (then verify by listing)", n)
	}
	// Replaying a done move gets "No valid entries to move": still success.
	if err := c.Move(context.Background(), []int64{a["id"].(int64)}, dest["id"].(int64)); err != nil {
		t.Errorf("replayed move: %v", err)
	}
	// But that message for an id that is not there is an error.
	if err := c.Move(context.Background(), []int64{999}, dest["id"].(int64)); err == nil {
		t.Error("moving a missing id succeeded")
	}
}

func TestCompleteRetryAfterLostAnswer(t *testing.T) {
	n := 0
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		n++
		if n == 1 {
			loseResponse(w) // completed, answer lost
			return
		}
		writeJSON(w, 404, map[string]any{"message": "NoSuchUpload: The specified multipart upload does not exist."})
	})
	err := f.client().CompleteMultipart(context.Background(), MultipartUpload{Key: "uploads/u/u", UploadID: "x"},
		[]CompletedPart{{Number: 2, ETag: "bb"}, {Number: 1, ETag: `"aa"`}})
	if err != nil {
		t.Fatal(err)
	}
	var body struct {
		Parts []map[string]any `json:"parts"`
	}
	_ = json.Unmarshal(f.reqs()[0].Body, &body)
	if len(body.Parts) != 2 || body.Parts[0]["PartNumber"] != 1.0 || body.Parts[0]["ETag"] != `"aa"` ||
		body.Parts[1]["ETag"] != `"bb"` {
		t.Errorf("parts = %v", body.Parts)
	}
	// On a first attempt, 404 is a real error.
	f.setHandler(func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 404, map[string]any{"message": "gone"}) })
	err = f.client().CompleteMultipart(context.Background(), MultipartUpload{Key: "k", UploadID: "x"}, []CompletedPart{{1, "e"}})
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("first-attempt 404: %v", err)
	}
}
