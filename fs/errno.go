package fs

import (
	"context"
	"errors"
	"io/fs"
	"syscall"

	"github.com/drimefs/drimefs/cache"
	"github.com/drimefs/drimefs/drime"
)

// toErrno is the one place where an error becomes an errno. It unwraps
// (go-fuse's ToErrno does not), so wrapped store, Drime and system errors
// all map to what the caller of the syscall should see.
func toErrno(err error) syscall.Errno {
	if err == nil {
		return 0
	}
	var errno syscall.Errno
	switch {
	case errors.Is(err, drime.ErrUnavailable):
		return syscall.EIO // not ECONNREFUSED & co: the network is Drime's business
	case errors.As(err, &errno):
		return errno
	case errors.Is(err, cache.ErrNotFound), errors.Is(err, drime.ErrNotFound), errors.Is(err, fs.ErrNotExist):
		return syscall.ENOENT
	case errors.Is(err, cache.ErrExist), errors.Is(err, drime.ErrAlreadyExists), errors.Is(err, fs.ErrExist):
		return syscall.EEXIST
	case errors.Is(err, cache.ErrNotEmpty):
		return syscall.ENOTEMPTY
	case errors.Is(err, cache.ErrNotDir):
		return syscall.ENOTDIR
	case errors.Is(err, cache.ErrIsDir):
		return syscall.EISDIR
	case errors.Is(err, cache.ErrInvalid):
		return syscall.EINVAL
	case errors.Is(err, drime.ErrUnauthorized), errors.Is(err, drime.ErrForbidden), errors.Is(err, fs.ErrPermission):
		return syscall.EACCES
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return syscall.EINTR
	}
	return syscall.EIO
}
