package drime

// This file fixes the exported surface of the client that the rest of
// drimefs (fs, uploader, cmd) is written against. Bodies live in the other
// files of the package.

import (
	"context"
	"io"
	"net/http"
	"time"

	"github.com/rs/zerolog"
)

// DefaultBaseURL is the production API root.
const DefaultBaseURL = "https://app.drime.cloud/api/v1"

// MultipartThreshold is the smallest file size that must use the multipart
// flow; smaller files go through POST /uploads.
const MultipartThreshold = 5 * 1024 * 1024

// Config configures a Client.
type Config struct {
	BaseURL    string       // API root, e.g. DefaultBaseURL; no trailing slash needed
	Token      string       // bearer token; never logged, never in errors
	Workspace  int64        // 0 = personal space
	HTTPClient *http.Client // optional; nil = a tuned default (keep-alive, many idle conns per host)
	Logger     zerolog.Logger
	Retry      RetryPolicy
	// Observe, when set, is called after every HTTP exchange with the
	// operation name (see Op* constants), the HTTP status (0 on transport
	// error) and the duration. Used for metrics.
	Observe func(op string, status int, d time.Duration)
}

// RetryPolicy is the one retry policy of the client: capped exponential
// backoff with full jitter. Zero fields take defaults.
type RetryPolicy struct {
	MaxAttempts int           // default 8; 1 = no retries
	Base        time.Duration // default 200ms
	Cap         time.Duration // default 20s
}

// Entry is a Drime file entry (file or folder), decoded tolerantly.
type Entry struct {
	ID          int64
	ParentID    int64 // 0 = workspace root
	Name        string
	Type        string // "folder" for folders
	Hash        string
	Size        int64
	Mime        string
	Extension   string
	FileName    string // storage object name (UUID for S3 uploads)
	URL         string // relative to the origin, may be empty
	WorkspaceID int64
	Backup      bool
	CreatedAt   time.Time
	UpdatedAt   time.Time
	DeletedAt   time.Time // zero when not trashed
}

// IsDir reports whether the entry is a folder.
func (e *Entry) IsDir() bool { return e.Type == "folder" }

// User is the account behind a token.
type User struct {
	ID          int64
	Email       string
	DisplayName string
}

// Workspace is one workspace the user belongs to (0, personal, is implicit).
type Workspace struct {
	ID   int64
	Name string
}

// SpaceUsage is the quota. Available is the plan size, not the free space.
type SpaceUsage struct {
	Used      int64
	Available int64
}

// UploadRequest describes a small (< MultipartThreshold) upload through
// POST /uploads.
type UploadRequest struct {
	ParentID int64 // 0 = root
	Name     string
	Mime     string      // "" = guessed from the name
	Body     io.ReaderAt // read from offset 0 to Size; re-read on retry
	Size     int64
	// Exclude lists ids of existing entries with the same name that are not
	// the result of this upload (the version being replaced). After an
	// ambiguous failure the client lists the parent and adopts an entry with
	// the same name and size whose id is not excluded instead of uploading
	// a duplicate.
	Exclude []int64
}

// MultipartCreateRequest starts an S3 multipart upload.
type MultipartCreateRequest struct {
	Name      string
	Mime      string // "" = guessed
	Extension string // "" = derived from Name, "bin" when none
	Size      int64
	ParentID  int64 // 0 = root (omitted on the wire)
}

// MultipartUpload identifies a started multipart upload.
type MultipartUpload struct {
	Key      string // uploads/<uuid>/<uuid>
	UploadID string
}

// CompletedPart is one part for CompleteMultipart.
type CompletedPart struct {
	Number int
	ETag   string // as returned by PutPart (quoted)
}

// UploadedPart is one part reported by UploadedParts.
type UploadedPart struct {
	Number int
	ETag   string
	Size   int64
}

// RegisterRequest registers a completed multipart object as an entry
// (POST /s3/entries).
type RegisterRequest struct {
	Key       string // the multipart key; filename sent is its last segment
	Size      int64
	Name      string // display name (clientName)
	Mime      string
	Extension string
	ParentID  int64 // 0 = root (sent as null)
}

// Operation names, shared with the emulator's fault SPEC and stats.
const (
	OpList     = "list"
	OpUpload   = "upload"
	OpCreate   = "create"
	OpSign     = "sign"
	OpPutPart  = "put-part"
	OpComplete = "complete"
	OpEntries  = "entries"
	OpDownload = "download"
	OpFolders  = "folders"
	OpRename   = "rename"
	OpMove     = "move"
	OpDelete   = "delete"
	OpOther    = "other"
)

// Compile-time list of the methods (implemented in client_*.go):
var _ interface {
	WhoAmI(ctx context.Context) (*User, error)
	ListFolder(ctx context.Context, folderID int64) ([]Entry, error)
	CreateFolder(ctx context.Context, parentID int64, name string) (*Entry, error)
	Upload(ctx context.Context, req UploadRequest) (*Entry, error)
	CreateMultipart(ctx context.Context, req MultipartCreateRequest) (*MultipartUpload, error)
	SignParts(ctx context.Context, up MultipartUpload, parts []int) (map[int]string, error)
	PutPart(ctx context.Context, url string, body io.ReaderAt, size int64) (etag string, err error)
	CompleteMultipart(ctx context.Context, up MultipartUpload, parts []CompletedPart) error
	AbortMultipart(ctx context.Context, up MultipartUpload) error
	UploadedParts(ctx context.Context, up MultipartUpload) ([]UploadedPart, error)
	RegisterEntry(ctx context.Context, req RegisterRequest) (*Entry, error)
	Download(ctx context.Context, e *Entry, off, length int64) (io.ReadCloser, error)
	Rename(ctx context.Context, id int64, name string) (*Entry, error)
	Move(ctx context.Context, ids []int64, destID int64) error
	Delete(ctx context.Context, ids []int64, forever bool) error
	SpaceUsage(ctx context.Context) (*SpaceUsage, error)
	Workspaces(ctx context.Context) ([]Workspace, error)
} = (*Client)(nil)
