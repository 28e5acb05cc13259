package emulator

import (
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// The multipart flow exactly as reference/multipart-create.txt describes it:
// a 142,557,981-byte file in 28 parts of 5,242,880 bytes (the last smaller).
const (
	confSize     = 142557981
	confPartSize = 5242880
)

var keyRE = regexp.MustCompile(`^uploads/([0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12})/([0-9a-f-]{36})$`)

type mpUpload struct {
	Key      string `json:"key"`
	UploadID string `json:"uploadId"`
	ACL      string `json:"acl"`
	Status   string `json:"status"`
	uuid     string
}

func (h *harness) createMultipart(name string, size int64) mpUpload {
	h.t.Helper()
	var up mpUpload
	raw := h.call("POST", "/api/v1/s3/multipart/create", map[string]any{
		"filename": name, "mime": "video/mp4", "size": size, "extension": "mp4", "workspaceId": 0,
	}, http.StatusOK, &up)
	m := keyRE.FindStringSubmatch(up.Key)
	if m == nil || m[1] != m[2] {
		h.t.Fatalf("create: key %q is not uploads/<uuid>/<uuid> with the same uuid twice", up.Key)
	}
	if up.UploadID == "" || up.ACL != "private" || up.Status != "success" {
		h.t.Fatalf("create: %s", raw)
	}
	up.uuid = m[1]
	return up
}

// signParts signs part numbers (sent as given: numbers or strings) and
// returns the URLs by part number.
func (h *harness) signParts(up mpUpload, nums ...any) map[int]string {
	h.t.Helper()
	var out struct {
		URLs []struct {
			PartNumber int    `json:"partNumber"`
			URL        string `json:"url"`
		} `json:"urls"`
		Status string `json:"status"`
	}
	h.call("POST", "/api/v1/s3/multipart/batch-sign-part-urls",
		map[string]any{"key": up.Key, "uploadId": up.UploadID, "partNumbers": nums}, http.StatusOK, &out)
	if out.Status != "success" || len(out.URLs) != len(nums) {
		h.t.Fatalf("sign: %+v", out)
	}
	m := make(map[int]string)
	for _, u := range out.URLs {
		m[u.PartNumber] = u.URL
	}
	return m
}

// putPart PUTs n bytes of r to a presigned URL without Authorization and
// returns the status and the ETag header, checking it against the MD5.
func (h *harness) putPart(url string, r io.Reader, n int64) (int, string) {
	h.t.Helper()
	sum := md5.New()
	req, err := http.NewRequest("PUT", url, io.TeeReader(r, sum))
	if err != nil {
		h.t.Fatalf("put part: %v", err)
	}
	req.ContentLength = n
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := h.hc.Do(req)
	if err != nil {
		h.t.Fatalf("put part: %v", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	etag := resp.Header.Get("ETag")
	if resp.StatusCode == http.StatusOK && etag != `"`+hex.EncodeToString(sum.Sum(nil))+`"` {
		h.t.Fatalf("put part: ETag %s, want quoted MD5 %x", etag, sum.Sum(nil))
	}
	return resp.StatusCode, etag
}

type donePart struct {
	PartNumber any    `json:"PartNumber"`
	ETag       string `json:"ETag"`
}

func TestConformanceMultipart(t *testing.T) {
	h := newHarness(t, nil)
	data := pattern{seed: 7, size: confSize}
	folder := h.mkdir(0, "videos")

	up := h.createMultipart("large-video.mp4", confSize)
	nparts := (confSize + confPartSize - 1) / confPartSize
	if nparts != 28 {
		t.Fatalf("plan: %d parts", nparts)
	}

	// Sign in batches of 10, part numbers as numbers and numeric strings.
	urls := make(map[int]string)
	for first := 1; first <= nparts; first += 10 {
		var nums []any
		for n := first; n < first+10 && n <= nparts; n++ {
			if n%2 == 0 {
				nums = append(nums, strconv.Itoa(n))
			} else {
				nums = append(nums, n)
			}
		}
		for n, u := range h.signParts(up, nums...) {
			if !strings.Contains(u, "partNumber="+strconv.Itoa(n)) || !strings.Contains(u, "/_storage/"+up.Key) {
				t.Fatalf("part %d url %q", n, u)
			}
			urls[n] = u
		}
	}
	if len(urls) != nparts {
		t.Fatalf("signed %d urls", len(urls))
	}

	// PUT the parts four at a time, streamed from the generator.
	etags := make([]string, nparts+1)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	var mu sync.Mutex
	var failed []string
	for n := 1; n <= nparts; n++ {
		wg.Add(1)
		sem <- struct{}{}
		go func(n int) {
			defer wg.Done()
			defer func() { <-sem }()
			off := int64(n-1) * confPartSize
			size := min(int64(confPartSize), confSize-off)
			status, etag := h.putPart(urls[n], io.NewSectionReader(data, off, size), size)
			mu.Lock()
			defer mu.Unlock()
			if status != http.StatusOK {
				failed = append(failed, fmt.Sprintf("part %d: %d", n, status))
			}
			etags[n] = etag
		}(n)
	}
	wg.Wait()
	if len(failed) > 0 {
		t.Fatalf("part PUTs failed: %v", failed)
	}

	// get-uploaded-parts lists every part with its ETag and size.
	var listed struct {
		Parts []struct {
			PartNumber int    `json:"PartNumber"`
			ETag       string `json:"ETag"`
			Size       int64  `json:"Size"`
		} `json:"parts"`
	}
	h.call("POST", "/api/v1/s3/multipart/get-uploaded-parts", map[string]any{"key": up.Key, "uploadId": up.UploadID}, http.StatusOK, &listed)
	if len(listed.Parts) != nparts {
		t.Fatalf("uploaded parts: %d", len(listed.Parts))
	}
	for i, p := range listed.Parts {
		wantSize := min(int64(confPartSize), confSize-int64(i)*confPartSize)
		if p.PartNumber != i+1 || p.ETag != etags[i+1] || p.Size != wantSize {
			t.Fatalf("uploaded part %d: %+v", i+1, p)
		}
	}

	// Complete: ETags quoted and unquoted, part numbers as numbers.
	var parts []donePart
	for n := 1; n <= nparts; n++ {
		tag := etags[n]
		if n%3 == 0 {
			tag = strings.Trim(tag, `"`)
		}
		parts = append(parts, donePart{n, tag})
	}
	var done map[string]any
	h.call("POST", "/api/v1/s3/multipart/complete", map[string]any{"key": up.Key, "uploadId": up.UploadID, "parts": parts}, http.StatusOK, &done)
	if done["status"] != "success" || !strings.Contains(fmt.Sprint(done["location"]), up.uuid) || len(done) != 2 {
		t.Fatalf("complete: %v", done)
	}
	if p := h.list(fmt.Sprintf("folderId=%d", folder.ID)); p.Total != 0 {
		t.Fatalf("complete created an entry: %+v", p.Data)
	}
	h.call("POST", "/api/v1/s3/multipart/get-uploaded-parts", map[string]any{"key": up.Key, "uploadId": up.UploadID}, http.StatusNotFound, nil)

	// Register the object.
	var reg struct {
		Status    string    `json:"status"`
		FileEntry wireEntry `json:"fileEntry"`
	}
	h.call("POST", "/api/v1/s3/entries", map[string]any{
		"filename": up.uuid, "size": confSize, "clientName": "large-video.mp4", "clientMime": "video/mp4",
		"clientExtension": "mp4", "parentId": folder.ID, "relativePath": "large-video.mp4", "workspaceId": 0,
	}, http.StatusOK, &reg)
	fe := reg.FileEntry
	switch {
	case reg.Status != "success", fe.ID < 480000000, fe.Name != "large-video.mp4", fe.Type != "video",
		fe.FileSize != confSize, fe.Hash != wantHash(fe.ID), fe.ParentID == nil || *fe.ParentID != folder.ID,
		fe.FileName == nil || *fe.FileName != up.uuid, fe.DiskPrefix == nil || *fe.DiskPrefix != up.uuid,
		fe.Mime == nil || *fe.Mime != "video/mp4", fe.Extension == nil || *fe.Extension != "mp4",
		fe.URL == nil || *fe.URL != "api/v1/file-entries/"+strconv.FormatInt(fe.ID, 10),
		fe.Path != fmt.Sprintf("%d/%d", folder.ID, fe.ID), fe.WorkspaceID != 0, fe.DeletedAt != nil,
		len(fe.Users) == 0 || fe.Users[0]["owns_entry"] != true, !fe.Permissions["files.download"]:
		t.Fatalf("s3/entries fileEntry: %+v", fe)
	}

	// The folder lists it.
	p := h.list(fmt.Sprintf("folderId=%d&orderBy=name&orderDir=asc", folder.ID))
	if p.Total != 1 || len(p.Data) != 1 || p.Data[0].ID != fe.ID || p.Folder == nil || p.Folder.ID != folder.ID {
		t.Fatalf("folder listing: %+v", p)
	}
	if p = h.list("folderId=" + folder.Hash); p.Total != 1 {
		t.Fatalf("listing by folder hash: %+v", p)
	}

	// Whole downloads through both URLs.
	whole := data.sha(0, confSize)
	for _, path := range []string{"/" + *fe.URL, "/api/v1/file-entries/download/" + fe.Hash} {
		resp := h.request("GET", path, nil, nil)
		sum := shaOfBody(t, resp)
		if resp.StatusCode != http.StatusOK || sum != whole || resp.ContentLength != confSize ||
			resp.Header.Get("Accept-Ranges") != "bytes" || resp.Header.Get("Content-Type") != "video/mp4" ||
			!strings.Contains(resp.Header.Get("Content-Disposition"), "large-video.mp4") {
			t.Fatalf("download %s: status %d len %d headers %v", path, resp.StatusCode, resp.ContentLength, resp.Header)
		}
	}

	// Ranges, including ones crossing part boundaries.
	for _, rg := range []struct{ from, to int64 }{
		{0, 0}, {confPartSize - 10, confPartSize + 10}, {3*confPartSize - 1, 5 * confPartSize},
		{100000000, confSize - 1}, {confSize - 1000, confSize - 1},
	} {
		resp := h.request("GET", "/"+*fe.URL, nil, map[string]string{"Range": fmt.Sprintf("bytes=%d-%d", rg.from, rg.to)})
		sum := shaOfBody(t, resp)
		wantCR := fmt.Sprintf("bytes %d-%d/%d", rg.from, rg.to, confSize)
		if resp.StatusCode != http.StatusPartialContent || resp.Header.Get("Content-Range") != wantCR ||
			sum != data.sha(rg.from, rg.to-rg.from+1) {
			t.Fatalf("range %v: status %d Content-Range %q", rg, resp.StatusCode, resp.Header.Get("Content-Range"))
		}
	}
	resp := h.request("GET", "/api/v1/file-entries/download/"+fe.Hash, nil, map[string]string{"Range": "bytes=-1000"})
	if sum := shaOfBody(t, resp); resp.StatusCode != http.StatusPartialContent || sum != data.sha(confSize-1000, 1000) {
		t.Fatalf("suffix range: %d", resp.StatusCode)
	}

	st := h.srv.Stats()
	if st.PutPartBytes != confSize || st.PartSizes[strconv.Itoa(confPartSize)] != 27 || st.PartSizes[strconv.Itoa(confSize-27*confPartSize)] != 1 {
		t.Fatalf("stats: %+v", st)
	}
}

func shaOfBody(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	s := newSHA()
	if _, err := io.Copy(s, resp.Body); err != nil {
		t.Fatalf("read body: %v", err)
	}
	return hex.EncodeToString(s.Sum(nil))
}
