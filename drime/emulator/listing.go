package emulator

import (
	"cmp"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

const (
	defaultPerPage = 50
	maxPerPage     = 200
)

// listQuery is a decoded GET /drive/file-entries request.
type listQuery struct {
	ws          int64
	page        int
	perPage     int
	orderBy     string
	desc        bool
	typ         string
	search      string
	deletedOnly bool
	backup      bool
	folderRef   string   // folderId or pageId
	parentRefs  []string // parentIds, comma and [] forms
}

func parseListQuery(q url.Values) listQuery {
	lq := listQuery{page: 1, perPage: defaultPerPage, orderBy: "updated_at", desc: true}
	lq.ws, _ = parseInt(strings.TrimSpace(q.Get("workspaceId")))
	if v, err := strconv.Atoi(q.Get("page")); err == nil && v > 0 {
		lq.page = v
	}
	if v, err := parseInt(strings.TrimSpace(q.Get("perPage"))); err == nil && v > 0 {
		lq.perPage = int(min(v, maxPerPage))
	}
	switch ob := q.Get("orderBy"); ob {
	case "updated_at", "created_at", "name", "file_size", "id", "type":
		lq.orderBy = ob
	}
	if strings.EqualFold(q.Get("orderDir"), "asc") {
		lq.desc = false
	}
	lq.typ = strings.TrimSpace(q.Get("type"))
	lq.search = strings.ToLower(strings.TrimSpace(q.Get("query")))
	lq.deletedOnly = parseBool(q.Get("deletedOnly"))
	lq.backup = parseBool(q.Get("backup"))
	lq.folderRef = strings.TrimSpace(q.Get("folderId"))
	if lq.folderRef == "" {
		lq.folderRef = strings.TrimSpace(q.Get("pageId"))
	}
	for _, k := range []string{"parentIds", "parentIds[]"} {
		for _, v := range q[k] {
			for _, f := range strings.Split(v, ",") {
				if f = strings.TrimSpace(f); f != "" {
					lq.parentRefs = append(lq.parentRefs, f)
				}
			}
		}
	}
	return lq
}

// listPage is the top-level Laravel paginator answer.
type listPage struct {
	Data        []entryJSON `json:"data"`
	Folder      *entryJSON  `json:"folder"`
	CurrentPage int         `json:"current_page"`
	LastPage    int         `json:"last_page"`
	PerPage     int         `json:"per_page"`
	From        *int        `json:"from"`
	To          *int        `json:"to"`
	Total       int         `json:"total"`
	NextPageURL *string     `json:"next_page_url"`
	PrevPageURL *string     `json:"prev_page_url"`
}

// GET /drive/file-entries
func (s *Server) handleList(w http.ResponseWriter, r *http.Request) {
	lq := parseListQuery(r.URL.Query())
	quirks := s.Quirks()
	if len(lq.parentRefs) > 0 && quirks.ParentIDs500 {
		htmlError(w, http.StatusInternalServerError)
		return
	}
	now := time.Now()
	s.mu.RLock()
	var page listPage
	var folder *entry
	if lq.folderRef != "" && lq.folderRef != "0" {
		id, ok := parseRef(lq.folderRef)
		if ok && id != 0 {
			folder = s.st.entries[id]
		}
		if !ok || (id != 0 && (folder == nil || !folder.isFolder())) {
			s.mu.RUnlock()
			notFound(w, "FileEntry", lq.folderRef)
			return
		}
	}
	items := s.collectLocked(lq, folder, quirks, now)
	sortEntries(items, lq.orderBy, lq.desc)
	page.Total = len(items)
	lo := min((lq.page-1)*lq.perPage, len(items))
	hi := min(lo+lq.perPage, len(items))
	page.Data = s.renderAllLocked(items[lo:hi])
	if folder != nil {
		fj := s.renderLocked(folder)
		page.Folder = &fj
	}
	s.mu.RUnlock()

	last := max(1, (page.Total+lq.perPage-1)/lq.perPage)
	page.CurrentPage, page.PerPage, page.LastPage = lq.page, lq.perPage, last
	if quirks.LazyLastPage && lq.page < last {
		page.LastPage = lq.page + 1
	}
	if hi > lo {
		from, to := lo+1, hi
		page.From, page.To = &from, &to
	}
	if lq.page < last {
		page.NextPageURL = strp(pageURL(r, lq.page+1))
	}
	if lq.page > 1 {
		page.PrevPageURL = strp(pageURL(r, lq.page-1))
	}
	writeJSON(w, http.StatusOK, page)
}

func pageURL(r *http.Request, page int) string {
	q := r.URL.Query()
	q.Set("page", strconv.Itoa(page))
	return origin(r) + r.URL.Path + "?" + q.Encode()
}

// collectLocked returns the entries a listing matches, unsorted.
func (s *Server) collectLocked(lq listQuery, folder *entry, q Quirks, now time.Time) []*entry {
	var sources []childKey
	wholeWorkspace := false
	switch {
	case folder != nil:
		if s.renamedEmptyLocked(folder.ID, q, now) {
			return nil
		}
		sources = append(sources, childKey{folder.Workspace, folder.ID})
	case lq.folderRef == "0":
		sources = append(sources, childKey{lq.ws, 0})
	case len(lq.parentRefs) > 0:
		seen := make(map[int64]bool)
		for _, ref := range lq.parentRefs {
			id, ok := parseRef(ref)
			if !ok || seen[id] || (id != 0 && s.renamedEmptyLocked(id, q, now)) {
				continue
			}
			seen[id] = true
			sources = append(sources, s.st.folderKey(lq.ws, id))
		}
	case lq.search != "" || lq.deletedOnly:
		wholeWorkspace = true
	default:
		sources = append(sources, childKey{lq.ws, 0})
	}
	var out []*entry
	match := func(e *entry) {
		if s.listableLocked(e, lq, wholeWorkspace, q, now) {
			out = append(out, e)
		}
	}
	if wholeWorkspace {
		for _, e := range s.st.entries {
			if e.Workspace == lq.ws {
				match(e)
			}
		}
	} else {
		for _, k := range sources {
			for _, e := range s.st.children[k] {
				match(e)
			}
		}
	}
	if q.ListingLag > 0 && !lq.deletedOnly && !lq.backup {
		for _, g := range s.ghosts {
			if now.Sub(g.at) >= q.ListingLag || s.st.entries[g.e.ID] != nil {
				continue
			}
			inScope := wholeWorkspace && g.e.Workspace == lq.ws
			for _, k := range sources {
				inScope = inScope || keyOf(&g.e) == k
			}
			if e := g.e; inScope && filterMatch(&e, lq) {
				out = append(out, &e)
			}
		}
	}
	return out
}

// listableLocked applies the trash, backup, lag, type and search filters.
func (s *Server) listableLocked(e *entry, lq listQuery, wholeWorkspace bool, q Quirks, now time.Time) bool {
	lag := q.ListingLag
	switch {
	case lq.deletedOnly:
		if !e.trashed() || (lag > 0 && now.Sub(e.Deleted) < lag) {
			return false
		}
		if wholeWorkspace && e.TrashedBy != e.ID {
			return false // inside a trashed folder: the folder stands for it
		}
	case lq.backup:
		if !e.Backup || e.trashed() {
			return false
		}
	default:
		if e.Backup {
			return false
		}
		if e.trashed() && (lag <= 0 || now.Sub(e.Deleted) >= lag) {
			return false
		}
		if lag > 0 && now.Sub(e.Created) < lag {
			return false
		}
	}
	return filterMatch(e, lq)
}

func filterMatch(e *entry, lq listQuery) bool {
	if lq.typ != "" && e.Type != lq.typ {
		return false
	}
	return lq.search == "" || strings.Contains(strings.ToLower(e.Name), lq.search)
}

// sortEntries orders by the requested field; ties go by name, then id
// ascending, so the order is total and pages are stable.
func sortEntries(es []*entry, by string, desc bool) {
	type keyed struct {
		e *entry
		s string
		n int64
	}
	ks := make([]keyed, len(es))
	for i, e := range es {
		k := keyed{e: e}
		switch by {
		case "name":
			k.s = strings.ToLower(e.Name)
		case "type":
			k.s = e.Type
		case "created_at":
			k.n = e.Created.UnixNano()
		case "file_size":
			k.n = e.Size
		case "id":
			k.n = e.ID
		default:
			k.n = e.Updated.UnixNano()
		}
		ks[i] = k
	}
	slices.SortFunc(ks, func(a, b keyed) int {
		c := cmp.Compare(a.s, b.s)
		if c == 0 {
			c = cmp.Compare(a.n, b.n)
		}
		if c == 0 {
			c = cmp.Compare(a.e.Name, b.e.Name)
		}
		if desc {
			c = -c
		}
		if c == 0 {
			c = cmp.Compare(a.e.ID, b.e.ID)
		}
		return c
	})
	for i := range ks {
		es[i] = ks[i].e
	}
}
