package fs

import (
	"context"
	"fmt"
	"io/fs"
	"strings"
	"syscall"
	"testing"

	"github.com/drimefs/drimefs/cache"
	"github.com/drimefs/drimefs/drime"
)

func TestToErrnoUnwraps(t *testing.T) {
	wrap := func(err error) error { return fmt.Errorf("op on %q: %w", "x", err) }
	cases := []struct {
		err  error
		want syscall.Errno
	}{
		{nil, 0},
		{wrap(cache.ErrNotFound), syscall.ENOENT},
		{wrap(cache.ErrExist), syscall.EEXIST},
		{wrap(cache.ErrNotEmpty), syscall.ENOTEMPTY},
		{wrap(cache.ErrNotDir), syscall.ENOTDIR},
		{wrap(cache.ErrIsDir), syscall.EISDIR},
		{wrap(cache.ErrInvalid), syscall.EINVAL},
		{wrap(cache.ErrNoSpace), syscall.ENOSPC},
		{wrap(&drime.APIError{Status: 404}), syscall.ENOENT},
		{wrap(&drime.APIError{Status: 401}), syscall.EACCES},
		{wrap(&drime.APIError{Status: 403}), syscall.EACCES},
		{wrap(&drime.APIError{Status: 503}), syscall.EIO},
		{wrap(&drime.TransportError{Err: syscall.ECONNREFUSED}), syscall.EIO},
		{wrap(fs.ErrNotExist), syscall.ENOENT},
		{wrap(syscall.ENOSPC), syscall.ENOSPC},
		{wrap(context.Canceled), syscall.EINTR},
		{fmt.Errorf("something else"), syscall.EIO},
	}
	for _, c := range cases {
		if got := toErrno(c.err); got != c.want {
			t.Errorf("toErrno(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

func TestCheckName(t *testing.T) {
	cases := map[string]syscall.Errno{
		"report.pdf":             0,
		"with space and ünïcødé": 0,
		"100% #1 ?":              0,
		strings.Repeat("a", 255): 0,
		strings.Repeat("a", 256): syscall.ENAMETOOLONG,
		"0":                      syscall.EINVAL,
		"00":                     0,
		`back\slash`:             syscall.EINVAL,
		"tab\there":              syscall.EINVAL,
		"del\x7f":                syscall.EINVAL,
		"bad\xffutf8":            syscall.EINVAL,
		".":                      syscall.EINVAL,
		"..":                     syscall.EINVAL,
	}
	for name, want := range cases {
		if got := checkName(name); got != want {
			t.Errorf("checkName(%q) = %v, want %v", name, got, want)
		}
	}
}
