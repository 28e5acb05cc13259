package integration

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/drimefs/drimefs/drime"
)

// seeder puts a tree into the emulator through the Drime API (not through
// the mount) and remembers what it put there.
type seeder struct {
	t       *testing.T
	c       *drime.Client
	mu      sync.Mutex
	folders map[string]int64
	want    map[string]fileInfo
}

func newSeeder(t *testing.T, e *emu) *seeder {
	return &seeder{t: t, c: e.client(), folders: map[string]int64{"": 0}, want: map[string]fileInfo{}}
}

func (s *seeder) folder(p string) int64 {
	s.t.Helper()
	s.mu.Lock()
	id, ok := s.folders[p]
	s.mu.Unlock()
	if ok {
		return id
	}
	parent := int64(0)
	if d := path.Dir(p); d != "." {
		parent = s.folder(d)
	}
	e, err := s.c.CreateFolder(context.Background(), parent, path.Base(p))
	if err != nil {
		s.t.Fatalf("seed folder %s: %v", p, err)
	}
	s.mu.Lock()
	s.folders[p] = e.ID
	s.want[p] = fileInfo{Dir: true}
	s.mu.Unlock()
	return e.ID
}

func (s *seeder) file(p string, data []byte) {
	s.t.Helper()
	parent := int64(0)
	if d := path.Dir(p); d != "." {
		parent = s.folder(d)
	}
	ctx := context.Background()
	if len(data) >= drime.MultipartThreshold {
		s.multipart(ctx, parent, path.Base(p), data)
	} else if _, err := s.c.Upload(ctx, drime.UploadRequest{ParentID: parent, Name: path.Base(p),
		Body: bytes.NewReader(data), Size: int64(len(data))}); err != nil {
		s.t.Fatalf("seed %s: %v", p, err)
	}
	sum := sha256.Sum256(data)
	s.mu.Lock()
	s.want[p] = fileInfo{Size: int64(len(data)), Hash: hex.EncodeToString(sum[:])}
	s.mu.Unlock()
}

func (s *seeder) multipart(ctx context.Context, parent int64, name string, data []byte) {
	s.t.Helper()
	up, err := s.c.CreateMultipart(ctx, drime.MultipartCreateRequest{Name: name, Size: int64(len(data)), ParentID: parent})
	if err != nil {
		s.t.Fatal(err)
	}
	const ps = drime.MultipartThreshold
	var parts []drime.CompletedPart
	for i := 0; i*ps < len(data); i++ {
		chunk := data[i*ps : min((i+1)*ps, len(data))]
		urls, err := s.c.SignParts(ctx, *up, []int{i + 1})
		if err != nil {
			s.t.Fatal(err)
		}
		etag, err := s.c.PutPart(ctx, urls[i+1], bytes.NewReader(chunk), int64(len(chunk)))
		if err != nil {
			s.t.Fatal(err)
		}
		parts = append(parts, drime.CompletedPart{Number: i + 1, ETag: etag})
	}
	if err := s.c.CompleteMultipart(ctx, *up, parts); err != nil {
		s.t.Fatal(err)
	}
	if _, err := s.c.RegisterEntry(ctx, drime.RegisterRequest{Key: up.Key, Size: int64(len(data)), Name: name, ParentID: parent}); err != nil {
		s.t.Fatal(err)
	}
}

// many seeds files concurrently; gen returns the path and data of file i.
func (s *seeder) many(n, workers int, gen func(i int) (string, []byte)) {
	s.t.Helper()
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				p, data := gen(i)
				s.file(p, data)
			}
		}()
	}
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
}

// oddNames are names a user may have in Drime that must survive the trip.
func oddNames() []string {
	long := strings.Repeat("é", 127) + "x" // 255 bytes
	return []string{"with space.txt", "ünïcødé ✓ 日本.txt", "100%.txt", "#hash#", "what?.txt",
		"semi;colon&amp", "'quotes' \"double\"", long, "trailing.", ".hidden", "a+b=c"}
}

func TestBrowseAndReadSeededTree(t *testing.T) {
	e := startEmu(t, "")
	s := newSeeder(t, e)
	s.folder("empty")
	s.file("top.txt", []byte("hello from Drime\n"))
	s.file("media/video.bin", randomBytes(7, 12<<20+333))
	s.file("media/photo.jpg", randomBytes(8, 300000))
	for i, name := range oddNames() {
		s.file("odd/"+name, randomBytes(uint64(20+i), 100+i))
	}
	s.many(2000, 8, func(i int) (string, []byte) {
		return fmt.Sprintf("big-folder/file-%04d.txt", i), []byte(fmt.Sprintf("file %d\n", i))
	})
	s.file("a/b/c/d/deep.txt", []byte("deep"))

	m := mount(t, e)
	sameTree(t, "mounted tree", s.want, localTree(t, m.dir))

	// ls -lR, find and du -b agree with what was seeded.
	out, err := exec.Command("find", m.dir, "-type", "f").Output()
	if err != nil {
		t.Fatal(err)
	}
	files := 0
	var total int64
	for p, w := range s.want {
		if !w.Dir {
			files++
			total += w.Size
			_ = p
		}
	}
	if got := strings.Count(string(out), "\n"); got != files {
		t.Fatalf("find found %d files, seeded %d", got, files)
	}
	du, err := exec.Command("du", "-sb", "--apparent-size", m.dir).Output()
	if err != nil {
		t.Fatal(err)
	}
	duBytes, _ := strconv.ParseInt(strings.Fields(string(du))[0], 10, 64)
	if duBytes < total {
		t.Fatalf("du -b says %d bytes, files hold %d", duBytes, total)
	}
	if out, err := exec.Command("ls", "-lR", m.dir).CombinedOutput(); err != nil {
		t.Fatalf("ls -lR: %v\n%s", err, out)
	}

	// Inode numbers are stable across rename and remount.
	var st1, st2 syscall.Stat_t
	if err := syscall.Stat(m.path("top.txt"), &st1); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(m.path("top.txt"), m.path("media/top-moved.txt")); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Stat(m.path("media/top-moved.txt"), &st2); err != nil {
		t.Fatal(err)
	}
	if st1.Ino != st2.Ino {
		t.Fatalf("inode changed on rename: %d → %d", st1.Ino, st2.Ino)
	}
	m.sync()
	m.stop()

	// A second mount with the same cache lists at once from the cache,
	// even while Drime's listings fail.
	e.setFaults("list:500:1")
	m.remount()
	var st3 syscall.Stat_t
	if err := syscall.Stat(m.path("media/top-moved.txt"), &st3); err != nil {
		t.Fatalf("cached tree unavailable: %v", err)
	}
	if st3.Ino != st1.Ino {
		t.Fatalf("inode changed on remount: %d → %d", st1.Ino, st3.Ino)
	}
	ents, err := os.ReadDir(m.path("big-folder"))
	if err != nil || len(ents) != 2000 {
		t.Fatalf("cached listing: %d entries, %v", len(ents), err)
	}
	e.setFaults("")
}

func TestStatfsShowsQuota(t *testing.T) {
	e := startEmu(t, "")
	newSeeder(t, e).file("x", randomBytes(1, 1<<20))
	m := mount(t, e)
	var st unix.Statfs_t
	if err := unix.Statfs(m.dir, &st); err != nil {
		t.Fatal(err)
	}
	total := int64(st.Blocks) * st.Bsize
	free := int64(st.Bavail) * st.Bsize
	if total != 1<<40 || total-free < 1<<20-4096 || total-free > 2<<20 {
		t.Fatalf("statfs: total %d free %d (used %d)", total, free, total-free)
	}
	out, err := exec.Command("df", "-B1", m.dir).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "drimefs") {
		t.Fatalf("df: %v\n%s", err, out)
	}
}

func TestNamesFromDrimeThatCannotBePaths(t *testing.T) {
	e := startEmu(t, "")
	srv := e.server()
	for _, name := range []string{"..", ".", "a/b", "fine"} {
		if _, err := srv.InsertEntry(context.Background(), 0, 0, name, "file", []byte("x")); err != nil {
			t.Fatalf("insert %q: %v", name, err)
		}
	}
	m := mount(t, e)
	ents, err := os.ReadDir(m.dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 1 || ents[0].Name() != "fine" {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Fatalf("listing exposes %q", names)
	}
}

func TestBadNamesGetClearErrno(t *testing.T) {
	e := startEmu(t, "")
	m := mount(t, e)
	cases := []struct {
		name string
		want syscall.Errno
	}{
		{strings.Repeat("x", 256), syscall.ENAMETOOLONG},
		{`back\slash`, syscall.EINVAL},
		{"ctl\x01char", syscall.EINVAL},
		{"0", syscall.EINVAL},
		{"bad\xffutf8", syscall.EINVAL},
	}
	for _, c := range cases {
		err := os.WriteFile(m.path(c.name), []byte("x"), 0o644)
		if !errors.Is(err, c.want) {
			t.Errorf("create %q: got %v, want %v", c.name, err, c.want)
		}
		if err := os.Mkdir(m.path(c.name), 0o755); !errors.Is(err, c.want) {
			t.Errorf("mkdir %q: got %v, want %v", c.name, err, c.want)
		}
	}
	if err := os.WriteFile(m.path("ok"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(m.path("ok"), m.path(strings.Repeat("y", 256))); !errors.Is(err, syscall.ENAMETOOLONG) {
		t.Errorf("rename to a long name: %v", err)
	}
	m.sync()
	got := remoteTree(t, e)
	if len(got) != 1 {
		t.Fatalf("emulator holds %v", got)
	}
}

var _ = filepath.Join
var _ = time.Second

// TestElevenThousandFiles is the acceptance check: 11,000 files
// in nested folders (2,000 in one folder, unicode names), put there
// through the API; ls -lR, find, du -b and the content of every file
// agree; a second mount lists everything from its cache, even while
// Drime's listings fail.
func TestElevenThousandFiles(t *testing.T) {
	e := startEmu(t, "")
	s := newSeeder(t, e)
	start := time.Now()
	s.many(11000, 16, func(i int) (string, []byte) {
		var p string
		switch {
		case i < 2000:
			p = fmt.Sprintf("flat/f%04d.txt", i)
		case i%5 == 0:
			p = fmt.Sprintf("tree/ünï %d/çødé-%d/名前-%d.txt", i%7, i%13, i)
		default:
			p = fmt.Sprintf("tree/d%d/s%d/file-%d.dat", i%11, i%17, i)
		}
		return p, []byte(fmt.Sprintf("content of %d %s", i, strings.Repeat("x", i%300)))
	})
	t.Logf("seeded 11,000 files through the API in %v", time.Since(start).Round(time.Millisecond))
	cache := filepath.Join(t.TempDir(), "cache")
	m := mount(t, e, withCache(cache))
	start = time.Now()
	if out, err := exec.Command("ls", "-lR", m.dir).CombinedOutput(); err != nil {
		t.Fatalf("ls -lR: %v\n%.2000s", err, out)
	}
	t.Logf("cold ls -lR took %v", time.Since(start).Round(time.Millisecond))
	out, err := exec.Command("find", m.dir, "-type", "f").Output()
	if err != nil || strings.Count(string(out), "\n") != 11000 {
		t.Fatalf("find: %d files, %v", strings.Count(string(out), "\n"), err)
	}
	var total int64
	for _, f := range s.want {
		total += f.Size
	}
	du, err := exec.Command("du", "-sb", m.dir).Output()
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := strconv.ParseInt(strings.Fields(string(du))[0], 10, 64); n < total {
		t.Fatalf("du -b %d < %d bytes of files", n, total)
	}
	sameTree(t, "every file by hash", s.want, localTree(t, m.dir))
	m.stop()
	e.setFaults("list:500:1")
	m.remount()
	start = time.Now()
	if out, err := exec.Command("ls", "-lR", m.dir).CombinedOutput(); err != nil {
		t.Fatalf("ls -lR from the cache: %v\n%.2000s", err, out)
	}
	t.Logf("warm ls -lR (listings failing) took %v", time.Since(start).Round(time.Millisecond))
	out, err = exec.Command("find", m.dir, "-type", "f").Output()
	if err != nil || strings.Count(string(out), "\n") != 11000 {
		t.Fatalf("find from the cache: %d files, %v", strings.Count(string(out), "\n"), err)
	}
}
