package emulator

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// putParts uploads parts of the given sizes and returns their ETags (index
// = part number).
func (h *harness) putParts(up mpUpload, sizes ...int64) []string {
	h.t.Helper()
	nums := make([]any, len(sizes))
	for i := range sizes {
		nums[i] = i + 1
	}
	urls := h.signParts(up, nums...)
	etags := make([]string, len(sizes)+1)
	var off int64
	for i, n := range sizes {
		data := pattern{seed: 99, size: 1 << 40}
		status, etag := h.putPart(urls[i+1], ioSection(data, off, n), n)
		if status != http.StatusOK {
			h.t.Fatalf("part %d: status %d", i+1, status)
		}
		etags[i+1] = etag
		off += n
	}
	return etags
}

func (h *harness) completeStatus(up mpUpload, parts []donePart) (int, string) {
	h.t.Helper()
	resp := h.request("POST", "/api/v1/s3/multipart/complete", map[string]any{"key": up.Key, "uploadId": up.UploadID, "parts": parts}, nil)
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	return resp.StatusCode, b.String()
}

func TestCompleteEnforcesS3Rules(t *testing.T) {
	h := newHarness(t, nil)
	const mib = 1 << 20

	up := h.createMultipart("a.bin", 6*mib+1024)
	etags := h.putParts(up, 1*mib, 5*mib, 1024)
	for _, c := range []struct {
		name  string
		parts []donePart
		want  string
	}{
		{"small non-final part", []donePart{{1, etags[1]}, {2, etags[2]}, {3, etags[3]}}, "EntityTooSmall"},
		{"descending numbers", []donePart{{2, etags[2]}, {1, etags[1]}}, "InvalidPartOrder"},
		{"duplicate numbers", []donePart{{2, etags[2]}, {2, etags[2]}}, "InvalidPartOrder"},
		{"wrong ETag", []donePart{{2, `"0123456789abcdef0123456789abcdef"`}, {3, etags[3]}}, "ETag of part 2"},
		{"missing part", []donePart{{2, etags[2]}, {4, etags[3]}}, "part 4 was not uploaded"},
		{"no parts", nil, "at least one part"},
	} {
		status, body := h.completeStatus(up, c.parts)
		if status != http.StatusBadRequest || !strings.Contains(body, c.want) {
			t.Errorf("%s: status %d body %s", c.name, status, body)
		}
	}
	// Parts 2 and 3 alone form a valid object; part 1 is discarded.
	if status, body := h.completeStatus(up, []donePart{{2, strings.Trim(etags[2], `"`)}, {"3", etags[3]}}); status != http.StatusOK {
		t.Fatalf("valid complete: %d %s", status, body)
	}
	// A repeated complete (lost answer) succeeds again.
	if status, body := h.completeStatus(up, []donePart{{2, etags[2]}, {3, etags[3]}}); status != http.StatusOK {
		t.Fatalf("repeated complete: %d %s", status, body)
	}
	// Registering needs the completed size.
	h.call("POST", "/api/v1/s3/entries", map[string]any{"filename": up.uuid, "size": 6 * mib, "clientName": "a.bin"}, http.StatusUnprocessableEntity, nil)
	var reg struct{ FileEntry wireEntry }
	h.call("POST", "/api/v1/s3/entries", map[string]any{"filename": up.uuid, "size": 5*mib + 1024, "clientName": "a.bin", "parentId": nil}, http.StatusOK, &reg)
	if reg.FileEntry.ParentID != nil || reg.FileEntry.FileSize != 5*mib+1024 {
		t.Fatalf("registered: %+v", reg.FileEntry)
	}
	resp, body := h.download("/api/v1/file-entries/"+fmt.Sprint(reg.FileEntry.ID), "")
	if resp.StatusCode != http.StatusOK || shaHex(body) != (pattern{seed: 99, size: 1 << 40}).sha(mib, 5*mib+1024) {
		t.Fatalf("download of parts 2+3: %d", resp.StatusCode)
	}

	// Never completed: /s3/entries refuses.
	other := h.createMultipart("b.bin", 10)
	h.call("POST", "/api/v1/s3/entries", map[string]any{"filename": other.uuid, "size": 10, "clientName": "b.bin"}, http.StatusUnprocessableEntity, nil)
	// Abort forgets the upload.
	h.call("POST", "/api/v1/s3/multipart/abort", map[string]any{"key": other.Key, "uploadId": other.UploadID}, http.StatusOK, nil)
	h.call("POST", "/api/v1/s3/multipart/get-uploaded-parts", map[string]any{"key": other.Key, "uploadId": other.UploadID}, http.StatusNotFound, nil)
	h.call("POST", "/api/v1/s3/multipart/batch-sign-part-urls", map[string]any{"key": other.Key, "uploadId": other.UploadID, "partNumbers": []int{1}}, http.StatusNotFound, nil)
	h.call("POST", "/api/v1/s3/multipart/get-uploaded-parts", map[string]any{"key": "uploads/x/x", "uploadId": "nope"}, http.StatusNotFound, nil)
}

func TestCompleteEqualPartSizesQuirk(t *testing.T) {
	h := newHarness(t, nil)
	const mib = 1 << 20
	up := h.createMultipart("c.bin", 11*mib+1)
	etags := h.putParts(up, 6*mib, 5*mib, 1)
	parts := []donePart{{1, etags[1]}, {2, etags[2]}, {3, etags[3]}}
	h.srv.SetQuirks(Quirks{EqualPartSizes: true})
	if status, body := h.completeStatus(up, parts); status != http.StatusBadRequest || !strings.Contains(body, "non-final parts") {
		t.Fatalf("unequal parts with quirk: %d %s", status, body)
	}
	h.srv.SetQuirks(Quirks{})
	if status, body := h.completeStatus(up, parts); status != http.StatusOK {
		t.Fatalf("unequal parts without quirk: %d %s", status, body)
	}
}

func TestStorageRefusals(t *testing.T) {
	h := newHarness(t, nil)
	up := h.createMultipart("d.bin", 100)
	url := h.signParts(up, 1)[1]
	part := []byte("hello part")

	// Authorization on storage is refused (403, S3 XML), unless the quirk allows it.
	resp := h.request("PUT", url, part, map[string]string{"Authorization": "Bearer " + testToken})
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || resp.Header.Get("Content-Type") != "application/xml" {
		t.Fatalf("PUT with Authorization: %d", resp.StatusCode)
	}
	h.srv.SetQuirks(Quirks{AllowAuthOnStorage: true})
	resp = h.request("PUT", url, part, map[string]string{"Authorization": "Bearer " + testToken})
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("PUT with Authorization and allowAuthOnStorage: %d", resp.StatusCode)
	}
	h.srv.SetQuirks(Quirks{})

	// A tampered signature or part number is refused.
	for _, bad := range []string{strings.Replace(url, "sig=", "sig=00", 1), strings.Replace(url, "partNumber=1", "partNumber=2", 1)} {
		resp = h.request("PUT", bad, part, nil)
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("tampered URL: %d", resp.StatusCode)
		}
	}

	// An expired URL is refused.
	old := newHarness(t, func(c *Config) { c.PartURLTTL = -time.Minute })
	up = old.createMultipart("e.bin", 100)
	url = old.signParts(up, 1)[1]
	resp = old.request("PUT", url, part, nil)
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(b.String(), "expired") {
		t.Fatalf("expired URL: %d %s", resp.StatusCode, b.String())
	}
}

func TestSimplePresignAndRedirect(t *testing.T) {
	h := newHarness(t, nil)
	var ps struct {
		URL, Key, ACL, Status string
	}
	h.call("POST", "/api/v1/s3/simple/presign", map[string]any{"filename": "s.txt", "mime": "text/plain", "size": 5, "extension": "txt"}, http.StatusOK, &ps)
	m := keyRE.FindStringSubmatch(ps.Key)
	if m == nil || ps.ACL != "private" || ps.Status != "success" {
		t.Fatalf("presign: %+v", ps)
	}
	resp := h.request("PUT", ps.URL, "hello", map[string]string{"Content-Type": "text/plain", "x-amz-acl": "private"})
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("ETag") != `"5d41402abc4b2a76b9719d911017c592"` {
		t.Fatalf("simple PUT: %d %q", resp.StatusCode, resp.Header.Get("ETag"))
	}
	var reg struct{ FileEntry wireEntry }
	h.call("POST", "/api/v1/s3/entries", map[string]any{"filename": m[1], "size": "5", "clientName": "s.txt", "clientMime": "text/plain", "clientExtension": "txt", "parentId": 0}, http.StatusOK, &reg)

	h.srv.SetQuirks(Quirks{DownloadRedirect: true})
	resp = h.request("GET", "/api/v1/file-entries/"+fmt.Sprint(reg.FileEntry.ID), nil, nil)
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusFound || !strings.Contains(loc, "/_storage/") {
		t.Fatalf("redirect: %d %q", resp.StatusCode, loc)
	}
	// Following the redirect with the token is refused; without it, Range works.
	resp = h.request("GET", loc, nil, map[string]string{"Authorization": "Bearer " + testToken})
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("storage GET with Authorization: %d", resp.StatusCode)
	}
	resp, body := h.download(loc, "bytes=1-3")
	if resp.StatusCode != http.StatusPartialContent || string(body) != "ell" || resp.Header.Get("Content-Range") != "bytes 1-3/5" ||
		!strings.Contains(resp.Header.Get("Content-Disposition"), "s.txt") {
		t.Fatalf("storage GET: %d %q %v", resp.StatusCode, body, resp.Header)
	}
}
