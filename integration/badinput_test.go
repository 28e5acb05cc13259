package integration

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestTokenRevokedWhileMounted(t *testing.T) {
	e := startEmu(t, "")
	m := mount(t, e)
	if err := os.WriteFile(m.path("before"), []byte("before"), 0o644); err != nil {
		t.Fatal(err)
	}
	m.sync()
	e.server().RevokeToken(e.token)
	// Writes still succeed: they wait in the local cache.
	for i := 0; i < 5; i++ {
		if err := os.WriteFile(m.path(fmt.Sprintf("after-%d", i)), randomBytes(uint64(i), 1000*(i+1)), 0o644); err != nil {
			t.Fatalf("write after the token was revoked: %v", err)
		}
	}
	waitFor(t, 30*time.Second, "uploads to pause", func() bool {
		return strings.Contains(m.logText(), "Drime rejected the token")
	})
	// sync says why nothing moves, instead of hanging.
	out, err := m.drimefs(30*time.Second, "sync", m.dir)
	if err == nil || !strings.Contains(out, "paused") {
		t.Fatalf("sync with a revoked token: %v\n%s", err, out)
	}
	st := m.status()
	if p, _ := st["paused"].(string); !strings.Contains(p, "401") {
		t.Fatalf("status does not show the pause: %v", st)
	}
	// A working token again (here: the same one re-enabled): uploads
	// resume by themselves.
	e.server().AddToken(e.token)
	waitFor(t, 60*time.Second, "uploads to resume", func() bool {
		return strings.Contains(m.logText(), "uploads resumed")
	})
	m.sync()
	sameTree(t, "emulator", localTree(t, m.dir), remoteTree(t, e))
}

func TestCacheOnFullDisk(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a small tmpfs needs root")
	}
	e := startEmu(t, "")
	small := filepath.Join(t.TempDir(), "small")
	if err := os.Mkdir(small, 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", small).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() { _ = syscall.Unmount(small, syscall.MNT_DETACH) })
	m := mount(t, e, withCache(filepath.Join(small, "cache")))
	first := randomBytes(1, 20<<20)
	if err := os.WriteFile(m.path("fits"), first, 0o644); err != nil {
		t.Fatal(err)
	}
	m.sync()
	// 80 MiB cannot fit: the writer gets ENOSPC.
	src := filepath.Join(t.TempDir(), "huge")
	writeRandomFile(t, src, 2, 80<<20)
	out, err := exec.Command("cp", src, m.path("huge")).CombinedOutput()
	if err == nil {
		t.Fatal("cp of 80 MiB into a 64 MiB cache succeeded")
	}
	if !strings.Contains(string(out), "No space left on device") {
		t.Errorf("cp failed without ENOSPC: %s", out)
	}
	// The user removes the partial copy; nothing else was harmed.
	if err := os.Remove(m.path("huge")); err != nil && !errors.Is(err, fs.ErrNotExist) {
		os.WriteFile("/tmp/full-mount.log", []byte(m.logText()), 0o644)
		t.Fatal(err)
	}
	if err := os.WriteFile(m.path("small-after"), []byte("still works"), 0o644); err != nil {
		t.Fatalf("write after ENOSPC: %v", err)
	}
	m.sync()
	want := map[string]fileInfo{}
	local := t.TempDir()
	_ = os.WriteFile(filepath.Join(local, "fits"), first, 0o644)
	_ = os.WriteFile(filepath.Join(local, "small-after"), []byte("still works"), 0o644)
	for p, f := range localTree(t, local) {
		want[p] = f
	}
	sameTree(t, "mount after ENOSPC", want, localTree(t, m.dir))
	sameTree(t, "emulator after ENOSPC", want, remoteTree(t, e))
}

func TestSecretsStaySecret(t *testing.T) {
	e := startEmu(t, "put-part:500:0.2,upload:lost:0.2")
	m := mount(t, e)
	if err := os.WriteFile(m.path("small"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(m.path("big"), randomBytes(1, 11<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	m.sync()
	status, err := m.drimefs(10*time.Second, "status", "--json", m.dir)
	if err != nil {
		t.Fatal(err)
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", m.cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	m.stop()
	secret := strings.SplitN(e.token, "|", 2)[1]
	for what, text := range map[string]string{
		"the debug log": m.logText(), "status": status, "/proc/PID/cmdline": string(cmdline),
	} {
		if strings.Contains(text, secret) {
			t.Errorf("the token appears in %s", what)
		}
		if strings.Contains(text, "sig=") || strings.Contains(text, "Signature=") {
			t.Errorf("a presigned URL's query string appears in %s", what)
		}
	}
	// The cache is private.
	err = filepath.WalkDir(m.cache, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		perm := info.Mode().Perm()
		if d.IsDir() && perm != 0o700 {
			t.Errorf("cache folder %s has mode %04o, want 0700", p, perm)
		}
		if !d.IsDir() && perm&0o077 != 0 {
			t.Errorf("cache file %s has mode %04o, readable by others", p, perm)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
