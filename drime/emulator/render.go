package emulator

import (
	"mime"
	"path"
	"strings"
	"time"
)

// The single account of the emulator: every token belongs to it.
const (
	userID    = 15843
	userEmail = "emulator@drimefs.test"
	userName  = "emulator"
)

// entryTime is the wire format of entry timestamps.
const entryTime = "2006-01-02T15:04:05.000000Z"

func fmtTime(t time.Time) string { return t.UTC().Format(entryTime) }

// entryJSON is the wire form of a FileEntry (drime-api.md §3).
type entryJSON struct {
	ID          int64           `json:"id"`
	Name        string          `json:"name"`
	Description *string         `json:"description"`
	FileName    *string         `json:"file_name"`
	Mime        *string         `json:"mime"`
	FileSize    int64           `json:"file_size"`
	UserID      int64           `json:"user_id"`
	ParentID    *int64          `json:"parent_id"`
	CreatedAt   string          `json:"created_at"`
	UpdatedAt   string          `json:"updated_at"`
	DeletedAt   *string         `json:"deleted_at"`
	IsDeleted   int             `json:"is_deleted"`
	Path        string          `json:"path"`
	DiskPrefix  *string         `json:"disk_prefix"`
	Type        string          `json:"type"`
	Extension   *string         `json:"extension"`
	Public      bool            `json:"public"`
	Thumbnail   bool            `json:"thumbnail"`
	WorkspaceID int64           `json:"workspace_id"`
	OwnerID     int64           `json:"owner_id"`
	Hash        string          `json:"hash"`
	URL         *string         `json:"url"`
	Backup      bool            `json:"backup"`
	Tracked     int             `json:"tracked"`
	IsEncrypted int             `json:"is_encrypted"`
	Users       []entryUser     `json:"users"`
	Permissions map[string]bool `json:"permissions"`
	Tags        []any           `json:"tags"`
}

type entryUser struct {
	ID              int64  `json:"id"`
	Email           string `json:"email"`
	DisplayName     string `json:"display_name"`
	Avatar          string `json:"avatar"`
	ModelType       string `json:"model_type"`
	OwnsEntry       bool   `json:"owns_entry"`
	EntryPermission []any  `json:"entry_permissions"` // PHP's empty array, as in production
}

var allPermissions = map[string]bool{"files.update": true, "files.create": true, "files.download": true, "files.delete": true}

func strp(s string) *string { return &s }

// renderLocked returns the wire form of e. The caller holds s.mu (shared).
func (s *Server) renderLocked(e *entry) entryJSON {
	j := entryJSON{
		ID:          e.ID,
		Name:        e.Name,
		Description: e.Description,
		FileSize:    e.Size,
		UserID:      userID,
		CreatedAt:   fmtTime(e.Created),
		UpdatedAt:   fmtTime(e.Updated),
		Path:        s.pathLocked(e),
		Type:        e.Type,
		WorkspaceID: e.Workspace,
		OwnerID:     userID,
		Hash:        hashOf(e.ID),
		Backup:      e.Backup,
		Users: []entryUser{{ID: userID, Email: userEmail, DisplayName: userName, ModelType: "user",
			OwnsEntry: true, EntryPermission: []any{}}},
		Permissions: allPermissions,
		Tags:        []any{},
	}
	if e.Parent != 0 {
		p := e.Parent
		j.ParentID = &p
	}
	if e.trashed() {
		j.DeletedAt = strp(fmtTime(e.Deleted))
		j.IsDeleted = 1
	}
	if !e.isFolder() {
		j.FileName = strp(e.Object)
		j.DiskPrefix = strp(e.Object)
		j.Mime = strp(e.Mime)
		if e.Ext != "" {
			j.Extension = strp(e.Ext)
		}
		j.URL = strp("api/v1/file-entries/" + itoa(e.ID))
	}
	return j
}

// renderAllLocked renders es in order.
func (s *Server) renderAllLocked(es []*entry) []entryJSON {
	out := make([]entryJSON, len(es))
	for i, e := range es {
		out[i] = s.renderLocked(e)
	}
	return out
}

// pathLocked is the entry's ancestor ids joined by "/", ending with its own.
func (s *Server) pathLocked(e *entry) string {
	ids := []int64{e.ID}
	for p, n := e.Parent, 0; p != 0 && n < 10000; n++ {
		ids = append(ids, p)
		pe := s.st.entries[p]
		if pe == nil {
			break
		}
		p = pe.Parent
	}
	var b strings.Builder
	for i := len(ids) - 1; i >= 0; i-- {
		b.WriteString(itoa(ids[i]))
		if i > 0 {
			b.WriteByte('/')
		}
	}
	return b.String()
}

// fileMeta derives mime, extension and entry type for a new file.
// A specific client mime wins; otherwise the extension decides.
func fileMeta(name, clientMime, clientExt string) (mimeType, ext, typ string) {
	ext = strings.TrimPrefix(clientExt, ".")
	if ext == "" {
		ext = strings.TrimPrefix(path.Ext(name), ".")
	}
	mimeType = strings.TrimSpace(clientMime)
	if mimeType == "" || mimeType == "application/octet-stream" {
		if m := mime.TypeByExtension("." + strings.ToLower(ext)); ext != "" && m != "" {
			mimeType = m
		}
	}
	if mimeType == "" {
		mimeType = "application/octet-stream"
	}
	if mt, _, err := mime.ParseMediaType(mimeType); err == nil {
		mimeType = mt
	}
	return mimeType, ext, typeOfMime(mimeType)
}

func typeOfMime(m string) string {
	switch {
	case strings.HasPrefix(m, "image/"):
		return "image"
	case strings.HasPrefix(m, "video/"):
		return "video"
	case strings.HasPrefix(m, "audio/"):
		return "audio"
	case m == "application/pdf":
		return "pdf"
	case strings.HasPrefix(m, "text/"):
		return "text"
	}
	return "file"
}
