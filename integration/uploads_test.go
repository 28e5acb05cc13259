package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestLargeFileGoesMultipart(t *testing.T) {
	e := startEmu(t, "")
	m := mount(t, e)
	src := filepath.Join(t.TempDir(), "large-video.mp4")
	sum := writeRandomFile(t, src, 42, 142557981)
	if err := os.Mkdir(m.path("videos"), 0o755); err != nil {
		t.Fatal(err)
	}
	e.server().ResetStats()
	if out, err := exec.Command("cp", src, m.path("videos/")).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v\n%s", err, out)
	}
	m.sync()
	got := remoteTree(t, e)
	want := map[string]fileInfo{"videos": {Dir: true}, "videos/large-video.mp4": {Size: 142557981, Hash: sum}}
	sameTree(t, "emulator", want, got)
	st := e.stats()
	if st.Requests["put-part"] != 28 {
		t.Errorf("part PUTs: %d, want 28", st.Requests["put-part"])
	}
	if st.PartSizes["5242880"] != 27 || len(st.PartSizes) != 2 {
		t.Errorf("part sizes: %v, want 27 of 5242880 and one smaller", st.PartSizes)
	}
	if st.PutPartBytes != 142557981 {
		t.Errorf("part bytes %d", st.PutPartBytes)
	}
}

func TestKillDuringMultipartResumes(t *testing.T) {
	e := startEmu(t, "")
	// Slow storage a little so the kill lands mid-upload.
	e.setFaults("put-part:latency=40ms:1")
	cacheDir := filepath.Join(t.TempDir(), "cache")
	m := mount(t, e, withCache(cacheDir), withArgs("--transfers", "1", "--part-concurrency", "2"))
	// 1 GiB as the issue asks; the source, the spool and the emulator's
	// copy need three times that. On a machine short of disk the same
	// check runs with a smaller file (it says so).
	size := int64(1 << 30)
	if free := diskFree(t, cacheDir); free < 4*size+(1<<30) {
		size = 256 << 20
		t.Logf("only %d MiB free: resuming a %d MiB file instead of 1 GiB", free>>20, size>>20)
	}
	src := filepath.Join(t.TempDir(), "big.bin")
	sum := writeRandomFile(t, src, 7, size)
	if out, err := exec.Command("cp", src, m.path("big.bin")).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v\n%s", err, out)
	}
	waitFor(t, 2*time.Minute, "half of the file to be uploaded", func() bool { return e.stats().PutPartBytes >= size/2 })
	m.kill()
	e.setFaults("")
	before := e.stats().PutPartBytes
	m.remount()
	m.sync()
	total := e.stats().PutPartBytes
	got := remoteTree(t, e)
	sameTree(t, "emulator", map[string]fileInfo{"big.bin": {Size: size, Hash: sum}}, got)
	t.Logf("part bytes before kill %d MiB, in total %d MiB", before>>20, total>>20)
	if total >= size*3/2 {
		t.Fatalf("emulator received %d MiB of parts for a %d MiB file: the upload restarted instead of resuming", total>>20, size>>20)
	}
}

func TestWritesWhileDrimeIsDown(t *testing.T) {
	e := startEmu(t, "")
	m := mount(t, e)
	if err := os.WriteFile(m.path("before"), []byte("before"), 0o644); err != nil {
		t.Fatal(err)
	}
	m.sync()
	e.stop()
	local := t.TempDir()
	for _, root := range []string{local, m.dir} {
		if root == local {
			_ = os.WriteFile(filepath.Join(local, "before"), []byte("before"), 0o644)
		}
		if err := os.MkdirAll(filepath.Join(root, "offline/sub"), 0o755); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 20; i++ {
			if err := os.WriteFile(filepath.Join(root, fmt.Sprintf("offline/sub/f%d", i)), randomBytes(uint64(i), 1000*i), 0o644); err != nil {
				t.Fatalf("write while Drime is down: %v", err)
			}
		}
		if err := os.WriteFile(filepath.Join(root, "offline/big"), randomBytes(99, 6<<20), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	sameTree(t, "mount while offline", localTree(t, local), localTree(t, m.dir))
	if st := m.status(); count(st["pending"])+count(st["uploading"]) == 0 {
		t.Fatalf("status shows nothing pending while Drime is down: %v", st)
	}
	time.Sleep(2 * time.Second) // let uploads fail a few times
	e.restart()
	m.sync()
	sameTree(t, "emulator after it came back", localTree(t, local), remoteTree(t, e))
}

func TestFsyncRemoteWaitsForDrime(t *testing.T) {
	e := startEmu(t, "")
	m := mount(t, e, withArgs("--fsync", "remote"))
	f, err := os.Create(m.path("synced.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte("durable in Drime")); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatalf("fsync: %v", err)
	}
	// No sync command: fsync alone must have put it in Drime.
	got := remoteTree(t, e)
	if got["synced.txt"].Size != int64(len("durable in Drime")) {
		t.Fatalf("after fsync the emulator has %v", got)
	}
	f.Close()
	state := make([]byte, 128)
	n, err := unix.Getxattr(m.path("synced.txt"), "user.drimefs.state", state)
	if err != nil || string(state[:n]) != "uploaded" {
		t.Fatalf("state xattr %q %v", state[:n], err)
	}
}

func TestRewriteDuringUploadKeepsNewest(t *testing.T) {
	e := startEmu(t, "put-part:latency=30ms:1")
	m := mount(t, e)
	p := m.path("changing.bin")
	var want []byte
	for i := 0; i < 4; i++ {
		want = randomBytes(uint64(500+i), 20<<20+i)
		if err := os.WriteFile(p, want, 0o644); err != nil {
			t.Fatal(err)
		}
		time.Sleep(150 * time.Millisecond)
	}
	m.sync()
	got := remoteTree(t, e)
	local := t.TempDir()
	_ = os.WriteFile(filepath.Join(local, "changing.bin"), want, 0o644)
	sameTree(t, "emulator", localTree(t, local), got)
}

func TestDrainOnSignalAndResumeAfterSecondSignal(t *testing.T) {
	e := startEmu(t, "any:latency=100ms:1")
	cacheDir := filepath.Join(t.TempDir(), "cache")
	m := mount(t, e, withCache(cacheDir), withArgs("--transfers", "1"))
	local := t.TempDir()
	for i := 0; i < 30; i++ {
		data := randomBytes(uint64(i), 2000+i)
		_ = os.WriteFile(filepath.Join(local, fmt.Sprintf("f%02d", i)), data, 0o644)
		if err := os.WriteFile(m.path(fmt.Sprintf("f%02d", i)), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// First signal: unmount and drain; second: leave at once.
	_ = m.cmd.Process.Signal(syscall.SIGTERM)
	waitFor(t, 30*time.Second, "the drain to start", func() bool {
		return strings.Contains(m.logText(), "finishing uploads before exit")
	})
	_ = m.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-m.done:
	case <-time.After(20 * time.Second):
		t.Fatal("second signal did not end drimefs")
	}
	if isMountPoint(m.dir) {
		t.Fatal("still mounted")
	}
	if n := len(remoteTree(t, e)); n >= 30 {
		t.Skipf("all %d files were uploaded before the second signal; nothing left to resume", n)
	}
	e.setFaults("")
	m.remount()
	m.sync()
	sameTree(t, "emulator after resume", localTree(t, local), remoteTree(t, e))
}

func TestStatusAndStateDuringUpload(t *testing.T) {
	e := startEmu(t, "put-part:latency=200ms:1")
	m := mount(t, e, withArgs("--part-concurrency", "1"))
	if err := os.WriteFile(m.path("slow.bin"), randomBytes(1, 30<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	buf := make([]byte, 256)
	waitFor(t, 60*time.Second, "the upload to show progress", func() bool {
		n, err := unix.Getxattr(m.path("slow.bin"), "user.drimefs.state", buf)
		if err == nil {
			s := string(buf[:n])
			if strings.HasPrefix(s, "uploading ") {
				s = "uploading"
			}
			seen[s] = true
		}
		return seen["uploading"]
	})
	st := m.status()
	up, _ := st["uploading"].([]any)
	if len(up) != 1 || !strings.Contains(fmt.Sprint(up[0]), "slow.bin") {
		t.Fatalf("status --json uploading: %v", st)
	}
	out, err := m.drimefs(10*time.Second, "status", m.dir)
	if err != nil || !strings.Contains(out, "slow.bin") || !strings.Contains(out, "uploading") {
		t.Fatalf("status: %v\n%s", err, out)
	}
	e.setFaults("")
	m.sync()
	n, err := unix.Getxattr(m.path("slow.bin"), "user.drimefs.state", buf)
	if err != nil || string(buf[:n]) != "uploaded" {
		t.Fatalf("state after sync: %q %v", buf[:n], err)
	}
}

// count is the length of a JSON list from status --json (0 for null).
func count(v any) int {
	l, _ := v.([]any)
	return len(l)
}

// diskFree returns the bytes available on the filesystem holding path (or
// its nearest existing parent).
func diskFree(t *testing.T, path string) int64 {
	t.Helper()
	for p := path; ; p = filepath.Dir(p) {
		var st unix.Statfs_t
		if err := unix.Statfs(p, &st); err == nil {
			return int64(st.Bavail) * st.Bsize
		}
		if p == "/" || p == "." {
			return 1 << 62
		}
	}
}
