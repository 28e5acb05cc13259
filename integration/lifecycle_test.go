package integration

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// mountFails runs drimefs mount expecting it to exit non-zero quickly with
// a message containing want (and never the token).
func mountFails(t *testing.T, env []string, want string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, append([]string{"mount"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	took := time.Since(start)
	if err == nil {
		t.Fatalf("mount %v succeeded; want failure with %q", args, want)
	}
	if took > 5*time.Second {
		t.Errorf("mount %v took %v to fail; want under 5s", args, took)
	}
	if !strings.Contains(string(out), want) {
		t.Errorf("mount %v: output lacks %q:\n%s", args, want, out)
	}
	for _, kv := range env {
		if tok, ok := strings.CutPrefix(kv, "DRIME_TOKEN="); ok && tok != "" && strings.Contains(string(out), tok) {
			t.Errorf("the token appears in the output:\n%s", out)
		}
	}
}

func TestMountRefusesBadSetups(t *testing.T) {
	requireFuse(t)
	e := startEmu(t, "")
	dir := t.TempDir()
	mp := filepath.Join(dir, "mnt")
	if err := os.Mkdir(mp, 0o755); err != nil {
		t.Fatal(err)
	}
	cacheDir := filepath.Join(dir, "cache")
	api := []string{"--api-url", e.apiURL(), "--cache-dir", cacheDir}
	good := []string{"DRIME_TOKEN=" + e.token}

	t.Run("wrong token", func(t *testing.T) {
		mountFails(t, []string{"DRIME_TOKEN=123|wrong-token-value"}, "rejected the token", append(api, mp)...)
	})
	t.Run("no token", func(t *testing.T) {
		mountFails(t, []string{"DRIME_TOKEN="}, "no Drime token", append(api, mp)...)
	})
	t.Run("token file readable by others", func(t *testing.T) {
		tf := filepath.Join(dir, "token")
		if err := os.WriteFile(tf, []byte(e.token), 0o644); err != nil {
			t.Fatal(err)
		}
		mountFails(t, []string{"DRIME_TOKEN="}, "chmod 600", append(api, "--token-file", tf, mp)...)
	})
	t.Run("unreachable API", func(t *testing.T) {
		mountFails(t, good, "cannot reach the Drime API", "--api-url", "http://127.0.0.1:1/api/v1", "--cache-dir", cacheDir, mp)
	})
	t.Run("missing mountpoint", func(t *testing.T) {
		mountFails(t, good, "does not exist", append(api, filepath.Join(dir, "nope"))...)
	})
	t.Run("mountpoint is a file", func(t *testing.T) {
		f := filepath.Join(dir, "file")
		if err := os.WriteFile(f, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		mountFails(t, good, "not a folder", append(api, f)...)
	})
	t.Run("mountpoint not empty", func(t *testing.T) {
		full := filepath.Join(dir, "full")
		if err := os.MkdirAll(filepath.Join(full, "something"), 0o755); err != nil {
			t.Fatal(err)
		}
		mountFails(t, good, "not empty", append(api, full)...)
	})
	t.Run("cache dir not writable", func(t *testing.T) {
		blocker := filepath.Join(dir, "blocker")
		if err := os.WriteFile(blocker, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		mountFails(t, good, "--cache-dir", "--api-url", e.apiURL(), "--cache-dir", filepath.Join(blocker, "cache"), mp)
	})
	t.Run("cache dir in use", func(t *testing.T) {
		m := mount(t, e, withCache(cacheDir))
		other := filepath.Join(t.TempDir(), "mnt2")
		if err := os.Mkdir(other, 0o755); err != nil {
			t.Fatal(err)
		}
		mountFails(t, good, "in use by another drimefs mount", append(api, other)...)
		m.stop()
	})
	t.Run("already mounted", func(t *testing.T) {
		m := mount(t, e)
		mountFails(t, good, "already a mount point", "--api-url", e.apiURL(), "--cache-dir", t.TempDir(), m.dir)
	})
}

func TestUnmountLeavesNothingBehind(t *testing.T) {
	e := startEmu(t, "")
	for _, how := range []string{"SIGINT", "SIGTERM", "fusermount3 -u", "umount"} {
		t.Run(how, func(t *testing.T) {
			m := mount(t, e)
			if err := os.WriteFile(m.path("f-"+strings.ReplaceAll(how, " ", "_")), []byte(how), 0o644); err != nil {
				t.Fatal(err)
			}
			switch how {
			case "SIGINT":
				_ = m.cmd.Process.Signal(syscall.SIGINT)
			case "SIGTERM":
				_ = m.cmd.Process.Signal(syscall.SIGTERM)
			case "fusermount3 -u":
				if out, err := exec.Command("fusermount3", "-u", m.dir).CombinedOutput(); err != nil {
					t.Fatalf("fusermount3 -u: %v\n%s", err, out)
				}
			case "umount":
				if os.Geteuid() != 0 {
					t.Skip("umount needs root")
				}
				if out, err := exec.Command("umount", m.dir).CombinedOutput(); err != nil {
					t.Fatalf("umount: %v\n%s", err, out)
				}
			}
			select {
			case <-m.done:
			case <-time.After(30 * time.Second):
				t.Fatalf("drimefs still running after %s:\n%s", how, m.logTail(20))
			}
			if m.err != nil {
				t.Fatalf("drimefs exited with %v after %s:\n%s", m.err, how, m.logTail(20))
			}
			if isMountPoint(m.dir) {
				t.Fatalf("stale mount after %s", how)
			}
		})
	}
	// Everything written before each unmount was drained to Drime.
	got := remoteTree(t, e)
	if len(got) != 4 {
		t.Fatalf("emulator has %d entries, want 4: %v", len(got), got)
	}
}
