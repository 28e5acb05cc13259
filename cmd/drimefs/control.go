package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"

	"github.com/drimefs/drimefs/fs"
	"github.com/drimefs/drimefs/uploader"
)

// The control socket lets `drimefs status` and `drimefs sync` talk to a
// running mount. It is an abstract Unix socket (no file to clean up, no path
// length limit) whose name the mount publishes as the user.drimefs.control
// extended attribute of its root; only the mount's user (or root) may
// connect, checked with SO_PEERCRED.

// controlName returns a fresh abstract socket name.
func controlName() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("@drimefs-%d-%s", os.Getpid(), hex.EncodeToString(b[:]))
}

// syncResult is the answer of POST /sync.
type syncResult struct {
	OK      bool                  `json:"ok"`
	Error   string                `json:"error,omitempty"`
	Failed  []uploader.FileStatus `json:"failed,omitempty"`
	Retried int                   `json:"retried,omitempty"`
}

// serveControl serves the control API until ctx ends.
func serveControl(ctx context.Context, name string, upl *uploader.Uploader, log zerolog.Logger) error {
	ln, err := net.Listen("unix", name)
	if err != nil {
		return fmt.Errorf("control socket: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		st, err := upl.Status()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		writeJSON(w, st)
	})
	mux.HandleFunc("POST /sync", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, doSync(r.Context(), upl, r.URL.Query().Get("retry_failed") == "1", r.URL.Query().Get("timeout")))
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	go func() {
		if err := srv.Serve(peerCheck{ln.(*net.UnixListener), log}); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Warn().Err(err).Msg("control socket stopped")
		}
	}()
	return nil
}

func doSync(ctx context.Context, upl *uploader.Uploader, retry bool, timeout string) syncResult {
	if d, err := time.ParseDuration(timeout); err == nil && d > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
	}
	barrier := upl.Barrier()
	var res syncResult
	if retry {
		n, err := upl.RetryFailed()
		if err != nil {
			return syncResult{Error: err.Error()}
		}
		res.Retried = n
	}
	failed, err := upl.WaitBarrier(ctx, barrier)
	res.Failed = failed
	switch {
	case err == nil:
		res.OK = true
	case errors.Is(err, context.DeadlineExceeded):
		res.Error = "timed out; uploads continue in the background"
	case errors.Is(err, uploader.ErrFailed):
		res.Error = fmt.Sprintf("%d uploads failed", len(failed))
	default:
		res.Error = err.Error()
	}
	return res
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// peerCheck accepts only connections from our own user or root.
type peerCheck struct {
	*net.UnixListener
	log zerolog.Logger
}

func (p peerCheck) Accept() (net.Conn, error) {
	for {
		c, err := p.AcceptUnix()
		if err != nil {
			return nil, err
		}
		uid, err := peerUID(c)
		if err == nil && (uid == 0 || uid == uint32(os.Getuid())) {
			return c, nil
		}
		p.log.Warn().Uint32("uid", uid).Msg("refused a control connection from another user")
		c.Close()
	}
}

func peerUID(c *net.UnixConn) (uint32, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return 0, err
	}
	var cred *unix.Ucred
	var cerr error
	err = raw.Control(func(fd uintptr) {
		cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	})
	if err != nil {
		return 0, err
	}
	if cerr != nil {
		return 0, cerr
	}
	return cred.Uid, nil
}

// controlClient returns an HTTP client for the mount at mountpoint.
func controlClient(mountpoint string) (*http.Client, error) {
	buf := make([]byte, 256)
	n, err := unix.Getxattr(mountpoint, fs.XattrControl, buf)
	if err != nil {
		if errors.Is(err, syscall.ENODATA) || errors.Is(err, syscall.ENOTSUP) {
			return nil, fmt.Errorf("%s is not a drimefs mount (or the mount is too old to answer)", mountpoint)
		}
		if errors.Is(err, syscall.ENOTCONN) {
			return nil, fmt.Errorf("%s is a dead mount: drimefs is no longer running. Clean it up with "+
				"`fusermount3 -u %s` and mount again; queued uploads resume from the cache", mountpoint, mountpoint)
		}
		return nil, fmt.Errorf("%s: %w", mountpoint, err)
	}
	name := strings.TrimSpace(string(buf[:n]))
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", name)
		},
	}}, nil
}
