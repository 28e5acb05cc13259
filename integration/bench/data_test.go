package bench

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

// The data sets of the workloads, all deterministic.

// tree is the tree of workload (c): below its root folder, 100 folders and
// 10,900 files, 11,000 entries in all: big/ with 2,000 files, and 9 folders
// t0..t8 of 10 folders each holding 98 or 99 files.
type tree struct {
	root  string
	dirs  []string // slash-separated, parents before children
	files []string
}

const (
	treeEntries = 11000
	bigFolder   = 2000
)

func newTree(root string) tree {
	t := tree{root: root, dirs: []string{root, root + "/big"}}
	for i := 0; i < bigFolder; i++ {
		t.files = append(t.files, fmt.Sprintf("%s/big/file-%04d.txt", root, i))
	}
	leaf := 0
	for i := 0; i < 9; i++ {
		top := fmt.Sprintf("%s/t%d", root, i)
		t.dirs = append(t.dirs, top)
		for j := 0; j < 10; j++ {
			d := fmt.Sprintf("%s/s%d", top, j)
			t.dirs = append(t.dirs, d)
			n := 99
			if leaf >= 80 {
				n = 98 // 80×99 + 10×98 = 8,900
			}
			for k := 0; k < n; k++ {
				t.files = append(t.files, fmt.Sprintf("%s/f%03d.dat", d, k))
			}
			leaf++
		}
	}
	return t
}

// entries is the number of entries below the root folder.
func (t tree) entries() int { return len(t.dirs) - 1 + len(t.files) }

// content is the small content of file i (1 to 4 KiB).
func (t tree) content(i int) []byte {
	return randomBytes(uint64(i)+1000, 1024+(i*37)%3072)
}

// writeLocal creates the tree below dir.
func (t tree) writeLocal(dir string) error {
	for _, d := range t.dirs {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return fmt.Errorf("create tree: %w", err)
		}
	}
	for i, f := range t.files {
		if err := os.WriteFile(filepath.Join(dir, f), t.content(i), 0o644); err != nil {
			return fmt.Errorf("create tree: %w", err)
		}
	}
	return nil
}

// randomBytes returns n deterministic pseudo-random bytes.
func randomBytes(seed uint64, n int) []byte {
	var key [32]byte
	for i := range key {
		key[i] = byte(seed >> (8 * (i % 8)))
	}
	b := make([]byte, n)
	_, _ = rand.NewChaCha8(key).Read(b)
	return b
}

// writeRandom writes size pseudo-random bytes to w in 1 MiB writes without
// a whole-file buffer: 1 MiB slices of an 8 MiB random pool, each stamped
// with its index so that no two are equal (cheap enough not to compete with
// the mount for CPU). The bytes also go to h when it is not nil.
func writeRandom(w io.Writer, seed uint64, size int64, h hash.Hash) error {
	const chunk = 1 << 20
	pool := randomBytes(seed, 8*chunk)
	for i, done := int64(0), int64(0); done < size; i++ {
		buf := pool[(i%8)*chunk : (i%8+1)*chunk]
		binary.LittleEndian.PutUint64(buf, uint64(i))
		n := min(int64(chunk), size-done)
		if h != nil {
			h.Write(buf[:n])
		}
		if _, err := w.Write(buf[:n]); err != nil {
			return fmt.Errorf("write random data: %w", err)
		}
		done += n
	}
	return nil
}

// writeRandomFile creates a file of size pseudo-random bytes and returns
// their SHA-256.
func writeRandomFile(p string, seed uint64, size int64) (string, error) {
	f, err := os.Create(p)
	if err != nil {
		return "", fmt.Errorf("create %s: %w", p, err)
	}
	h := sha256.New()
	err = writeRandom(f, seed, size, h)
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("close %s: %w", p, cerr)
	}
	return hex.EncodeToString(h.Sum(nil)), err
}

// hashFile returns the SHA-256 of a file.
func hashFile(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", fmt.Errorf("hash %s: %w", p, err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hash %s: %w", p, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// smallFiles is the tar of workload (b): the Go source tree's crypto folder,
// exactly smallFileCount files.
type smallFiles struct {
	tar   string // the archive
	files int    // regular files in it
	bytes int64  // their total size
	top   string // the folder the archive extracts to
	note  string // how the folder was made to hold smallFileCount files
}

const smallFileCount = 1168

// goCryptoTar makes a tar of $GOROOT/src/crypto in dir. When the folder
// does not hold exactly 1,168 files, the first 1,168 in path order are
// taken, or padding files (1 KiB each, in crypto/zz-pad) are added.
func goCryptoTar(dir string) (smallFiles, error) {
	goroot, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		return smallFiles{}, fmt.Errorf("go env GOROOT: %w", err)
	}
	src := filepath.Join(string(trimNL(goroot)), "src")
	s := smallFiles{tar: filepath.Join(dir, "crypto.tar"), top: "crypto"}
	var names []string
	sizes := map[string]int64{}
	err = filepath.Walk(filepath.Join(src, "crypto"), func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if fi.Mode().IsRegular() {
			rel, _ := filepath.Rel(src, p)
			names = append(names, rel)
			sizes[rel] = fi.Size()
		}
		return nil
	})
	if err != nil {
		return s, fmt.Errorf("walk %s: %w", src, err)
	}
	sort.Strings(names)
	args := []string{"cf", s.tar, "-C", src, "crypto"}
	switch {
	case len(names) == smallFileCount:
		s.note = fmt.Sprintf("%s/crypto as is", src)
	case len(names) > smallFileCount:
		s.note = fmt.Sprintf("first %d of the %d files of %s/crypto, in path order", smallFileCount, len(names), src)
		names = names[:smallFileCount]
		list := filepath.Join(dir, "crypto.list")
		if err := os.WriteFile(list, []byte(strings.Join(names, "\n")+"\n"), 0o644); err != nil {
			return s, fmt.Errorf("tar list: %w", err)
		}
		args = []string{"cf", s.tar, "-C", src, "-T", list}
	default:
		pad := smallFileCount - len(names)
		s.note = fmt.Sprintf("%s/crypto (%d files) padded with %d files of 1 KiB", src, len(names), pad)
		padDir := filepath.Join(dir, "pad")
		if err := os.MkdirAll(filepath.Join(padDir, "crypto", "zz-pad"), 0o755); err != nil {
			return s, fmt.Errorf("pad files: %w", err)
		}
		for i := 0; i < pad; i++ {
			rel := fmt.Sprintf("crypto/zz-pad/pad-%04d.txt", i)
			if err := os.WriteFile(filepath.Join(padDir, rel), randomBytes(uint64(i), 1024), 0o644); err != nil {
				return s, fmt.Errorf("pad files: %w", err)
			}
			names = append(names, rel)
			sizes[rel] = 1024
		}
		args = append(args, "-C", padDir, "crypto/zz-pad")
	}
	for _, n := range names {
		s.files++
		s.bytes += sizes[n]
	}
	if out, err := exec.Command("tar", args...).CombinedOutput(); err != nil {
		return s, fmt.Errorf("tar %v: %w: %s", args, err, out)
	}
	return s, nil
}

func trimNL(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}
