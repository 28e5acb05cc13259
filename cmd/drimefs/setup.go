package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/drimefs/drimefs/drime"
	"github.com/drimefs/drimefs/drime/emulator"
)

// remoteSetup is a checked connection to Drime (or an in-process emulator).
type remoteSetup struct {
	client  *drime.Client
	apiURL  string
	account string // email, for logs; never the token
	key     string // what the cache dir belongs to
	close   func()
}

// checkMountpoint resolves and validates the mount point.
func checkMountpoint(p string) (string, error) {
	mp := absPath(p)
	st, err := os.Stat(mp)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return "", fmt.Errorf("mountpoint %s does not exist; create it with `mkdir -p %s`", mp, mp)
	case errors.Is(err, syscall.ENOTCONN):
		return "", fmt.Errorf("mountpoint %s is a dead mount of an earlier drimefs; clean it up with `fusermount3 -u %s` (or `umount -l %s`)", mp, mp, mp)
	case err != nil:
		return "", fmt.Errorf("mountpoint %s: %w", mp, err)
	case !st.IsDir():
		return "", fmt.Errorf("mountpoint %s is not a folder", mp)
	}
	if isMounted(mp) {
		return "", fmt.Errorf("%s is already a mount point; unmount it first (`fusermount3 -u %s`)", mp, mp)
	}
	ents, err := os.ReadDir(mp)
	if err != nil {
		return "", fmt.Errorf("mountpoint %s: %w", mp, err)
	}
	if len(ents) > 0 {
		return "", fmt.Errorf("mountpoint %s is not empty; mount on an empty folder so nothing of yours is hidden", mp)
	}
	return mp, nil
}

// isMounted reports whether p is a mount point, from /proc/self/mountinfo.
func isMounted(p string) bool {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 4 && unescapeMount(fields[4]) == p {
			return true
		}
	}
	return false
}

func unescapeMount(s string) string {
	r := strings.NewReplacer(`\040`, " ", `\011`, "\t", `\012`, "\n", `\134`, `\`)
	return r.Replace(s)
}

// checkFuse makes sure the kernel side of FUSE is usable.
func checkFuse() error {
	if _, err := os.Stat("/dev/fuse"); err != nil {
		return fmt.Errorf("/dev/fuse is missing: load the fuse kernel module (`modprobe fuse`) or, in a container, pass --device /dev/fuse")
	}
	if os.Geteuid() != 0 {
		if _, err := exec.LookPath("fusermount3"); err != nil {
			return fmt.Errorf("fusermount3 not found: install the fuse3 package (e.g. `apt install fuse3`); it is needed to mount without root")
		}
	}
	return nil
}

// connect builds the Drime client (starting an emulator with --emulator)
// and checks the token before anything else happens. observe, when not
// nil, hears about every HTTP exchange of the client (for metrics).
func connect(m *mountFlags, log zerolog.Logger, observe func(op string, status int, d time.Duration)) (*remoteSetup, error) {
	r := &remoteSetup{apiURL: m.apiURL, close: func() {}}
	var token string
	if m.emulatorDir != "" {
		var err error
		if token, err = startEmulator(m.emulatorDir, r, log); err != nil {
			return nil, err
		}
		r.key = "emulator-" + shortHash(absPath(m.emulatorDir))
	} else {
		var err error
		if token, err = readToken(m.tokenFile); err != nil {
			return nil, err
		}
	}
	u, err := url.Parse(r.apiURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		r.close()
		return nil, usageError{fmt.Sprintf("invalid --api-url %q (e.g. %s)", r.apiURL, drime.DefaultBaseURL)}
	}
	// A quick probe: a wrong token or an unreachable API must fail in
	// seconds, not after the long retry schedule used for uploads.
	probe, err := drime.New(drime.Config{BaseURL: r.apiURL, Token: token, Workspace: m.workspace,
		Logger: log, Retry: drime.RetryPolicy{MaxAttempts: 2, Base: 200 * time.Millisecond, Cap: time.Second}})
	if err != nil {
		r.close()
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
	defer cancel()
	user, err := probe.WhoAmI(ctx)
	if err != nil {
		r.close()
		return nil, explainConnectError(r.apiURL, err)
	}
	if m.workspace != 0 {
		if err := checkWorkspace(ctx, probe, m.workspace); err != nil {
			r.close()
			return nil, err
		}
	}
	r.account = user.Email
	if r.key == "" {
		r.key = fmt.Sprintf("%s-%d", u.Host, user.ID)
	}
	r.client, err = drime.New(drime.Config{BaseURL: r.apiURL, Token: token, Workspace: m.workspace,
		Logger:  log.With().Str("component", "drime").Logger(),
		Retry:   drime.RetryPolicy{MaxAttempts: 5, Base: 200 * time.Millisecond, Cap: 5 * time.Second},
		Observe: observe})
	if err != nil {
		r.close()
		return nil, err
	}
	return r, nil
}

func checkWorkspace(ctx context.Context, c *drime.Client, id int64) error {
	ws, err := c.Workspaces(ctx)
	if err != nil {
		return fmt.Errorf("list workspaces: %w", err)
	}
	var names []string
	for _, w := range ws {
		if w.ID == id {
			return nil
		}
		names = append(names, fmt.Sprintf("%d (%s)", w.ID, w.Name))
	}
	return fmt.Errorf("workspace %d is not one of yours; yours are 0 (personal) %s", id, strings.Join(names, ", "))
}

func explainConnectError(api string, err error) error {
	switch {
	case errors.Is(err, drime.ErrUnauthorized):
		return fmt.Errorf("Drime rejected the token (401 Unauthenticated): create a new one in Drime (Account settings → Developers → Create a token) and pass it in $DRIME_TOKEN or --token-file")
	case errors.Is(err, drime.ErrForbidden):
		return fmt.Errorf("Drime refused access (403) with this token: %v", err)
	case errors.Is(err, drime.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("cannot reach the Drime API at %s: %v; check the network or --api-url", api, err)
	}
	return fmt.Errorf("checking the token with Drime at %s: %w", api, err)
}

// readToken takes the token from $DRIME_TOKEN or a private file.
func readToken(file string) (string, error) {
	if file == "" {
		t := strings.TrimSpace(os.Getenv("DRIME_TOKEN"))
		if t == "" {
			return "", fmt.Errorf("no Drime token: set DRIME_TOKEN or pass --token-file FILE " +
				"(create a token in Drime: Account settings → Developers); or try drimefs locally with --emulator DIR")
		}
		return t, nil
	}
	st, err := os.Stat(file)
	if err != nil {
		return "", fmt.Errorf("token file: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return "", fmt.Errorf("token file %s can be read by other users (mode %04o); run `chmod 600 %s`", file, st.Mode().Perm(), file)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("token file: %w", err)
	}
	t := strings.TrimSpace(string(b))
	if t == "" {
		return "", fmt.Errorf("token file %s is empty", file)
	}
	return t, nil
}

// startEmulator runs an in-process emulator on a loopback port.
func startEmulator(dir string, r *remoteSetup, log zerolog.Logger) (string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("emulator dir: %w", err)
	}
	var b [16]byte
	_, _ = rand.Read(b[:])
	token := "emu|" + hex.EncodeToString(b[:])
	emu, err := emulator.New(emulator.Config{DataDir: dir, Tokens: []string{token},
		Logger: log.With().Str("component", "emulator").Logger()})
	if err != nil {
		return "", fmt.Errorf("start emulator in %s: %w", dir, err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		emu.Close()
		return "", fmt.Errorf("start emulator: %w", err)
	}
	hs := &http.Server{Handler: emu, ReadHeaderTimeout: 30 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	r.apiURL = "http://" + ln.Addr().String() + "/api/v1"
	r.close = func() {
		_ = hs.Close()
		_ = emu.Close()
	}
	log.Info().Str("data", absPath(dir)).Str("api", r.apiURL).Msg("in-process emulator started")
	return token, nil
}

// prepareCacheDir picks and checks the cache dir and binds it to the
// account, so two accounts never share one.
func prepareCacheDir(m *mountFlags, r *remoteSetup) (string, error) {
	dir := m.cacheDir
	if dir == "" {
		base := os.Getenv("XDG_CACHE_HOME")
		if base == "" {
			home, err := os.UserHomeDir()
			switch {
			case err == nil:
				base = filepath.Join(home, ".cache")
			case os.Geteuid() == 0:
				base = "/var/cache" // root at boot (fstab) may have no $HOME
			default:
				return "", fmt.Errorf("no cache dir: $HOME is not set; pass --cache-dir DIR (cache_dir=DIR in fstab)")
			}
		}
		dir = filepath.Join(base, "drimefs", fmt.Sprintf("%s-%d", r.key, m.workspace))
	}
	dir = absPath(dir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("cannot create cache dir %s (%v); choose another with --cache-dir", dir, err)
	}
	probe := filepath.Join(dir, ".write-test")
	if err := os.WriteFile(probe, []byte("ok"), 0o600); err != nil {
		return "", fmt.Errorf("cache dir %s is not writable (%v); choose another with --cache-dir", dir, err)
	}
	os.Remove(probe)
	owner := fmt.Sprintf("%s workspace %d\n", r.key, m.workspace)
	path := filepath.Join(dir, "account")
	if b, err := os.ReadFile(path); err == nil && string(b) != owner {
		return "", fmt.Errorf("cache dir %s belongs to %s, not to %s; use another --cache-dir",
			dir, strings.TrimSpace(string(b)), strings.TrimSpace(owner))
	} else if err != nil {
		if err := os.WriteFile(path, []byte(owner), 0o600); err != nil {
			return "", fmt.Errorf("cache dir %s: %w", dir, err)
		}
	}
	return dir, nil
}

func mountHint(err error) string {
	msg := err.Error()
	switch {
	case containsAny(msg, "fusermount", "executable file not found"):
		return " (install the fuse3 package for fusermount3)"
	case containsAny(msg, "permission denied", "operation not permitted"):
		return " (mounting needs root or fusermount3; with --allow-other, user_allow_other in /etc/fuse.conf)"
	}
	return ""
}

func containsAny(s string, subs ...string) bool {
	for _, sub := range subs {
		if strings.Contains(strings.ToLower(s), strings.ToLower(sub)) {
			return true
		}
	}
	return false
}

func shortHash(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:6])
}

func runQuiet(name string, args ...string) error {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %v: %s", name, err, strings.TrimSpace(string(out)))
	}
	return nil
}
