package drime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
)

// S3 multipart flow (drime-api.md §6.3): create → batch-sign-part-urls →
// PUT parts to storage → complete → RegisterEntry. The uploader drives the
// flow and keeps its progress durable; the client only makes each step
// safe to retry.

// Operation names for the multipart calls the Op* list in api.go lacks;
// used in logs and metrics only.
const (
	OpAbort         = "abort"
	OpUploadedParts = "uploaded-parts"
)

// signBatch is how many part URLs one sign request asks for; Drime's
// clients use 1 to 100, so larger lists are split.
const signBatch = 100

// maxParts is S3's limit on the number of parts of one upload.
const maxParts = 10000

// CreateMultipart starts a multipart upload. It is retried automatically:
// a duplicate from a lost answer is only an unused upload session, which
// storage expires, never a visible entry.
func (c *Client) CreateMultipart(ctx context.Context, req MultipartCreateRequest) (*MultipartUpload, error) {
	if req.Name == "" {
		return nil, errors.New("drime: create multipart upload: empty name")
	}
	body := map[string]any{
		"filename":    req.Name,
		"mime":        guessMime(req.Name, req.Mime),
		"size":        req.Size,
		"extension":   extensionOf(req.Name, req.Extension),
		"workspaceId": c.workspace,
	}
	if req.ParentID != 0 {
		body["parentId"] = req.ParentID // camelCase: parent_id is ignored (§6.3.1)
	}
	r := c.apiRequest(OpCreate, fmt.Sprintf("create multipart upload %q", req.Name), http.MethodPost,
		"/s3/multipart/create", c.withWorkspace(nil)).jsonBody(body)
	var resp struct {
		Key      flexString `json:"key"`
		UploadID flexString `json:"uploadId"`
	}
	if err := c.callJSON(ctx, r, &resp); err != nil {
		return nil, err
	}
	if resp.Key == "" || resp.UploadID == "" {
		return nil, fmt.Errorf("drime: %s: answer lacks key or uploadId", r.what)
	}
	return &MultipartUpload{Key: string(resp.Key), UploadID: string(resp.UploadID)}, nil
}

// SignParts returns a presigned PUT URL for each part number, mapped by the
// partNumber the server echoes (never by position).
func (c *Client) SignParts(ctx context.Context, up MultipartUpload, parts []int) (map[int]string, error) {
	out := make(map[int]string, len(parts))
	for _, n := range parts {
		if n < 1 || n > maxParts {
			return nil, fmt.Errorf("drime: sign part urls: part number %d out of range 1..%d", n, maxParts)
		}
	}
	for batch := range slices.Chunk(parts, signBatch) {
		r := c.apiRequest(OpSign, "sign part urls", http.MethodPost, "/s3/multipart/batch-sign-part-urls",
			c.withWorkspace(nil)).jsonBody(map[string]any{
			"key": up.Key, "uploadId": up.UploadID, "partNumbers": batch,
		})
		var resp struct {
			URLs []struct {
				PartNumber flexInt    `json:"partNumber"`
				URL        flexString `json:"url"`
			} `json:"urls"`
		}
		if err := c.callJSON(ctx, r, &resp); err != nil {
			return nil, err
		}
		for _, u := range resp.URLs {
			if u.URL != "" {
				out[int(u.PartNumber)] = string(u.URL)
			}
		}
		for _, n := range batch {
			if out[n] == "" {
				return nil, fmt.Errorf("drime: sign part urls: no URL for part %d in the answer", n)
			}
		}
	}
	return out, nil
}

// PutPart uploads one part to its presigned URL and returns the ETag header
// exactly as storage sent it (quoted). The body is re-read from body at
// offset 0 on every attempt. No Authorization is ever sent to storage.
// 429, 5xx and network errors are retried; a 403 is ErrURLExpired at once,
// because only a fresh signature can help.
func (c *Client) PutPart(ctx context.Context, rawURL string, body io.ReaderAt, size int64) (string, error) {
	if size < 0 || (body == nil && size > 0) {
		return "", fmt.Errorf("drime: put part: no body for %d bytes", size)
	}
	u, err := c.entryURL(rawURL)
	if err != nil {
		return "", fmt.Errorf("drime: put part: %w", err)
	}
	what := "put part"
	if n := u.Query().Get("partNumber"); n != "" {
		what += " " + n
	}
	target := strings.TrimSpace(rawURL) // byte for byte: the signature covers it
	if !u.IsAbs() || !strings.HasPrefix(target, u.Scheme+":") {
		target = u.String()
	}
	r := &request{op: OpPutPart, what: what, method: http.MethodPut, url: target,
		contentType: "application/octet-stream", storage: true}
	r.body = func() (io.Reader, int64) {
		if size == 0 {
			return http.NoBody, 0
		}
		return sizedBody(body, size), size
	}
	var etag string
	err = c.retry(ctx, r.op, r.what, func(int, error) error {
		resp, err := c.send(ctx, r)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if err := c.statusError(r, resp); err != nil {
			return err
		}
		// A 200 whose (empty) body is cut off, or that lacks the ETag, is
		// not a stored part we can prove: treat it like a lost answer.
		if _, err := io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)); err != nil {
			return c.readError(ctx, r, err)
		}
		etag = resp.Header.Get("ETag")
		if etag == "" {
			return &TransportError{Op: r.what, Method: r.method, URL: redactURL(r.url), Err: errNoETag}
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	return etag, nil
}

var errNoETag = errors.New("storage answered without an ETag")

// CompleteMultipart assembles the parts. Parts are sent sorted by number
// with PascalCase keys and quoted ETags (§6.3.4). It is retried; when a
// retry that follows an ambiguous failure answers 404 / "no such upload",
// the earlier attempt completed the upload and nil is returned.
func (c *Client) CompleteMultipart(ctx context.Context, up MultipartUpload, parts []CompletedPart) error {
	if len(parts) == 0 {
		return errors.New("drime: complete multipart upload: no parts")
	}
	type wirePart struct {
		PartNumber int    `json:"PartNumber"`
		ETag       string `json:"ETag"`
	}
	sorted := slices.Clone(parts)
	slices.SortFunc(sorted, func(a, b CompletedPart) int { return a.Number - b.Number })
	wire := make([]wirePart, len(sorted))
	for i, p := range sorted {
		if i > 0 && p.Number == sorted[i-1].Number {
			return fmt.Errorf("drime: complete multipart upload: part %d listed twice", p.Number)
		}
		wire[i] = wirePart{PartNumber: p.Number, ETag: quoteETag(p.ETag)}
	}
	r := c.apiRequest(OpComplete, "complete multipart upload", http.MethodPost, "/s3/multipart/complete",
		c.withWorkspace(nil)).jsonBody(map[string]any{"key": up.Key, "uploadId": up.UploadID, "parts": wire})
	doubt := false
	return c.retry(ctx, r.op, r.what, func(attempt int, _ error) error {
		err := c.doJSON(ctx, r, nil)
		if err != nil && doubt && noSuchUpload(err) {
			c.log.Info().Str("op", r.op).Int("attempt", attempt+1).
				Msg("drime: upload already completed by an interrupted attempt")
			return nil
		}
		doubt = doubt || ambiguous(err)
		return err
	})
}

// AbortMultipart abandons an upload; one that no longer exists counts as
// aborted.
func (c *Client) AbortMultipart(ctx context.Context, up MultipartUpload) error {
	r := c.apiRequest(OpAbort, "abort multipart upload", http.MethodPost, "/s3/multipart/abort",
		c.withWorkspace(nil)).jsonBody(map[string]any{"key": up.Key, "uploadId": up.UploadID})
	err := c.callJSON(ctx, r, nil)
	if err != nil && noSuchUpload(err) {
		return nil
	}
	return err
}

// UploadedParts lists the parts storage holds for an upload, sorted by
// number, to resume it. ErrNotFound means the upload is gone: start over.
func (c *Client) UploadedParts(ctx context.Context, up MultipartUpload) ([]UploadedPart, error) {
	r := c.apiRequest(OpUploadedParts, "get uploaded parts", http.MethodPost, "/s3/multipart/get-uploaded-parts",
		c.withWorkspace(nil)).jsonBody(map[string]any{"key": up.Key, "uploadId": up.UploadID})
	var resp struct {
		// encoding/json matches keys case-insensitively, so partNumber,
		// etag and size are accepted too.
		Parts []struct {
			PartNumber flexInt    `json:"PartNumber"`
			ETag       flexString `json:"ETag"`
			Size       flexInt    `json:"Size"`
		} `json:"parts"`
	}
	if err := c.callJSON(ctx, r, &resp); err != nil {
		return nil, err
	}
	out := make([]UploadedPart, 0, len(resp.Parts))
	for _, p := range resp.Parts {
		out = append(out, UploadedPart{Number: int(p.PartNumber), ETag: string(p.ETag), Size: int64(p.Size)})
	}
	slices.SortFunc(out, func(a, b UploadedPart) int { return a.Number - b.Number })
	return out, nil
}

// noSuchUpload reports a 404, or S3's NoSuchUpload under any status.
func noSuchUpload(err error) bool {
	return errors.Is(err, ErrNotFound) || messageContains(err, "no such upload") || messageContains(err, "nosuchupload")
}

// quoteETag returns the ETag in double quotes, as S3 and Drime's docs show.
func quoteETag(etag string) string {
	etag = strings.TrimSpace(etag)
	if len(etag) >= 2 && strings.HasPrefix(etag, `"`) && strings.HasSuffix(etag, `"`) {
		return etag
	}
	return `"` + strings.Trim(etag, `"`) + `"`
}

// drainClose reads a little of what is left so the connection can be
// reused, then closes.
func drainClose(rc io.ReadCloser) {
	_, _ = io.Copy(io.Discard, io.LimitReader(rc, 64<<10))
	_ = rc.Close()
}
