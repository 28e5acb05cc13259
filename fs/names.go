package fs

import (
	"crypto/rand"
	"encoding/hex"
	"syscall"
	"unicode/utf8"
)

// MaxNameBytes is the longest name Drime stores.
const MaxNameBytes = 255

// checkName refuses names Drime cannot hold, with an errno that says why:
// too long (ENAMETOOLONG); a backslash, a control character, invalid UTF-8
// or the name "0", which Drime's server drops or mangles (EINVAL).
func checkName(name string) syscall.Errno {
	switch {
	case len(name) > MaxNameBytes:
		return syscall.ENAMETOOLONG
	case name == "" || name == "." || name == "..":
		return syscall.EINVAL
	case name == "0":
		return syscall.EINVAL
	case !utf8.ValidString(name):
		return syscall.EINVAL
	}
	for _, r := range name {
		if r == '\\' || r == '/' || r < 0x20 || r == 0x7f {
			return syscall.EINVAL
		}
	}
	return 0
}

func randSuffix() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
