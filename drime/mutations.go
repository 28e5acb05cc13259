package drime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// Namespace mutations: create folder, rename, move, delete. Rename and
// delete are idempotent and retried; create folder and move verify by
// listing after an ambiguous failure instead of acting twice.

// CreateFolder creates folder name under parentID (0 = root) and returns
// it. POST /folders is not idempotent; two situations end in reusing an
// existing folder instead (drime-api.md §5, §11):
//
//   - 422 "already exists": a folder of that name is there (maybe our own
//     earlier attempt whose answer was lost);
//   - an ambiguous failure (lost answer, 5xx): before sending again, the
//     parent is listed and a folder of exactly that name is adopted.
//
// Reuse needs exactly one folder with the exact (case-sensitive) name;
// otherwise the error says so and wraps ErrAlreadyExists.
func (c *Client) CreateFolder(ctx context.Context, parentID int64, name string) (*Entry, error) {
	if name == "" {
		return nil, errors.New("drime: create folder: empty name")
	}
	body := map[string]any{"name": name, "workspaceId": c.workspace}
	if parentID != 0 {
		body["parentId"] = parentID // root is "omitted", never 0 (§14.10)
	}
	r := c.apiRequest(OpFolders, fmt.Sprintf("create folder %q", name), http.MethodPost, "/folders",
		c.withWorkspace(nil)).jsonBody(body)

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
			e, err := c.existingFolder(ctx, parentID, name)
			if err != nil || e == nil {
				return false, err
			}
			made = e
			return true, nil
		})
	if s := statusOf(err); (s == http.StatusUnprocessableEntity || s == http.StatusConflict) && errors.Is(err, ErrAlreadyExists) {
		e, ferr := c.existingFolder(ctx, parentID, name)
		if ferr != nil {
			return nil, fmt.Errorf("%w; listing the parent to reuse it failed: %w", err, ferr)
		}
		if e == nil {
			return nil, fmt.Errorf("%w; but no folder of that name is listed in %d (a file may hold the name)", err, parentID)
		}
		made, err = e, nil
	}
	if err != nil {
		return nil, err
	}
	if made.Type == "" {
		made.Type = "folder" // some answers omit it; callers rely on IsDir
	}
	return made, nil
}

// existingFolder returns the one folder named exactly name in parentID,
// nil when there is none, and an error when several make reuse a guess.
func (c *Client) existingFolder(ctx context.Context, parentID int64, name string) (*Entry, error) {
	fs, err := c.childrenNamed(ctx, parentID, name, (*Entry).IsDir)
	if err != nil {
		return nil, err
	}
	switch len(fs) {
	case 0:
		return nil, nil
	case 1:
		return &fs[0], nil
	default:
		return nil, fmt.Errorf("drime: create folder %q: %d folders of that name in folder %d, refusing to pick one: %w",
			name, len(fs), parentID, ErrAlreadyExists)
	}
}

// Rename sets the name of entry id (drime-api.md §8.1). It is sent as POST
// with X-HTTP-Method-Override: PUT because a literal PUT once drew
// Cloudflare 520s. Setting a name is idempotent, so it is retried. When the
// server's answer carries no entry, a partial one (id and name) is
// returned.
func (c *Client) Rename(ctx context.Context, id int64, name string) (*Entry, error) {
	if id == 0 || name == "" {
		return nil, fmt.Errorf("drime: rename %d to %q: need an id and a name", id, name)
	}
	r := c.apiRequest(OpRename, fmt.Sprintf("rename %d to %q", id, name), http.MethodPost,
		"/file-entries/"+strconv.FormatInt(id, 10), c.withWorkspace(nil)).jsonBody(map[string]any{"name": name})
	r.header = http.Header{"X-Http-Method-Override": {http.MethodPut}}
	var data []byte
	err := c.retry(ctx, r.op, r.what, func(int, error) error {
		var err error
		data, err = c.doRaw(ctx, r, nil)
		return err
	})
	if err != nil {
		return nil, err
	}
	e, derr := decodeEntry(data)
	if derr != nil {
		return &Entry{ID: id, Name: name}, nil
	}
	return e, nil
}

// Move puts entries ids into folder destID (0 = root) (§8.2). A move whose
// answer was lost must not be judged by its replay, which fails with "No
// valid entries to move": after an ambiguous failure, and on that message,
// the destination is listed and the move counts as done when every id is
// there.
func (c *Client) Move(ctx context.Context, ids []int64, destID int64) error {
	if len(ids) == 0 {
		return nil
	}
	var dest any // null for root
	if destID != 0 {
		dest = destID
	}
	r := c.apiRequest(OpMove, fmt.Sprintf("move %s to %d", idsText(ids), destID), http.MethodPost, "/file-entries/move",
		c.withWorkspace(nil)).jsonBody(map[string]any{
		"entryIds": ids, "destinationId": dest, "workspaceId": c.workspace,
	})
	landed := func() (bool, error) {
		all, err := c.ListFolder(ctx, destID)
		if err != nil {
			return false, err
		}
		there := make(map[int64]bool, len(all))
		for _, e := range all {
			there[e.ID] = true
		}
		for _, id := range ids {
			if !there[id] {
				return false, nil
			}
		}
		return true, nil
	}
	err := c.verified(ctx, r.op, r.what, func() error { return c.doJSON(ctx, r, nil) }, landed)
	if err != nil && messageContains(err, "no valid entries to move") {
		if ok, lerr := landed(); lerr == nil && ok {
			return nil
		}
	}
	return err
}

// Delete moves entries to the trash, or removes them for good when forever
// is set (§8.4). Entries that are already gone (404, 422 "entry ids is
// invalid") count as deleted. Because that 422 rejects the whole batch, a
// batch is retried one id at a time when it gets it, so the live ids in it
// are still deleted.
func (c *Client) Delete(ctx context.Context, ids []int64, forever bool) error {
	if len(ids) == 0 {
		return nil
	}
	err := c.deleteBatch(ctx, ids, forever)
	if len(ids) > 1 && errors.Is(err, ErrInvalidEntryIDs) {
		for _, id := range ids {
			if err := c.deleteBatch(ctx, []int64{id}, forever); err != nil && !gone(err) {
				return err
			}
		}
		return nil
	}
	if gone(err) {
		return nil
	}
	return err
}

func (c *Client) deleteBatch(ctx context.Context, ids []int64, forever bool) error {
	r := c.apiRequest(OpDelete, fmt.Sprintf("delete %s", idsText(ids)), http.MethodPost, "/file-entries/delete",
		c.withWorkspace(nil)).jsonBody(map[string]any{
		"entryIds": slices.Clone(ids), "deleteForever": forever,
	})
	var resp struct {
		Errors json.RawMessage `json:"errors"`
	}
	if err := c.callJSON(ctx, r, &resp); err != nil {
		return err
	}
	// rclone checks this map: a 200 may still report per-entry failures.
	if d := validationDetails(resp.Errors); d != "" {
		return &APIError{Op: r.what, Method: r.method, Path: "/file-entries/delete", Status: http.StatusOK,
			Message: "some entries were not deleted: " + d}
	}
	return nil
}

// gone reports the answers that mean "no such entry any more".
func gone(err error) bool {
	return errors.Is(err, ErrNotFound) || errors.Is(err, ErrInvalidEntryIDs)
}

// idsText renders ids for a message, eliding long lists.
func idsText(ids []int64) string {
	const show = 5
	parts := make([]string, 0, show+1)
	for i, id := range ids {
		if i == show {
			parts = append(parts, fmt.Sprintf("… (%d ids)", len(ids)))
			break
		}
		parts = append(parts, strconv.FormatInt(id, 10))
	}
	return "[" + strings.Join(parts, " ") + "]"
}
