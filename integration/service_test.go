package integration

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/drimefs/drimefs/drime"
)

// Tests of drimefs run like a service: mount(8) and fstab through the
// mount helper, --daemon, the user.drimefs.state attribute, the metrics
// endpoint and `status --json`.

// svcRandom returns n random bytes.
func svcRandom(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// svcTokenFile writes the emulator's token to a private file.
func svcTokenFile(t *testing.T, e *emu) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(p, []byte(e.token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// svcMountDir makes an empty mount point.
func svcMountDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "mnt")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// svcRemoteNames lists the names in the emulator's root folder.
func svcRemoteNames(t *testing.T, e *emu) map[string]int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ents, err := e.client().ListFolder(ctx, 0)
	if err != nil {
		t.Fatalf("list the emulator: %v", err)
	}
	names := map[string]int64{}
	for _, en := range ents {
		names[en.Name] = en.Size
	}
	return names
}

// svcControlPID finds the process serving a mount from the name of its
// control socket (@drimefs-PID-…), published on the mount's root.
func svcControlPID(dir string) int {
	buf := make([]byte, 256)
	n, err := unix.Getxattr(dir, "user.drimefs.control", buf)
	if err != nil {
		return 0
	}
	parts := strings.Split(string(buf[:n]), "-")
	if len(parts) < 3 {
		return 0
	}
	pid, _ := strconv.Atoi(parts[1])
	return pid
}

// svcAlive reports whether process pid runs (a zombie does not).
func svcAlive(pid int) bool {
	if pid <= 0 || syscall.Kill(pid, 0) != nil {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	return i < 0 || i+2 >= len(b) || b[i+2] != 'Z'
}

// svcStopDaemon unmounts a detached mount and waits for its process to
// finish (SIGKILL after a while): the clean-up of every daemon test.
func svcStopDaemon(t *testing.T, dir string, pid int) {
	if isMountPoint(dir) {
		if os.Geteuid() == 0 {
			_ = syscall.Unmount(dir, 0)
		} else {
			_ = exec.Command("fusermount3", "-u", dir).Run()
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for svcAlive(pid) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if svcAlive(pid) {
		t.Logf("daemon %d still running after unmount; killing it", pid)
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	forceUnmount(dir)
}

func TestDaemonReturnsOnceMountedAndReportsStartErrors(t *testing.T) {
	requireFuse(t)
	e := startEmu(t, "")
	dir := svcMountDir(t)
	logFile := filepath.Join(t.TempDir(), "drimefs.log")
	args := func(token string) *exec.Cmd {
		cmd := exec.Command(binary, "mount", "--daemon", "--log-file", logFile, "--api-url", e.apiURL(),
			"--cache-dir", filepath.Join(t.TempDir(), "cache"), dir)
		cmd.Env = append(os.Environ(), "DRIME_TOKEN="+token)
		return cmd
	}

	t.Run("wrong token fails before detaching", func(t *testing.T) {
		start := time.Now()
		out, err := args("123|not-the-token").CombinedOutput()
		var ee *exec.ExitError
		if err == nil || !errors.As(err, &ee) || ee.ExitCode() != 1 {
			t.Fatalf("want exit 1, got %v:\n%s", err, out)
		}
		if !strings.Contains(string(out), "rejected the token") || strings.Contains(string(out), "not-the-token") {
			t.Errorf("message should explain the token problem without repeating it:\n%s", out)
		}
		if took := time.Since(start); took > 15*time.Second {
			t.Errorf("took %v to fail", took)
		}
		if isMountPoint(dir) {
			t.Fatal("mounted anyway")
		}
	})

	t.Run("usage errors exit 2 at once", func(t *testing.T) {
		cmd := args(e.token)
		cmd.Args = append(cmd.Args[:2], append([]string{"--umask", "9z"}, cmd.Args[2:]...)...)
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(string(out), "--umask") {
			t.Fatalf("want exit 2 about --umask, got %v:\n%s", err, out)
		}
	})

	t.Run("returns once mounted", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		cmd := args(e.token)
		cmd = exec.CommandContext(ctx, cmd.Path, cmd.Args[1:]...)
		cmd.Env = append(os.Environ(), "DRIME_TOKEN="+e.token)
		out, err := cmd.CombinedOutput() // returns only when the parent and its pipes are done
		if err != nil {
			b, _ := os.ReadFile(logFile)
			t.Fatalf("mount --daemon: %v\n%s\nlog:\n%s", err, out, b)
		}
		if !isMountPoint(dir) {
			t.Fatalf("mount --daemon returned before the mount was ready")
		}
		pid := svcControlPID(dir)
		if !svcAlive(pid) {
			t.Fatalf("no live daemon behind the mount (pid %d)", pid)
		}
		t.Cleanup(func() { svcStopDaemon(t, dir, pid) })
		if sid, err := unix.Getsid(pid); err != nil || sid != pid {
			t.Errorf("the daemon should lead its own session: sid %d, %v", sid, err)
		}
		if err := os.WriteFile(filepath.Join(dir, "daemon.txt"), []byte("detached\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command(binary, "sync", "--timeout", "60s", dir).CombinedOutput(); err != nil {
			t.Fatalf("sync: %v\n%s", err, out)
		}
		if _, ok := svcRemoteNames(t, e)["daemon.txt"]; !ok {
			t.Fatal("daemon.txt did not reach the emulator")
		}
		svcStopDaemon(t, dir, pid)
		if svcAlive(pid) {
			t.Fatal("the daemon did not exit after unmount")
		}
		b, _ := os.ReadFile(logFile)
		if !strings.Contains(string(b), `"message":"mounted"`) || !strings.Contains(string(b), `"message":"stopped"`) {
			t.Errorf("--log-file should hold the daemon's JSON log:\n%s", b)
		}
	})
}

// mountNS is a private mount (and pid) namespace in which the test can
// put a drimefs mount helper where mount(8) looks for it (/sbin,
// /usr/local/bin) and an fstab at /etc/fstab, without touching the real
// ones. Killing the namespace kills every process in it.
type mountNS struct {
	t   *testing.T
	cmd *exec.Cmd
	pid int // the namespace's init, as seen from here
}

func newMountNS(t *testing.T) *mountNS {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mount(8) with a helper needs root")
	}
	for _, tool := range []string{"unshare", "nsenter", "mount", "umount"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed", tool)
		}
	}
	ns := &mountNS{t: t}
	ns.cmd = exec.Command("unshare", "--mount", "--propagation", "private", "--pid", "--fork", "--kill-child",
		"--mount-proc", "sleep", "3600")
	if err := ns.cmd.Start(); err != nil {
		t.Skipf("unshare: %v", err)
	}
	t.Cleanup(func() {
		_ = ns.cmd.Process.Kill()
		_ = ns.cmd.Wait()
	})
	waitFor(t, 10*time.Second, "the namespace to start", func() bool {
		ns.pid = childOf(ns.cmd.Process.Pid)
		return ns.pid != 0
	})
	// Wait until the child is in its own mount namespace.
	self, _ := os.Readlink("/proc/self/ns/mnt")
	waitFor(t, 10*time.Second, "the namespace to be private", func() bool {
		l, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/mnt", ns.pid))
		return err == nil && l != self
	})
	return ns
}

// childOf returns a child process of pid (0 if none yet).
func childOf(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	n, _ := strconv.Atoi(f[0])
	return n
}

// run runs a command inside the namespace.
func (ns *mountNS) run(timeout time.Duration, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	nsArgs := append([]string{"-t", strconv.Itoa(ns.pid), "-m", "-p", "--"}, args...)
	out, err := exec.CommandContext(ctx, "nsenter", nsArgs...).CombinedOutput()
	return string(out), err
}

func (ns *mountNS) must(timeout time.Duration, args ...string) string {
	ns.t.Helper()
	out, err := ns.run(timeout, args...)
	if err != nil {
		ns.t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// bind shows dir at target inside the namespace only.
func (ns *mountNS) bind(dir, target string) { ns.must(10*time.Second, "mount", "--bind", dir, target) }

// mounted reports the file system type mounted at dir inside the namespace.
func (ns *mountNS) fstype(dir string) string {
	out, _ := ns.run(10*time.Second, "findmnt", "-n", "-o", "FSTYPE", "--mountpoint", dir)
	return strings.TrimSpace(out)
}

// svcHelperCase mounts with mount(8), checks the mount, writes a file
// through it, unmounts with umount(8) and waits for drimefs to drain and
// exit.
func svcHelperCase(t *testing.T, ns *mountNS, e *emu, dir, logFile string, mountArgs ...string) {
	t.Helper()
	start := time.Now()
	if out, err := ns.run(60*time.Second, mountArgs...); err != nil {
		b, _ := os.ReadFile(logFile)
		t.Fatalf("%s: %v\n%s\nlog:\n%s", strings.Join(mountArgs, " "), err, out, b)
	}
	t.Logf("%s returned after %v", strings.Join(mountArgs, " "), time.Since(start).Round(time.Millisecond))
	if got := ns.fstype(dir); got != "fuse.drimefs" {
		t.Fatalf("after mount returned, %s is %q, want fuse.drimefs mounted", dir, got)
	}
	name := "via-" + filepath.Base(filepath.Dir(dir)) + ".txt"
	ns.must(30*time.Second, "sh", "-c", "echo hello > "+filepath.Join(dir, name))
	ns.must(90*time.Second, binary, "sync", "--timeout", "60s", dir)
	if state := ns.must(10*time.Second, "getfattr", "--absolute-names", "--only-values", "-n", "user.drimefs.state", filepath.Join(dir, name)); state != "uploaded" {
		t.Errorf("state after sync: %q", state)
	}
	ns.must(30*time.Second, "umount", dir)
	waitFor(t, 30*time.Second, "drimefs to stop after umount", func() bool {
		b, _ := os.ReadFile(logFile)
		return strings.Contains(string(b), `"message":"stopped"`)
	})
	if got := ns.fstype(dir); got != "" {
		t.Errorf("%s still mounted (%s) after umount", dir, got)
	}
	if _, ok := svcRemoteNames(t, e)[name]; !ok {
		t.Errorf("%s did not reach the emulator", name)
	}
}

func TestServiceFstabLineMountsAndUnmounts(t *testing.T) {
	requireFuse(t)
	e := startEmu(t, "")
	ns := newMountNS(t)
	base := t.TempDir()
	dir := filepath.Join(base, "fstab", "mnt")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	logFile := filepath.Join(base, "fstab.log")
	// mount(8) runs /sbin/mount.fuse.drimefs (what `make install` links).
	sbin := filepath.Join(base, "sbin")
	if err := os.Mkdir(sbin, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(binary, filepath.Join(sbin, "mount.fuse.drimefs")); err != nil {
		t.Fatal(err)
	}
	ns.bind(sbin, "/usr/sbin")
	if st, err := os.Lstat("/sbin"); err == nil && st.IsDir() { // /sbin not merged into /usr/sbin
		ns.bind(sbin, "/sbin")
	}
	fstab := filepath.Join(base, "fstab.txt")
	line := fmt.Sprintf("# drimefs test\ndrime:0 %s fuse.drimefs noauto,_netdev,nofail,x-systemd.automount,"+
		"x-systemd.mount-timeout=2min,token_file=%s,api_url=%s,cache_dir=%s,log_file=%s,transfers=2 0 0\n",
		dir, svcTokenFile(t, e), e.apiURL(), filepath.Join(base, "cache"), logFile)
	if err := os.WriteFile(fstab, []byte(line), 0o644); err != nil {
		t.Fatal(err)
	}
	ns.bind(fstab, "/etc/fstab")
	svcHelperCase(t, ns, e, dir, logFile, "mount", dir)
}

func TestServiceMountTypeFuseDrimefs(t *testing.T) {
	requireFuse(t)
	e := startEmu(t, "")
	if _, err := os.Stat("/sbin/mount.fuse3"); err != nil {
		t.Skip("mount.fuse3 not installed (apt install fuse3)")
	}
	ns := newMountNS(t)
	base := t.TempDir()
	dir := filepath.Join(base, "typed", "mnt")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	logFile := filepath.Join(base, "typed.log")
	// No /sbin/mount.fuse.drimefs: mount(8) runs mount.fuse3, which runs
	// `drimefs SOURCE DIR -o OPTIONS` from the default PATH.
	bin := filepath.Join(base, "bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(binary, filepath.Join(bin, "drimefs")); err != nil {
		t.Fatal(err)
	}
	ns.bind(bin, "/usr/local/bin")
	opts := fmt.Sprintf("token_file=%s,api_url=%s,cache_dir=%s,log_file=%s,log_level=debug,_netdev",
		svcTokenFile(t, e), e.apiURL(), filepath.Join(base, "cache"), logFile)
	svcHelperCase(t, ns, e, dir, logFile, "mount", "-t", "fuse.drimefs", "-o", opts, "drime", dir)

	t.Run("unknown option is refused", func(t *testing.T) {
		out, err := ns.run(30*time.Second, "mount", "-t", "fuse.drimefs", "-o", opts+",colour=blue", "drime", dir)
		if err == nil || !strings.Contains(out, `unknown mount option "colour=blue"`) {
			t.Errorf("want a clear refusal, got %v:\n%s", err, out)
		}
		if got := ns.fstype(dir); got != "" {
			t.Errorf("mounted anyway: %s", got)
		}
	})
}

func TestServiceHelperCalledAsMountFuseDrimefs(t *testing.T) {
	requireFuse(t)
	e := startEmu(t, "")
	dir := svcMountDir(t)
	helper := filepath.Join(t.TempDir(), "mount.fuse.drimefs")
	if err := os.Symlink(binary, helper); err != nil {
		t.Fatal(err)
	}
	logFile := filepath.Join(t.TempDir(), "helper.log")
	opts := fmt.Sprintf("rw,nodev,nosuid,token_file=%s,api_url=%s,cache_dir=%s,log_file=%s,ro",
		svcTokenFile(t, e), e.apiURL(), filepath.Join(t.TempDir(), "cache"), logFile)
	out, err := exec.Command(helper, "drime", dir, "-n", "-o", opts).CombinedOutput()
	if err != nil {
		b, _ := os.ReadFile(logFile)
		t.Fatalf("mount.fuse.drimefs: %v\n%s\nlog:\n%s", err, out, b)
	}
	pid := svcControlPID(dir)
	t.Cleanup(func() { svcStopDaemon(t, dir, pid) })
	if !isMountPoint(dir) {
		t.Fatal("not mounted when the helper returned")
	}
	err = os.WriteFile(filepath.Join(dir, "x"), []byte("x"), 0o644)
	if !errors.Is(err, syscall.EROFS) {
		t.Errorf("ro option: writing gave %v, want EROFS", err)
	}
}

func TestXattrReportsEachUploadState(t *testing.T) {
	e := startEmu(t, "put-part:latency=200ms:1")
	m := mount(t, e, withArgs("--part-concurrency", "1"))
	state := func(p string) string {
		buf := make([]byte, 512)
		n, err := unix.Getxattr(p, "user.drimefs.state", buf)
		if err != nil {
			return "error: " + err.Error()
		}
		return string(buf[:n])
	}
	p := m.path("big.bin")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(svcRandom(t, 16<<20)); err != nil {
		t.Fatal(err)
	}
	if s := state(p); s != "pending" {
		t.Errorf("while open for writing: %q, want pending", s)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	var progress []string
	waitFor(t, 60*time.Second, "big.bin to upload", func() bool {
		s := state(p)
		if strings.HasPrefix(s, "uploading ") && (len(progress) == 0 || progress[len(progress)-1] != s) {
			progress = append(progress, s)
		}
		return s == "uploaded"
	})
	if len(progress) == 0 {
		t.Errorf("never saw uploading N%%")
	}
	t.Logf("states seen: pending → %s → uploaded", strings.Join(progress, " → "))

	// A refusal Drime does not take back marks the file failed, with why.
	e.setFaults("upload:403:1")
	if err := os.WriteFile(m.path("refused.txt"), []byte("no"), 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 60*time.Second, "refused.txt to fail", func() bool {
		return strings.HasPrefix(state(m.path("refused.txt")), "failed: ")
	})
	if s := state(m.path("refused.txt")); !strings.Contains(s, "403") {
		t.Errorf("failed state should say why: %q", s)
	}
	e.setFaults("")
	if out, err := m.drimefs(60*time.Second, "sync", "--retry-failed", "--timeout", "30s", m.dir); err != nil {
		t.Fatalf("sync --retry-failed: %v\n%s", err, out)
	}
	if s := state(m.path("refused.txt")); s != "uploaded" {
		t.Errorf("after sync --retry-failed: %q", s)
	}
}

func TestStatusJSONFields(t *testing.T) {
	e := startEmu(t, "put-part:latency=300ms:1")
	m := mount(t, e, withArgs("--part-concurrency", "1"))
	if err := os.WriteFile(m.path("slow.bin"), svcRandom(t, 16<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	var st map[string]any
	waitFor(t, 60*time.Second, "slow.bin to be uploading", func() bool {
		st = m.status()
		up, _ := st["uploading"].([]any)
		return len(up) == 1
	})
	for _, k := range []string{"pending", "uploading", "failed", "deletions", "pending_bytes", "uploaded_files", "uploaded_bytes"} {
		if _, ok := st[k]; !ok {
			t.Errorf("status --json lacks %q: %v", k, st)
		}
	}
	up := st["uploading"].([]any)[0].(map[string]any)
	if up["path"] != "/slow.bin" || up["size"] != float64(16<<20) {
		t.Errorf("uploading entry: %v", up)
	}
	if _, ok := up["queued"]; !ok {
		t.Errorf("uploading entry lacks queued: %v", up)
	}
	if pb, _ := st["pending_bytes"].(float64); pb <= 0 || pb > 16<<20 {
		t.Errorf("pending_bytes %v", st["pending_bytes"])
	}
	out, err := m.drimefs(10*time.Second, "status", "--once", m.dir)
	if err != nil || !strings.Contains(out, "slow.bin") || !strings.Contains(out, "to go") {
		t.Errorf("status --once: %v\n%s", err, out)
	}

	e.setFaults("upload:403:1")
	if err := os.WriteFile(m.path("refused.txt"), []byte("no"), 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 60*time.Second, "a failed job in status", func() bool {
		st = m.status()
		f, _ := st["failed"].([]any)
		return len(f) == 1
	})
	f := st["failed"].([]any)[0].(map[string]any)
	if f["path"] != "/refused.txt" || !strings.Contains(fmt.Sprint(f["reason"]), "403") {
		t.Errorf("failed entry: %v", f)
	}
	out, _ = m.drimefs(10*time.Second, "status", m.dir) // not a terminal: printed once
	if !strings.Contains(out, "FAILED") || !strings.Contains(out, "refused.txt") || !strings.Contains(out, "--retry-failed") {
		t.Errorf("status should list the failure and what to do:\n%s", out)
	}
	e.setFaults("")
}

// scrape fetches /metrics as name{labels} → value.
func scrape(t *testing.T, addr string) map[string]float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err == nil {
			out[line[:i]] = v
		}
	}
	return out
}

func TestMetricsMoveDuringUploads(t *testing.T) {
	e := startEmu(t, "put-part:latency=300ms:1")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	m := mount(t, e, withArgs("--part-concurrency", "1", "--metrics-addr", addr, "--dir-cache-ttl", "1s"))
	before := scrape(t, addr)
	if before["drimefs_uploaded_files_total"] != 0 || before[`drimefs_upload_queue_files{state="pending"}`] != 0 {
		t.Errorf("fresh mount: %v", before)
	}
	const size = 30 << 20 // 6 parts of 5 MiB, 300ms each
	if err := os.WriteFile(m.path("metered.bin"), svcRandom(t, size), 0o644); err != nil {
		t.Fatal(err)
	}
	sawQueued, sawParts := false, false
	waitFor(t, 60*time.Second, "the upload to finish", func() bool {
		s := scrape(t, addr)
		if s[`drimefs_upload_queue_files{state="uploading"}`] == 1 && s["drimefs_upload_queue_bytes"] > 0 {
			sawQueued = true
		}
		if pb := s["drimefs_upload_part_bytes_total"]; pb > 0 && pb < size {
			sawParts = true
		}
		return s["drimefs_uploaded_files_total"] == 1
	})
	if !sawQueued || !sawParts {
		t.Errorf("metrics did not move during the upload: queue gauge seen %v, part bytes midway seen %v", sawQueued, sawParts)
	}
	e.setFaults("")
	m.sync()

	// A file only in Drime, read through the mount: a cache miss, then
	// hits once cached.
	data := svcRandom(t, 100<<10)
	if _, err := e.client().Upload(context.Background(), drime.UploadRequest{Name: "remote.bin",
		Body: bytes.NewReader(data), Size: int64(len(data))}); err != nil {
		t.Fatal(err)
	}
	var got []byte
	waitFor(t, 30*time.Second, "remote.bin to show in the mount", func() bool {
		got, err = os.ReadFile(m.path("remote.bin"))
		return err == nil
	})
	if !bytes.Equal(got, data) {
		t.Fatal("remote.bin read back wrong")
	}
	if _, err := os.ReadFile(m.path("metered.bin")); err != nil {
		t.Fatal(err)
	}

	// Queue gauges are read at scrape time (reused for half a second).
	var after map[string]float64
	waitFor(t, 10*time.Second, "the queue gauges to drop to zero", func() bool {
		after = scrape(t, addr)
		return after[`drimefs_upload_queue_files{state="uploading"}`] == 0 &&
			after[`drimefs_upload_queue_files{state="pending"}`] == 0
	})
	checks := []struct {
		series string
		ok     func(v float64) bool
	}{
		{"drimefs_uploaded_files_total", func(v float64) bool { return v >= 1 }},
		{"drimefs_uploaded_bytes_total", func(v float64) bool { return v >= size }},
		{"drimefs_upload_part_bytes_total", func(v float64) bool { return v >= size }},
		{"drimefs_upload_duration_seconds_count", func(v float64) bool { return v >= 1 }},
		{`drimefs_upload_queue_files{state="uploading"}`, func(v float64) bool { return v == 0 }},
		{`drimefs_upload_queue_files{state="pending"}`, func(v float64) bool { return v == 0 }},
		{`drimefs_drime_request_duration_seconds_count{op="put-part",status="2xx"}`, func(v float64) bool { return v >= 4 }},
		{`drimefs_drime_request_duration_seconds_count{op="complete",status="2xx"}`, func(v float64) bool { return v >= 1 }},
		{`drimefs_drime_request_duration_seconds_count{op="list",status="2xx"}`, func(v float64) bool { return v >= 1 }},
		{`drimefs_fuse_operation_duration_seconds_count{op="create"}`, func(v float64) bool { return v >= 1 }},
		{`drimefs_fuse_operation_duration_seconds_count{op="lookup"}`, func(v float64) bool { return v >= 1 }},
		{`drimefs_read_cache_reads_total{result="miss"}`, func(v float64) bool { return v >= 1 }},
		{`drimefs_read_cache_reads_total{result="hit"}`, func(v float64) bool { return v >= 1 }},
		{"drimefs_read_cache_bytes", func(v float64) bool { return v > 0 }},
		{"drimefs_read_cache_max_bytes", func(v float64) bool { return v > 0 }},
		{"drimefs_uploads_paused", func(v float64) bool { return v == 0 }},
		{"process_resident_memory_bytes", func(v float64) bool { return v > 0 }},
	}
	for _, c := range checks {
		v, ok := after[c.series]
		if !ok || !c.ok(v) {
			t.Errorf("%s = %v (present %v)", c.series, v, ok)
		}
	}
	if t.Failed() {
		var names []string
		for k := range after {
			if strings.HasPrefix(k, "drimefs_") && !strings.Contains(k, "_bucket") {
				names = append(names, fmt.Sprintf("%s %v", k, after[k]))
			}
		}
		t.Logf("drimefs series:\n%s", strings.Join(names, "\n"))
	}
	resp, err := http.Get("http://" + addr + "/")
	if err == nil {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(b), "/metrics") {
			t.Errorf("index page: %s", b)
		}
	}
}

func TestServiceNotifiesSystemd(t *testing.T) {
	e := startEmu(t, "")
	sock := filepath.Join(t.TempDir(), "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	t.Setenv("NOTIFY_SOCKET", sock) // inherited by the mount, as under Type=notify
	m := mount(t, e)
	read := func() string {
		buf := make([]byte, 512)
		_ = conn.SetReadDeadline(time.Now().Add(20 * time.Second))
		n, err := conn.Read(buf)
		if err != nil {
			t.Fatalf("no sd_notify message: %v", err)
		}
		return string(buf[:n])
	}
	if msg := read(); !strings.HasPrefix(msg, "READY=1\n") || !strings.Contains(msg, m.dir) {
		t.Errorf("first message %q, want READY=1 with the mount point", msg)
	}
	m.stop()
	if msg := read(); !strings.HasPrefix(msg, "STOPPING=1\n") {
		t.Errorf("on SIGTERM: %q, want STOPPING=1", msg)
	}
}
