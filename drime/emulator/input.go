package emulator

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
)

// Tolerant request decoding: ids arrive as JSON numbers or numeric strings,
// booleans as true/false/1/0 (or their string forms), bodies as JSON or as
// form data, and workspaceId in the query or the body.

// optInt is an optional integer. Absent: Set and Null false. null or "":
// Null. Otherwise Set with V.
type optInt struct {
	Set  bool
	Null bool
	V    int64
}

func (o *optInt) UnmarshalJSON(b []byte) error {
	s := strings.TrimSpace(string(b))
	if strings.HasPrefix(s, `"`) {
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
	}
	v, err := optIntString(s)
	*o = v
	return err
}

// optIntString parses a form or query value as an optInt.
func optIntString(s string) (optInt, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "null" {
		return optInt{Null: true}, nil
	}
	v, err := parseInt(s)
	if err != nil {
		return optInt{}, err
	}
	return optInt{Set: true, V: v}, nil
}

// or returns the value, or def when absent or null.
func (o optInt) or(def int64) int64 {
	if o.Set {
		return o.V
	}
	return def
}

// parseInt accepts an integer, also written as an integral float ("12.0").
func parseInt(s string) (int64, error) {
	if v, err := strconv.ParseInt(s, 10, 64); err == nil {
		return v, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f != float64(int64(f)) {
		return 0, fmt.Errorf("not an integer: %q", s)
	}
	return int64(f), nil
}

// flexBool is a boolean sent as true/false, 1/0 or their string forms.
type flexBool bool

func (f *flexBool) UnmarshalJSON(b []byte) error {
	s := strings.Trim(strings.TrimSpace(string(b)), `"`)
	*f = flexBool(parseBool(s))
	return nil
}

func parseBool(s string) bool {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "1", "true", "yes", "on":
		return true
	}
	return false
}

// idList is a list of ids: a JSON array of numbers or strings, a single
// value, or a comma-separated string.
type idList []int64

func (l *idList) UnmarshalJSON(b []byte) error {
	var raw []json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		raw = []json.RawMessage{b}
	}
	out := idList{}
	for _, r := range raw {
		var o optInt
		if s := strings.TrimSpace(string(r)); strings.HasPrefix(s, `"`) && strings.Contains(s, ",") {
			ids, err := splitIDs(strings.Trim(s, `"`))
			if err != nil {
				return err
			}
			out = append(out, ids...)
			continue
		}
		if err := o.UnmarshalJSON(r); err != nil {
			return err
		}
		if o.Set {
			out = append(out, o.V)
		}
	}
	*l = out
	return nil
}

func splitIDs(s string) ([]int64, error) {
	var out []int64
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		v, err := parseInt(f)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

const maxJSONBody = 32 << 20

// errBadBody marks a request body that cannot be decoded.
var errBadBody = errors.New("malformed request body")

// decodeBody decodes a JSON or form-encoded body into dst. An empty body
// leaves dst untouched.
func decodeBody(r *http.Request, dst any) error {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct == "application/x-www-form-urlencoded" || ct == "multipart/form-data" {
		if err := r.ParseMultipartForm(8 << 20); err != nil && !errors.Is(err, http.ErrNotMultipart) {
			return fmt.Errorf("%w: %v", errBadBody, err)
		}
		b, err := json.Marshal(formToMap(r.PostForm))
		if err != nil {
			return fmt.Errorf("%w: %v", errBadBody, err)
		}
		return unmarshalBody(b, dst)
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, maxJSONBody))
	if err != nil {
		return fmt.Errorf("%w: %v", errBadBody, err)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	return unmarshalBody(b, dst)
}

func unmarshalBody(b []byte, dst any) error {
	if err := json.Unmarshal(b, dst); err != nil {
		return fmt.Errorf("%w: %v", errBadBody, err)
	}
	return nil
}

// formToMap turns form values into JSON-like values: "k[]" and repeated keys
// become arrays.
func formToMap(v map[string][]string) map[string]any {
	m := make(map[string]any, len(v))
	for k, vals := range v {
		if strings.HasSuffix(k, "[]") {
			m[strings.TrimSuffix(k, "[]")] = vals
			continue
		}
		if len(vals) == 1 {
			m[k] = vals[0]
		} else {
			m[k] = vals
		}
	}
	return m
}

// badBody answers a body that could not be decoded.
func badBody(w http.ResponseWriter, err error) {
	msgError(w, http.StatusBadRequest, "Malformed request body: "+err.Error())
}

// workspaceOf returns the workspace of a request: the body's workspaceId
// when present, else the query's, else 0.
func workspaceOf(r *http.Request, body optInt) int64 {
	if body.Set {
		return body.V
	}
	if v, err := parseInt(strings.TrimSpace(r.URL.Query().Get("workspaceId"))); err == nil {
		return v
	}
	return 0
}

// parseRef turns an entry reference (numeric id or hash) into an id.
func parseRef(ref string) (int64, bool) {
	ref = strings.TrimSpace(ref)
	if ref == "" {
		return 0, false
	}
	// Hashes always start with M, N or O (base64 of an ASCII digit), so a
	// numeric string is an id.
	if v, err := strconv.ParseInt(ref, 10, 64); err == nil && v >= 0 {
		return v, true
	}
	return decodeHash(ref)
}
