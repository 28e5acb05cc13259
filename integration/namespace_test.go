package integration

import (
	"errors"
	"os"
	"os/exec"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

func TestNamespaceOpsReachDrime(t *testing.T) {
	e := startEmu(t, "")
	s := newSeeder(t, e)
	s.file("remote/one.txt", []byte("one"))
	s.file("remote/sub/two.txt", []byte("two"))
	s.file("gone/x.txt", []byte("x"))
	s.file("rename-me.txt", []byte("rename"))
	m := mount(t, e)
	local := t.TempDir()
	for _, root := range []string{local, m.dir} {
		if root == local {
			// Mirror the seeded tree on the local disk.
			for p, f := range s.want {
				if f.Dir {
					continue
				}
				if err := os.MkdirAll(local+"/"+dirOf(p), 0o755); err != nil {
					t.Fatal(err)
				}
				data, _ := os.ReadFile(m.path(p))
				if err := os.WriteFile(local+"/"+p, data, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
		run := func(name string, args ...string) {
			t.Helper()
			cmd := exec.Command(name, args...)
			cmd.Dir = root
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("%s %v in %s: %v\n%s", name, args, root, err, out)
			}
		}
		run("mkdir", "-p", "a/b/c")
		run("sh", "-c", "echo new > a/b/c/new.txt")
		run("mv", "rename-me.txt", "renamed.txt")        // rename in place (remote)
		run("mv", "remote/sub", "a/b/moved-sub")         // move a remote folder
		run("mv", "remote/one.txt", "a/one-renamed.txt") // move and rename a remote file
		run("rm", "-r", "gone")                          // remove a remote folder
		run("mkdir", "emptydir")
		run("mv", "emptydir", "a/emptydir-moved")                                // move a pending folder
		run("sh", "-c", "echo v1 > target && echo v2 > src && mv -f src target") // replace
	}
	want := localTree(t, local)
	sameTree(t, "mount", want, localTree(t, m.dir))
	m.sync()
	sameTree(t, "emulator", want, remoteTree(t, e))
}

func dirOf(p string) string {
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] == '/' {
			return p[:i]
		}
	}
	return "."
}

func TestRenameSemantics(t *testing.T) {
	e := startEmu(t, "")
	newSeeder(t, e).file("remote.txt", []byte("remote"))
	m := mount(t, e)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(m.path("a"), []byte("a"), 0o644))
	must(os.WriteFile(m.path("b"), []byte("b"), 0o644))
	if err := unix.Renameat2(unix.AT_FDCWD, m.path("a"), unix.AT_FDCWD, m.path("b"), unix.RENAME_NOREPLACE); !errors.Is(err, syscall.EEXIST) {
		t.Fatalf("RENAME_NOREPLACE over an existing file: %v", err)
	}
	if err := unix.Renameat2(unix.AT_FDCWD, m.path("a"), unix.AT_FDCWD, m.path("b"), unix.RENAME_EXCHANGE); !errors.Is(err, syscall.EINVAL) {
		t.Fatalf("RENAME_EXCHANGE: %v", err)
	}
	must(unix.Renameat2(unix.AT_FDCWD, m.path("a"), unix.AT_FDCWD, m.path("c"), unix.RENAME_NOREPLACE))
	must(os.Mkdir(m.path("d"), 0o755))
	must(os.WriteFile(m.path("d/f"), []byte("f"), 0o644))
	must(os.Mkdir(m.path("e"), 0o755))
	// syscall.Rename, not os.Rename: Go refuses a folder target itself.
	if err := syscall.Rename(m.path("e"), m.path("d")); !errors.Is(err, syscall.ENOTEMPTY) {
		t.Fatalf("folder over a non-empty folder: %v", err)
	}
	if err := syscall.Rename(m.path("c"), m.path("d")); !errors.Is(err, syscall.EISDIR) {
		t.Fatalf("file over a folder: %v", err)
	}
	if err := os.Remove(m.path("d")); !errors.Is(err, syscall.ENOTEMPTY) {
		t.Fatalf("rmdir of a non-empty folder: %v", err)
	}
	// Replace a remote file with a pending one, then a pending one with a
	// remote one.
	must(os.Rename(m.path("c"), m.path("remote.txt")))
	must(os.Rename(m.path("remote.txt"), m.path("d/final.txt")))
	m.sync()
	got := remoteTree(t, e)
	want := map[string]fileInfo{}
	for p, f := range localTree(t, m.dir) {
		want[p] = f
	}
	sameTree(t, "emulator", want, got)
	if data, _ := os.ReadFile(m.path("d/final.txt")); string(data) != "a" {
		t.Fatalf("content %q", data)
	}
}

func TestReadOnlyMount(t *testing.T) {
	e := startEmu(t, "")
	newSeeder(t, e).file("x.txt", []byte("read me"))
	m := mount(t, e, withArgs("--read-only"))
	if data, err := os.ReadFile(m.path("x.txt")); err != nil || string(data) != "read me" {
		t.Fatalf("read: %q %v", data, err)
	}
	for what, err := range map[string]error{
		"create": os.WriteFile(m.path("new"), []byte("x"), 0o644),
		"write":  os.WriteFile(m.path("x.txt"), []byte("x"), 0o644),
		"mkdir":  os.Mkdir(m.path("d"), 0o755),
		"remove": os.Remove(m.path("x.txt")),
		"rename": os.Rename(m.path("x.txt"), m.path("y")),
	} {
		if !errors.Is(err, syscall.EROFS) {
			t.Errorf("%s on a read-only mount: %v", what, err)
		}
	}
}
