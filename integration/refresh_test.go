package integration

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/drimefs/drimefs/drime"
)

// TestChangesInDrimeShowUp changes the drive behind the mount's back
// (through the API, as another device would) and checks that the mount
// shows the changes once its listings are older than --dir-cache-ttl.
func TestChangesInDrimeShowUp(t *testing.T) {
	e := startEmu(t, "")
	s := newSeeder(t, e)
	s.file("keep.txt", []byte("unchanged"))
	s.file("rename-me.txt", []byte("to be renamed"))
	s.file("delete-me.txt", []byte("to be deleted"))
	s.file("overwrite-me.txt", []byte("old content"))
	s.file("sub/inner.txt", []byte("inner"))
	m := mount(t, e, withArgs("--dir-cache-ttl", "1s"))
	if got := localTree(t, m.dir); len(got) != 6 {
		t.Fatalf("mounted %v", got)
	}
	if b, _ := os.ReadFile(m.path("overwrite-me.txt")); string(b) != "old content" {
		t.Fatalf("read %q", b)
	}
	c := e.client()
	ctx := context.Background()
	byName := map[string]drime.Entry{}
	es, err := c.ListFolder(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, en := range es {
		byName[en.Name] = en
	}
	if _, err := c.Rename(ctx, byName["rename-me.txt"].ID, "renamed.txt"); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(ctx, []int64{byName["delete-me.txt"].ID}, false); err != nil {
		t.Fatal(err)
	}
	// Another device overwrites a file: a new entry, then the old deleted.
	if _, err := c.Upload(ctx, drime.UploadRequest{Name: "overwrite-me.txt", Body: strings.NewReader("new content!"), Size: 12}); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(ctx, []int64{byName["overwrite-me.txt"].ID}, false); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Upload(ctx, drime.UploadRequest{ParentID: byName["sub"].ID, Name: "added.txt", Body: strings.NewReader("added"), Size: 5}); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"keep.txt": "unchanged", "renamed.txt": "to be renamed",
		"overwrite-me.txt": "new content!", "sub/inner.txt": "inner", "sub/added.txt": "added"}
	var got map[string]string
	waitFor(t, 30*time.Second, "the mount to show the changes made in Drime", func() bool {
		got = contents(m.dir)
		return fmt.Sprint(got) == fmt.Sprint(want)
	})
}

// contents reads every file below root; entries that vanish while it
// walks are skipped (the tree is changing).
func contents(root string) map[string]string {
	got := map[string]string{}
	var walk func(rel string)
	walk = func(rel string) {
		ents, err := os.ReadDir(root + "/" + rel)
		if err != nil {
			return
		}
		for _, en := range ents {
			p := strings.TrimPrefix(rel+"/"+en.Name(), "/")
			if en.IsDir() {
				walk(p)
			} else if b, err := os.ReadFile(root + "/" + p); err == nil {
				got[p] = string(b)
			}
		}
	}
	walk("")
	return got
}

// TestAttributes checks owner, modes and times shown by the mount.
func TestAttributes(t *testing.T) {
	e := startEmu(t, "")
	s := newSeeder(t, e)
	s.file("seeded.txt", []byte("from Drime"))
	m := mount(t, e, withArgs("--uid", "1234", "--gid", "5678", "--umask", "027"))
	var st syscall.Stat_t
	if err := syscall.Stat(m.path("seeded.txt"), &st); err != nil {
		t.Fatal(err)
	}
	if st.Uid != 1234 || st.Gid != 5678 || st.Mode&0o777 != 0o640 {
		t.Fatalf("uid %d gid %d mode %o", st.Uid, st.Gid, st.Mode&0o777)
	}
	// mtime comes from Drime's updated_at.
	es, _ := e.client().ListFolder(context.Background(), 0)
	if got, want := time.Unix(st.Mtim.Unix()), es[0].UpdatedAt; !got.Equal(want) {
		t.Fatalf("mtime %v, Drime's updated_at %v", got, want)
	}
	// Times set here stay (rsync -t), and modes (chmod) too.
	when := time.Date(2020, 5, 17, 12, 0, 0, 0, time.UTC)
	if err := os.Chtimes(m.path("seeded.txt"), when, when); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(m.path("seeded.txt"), 0o600); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(m.path("seeded.txt"))
	if err != nil || !fi.ModTime().Equal(when) || fi.Mode().Perm() != 0o600 {
		t.Fatalf("after touch and chmod: %v %v %v", fi.ModTime(), fi.Mode(), err)
	}
	if err := os.Mkdir(m.path("d"), 0o750); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(m.path("d")); fi.Mode().Perm() != 0o750&^0o027 {
		t.Fatalf("mkdir mode %v", fi.Mode())
	}
}

// TestReadCacheStaysBounded reads more than --cache-max-size and checks
// the cache dir does not grow past the bound (plus one file in use).
func TestReadCacheStaysBounded(t *testing.T) {
	e := startEmu(t, "")
	s := newSeeder(t, e)
	for i := 0; i < 8; i++ {
		s.file(fmt.Sprintf("f%d", i), randomBytes(uint64(i), 6<<20))
	}
	m := mount(t, e, withArgs("--cache-max-size", "16M"))
	for round := 0; round < 2; round++ {
		for i := 0; i < 8; i++ {
			b, err := os.ReadFile(m.path(fmt.Sprintf("f%d", i)))
			if err != nil || !bytes.Equal(b, randomBytes(uint64(i), 6<<20)) {
				t.Fatalf("read f%d: %v", i, err)
			}
		}
	}
	out, err := exec.Command("du", "-sb", m.cache+"/files").Output()
	if err != nil {
		t.Fatal(err)
	}
	used, _ := strconv.ParseInt(strings.Fields(string(out))[0], 10, 64)
	if used > 16<<20+6<<20 {
		t.Fatalf("read cache holds %d MiB with a 16 MiB bound", used>>20)
	}
}
