package drime

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Drime is a Laravel/PHP service: ids and sizes arrive as numbers or
// numeric strings, flags as booleans or 0/1, empty objects as [], and two
// timestamp formats are in use (drime-api.md §1, §3, §14). The types below
// accept all of that so one odd field never fails a whole listing.

// flexInt is an int64 that decodes from a number, a numeric string, a
// boolean or null (null and "" are 0).
type flexInt int64

func (n *flexInt) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	s := string(b)
	switch {
	case s == "null" || s == `""`:
		*n = 0
		return nil
	case s == "true":
		*n = 1
		return nil
	case s == "false":
		*n = 0
		return nil
	case len(b) > 0 && b[0] == '"':
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		s = strings.TrimSpace(s)
		if s == "" {
			*n = 0
			return nil
		}
	}
	v, err := parseInt(s)
	if err != nil {
		return fmt.Errorf("drime: %q is not an integer", clip(s, 40))
	}
	*n = flexInt(v)
	return nil
}

// parseInt accepts plain integers and integral floats ("4112271.0",
// "7.6e8"), which PHP's json_encode emits for large or computed values.
func parseInt(s string) (int64, error) {
	if v, err := strconv.ParseInt(s, 10, 64); err == nil {
		return v, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f != math.Trunc(f) || math.Abs(f) > 1<<62 {
		return 0, fmt.Errorf("not an integer")
	}
	return int64(f), nil
}

// flexBool decodes true/false, 0/1, "0"/"1", "true"/"false" and null.
type flexBool bool

func (v *flexBool) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(bytes.TrimSpace(b)), `"`)
	switch strings.ToLower(s) {
	case "true", "1":
		*v = true
	case "false", "0", "", "null":
		*v = false
	default:
		// Any other number counts as PHP truthiness would.
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return fmt.Errorf("drime: %q is not a boolean", clip(s, 40))
		}
		*v = f != 0
	}
	return nil
}

// flexString decodes a string, a number (its text) or null ("").
type flexString string

func (v *flexString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || string(b) == "null" {
		*v = ""
		return nil
	}
	if b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*v = flexString(s)
		return nil
	}
	if b[0] == '{' || b[0] == '[' {
		*v = "" // an object where text was expected: not text we can use
		return nil
	}
	*v = flexString(b)
	return nil
}

// flexTime decodes both Drime timestamp formats, unix seconds and null.
// An unknown format decodes as the zero time rather than failing: no
// timestamp is worth losing a listing over.
type flexTime struct{ time.Time }

var timeLayouts = []string{
	time.RFC3339Nano,             // 2024-01-15T10:30:00.000000Z
	"2006-01-02 15:04:05",        // 2025-12-18 18:39:07 (no zone: UTC)
	"2006-01-02T15:04:05",        // zone-less ISO
	"2006-01-02 15:04:05.999999", // zone-less with fraction
	"2006-01-02",
}

func (t *flexTime) UnmarshalJSON(b []byte) error {
	t.Time = time.Time{}
	b = bytes.TrimSpace(b)
	if len(b) == 0 || string(b) == "null" {
		return nil
	}
	if b[0] != '"' {
		if secs, err := parseInt(string(b)); err == nil && secs > 0 {
			t.Time = time.Unix(secs, 0).UTC()
		}
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return nil
	}
	t.Time = parseTime(s)
	return nil
}

func parseTime(s string) time.Time {
	s = strings.TrimSpace(s)
	for _, layout := range timeLayouts {
		if tm, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			return tm.UTC()
		}
	}
	return time.Time{}
}

// object is a JSON object field that PHP may send as [] (or null) when
// empty. V is nil in those cases.
type object[T any] struct{ V *T }

func (o *object[T]) UnmarshalJSON(b []byte) error {
	o.V = nil
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] != '{' {
		// null, [], "", false: PHP's ways of saying "nothing".
		return nil
	}
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	o.V = &v
	return nil
}

// wireEntry is a FileEntry as it arrives (drime-api.md §3).
type wireEntry struct {
	ID          flexInt    `json:"id"`
	ParentID    flexInt    `json:"parent_id"`
	Name        flexString `json:"name"`
	Type        flexString `json:"type"`
	Hash        flexString `json:"hash"`
	FileSize    flexInt    `json:"file_size"`
	Mime        flexString `json:"mime"`
	Extension   flexString `json:"extension"`
	FileName    flexString `json:"file_name"`
	URL         flexString `json:"url"`
	WorkspaceID flexInt    `json:"workspace_id"`
	Backup      flexBool   `json:"backup"`
	IsDeleted   flexBool   `json:"is_deleted"`
	CreatedAt   flexTime   `json:"created_at"`
	UpdatedAt   flexTime   `json:"updated_at"`
	DeletedAt   flexTime   `json:"deleted_at"`
}

// hidden reports whether a listing should drop the entry: trashed, or an
// old version kept by file history.
func (w *wireEntry) hidden() bool {
	return !w.DeletedAt.IsZero() || bool(w.IsDeleted) || bool(w.Backup)
}

func (w *wireEntry) entry() Entry {
	return Entry{
		ID:          int64(w.ID),
		ParentID:    int64(w.ParentID), // null (root) decodes as 0
		Name:        string(w.Name),
		Type:        string(w.Type),
		Hash:        string(w.Hash),
		Size:        int64(w.FileSize),
		Mime:        string(w.Mime),
		Extension:   string(w.Extension),
		FileName:    string(w.FileName),
		URL:         string(w.URL),
		WorkspaceID: int64(w.WorkspaceID),
		Backup:      bool(w.Backup),
		CreatedAt:   w.CreatedAt.Time,
		UpdatedAt:   w.UpdatedAt.Time,
		DeletedAt:   w.DeletedAt.Time,
	}
}

// entryEnvelope holds the wrappers real clients have seen around a single
// returned entry (drime-api.md §6.4): fileEntry, file, entry, data, folder.
type entryEnvelope struct {
	FileEntry object[wireEntry] `json:"fileEntry"`
	File      object[wireEntry] `json:"file"`
	Entry     object[wireEntry] `json:"entry"`
	Data      object[wireEntry] `json:"data"`
	Folder    object[wireEntry] `json:"folder"`
	ID        flexInt           `json:"id"` // the body is the entry itself
}

// decodeEntry finds the entry in a response body. It fails when there is
// none with a non-zero id: an entry we cannot address is useless.
func decodeEntry(body []byte) (*Entry, error) {
	var env entryEnvelope
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, fmt.Errorf("decode entry: %w", err)
	}
	for _, o := range []object[wireEntry]{env.FileEntry, env.File, env.Entry, env.Data, env.Folder} {
		if o.V != nil && o.V.ID != 0 {
			e := o.V.entry()
			return &e, nil
		}
	}
	if env.ID != 0 {
		var w wireEntry
		if err := json.Unmarshal(body, &w); err != nil {
			return nil, fmt.Errorf("decode entry: %w", err)
		}
		e := w.entry()
		return &e, nil
	}
	return nil, fmt.Errorf("response carries no entry")
}
