package drime

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"path"
	"slices"
	"strconv"
	"strings"
)

// The two ways a file becomes an entry: a small file in one POST /uploads,
// a large one by registering its completed multipart object. Neither call
// is idempotent; both verify by listing after an ambiguous failure.

// Upload sends a small file with POST /uploads (multipart/form-data,
// drime-api.md §6.1) and returns the new entry.
//
// The body is streamed from req.Body through an io.SectionReader between a
// small in-memory form prefix and suffix, so memory does not depend on the
// file size and the exact Content-Length is known (no chunked upload).
//
// POST /uploads is not idempotent: a retry after a lost answer would store
// the file twice. After an ambiguous failure the parent is listed first and
// an entry with the same name and size whose id is not in req.Exclude is
// adopted (the highest id if several); only when there is none is the file
// sent again.
func (c *Client) Upload(ctx context.Context, req UploadRequest) (*Entry, error) {
	if req.Name == "" {
		return nil, errors.New("drime: upload: empty name")
	}
	if req.Size < 0 || (req.Body == nil && req.Size > 0) {
		return nil, fmt.Errorf("drime: upload %q: no body for %d bytes", req.Name, req.Size)
	}
	prefix, suffix, ctype, err := c.uploadForm(req)
	if err != nil {
		return nil, fmt.Errorf("drime: upload %q: %w", req.Name, err)
	}
	total := int64(len(prefix)) + req.Size + int64(len(suffix))
	r := c.apiRequest(OpUpload, fmt.Sprintf("upload %q", req.Name), http.MethodPost, "/uploads", c.withWorkspace(nil))
	r.contentType = ctype
	r.body = func() (io.Reader, int64) {
		var file io.Reader = bytes.NewReader(nil)
		if req.Size > 0 {
			file = sizedBody(req.Body, req.Size) // fresh per attempt
		}
		return io.MultiReader(bytes.NewReader(prefix), file, bytes.NewReader(suffix)), total
	}

	var made *Entry
	err = c.verified(ctx, r.op, r.what,
		func() error {
			data, err := c.doRaw(ctx, r, nil)
			if err != nil {
				return err
			}
			e, err := decodeEntry(data)
			if err != nil {
				return fmt.Errorf("drime: %s: %w", r.what, err)
			}
			made = e
			return nil
		},
		func() (bool, error) {
			found, err := c.childrenNamed(ctx, req.ParentID, req.Name, func(e *Entry) bool {
				return !e.IsDir() && e.Size == req.Size && !slices.Contains(req.Exclude, e.ID)
			})
			if err != nil || len(found) == 0 {
				return false, err
			}
			made = newest(found)
			return true, nil
		})
	if err != nil {
		return nil, err
	}
	return made, nil
}

// uploadForm renders everything of the multipart form but the file bytes:
// the fields, the file part's header (prefix) and the closing boundary
// (suffix).
func (c *Client) uploadForm(req UploadRequest) (prefix, suffix []byte, contentType string, err error) {
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	parent := ""
	if req.ParentID != 0 {
		parent = strconv.FormatInt(req.ParentID, 10) // "" for root, never "0"
	}
	fields := [][2]string{
		{"parentId", parent},
		// The leaf only: folder segments in relativePath are created from
		// the drive root and not reliably combined with parentId (§6.5).
		{"relativePath", req.Name},
		{"workspaceId", strconv.FormatInt(c.workspace, 10)},
	}
	for _, f := range fields {
		if err := w.WriteField(f[0], f[1]); err != nil {
			return nil, nil, "", err
		}
	}
	h := make(textproto.MIMEHeader)
	h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="file"; filename="%s"`, quoteEscaper.Replace(req.Name)))
	h.Set("Content-Type", guessMime(req.Name, req.Mime))
	if _, err := w.CreatePart(h); err != nil {
		return nil, nil, "", err
	}
	prefix = bytes.Clone(buf.Bytes())
	buf.Reset()
	// Close writes only the closing boundary now that the part is open.
	if err := w.Close(); err != nil {
		return nil, nil, "", err
	}
	return prefix, bytes.Clone(buf.Bytes()), w.FormDataContentType(), nil
}

var quoteEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\r", "%0D", "\n", "%0A")

// guessMime returns mimeType when set, else the type for name's extension
// (parameters such as charset dropped), else application/octet-stream.
func guessMime(name, mimeType string) string {
	if mimeType != "" {
		return mimeType
	}
	if t := mime.TypeByExtension(path.Ext(name)); t != "" {
		if mt, _, err := mime.ParseMediaType(t); err == nil {
			return mt
		}
		return t
	}
	return "application/octet-stream"
}

// extensionOf returns ext when set, else name's extension without the dot,
// else "bin": Drime refuses entries without one (§6.3.1, §6.4).
func extensionOf(name, ext string) string {
	ext = strings.TrimPrefix(ext, ".")
	if ext == "" {
		ext = strings.TrimPrefix(path.Ext(name), ".")
	}
	if ext == "" {
		ext = "bin"
	}
	return ext
}

// RegisterEntry turns a completed multipart object into a file entry
// (POST /s3/entries, drime-api.md §6.4) under req.ParentID and returns it.
//
// The call is not idempotent: a retry after a lost answer could register
// the object twice. After an ambiguous failure the parent is listed first
// and the entry whose file_name is the key's UUID is adopted; only when it
// is not there is the request sent again.
func (c *Client) RegisterEntry(ctx context.Context, req RegisterRequest) (*Entry, error) {
	uuid := keyObjectName(req.Key)
	if uuid == "" {
		return nil, fmt.Errorf("drime: register entry %q: key %q has no object name", req.Name, req.Key)
	}
	if req.Name == "" {
		return nil, fmt.Errorf("drime: register entry: empty name for key %q", req.Key)
	}
	var parent any // JSON null for root: 0 is not the root to Drime (§14.10)
	if req.ParentID != 0 {
		parent = req.ParentID
	}
	r := c.apiRequest(OpEntries, fmt.Sprintf("register entry %q", req.Name), http.MethodPost, "/s3/entries",
		c.withWorkspace(nil)).jsonBody(map[string]any{
		"filename":        uuid,
		"size":            req.Size,
		"clientName":      req.Name,
		"clientMime":      guessMime(req.Name, req.Mime),
		"clientExtension": extensionOf(req.Name, req.Extension),
		"parentId":        parent,
		"workspaceId":     c.workspace,
	})

	var made *Entry
	err := c.verified(ctx, r.op, r.what,
		func() error {
			data, err := c.doRaw(ctx, r, nil)
			if err != nil {
				return err
			}
			e, err := decodeEntry(data)
			if err != nil {
				return fmt.Errorf("drime: %s: %w", r.what, err)
			}
			made = e
			return nil
		},
		func() (bool, error) {
			all, err := c.ListFolder(ctx, req.ParentID)
			if err != nil {
				return false, err
			}
			var found []Entry
			for _, e := range all {
				if !e.IsDir() && e.FileName == uuid {
					found = append(found, e)
				}
			}
			if len(found) == 0 {
				return false, nil
			}
			made = newest(found)
			return true, nil
		})
	if err != nil {
		return nil, err
	}
	return made, nil
}

// keyObjectName is the last segment of a multipart key
// (uploads/<uuid>/<uuid>): the storage object name Drime registers.
func keyObjectName(key string) string {
	key = strings.TrimRight(key, "/")
	if i := strings.LastIndexByte(key, '/'); i >= 0 {
		return key[i+1:]
	}
	return key
}
