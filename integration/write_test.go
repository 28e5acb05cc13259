package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// applyOps runs the same file operations on a root folder: once on the
// mount, once on a local disk folder; the results must agree.
func applyOps(t *testing.T, root string) {
	t.Helper()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	p := func(rel string) string { return filepath.Join(root, rel) }
	must(os.MkdirAll(p("sizes"), 0o755))
	for i, n := range []int{0, 1, 5242879, 5242880, 5242881} {
		must(os.WriteFile(p(fmt.Sprintf("sizes/f%d", n)), randomBytes(uint64(100+i), n), 0o644))
	}
	// Overwrite with different content and size.
	must(os.WriteFile(p("over"), randomBytes(1, 6<<20), 0o644))
	must(os.WriteFile(p("over"), randomBytes(2, 3000), 0o644))
	// Append.
	must(os.WriteFile(p("append"), []byte("first line\n"), 0o644))
	f, err := os.OpenFile(p("append"), os.O_APPEND|os.O_WRONLY, 0)
	must(err)
	_, err = f.Write([]byte("second line\n"))
	must(err)
	must(f.Close())
	// Random writes inside and past the end.
	must(os.WriteFile(p("random"), randomBytes(3, 1<<20), 0o644))
	f, err = os.OpenFile(p("random"), os.O_RDWR, 0)
	must(err)
	for i, off := range []int64{0, 4095, 500000, 1 << 20, 3 << 20} {
		_, err = f.WriteAt(randomBytes(uint64(10+i), 777), off)
		must(err)
	}
	must(f.Close())
	// Truncate: shrink with ftruncate, grow with truncate(2).
	must(os.WriteFile(p("trunc"), randomBytes(4, 2<<20), 0o644))
	f, err = os.OpenFile(p("trunc"), os.O_RDWR, 0)
	must(err)
	must(f.Truncate(12345))
	must(f.Close())
	must(os.Truncate(p("trunc"), 70000))
	// Rename and unlink of fresh (still uploading) files.
	must(os.WriteFile(p("before-rename"), randomBytes(5, 7<<20), 0o644))
	must(os.Rename(p("before-rename"), p("sizes/after-rename")))
	must(os.WriteFile(p("doomed"), randomBytes(6, 9<<20), 0o644))
	must(os.Remove(p("doomed")))
	// 200 files from 20 concurrent writers.
	must(os.MkdirAll(p("many"), 0o755))
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for w := 0; w < 20; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 10; i++ {
				name := p(fmt.Sprintf("many/w%02d-%02d", w, i))
				if err := os.WriteFile(name, randomBytes(uint64(w*100+i), 1000+w*517+i*31), 0o644); err != nil {
					errs <- err
					return
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		must(err)
	}
}

func TestWritePathMatchesLocalDisk(t *testing.T) {
	e := startEmu(t, "")
	m := mount(t, e)
	local := t.TempDir()
	applyOps(t, local)
	applyOps(t, m.dir)
	want := localTree(t, local)
	// Read-your-writes: the mount shows the new content before upload.
	sameTree(t, "mount before sync", want, localTree(t, m.dir))
	m.sync()
	sameTree(t, "emulator after sync", want, remoteTree(t, e))
	// A fresh mount with an empty cache reads everything back from Drime.
	m.stop()
	m2 := mount(t, e)
	sameTree(t, "fresh mount", want, localTree(t, m2.dir))
}
