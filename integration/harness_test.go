package integration

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/drimefs/drimefs/drime"
	"github.com/drimefs/drimefs/drime/emulator"
)

// emu is an in-process Drime emulator on a real loopback port; it can be
// stopped and started again on the same port and data.
type emu struct {
	t     *testing.T
	dir   string
	token string
	addr  string

	procMode bool

	mu  sync.Mutex
	srv *emulator.Server
	hs  *http.Server

	// proc is set for an emulator run as a `drimefs emulator` subprocess
	// (so it can be killed with -9); srv and hs are then nil.
	proc   *exec.Cmd
	procDn chan struct{}
}

func newToken() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "42|" + hex.EncodeToString(b[:])
}

// startEmu starts an emulator with the given fault SPEC.
func startEmu(t *testing.T, faults string) *emu {
	t.Helper()
	e := &emu{t: t, dir: t.TempDir(), token: newToken(), addr: "127.0.0.1:0"}
	e.start(faults)
	t.Cleanup(e.stop)
	return e
}

func (e *emu) start(faults string) {
	e.t.Helper()
	srv, err := emulator.New(emulator.Config{DataDir: e.dir, Tokens: []string{e.token}, Faults: faults,
		Logger: zerolog.Nop(), Seed: 1})
	if err != nil {
		e.t.Fatalf("start emulator: %v", err)
	}
	var ln net.Listener
	deadline := time.Now().Add(10 * time.Second)
	for {
		ln, err = net.Listen("tcp", e.addr)
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		e.t.Fatalf("emulator listen on %s: %v", e.addr, err)
	}
	e.mu.Lock()
	e.addr = ln.Addr().String()
	e.srv = srv
	e.hs = &http.Server{Handler: srv}
	hs := e.hs
	e.mu.Unlock()
	go func() { _ = hs.Serve(ln) }()
}

// stop shuts the emulator down (connections refused until restart); a
// subprocess emulator is killed with SIGKILL, like a crash.
func (e *emu) stop() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.proc != nil {
		_ = e.proc.Process.Kill()
		<-e.procDn
		e.proc = nil
		return
	}
	if e.hs == nil {
		return
	}
	_ = e.hs.Close()
	_ = e.srv.Close()
	e.hs, e.srv = nil, nil
}

// restart starts the emulator again on the same port and data.
func (e *emu) restart() {
	if e.procMode {
		e.startProc("")
		return
	}
	e.start("")
}

// startEmuProcess runs the emulator as a `drimefs emulator` subprocess.
func startEmuProcess(t *testing.T, faults string) *emu {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	e := &emu{t: t, dir: t.TempDir(), token: newToken(), addr: addr, procMode: true}
	e.startProc(faults)
	t.Cleanup(e.stop)
	return e
}

func (e *emu) startProc(faults string) {
	e.t.Helper()
	cmd := exec.Command(binary, "emulator", "--listen", e.addr, "--data", e.dir, "--token", e.token,
		"--faults", faults, "--seed", "1", "--log-format", "json", "--log-level", "warn")
	logf, err := os.OpenFile(filepath.Join(e.dir, "..", "emulator.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err == nil {
		cmd.Stdout, cmd.Stderr = logf, logf
		defer logf.Close()
	}
	if err := cmd.Start(); err != nil {
		e.t.Fatalf("start emulator: %v", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	e.mu.Lock()
	e.proc, e.procDn = cmd, done
	e.mu.Unlock()
	waitFor(e.t, 15*time.Second, "the emulator to listen", func() bool {
		c, err := net.Dial("tcp", e.addr)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
}

// admin sends a request to the emulator's /__emulator/ API.
func (e *emu) admin(method, path, body string) string {
	e.t.Helper()
	req, err := http.NewRequest(method, "http://"+e.addr+"/__emulator/"+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("emulator admin %s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		e.t.Fatalf("emulator admin %s %s: %s: %s", method, path, resp.Status, b)
	}
	return string(b)
}

func (e *emu) server() *emulator.Server {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.srv
}

func (e *emu) apiURL() string { return "http://" + e.addr + "/api/v1" }

func (e *emu) setFaults(spec string) {
	e.t.Helper()
	if e.procMode {
		e.admin(http.MethodPut, "faults", spec)
		return
	}
	if err := e.server().SetFaults(spec); err != nil {
		e.t.Fatalf("set faults %q: %v", spec, err)
	}
}

func (e *emu) stats() emulator.Stats {
	e.t.Helper()
	if e.procMode {
		var st emulator.Stats
		if err := json.Unmarshal([]byte(e.admin(http.MethodGet, "stats", "")), &st); err != nil {
			e.t.Fatal(err)
		}
		return st
	}
	return e.server().Stats()
}

// client is a Drime client for seeding and checking the emulator.
func (e *emu) client() *drime.Client {
	c, err := drime.New(drime.Config{BaseURL: e.apiURL(), Token: e.token, Logger: zerolog.Nop(),
		Retry: drime.RetryPolicy{MaxAttempts: 10, Base: 10 * time.Millisecond, Cap: 200 * time.Millisecond}})
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// mnt is a running `drimefs mount` subprocess.
type mnt struct {
	t     *testing.T
	dir   string
	cache string
	emu   *emu
	args  []string
	cmd   *exec.Cmd
	log   string
	done  chan struct{}
	err   error
}

type mountOpt func(*mnt)

func withCache(dir string) mountOpt { return func(m *mnt) { m.cache = dir } }
func withDir(dir string) mountOpt   { return func(m *mnt) { m.dir = dir } }
func withArgs(a ...string) mountOpt { return func(m *mnt) { m.args = append(m.args, a...) } }

// mount starts drimefs on a fresh mount point and waits until it is ready.
func mount(t *testing.T, e *emu, opts ...mountOpt) *mnt {
	t.Helper()
	requireFuse(t)
	m := &mnt{t: t, emu: e}
	for _, o := range opts {
		o(m)
	}
	if m.dir == "" {
		m.dir = filepath.Join(t.TempDir(), "mnt")
		if err := os.Mkdir(m.dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if m.cache == "" {
		m.cache = filepath.Join(t.TempDir(), "cache")
	}
	m.start()
	t.Cleanup(m.cleanup)
	return m
}

func (m *mnt) start() {
	m.t.Helper()
	if m.log == "" {
		m.log = filepath.Join(m.t.TempDir(), "mount.log")
	}
	// One log across remounts, so a failure shows the whole history.
	logf, err := os.OpenFile(m.log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		m.t.Fatal(err)
	}
	args := append([]string{"mount", "--api-url", m.emu.apiURL(), "--cache-dir", m.cache,
		"--log-format", "json", "--log-level", "debug"}, m.args...)
	if dir := os.Getenv("DRIMEFS_PROFILE_DIR"); dir != "" {
		name := strings.NewReplacer("/", "_", " ", "_").Replace(m.t.Name())
		args = append(args, "--cpuprofile", filepath.Join(dir, fmt.Sprintf("%s-%d.prof", name, time.Now().UnixNano())))
	}
	args = append(args, m.dir)
	m.cmd = exec.Command(binary, args...)
	m.cmd.Env = append(os.Environ(), "DRIME_TOKEN="+m.emu.token)
	m.cmd.Stdout, m.cmd.Stderr = logf, logf
	if err := m.cmd.Start(); err != nil {
		m.t.Fatalf("start drimefs: %v", err)
	}
	logf.Close()
	m.done = make(chan struct{})
	go func() {
		m.err = m.cmd.Wait()
		close(m.done)
	}()
	deadline := time.Now().Add(20 * time.Second)
	for !isMountPoint(m.dir) {
		select {
		case <-m.done:
			m.t.Fatalf("drimefs exited before mounting (%v):\n%s", m.err, m.logTail(40))
		default:
		}
		if time.Now().After(deadline) {
			m.t.Fatalf("drimefs did not mount within 20s:\n%s", m.logTail(40))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// isMountPoint reports whether p is mounted, from /proc/self/mountinfo.
func isMountPoint(p string) bool {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) > 4 && strings.ReplaceAll(fs[4], `\040`, " ") == p {
			return true
		}
	}
	return false
}

func (m *mnt) path(rel string) string { return filepath.Join(m.dir, rel) }

func (m *mnt) logTail(n int) string {
	b, _ := os.ReadFile(m.log)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// logText is the whole mount log.
func (m *mnt) logText() string {
	b, _ := os.ReadFile(m.log)
	return string(b)
}

// drimefs runs a drimefs command (status, sync…) against this mount.
func (m *mnt) drimefs(timeout time.Duration, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, binary, args...).CombinedOutput()
	return string(out), err
}

// sync waits until everything written is in the emulator.
func (m *mnt) sync() {
	m.t.Helper()
	out, err := m.drimefs(3*time.Minute, "sync", "--timeout", "150s", m.dir)
	if err != nil {
		m.t.Fatalf("drimefs sync: %v\n%s\nmount log:\n%s", err, out, m.logTail(30))
	}
}

// status returns `drimefs status --json`.
func (m *mnt) status() map[string]any {
	m.t.Helper()
	out, err := m.drimefs(30*time.Second, "status", "--json", m.dir)
	if err != nil {
		m.t.Fatalf("drimefs status: %v\n%s", err, out)
	}
	var st map[string]any
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		m.t.Fatalf("status JSON: %v\n%s", err, out)
	}
	return st
}

// signal sends a signal and waits for the process to exit.
func (m *mnt) signal(sig syscall.Signal, within time.Duration) error {
	m.t.Helper()
	_ = m.cmd.Process.Signal(sig)
	select {
	case <-m.done:
		return m.err
	case <-time.After(within):
		m.t.Fatalf("drimefs did not exit within %v after %v:\n%s", within, sig, m.logTail(30))
	}
	return nil
}

// stop unmounts with SIGTERM and waits for the drain to finish.
func (m *mnt) stop() {
	m.t.Helper()
	if err := m.signal(syscall.SIGTERM, 3*time.Minute); err != nil {
		m.t.Fatalf("drimefs exited with %v:\n%s", err, m.logTail(30))
	}
	if isMountPoint(m.dir) {
		m.t.Fatalf("%s still mounted after drimefs exited", m.dir)
	}
}

// kill is kill -9 of the mount, and clean-up of the dead mount point.
func (m *mnt) kill() {
	m.t.Helper()
	m.crash()
	forceUnmount(m.dir)
}

// crash is kill -9 of the mount, leaving the dead mount in place (calls
// into it fail with ENOTCONN until forceUnmount).
func (m *mnt) crash() {
	_ = m.cmd.Process.Kill()
	<-m.done
}

// remount starts drimefs again on the same mount point and cache dir.
func (m *mnt) remount() {
	m.t.Helper()
	m.start()
}

func (m *mnt) exited() bool {
	select {
	case <-m.done:
		return true
	default:
		return false
	}
}

func (m *mnt) cleanup() {
	if m.cmd != nil && !m.exited() {
		_ = m.cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-m.done:
		case <-time.After(5 * time.Second):
		}
		// A second signal skips the upload drain.
		_ = m.cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-m.done:
		case <-time.After(10 * time.Second):
			_ = m.cmd.Process.Kill()
			<-m.done
		}
	}
	forceUnmount(m.dir)
	if m.t.Failed() {
		keep := filepath.Join(os.TempDir(), "drimefs-"+strings.NewReplacer("/", "_", " ", "_").Replace(m.t.Name())+".log")
		_ = os.WriteFile(keep, []byte(m.logText()), 0o644)
		m.t.Logf("mount log tail (%s; whole log kept in %s):\n%s", m.dir, keep, m.logTail(60))
	}
}

func forceUnmount(dir string) {
	for i := 0; i < 50 && isMountPoint(dir); i++ {
		if os.Geteuid() == 0 {
			_ = syscall.Unmount(dir, syscall.MNT_DETACH)
		} else {
			_ = exec.Command("fusermount3", "-u", "-z", dir).Run()
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", within, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
