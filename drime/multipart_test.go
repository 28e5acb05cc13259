package drime

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestCreateMultipartBody(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"key": "uploads/u/u", "uploadId": "UP", "acl": "private", "status": "success"})
	})
	c := f.client()
	up, err := c.CreateMultipart(context.Background(), MultipartCreateRequest{Name: "Makefile", Size: 6 << 20})
	if err != nil || up.Key != "uploads/u/u" || up.UploadID != "UP" {
		t.Fatalf("CreateMultipart = %+v, %v", up, err)
	}
	body := decodeBody(t, f.reqs()[0].Body)
	if body["filename"] != "Makefile" || body["extension"] != "bin" || body["mime"] != "application/octet-stream" ||
		body["size"] != float64(6<<20) || body["workspaceId"] != 0.0 {
		t.Errorf("body = %v", body)
	}
	if _, ok := body["parentId"]; ok {
		t.Error("root upload sent parentId")
	}
	if _, err := c.CreateMultipart(context.Background(), MultipartCreateRequest{Name: "movie.MP4", Size: 1, ParentID: 9}); err != nil {
		t.Fatal(err)
	}
	body = decodeBody(t, f.reqs()[1].Body)
	if body["extension"] != "MP4" || body["mime"] != "video/mp4" || body["parentId"] != 9.0 {
		t.Errorf("body = %v", body)
	}
}

func TestSignPartsMapsByNumber(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			PartNumbers []int `json:"partNumbers"`
		}
		_ = json.NewDecoder(r.Body).Decode(&req)
		var urls []map[string]any
		for i := len(req.PartNumbers) - 1; i >= 0; i-- { // reversed on purpose
			n := req.PartNumbers[i]
			urls = append(urls, map[string]any{"partNumber": jsonNum(int64(n)), "url": "http://s/p?partNumber=" + jsonNum(int64(n))})
		}
		writeJSON(w, 200, map[string]any{"urls": urls})
	})
	parts := make([]int, 150)
	for i := range parts {
		parts[i] = i + 1
	}
	got, err := f.client().SignParts(context.Background(), MultipartUpload{Key: "k", UploadID: "u"}, parts)
	if err != nil || len(got) != 150 || got[1] != "http://s/p?partNumber=1" || got[150] != "http://s/p?partNumber=150" {
		t.Fatalf("SignParts = %d urls, %v", len(got), err)
	}
	if n := len(f.reqs()); n != 2 {
		t.Errorf("%d sign requests for 150 parts, want 2 batches", n)
	}
	// A missing URL is an error, not a silent hole.
	f.setHandler(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"urls": []any{map[string]any{"partNumber": 1, "url": "http://s/1"}}})
	})
	if _, err := f.client().SignParts(context.Background(), MultipartUpload{}, []int{1, 2}); err == nil {
		t.Error("missing part URL accepted")
	}
	if _, err := f.client().SignParts(context.Background(), MultipartUpload{}, []int{0}); err == nil {
		t.Error("part number 0 accepted")
	}
}

func TestPutPart(t *testing.T) {
	data := bytes.Repeat([]byte("part-data-"), 1000)
	sum := md5.Sum(data)
	etag := `"` + hex.EncodeToString(sum[:]) + `"`
	attempts := 0
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		attempts++
		b, _ := io.ReadAll(r.Body)
		if r.Header.Get("Authorization") != "" || r.Header.Get("Content-Type") != "application/octet-stream" ||
			r.ContentLength != int64(len(data)) || !bytes.Equal(b, data) || r.Method != http.MethodPut {
			t.Errorf("attempt %d: auth=%q type=%q len=%d body ok=%v", attempts, r.Header.Get("Authorization"),
				r.Header.Get("Content-Type"), r.ContentLength, bytes.Equal(b, data))
		}
		switch attempts {
		case 1:
			w.WriteHeader(502)
		case 2:
			loseResponse(w)
		case 3:
			w.WriteHeader(200) // no ETag: not proof the part is stored
		default:
			w.Header().Set("ETag", etag)
		}
	})
	got, err := f.client().PutPart(context.Background(), f.srv.URL+"/storage/u?partNumber=3&sig=x", bytes.NewReader(data), int64(len(data)))
	if err != nil || got != etag || attempts != 4 {
		t.Errorf("PutPart = %q, %v after %d attempts", got, err, attempts)
	}
}

func TestPutPartExpiredURL(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(403)
		_, _ = io.WriteString(w, `<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>`)
	})
	_, err := f.client().PutPart(context.Background(), f.srv.URL+"/storage/u?partNumber=1", strings.NewReader("x"), 1)
	if !errors.Is(err, ErrURLExpired) || errors.Is(err, ErrForbidden) || len(f.reqs()) != 1 {
		t.Errorf("err = %v after %d requests", err, len(f.reqs()))
	}
	if !strings.Contains(err.Error(), "put part 1") || !strings.Contains(err.Error(), "Request has expired") {
		t.Errorf("error lacks context: %v", err)
	}
}

func TestAbortAndUploadedParts(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/v1/s3/multipart/abort":
			writeJSON(w, 404, map[string]any{"message": "NoSuchUpload"})
		case "/api/v1/s3/multipart/get-uploaded-parts":
			body := decodeBody(t, mustRead(r.Body))
			if body["uploadId"] == "gone" {
				writeJSON(w, 404, map[string]any{"message": "not found"})
				return
			}
			_, _ = io.WriteString(w, `{"parts":[{"PartNumber":2,"ETag":"\"b\"","Size":"5"},{"partNumber":1,"etag":"\"a\"","size":5242880}],"status":"success"}`)
		}
	})
	c := f.client()
	if err := c.AbortMultipart(context.Background(), MultipartUpload{Key: "k", UploadID: "x"}); err != nil {
		t.Errorf("abort of a gone upload: %v", err)
	}
	parts, err := c.UploadedParts(context.Background(), MultipartUpload{Key: "k", UploadID: "x"})
	if err != nil || len(parts) != 2 || parts[0] != (UploadedPart{1, `"a"`, 5242880}) || parts[1] != (UploadedPart{2, `"b"`, 5}) {
		t.Errorf("UploadedParts = %+v, %v", parts, err)
	}
	if _, err := c.UploadedParts(context.Background(), MultipartUpload{Key: "k", UploadID: "gone"}); !errors.Is(err, ErrNotFound) {
		t.Errorf("gone upload: %v", err)
	}
}

func TestHelpers(t *testing.T) {
	for in, want := range map[string]string{`abc`: `"abc"`, `"abc"`: `"abc"`, ` "abc" `: `"abc"`, `"abc`: `"abc"`} {
		if got := quoteETag(in); got != want {
			t.Errorf("quoteETag(%q) = %q", in, got)
		}
	}
	for in, want := range map[[2]string]string{{"a.tar.gz", ""}: "gz", {"noext", ""}: "bin", {"x", ".PDF"}: "PDF", {".bashrc", ""}: "bashrc"} {
		if got := extensionOf(in[0], in[1]); got != want {
			t.Errorf("extensionOf(%v) = %q, want %q", in, got, want)
		}
	}
	if got := guessMime("a.txt", ""); got != "text/plain" {
		t.Errorf("guessMime(a.txt) = %q", got)
	}
	if got := keyObjectName("uploads/aa-bb/aa-bb"); got != "aa-bb" {
		t.Errorf("keyObjectName = %q", got)
	}
}
