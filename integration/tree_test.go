package integration

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/drimefs/drimefs/drime"
)

// fileInfo is what a tree comparison looks at: kind, size and content hash.
type fileInfo struct {
	Dir  bool
	Size int64
	Hash string
}

func (f fileInfo) String() string {
	if f.Dir {
		return "dir"
	}
	return fmt.Sprintf("%d bytes sha256:%.12s", f.Size, f.Hash)
}

func hashFile(t *testing.T, p string) (string, int64) {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		t.Fatalf("read %s: %v", p, err)
	}
	return hex.EncodeToString(h.Sum(nil)), n
}

// localTree walks a local folder (or the mount) into path → info.
func localTree(t *testing.T, root string) map[string]fileInfo {
	t.Helper()
	out := map[string]fileInfo{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if rel == "." {
			return nil
		}
		if d.IsDir() {
			out[rel] = fileInfo{Dir: true}
			return nil
		}
		h, n := hashFile(t, p)
		out[rel] = fileInfo{Size: n, Hash: h}
		return nil
	})
	if err != nil {
		t.Fatalf("walk %s: %v", root, err)
	}
	return out
}

// remoteTree reads the emulator's drive through the API: every entry, and
// for files the SHA-256 of the bytes it serves. Duplicate names fail.
func remoteTree(t *testing.T, e *emu) map[string]fileInfo {
	t.Helper()
	c := e.client()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out := map[string]fileInfo{}
	var walk func(id int64, prefix string)
	walk = func(id int64, prefix string) {
		es, err := c.ListFolder(ctx, id)
		if err != nil {
			t.Fatalf("list %q: %v", prefix, err)
		}
		for i := range es {
			en := &es[i]
			p := path.Join(prefix, en.Name)
			if _, dup := out[p]; dup {
				var ids []string
				for _, o := range es {
					if o.Name == en.Name {
						ids = append(ids, fmt.Sprintf("%d(%s, %d bytes)", o.ID, o.FileName, o.Size))
					}
				}
				t.Errorf("duplicate entry in the emulator: %s: %v", p, ids)
			}
			if en.IsDir() {
				out[p] = fileInfo{Dir: true}
				walk(en.ID, p)
				continue
			}
			out[p] = fileInfo{Size: en.Size, Hash: remoteHash(t, ctx, c, en)}
		}
	}
	walk(0, "")
	return out
}

func remoteHash(t *testing.T, ctx context.Context, c *drime.Client, en *drime.Entry) string {
	t.Helper()
	rc, err := c.Download(ctx, en, 0, en.Size)
	if err != nil {
		t.Fatalf("download %s: %v", en.Name, err)
	}
	defer rc.Close()
	h := sha256.New()
	if _, err := io.Copy(h, rc); err != nil {
		t.Fatalf("download %s: %v", en.Name, err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// sameTree fails the test with a readable diff if two trees differ.
func sameTree(t *testing.T, what string, want, got map[string]fileInfo) {
	t.Helper()
	var diffs []string
	for p, w := range want {
		g, ok := got[p]
		switch {
		case !ok:
			diffs = append(diffs, fmt.Sprintf("missing %s (%v)", p, w))
		case g != w:
			diffs = append(diffs, fmt.Sprintf("differs %s: want %v, got %v", p, w, g))
		}
	}
	for p, g := range got {
		if _, ok := want[p]; !ok {
			diffs = append(diffs, fmt.Sprintf("extra %s (%v)", p, g))
		}
	}
	if len(diffs) > 0 {
		sort.Strings(diffs)
		if len(diffs) > 30 {
			diffs = append(diffs[:30], fmt.Sprintf("… %d more", len(diffs)-30))
		}
		t.Fatalf("%s: trees differ:\n  %s", what, strings.Join(diffs, "\n  "))
	}
}

// randomBytes returns deterministic pseudo-random data.
func randomBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		v := r.Uint64()
		for k := 0; k < 8; k++ {
			b[i+k] = byte(v >> (8 * k))
		}
	}
	for i := n - n%8; i < n; i++ {
		b[i] = byte(r.Uint64())
	}
	return b
}

// writeRandomFile writes size pseudo-random bytes to p in chunks (no
// whole-file buffer) and returns the SHA-256.
func writeRandomFile(t *testing.T, p string, seed uint64, size int64) string {
	t.Helper()
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	w := io.MultiWriter(f, h)
	chunk := randomBytes(seed, 1<<20)
	var done int64
	for i := 0; done < size; i++ {
		n := min(int64(len(chunk)), size-done)
		chunk[0], chunk[1] = byte(i), byte(i>>8) // vary chunks cheaply
		if _, err := w.Write(chunk[:n]); err != nil {
			f.Close()
			t.Fatalf("write %s: %v", p, err)
		}
		done += n
	}
	if err := f.Close(); err != nil {
		t.Fatalf("close %s: %v", p, err)
	}
	return hex.EncodeToString(h.Sum(nil))
}
