package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// sh runs a shell command in dir and fails the test on error.
func sh(t *testing.T, dir, script string) string {
	t.Helper()
	cmd := exec.Command("sh", "-ec", script)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_SYSTEM=/dev/null",
		"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s (in %s): %v\n%s", script, dir, err, out)
	}
	return string(out)
}

// sourceTree makes a tree of a few hundred files of assorted sizes, with a
// nested layout, odd names and empty files and folders.
func sourceTree(t *testing.T, files int) string { return sourceTreeMP(t, files, 50) }

// sourceTreeMP is sourceTree with every mpEvery-th file above the
// multipart threshold.
func sourceTreeMP(t *testing.T, files, mpEvery int) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "src")
	for i := 0; i < files; i++ {
		dir := filepath.Join(root, fmt.Sprintf("d%d", i%7), fmt.Sprintf("sub%d", i%3))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		size := (i * 7919) % 70000
		if i%mpEvery == 0 {
			size = 6<<20 + i // a few multipart files
		}
		name := fmt.Sprintf("file %d #%d.dat", i, i%4)
		if err := os.WriteFile(filepath.Join(dir, name), randomBytes(uint64(i), size), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(root, "empty/dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "empty/zero"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	return root
}

// under returns the part of a tree below prefix, with prefix removed.
func under(tree map[string]fileInfo, prefix string) map[string]fileInfo {
	out := map[string]fileInfo{}
	for p, f := range tree {
		if rest, ok := strings.CutPrefix(p, prefix+"/"); ok {
			out[rest] = f
		}
	}
	return out
}

func TestRealTools(t *testing.T) {
	e := startEmu(t, "")
	m := mount(t, e)
	src := sourceTree(t, 300)
	want := localTree(t, src)

	t.Run("cp -r and cp -a", func(t *testing.T) {
		sh(t, m.dir, fmt.Sprintf("cp -r %q cpr && cp -a %q cpa", src, src))
		sameTree(t, "cp -r on the mount", want, under(localTree(t, m.dir), "cpr"))
		sameTree(t, "cp -a on the mount", want, under(localTree(t, m.dir), "cpa"))
	})

	t.Run("rsync twice", func(t *testing.T) {
		sh(t, m.dir, fmt.Sprintf("rsync -a %q/ rs/", src))
		// Change a few files, remove one, add one; rsync again.
		changed := filepath.Join(t.TempDir(), "src2")
		sh(t, "/", fmt.Sprintf("cp -a %q %q", src, changed))
		sh(t, changed, "echo changed >> 'd1/sub1/file 1 #1.dat' && rm 'd2/sub2/file 2 #2.dat' && echo new > d3/new.txt && head -c 100000 /dev/urandom > 'd4/sub1/file 4 #0.dat'")
		out := sh(t, m.dir, fmt.Sprintf("rsync -a --stats %q/ rs/ --delete", changed))
		if !strings.Contains(out, "Number of regular files transferred: 3") {
			t.Errorf("second rsync should transfer only the 3 changed files:\n%s", out)
		}
		sameTree(t, "rsync on the mount", localTree(t, changed), under(localTree(t, m.dir), "rs"))
	})

	t.Run("tar x and tar c", func(t *testing.T) {
		// 2,000+ files: the source tree plus many small ones.
		big := filepath.Join(t.TempDir(), "tarsrc")
		sh(t, "/", fmt.Sprintf("cp -a %q %q", src, big))
		for i := 0; i < 1800; i++ {
			d := filepath.Join(big, "small", fmt.Sprintf("%02d", i%40))
			_ = os.MkdirAll(d, 0o755)
			if err := os.WriteFile(filepath.Join(d, fmt.Sprintf("s%d.txt", i)), []byte(strings.Repeat("x", i%500)), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		archive := filepath.Join(t.TempDir(), "a.tar")
		sh(t, big, fmt.Sprintf("tar cf %q .", archive))
		sh(t, m.dir, fmt.Sprintf("mkdir tarx && tar xf %q -C tarx", archive))
		wantBig := localTree(t, big)
		if len(wantBig) < 2000 {
			t.Fatalf("tar source has only %d entries", len(wantBig))
		}
		sameTree(t, "tar x on the mount", wantBig, under(localTree(t, m.dir), "tarx"))
		back := filepath.Join(t.TempDir(), "back.tar")
		sh(t, filepath.Join(m.dir, "tarx"), fmt.Sprintf("tar cf %q .", back))
		out := filepath.Join(t.TempDir(), "out")
		sh(t, "/", fmt.Sprintf("mkdir %q && tar xf %q -C %q", out, back, out))
		sameTree(t, "tar c of the mount", wantBig, localTree(t, out))
	})

	t.Run("git clone and fsck", func(t *testing.T) {
		repo := filepath.Join(t.TempDir(), "repo")
		sh(t, "/", fmt.Sprintf("mkdir %q", repo))
		sh(t, repo, "git init -q -b main . && for i in 1 2 3 4 5; do seq 1 $((i*1000)) > f$i.txt; printf '#!/bin/sh\\necho %s\\n' $i > run$i.sh; chmod +x run$i.sh; git add -A; git commit -qm c$i; done && git gc -q")
		sh(t, m.dir, fmt.Sprintf("git clone -q %q clone", repo))
		sh(t, filepath.Join(m.dir, "clone"), "git fsck --full --strict && test -z \"$(git status --porcelain)\" && git log --oneline | wc -l | grep -q 5")
	})

	t.Run("editor save patterns", func(t *testing.T) {
		doc := m.path("doc.txt")
		if err := os.WriteFile(doc, []byte("version 1\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		// Write a temporary file, fsync it, rename it over the original.
		tmp := m.path(".doc.txt.swp")
		f, err := os.Create(tmp)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Write([]byte("version 2\n")); err != nil {
			t.Fatal(err)
		}
		if err := f.Sync(); err != nil {
			t.Fatal(err)
		}
		f.Close()
		if err := os.Rename(tmp, doc); err != nil {
			t.Fatal(err)
		}
		// Rename the original to a backup, then write the new version.
		if err := os.Rename(doc, doc+"~"); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(doc, []byte("version 3\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(doc + "~"); string(b) != "version 2\n" {
			t.Fatalf("backup holds %q", b)
		}
	})

	m.sync()
	sameTree(t, "emulator after all tools", localTree(t, m.dir), remoteTree(t, e))
}
