package integration

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// fsxFile is one file of the model: its content, whatever its name.
type fsxFile struct {
	data []byte
	fh   *os.File // open handle, or nil
}

// fsx drives random operations on the mount and a model in memory, and
// checks every read against the model. Files are tracked by identity so
// that renames over open files and unlinks of open files behave as POSIX
// says.
type fsx struct {
	t     *testing.T
	dir   string
	r     *rand.Rand
	names map[string]*fsxFile
	open  []*fsxFile // includes unlinked-but-open files
	log   []string
}

const fsxMax = 7 << 20 // some files cross the multipart threshold

func (x *fsx) logf(format string, a ...any) {
	x.log = append(x.log, fmt.Sprintf(format, a...))
	if len(x.log) > 30 {
		x.log = x.log[1:]
	}
}

func (x *fsx) fail(format string, a ...any) {
	x.t.Helper()
	x.t.Fatalf("fsx: %s\nlast operations:\n  %s", fmt.Sprintf(format, a...), joinLines(x.log))
}

func joinLines(l []string) string {
	var b bytes.Buffer
	for i, s := range l {
		if i > 0 {
			b.WriteString("\n  ")
		}
		b.WriteString(s)
	}
	return b.String()
}

func (x *fsx) pickName() string { return "f" + strconv.Itoa(x.r.IntN(6)) }

// handle returns an open handle for a named file, opening it if needed.
func (x *fsx) handle(name string) *fsxFile {
	f := x.names[name]
	if f == nil {
		h, err := os.OpenFile(filepath.Join(x.dir, name), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			x.fail("create %s: %v", name, err)
		}
		f = &fsxFile{fh: h}
		x.names[name] = f
		x.open = append(x.open, f)
		x.logf("create %s", name)
		return f
	}
	if f.fh == nil {
		h, err := os.OpenFile(filepath.Join(x.dir, name), os.O_RDWR, 0)
		if err != nil {
			x.fail("open %s: %v", name, err)
		}
		f.fh = h
		x.open = append(x.open, f)
		x.logf("open %s", name)
	}
	return f
}

func (x *fsx) step() {
	name := x.pickName()
	switch op := x.r.IntN(100); {
	case op < 30: // write at a random offset, maybe past the end
		f := x.handle(name)
		off := x.r.Int64N(int64(len(f.data)) + 100000)
		n := x.r.IntN(300000) + 1
		if off+int64(n) > fsxMax {
			return
		}
		buf := randomBytes(x.r.Uint64(), n)
		if _, err := f.fh.WriteAt(buf, off); err != nil {
			x.fail("write %s at %d: %v", name, off, err)
		}
		if grow := off + int64(n); grow > int64(len(f.data)) {
			f.data = append(f.data, make([]byte, grow-int64(len(f.data)))...)
		}
		copy(f.data[off:], buf)
		x.logf("write %s %d@%d", name, n, off)
	case op < 50: // read back and compare
		f := x.names[name]
		if f == nil {
			return
		}
		f = x.handle(name)
		off := x.r.Int64N(int64(len(f.data)) + 1)
		n := x.r.IntN(400000)
		got := make([]byte, n)
		m, err := f.fh.ReadAt(got, off)
		if err != nil && err != io.EOF {
			x.fail("read %s %d@%d: %v", name, n, off, err)
		}
		want := f.data[off:min(off+int64(n), int64(len(f.data)))]
		if !bytes.Equal(got[:m], want) {
			x.fail("read %s %d@%d: got %d bytes that differ from the model's %d", name, n, off, m, len(want))
		}
		x.logf("read %s %d@%d ok", name, n, off)
	case op < 60: // truncate, growing or shrinking
		f := x.handle(name)
		size := x.r.Int64N(fsxMax)
		if err := f.fh.Truncate(size); err != nil {
			x.fail("truncate %s to %d: %v", name, size, err)
		}
		if size < int64(len(f.data)) {
			f.data = f.data[:size]
		} else {
			f.data = append(f.data, make([]byte, size-int64(len(f.data)))...)
		}
		x.logf("truncate %s %d", name, size)
	case op < 72: // close
		if f := x.names[name]; f != nil && f.fh != nil {
			if err := f.fh.Close(); err != nil {
				x.fail("close %s: %v", name, err)
			}
			f.fh = nil
			x.logf("close %s", name)
		}
	case op < 80: // rename over whatever has the new name
		to := x.pickName()
		f := x.names[name]
		if f == nil || to == name {
			return
		}
		if err := os.Rename(filepath.Join(x.dir, name), filepath.Join(x.dir, to)); err != nil {
			x.fail("rename %s → %s: %v", name, to, err)
		}
		x.names[to] = f
		delete(x.names, name)
		x.logf("rename %s → %s", name, to)
	case op < 85: // unlink (open handles stay usable)
		if x.names[name] == nil {
			return
		}
		if err := os.Remove(filepath.Join(x.dir, name)); err != nil {
			x.fail("unlink %s: %v", name, err)
		}
		delete(x.names, name)
		x.logf("unlink %s", name)
	case op < 90: // fsync
		if f := x.names[name]; f != nil && f.fh != nil {
			if err := f.fh.Sync(); err != nil {
				x.fail("fsync %s: %v", name, err)
			}
			x.logf("fsync %s", name)
		}
	default: // stat agrees with the model
		f := x.names[name]
		if f == nil {
			if _, err := os.Stat(filepath.Join(x.dir, name)); !os.IsNotExist(err) {
				x.fail("stat of removed %s: %v", name, err)
			}
			return
		}
		st, err := os.Stat(filepath.Join(x.dir, name))
		if err != nil || st.Size() != int64(len(f.data)) {
			x.fail("stat %s: size %v (%v), model %d", name, sizeOf(st), err, len(f.data))
		}
	}
}

func sizeOf(st os.FileInfo) int64 {
	if st == nil {
		return -1
	}
	return st.Size()
}

func (x *fsx) closeAll() {
	for _, f := range x.open {
		if f.fh != nil {
			if err := f.fh.Close(); err != nil {
				x.fail("final close: %v", err)
			}
			f.fh = nil
		}
	}
}

// expected is the tree the model says the folder holds.
func (x *fsx) expected() map[string]fileInfo {
	dir := x.t.TempDir()
	for name, f := range x.names {
		if err := os.WriteFile(filepath.Join(dir, name), f.data, 0o644); err != nil {
			x.t.Fatal(err)
		}
	}
	return localTree(x.t, dir)
}

func runFsx(t *testing.T, seed uint64, ops int) {
	e := startEmu(t, "")
	m := mount(t, e)
	x := &fsx{t: t, dir: m.dir, r: rand.New(rand.NewPCG(seed, seed*31+7)), names: map[string]*fsxFile{}}
	for i := 0; i < ops; i++ {
		x.step()
	}
	x.closeAll()
	want := x.expected()
	sameTree(t, fmt.Sprintf("seed %d: mount", seed), want, localTree(t, m.dir))
	m.sync()
	sameTree(t, fmt.Sprintf("seed %d: emulator", seed), want, remoteTree(t, e))
	m.stop()
	fresh := mount(t, e)
	sameTree(t, fmt.Sprintf("seed %d: fresh mount", seed), want, localTree(t, fresh.dir))
}

func TestFsx(t *testing.T) {
	runFsx(t, 1, 600)
}

// TestFsxSoak runs many seeds; `make soak` enables it.
func TestFsxSoak(t *testing.T) {
	if os.Getenv("DRIMEFS_SOAK") == "" {
		t.Skip("soak test: run with DRIMEFS_SOAK=1 (make soak)")
	}
	for seed := uint64(2); seed < 42; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { runFsx(t, seed, 2000) })
	}
}
