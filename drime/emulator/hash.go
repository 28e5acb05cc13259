package emulator

import (
	"encoding/base64"
	"strconv"
	"strings"
)

// hashOf returns Drime's hash of an entry id: standard base64 of "<id>|"
// right-padded to 10 bytes with the cycling string "padding", without the
// trailing "=" (drime-api.md §3.1). The root pseudo-folder's hash is "0".
func hashOf(id int64) string {
	if id == 0 {
		return "0"
	}
	pre := []byte(strconv.FormatInt(id, 10) + "|")
	const pad = "padding"
	for i := 0; len(pre) < 10; i++ {
		pre = append(pre, pad[i%len(pad)])
	}
	return base64.RawStdEncoding.EncodeToString(pre)
}

// decodeHash accepts any base64 (standard or URL alphabet, with or without
// "=") that decodes to "<digits>|<anything>".
func decodeHash(h string) (int64, bool) {
	h = strings.TrimRight(strings.TrimSpace(h), "=")
	if h == "" {
		return 0, false
	}
	var b []byte
	var err error
	for _, enc := range []*base64.Encoding{base64.RawStdEncoding, base64.RawURLEncoding} {
		if b, err = enc.DecodeString(h); err == nil {
			break
		}
	}
	if err != nil {
		return 0, false
	}
	i := strings.IndexByte(string(b), '|')
	if i <= 0 {
		return 0, false
	}
	id, err := strconv.ParseInt(string(b[:i]), 10, 64)
	if err != nil || id < 0 {
		return 0, false
	}
	return id, true
}
