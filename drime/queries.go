package drime

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
)

// Read-only queries: folder listings and account information. All are
// idempotent and retried under the one policy.

// Listing (drime-api.md §4). The server caps perPage at about 200 and its
// last_page grows lazily (current_page+1 until the end), so the loop trusts
// neither total nor the first last_page: it stops at an empty page or when
// current_page has caught up with last_page.

const (
	listPerPage = 200
	// maxListPages bounds a listing whose server never says "last page" and
	// keeps sending new ids: 2,000,000 entries in one folder is not real.
	maxListPages = 10000
)

// listPage is one page of GET /drive/file-entries.
type listPage struct {
	Data        []wireEntry `json:"data"`
	CurrentPage *flexInt    `json:"current_page"`
	LastPage    *flexInt    `json:"last_page"`
}

// ListFolder returns the live (not trashed, not old-version) children of
// folderID, 0 meaning the workspace root, de-duplicated by id, ordered by
// name as the server sorted them.
func (c *Client) ListFolder(ctx context.Context, folderID int64) ([]Entry, error) {
	var out []Entry
	seen := make(map[int64]bool)
	for page := 1; page <= maxListPages; page++ {
		p, err := c.listPage(ctx, folderID, page)
		if err != nil {
			return nil, err
		}
		if len(p.Data) == 0 {
			break
		}
		fresh := 0
		for i := range p.Data {
			w := &p.Data[i]
			id := int64(w.ID)
			if id == 0 || seen[id] {
				continue // pages shift under concurrent changes
			}
			seen[id] = true
			fresh++
			if w.hidden() {
				continue
			}
			// Without a folder filter some servers list everything: the
			// root is exactly the entries whose parent_id is null.
			if folderID == 0 && w.ParentID != 0 {
				continue
			}
			out = append(out, w.entry())
		}
		if p.CurrentPage != nil && p.LastPage != nil && *p.CurrentPage >= *p.LastPage {
			break
		}
		if fresh == 0 {
			// A whole page of ids already seen: the server is ignoring
			// page=N. Going on would loop forever.
			break
		}
	}
	return out, nil
}

func (c *Client) listPage(ctx context.Context, folderID int64, page int) (*listPage, error) {
	q := c.withWorkspace(url.Values{
		"perPage":  {strconv.Itoa(listPerPage)},
		"page":     {strconv.Itoa(page)},
		"orderBy":  {"name"},
		"orderDir": {"asc"},
	})
	if folderID != 0 {
		q.Set("folderId", strconv.FormatInt(folderID, 10))
	}
	what := fmt.Sprintf("list folder %d", folderID)
	if page > 1 {
		what += fmt.Sprintf(" (page %d)", page)
	}
	r := c.apiRequest(OpList, what, http.MethodGet, "/drive/file-entries", q)
	var p listPage
	err := c.retry(ctx, r.op, r.what, func(int, error) error {
		p = listPage{}
		return c.doJSON(ctx, r, &p)
	})
	if err != nil {
		return nil, err
	}
	return &p, nil
}

// childrenNamed lists parentID and returns the children whose name is
// exactly name (case-sensitive) and that satisfy keep.
func (c *Client) childrenNamed(ctx context.Context, parentID int64, name string, keep func(*Entry) bool) ([]Entry, error) {
	all, err := c.ListFolder(ctx, parentID)
	if err != nil {
		return nil, err
	}
	var out []Entry
	for i := range all {
		if all[i].Name == name && (keep == nil || keep(&all[i])) {
			out = append(out, all[i])
		}
	}
	return out, nil
}

// newest returns the entry with the highest id: when a folder briefly
// shows two versions of a file, the newer upload has the larger id.
func newest(es []Entry) *Entry {
	var best *Entry
	for i := range es {
		if best == nil || es[i].ID > best.ID {
			best = &es[i]
		}
	}
	return best
}

// WhoAmI returns the account behind the token (GET /cli/loggedUser). A bad
// token may be answered with 200 and {"user": null} instead of 401
// (drime-api.md §2.3), so a missing user or id is ErrUnauthorized too.
func (c *Client) WhoAmI(ctx context.Context) (*User, error) {
	r := c.apiRequest(OpOther, "who am i", http.MethodGet, "/cli/loggedUser", nil)
	var resp struct {
		User object[struct {
			ID          flexInt    `json:"id"`
			Email       flexString `json:"email"`
			DisplayName flexString `json:"display_name"`
		}] `json:"user"`
	}
	if err := c.callJSON(ctx, r, &resp); err != nil {
		return nil, err
	}
	if resp.User.V == nil || resp.User.V.ID == 0 {
		return nil, fmt.Errorf("drime: %s: the server knows no user for this token: %w", r.what, ErrUnauthorized)
	}
	u := resp.User.V
	return &User{ID: int64(u.ID), Email: string(u.Email), DisplayName: string(u.DisplayName)}, nil
}

// SpaceUsage returns the quota of the workspace (GET /user/space-usage).
// Available is the plan size; free space is Available - Used.
func (c *Client) SpaceUsage(ctx context.Context) (*SpaceUsage, error) {
	r := c.apiRequest(OpOther, "space usage", http.MethodGet, "/user/space-usage", c.withWorkspace(nil))
	var resp struct {
		Used      flexInt `json:"used"`
		Available flexInt `json:"available"`
	}
	if err := c.callJSON(ctx, r, &resp); err != nil {
		return nil, err
	}
	return &SpaceUsage{Used: int64(resp.Used), Available: int64(resp.Available)}, nil
}

// Workspaces lists the workspaces the user belongs to (GET /me/workspaces).
// The personal space (id 0) is implicit and not in the list.
func (c *Client) Workspaces(ctx context.Context) ([]Workspace, error) {
	r := c.apiRequest(OpOther, "list workspaces", http.MethodGet, "/me/workspaces", nil)
	var resp struct {
		Workspaces []struct {
			ID   flexInt    `json:"id"`
			Name flexString `json:"name"`
		} `json:"workspaces"`
	}
	if err := c.callJSON(ctx, r, &resp); err != nil {
		return nil, err
	}
	out := make([]Workspace, 0, len(resp.Workspaces))
	for _, w := range resp.Workspaces {
		out = append(out, Workspace{ID: int64(w.ID), Name: string(w.Name)})
	}
	return out, nil
}
