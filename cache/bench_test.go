package cache

import (
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// Benchmarks of the store's hot paths (go test -bench . ./cache/): the
// upload queue as tar x drives it (create, commit on close, finish upload),
// the merge of a 2,000-entry folder listing, read-cache extent bookkeeping,
// and spool writes through Files. They use a real badger database in a
// temporary dir, like a mount does.

func openBench(b *testing.B) *Store {
	b.Helper()
	s, err := Open(Options{Dir: b.TempDir(), Logger: zerolog.Nop()})
	if err != nil {
		b.Fatalf("open: %v", err)
	}
	b.Cleanup(func() { _ = s.Close() })
	return s
}

// BenchmarkQueueCommit is close() of a written file: a new generation and a
// job committed (files are reused round-robin, so jobs are replaced).
func BenchmarkQueueCommit(b *testing.B) {
	s := openBench(b)
	const files = 1000
	ids := make([]uint64, files)
	now := time.Now()
	for i := range ids {
		n, err := s.Create(RootID, fmt.Sprintf("f%04d", i), false, 0o644, now)
		if err != nil {
			b.Fatal(err)
		}
		ids[i] = n.ID
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := s.Commit(ids[i%files], int64(i), now); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkQueueCycle is the whole life of one small file in tar x: create,
// commit on close, and the uploader's FinishUpload (the job removed, the
// spool turned into read cache).
func BenchmarkQueueCycle(b *testing.B) {
	s := openBench(b)
	now := time.Now()
	dir, err := s.Create(RootID, "d", true, 0o755, now)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		name := fmt.Sprintf("file-%08d", i)
		n, err := s.Create(dir.ID, name, false, 0o644, now)
		if err != nil {
			b.Fatal(err)
		}
		j, err := s.Commit(n.ID, 4096, now)
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := s.FinishUpload(n.ID, j.Gen, RemoteEntry{ID: int64(i) + 1, Name: name, Size: 4096}, dir.ID, name); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkQueueJobs lists a queue of 1,000 pending jobs (what status and
// the uploader's rescans do).
func BenchmarkQueueJobs(b *testing.B) {
	s := openBench(b)
	now := time.Now()
	for i := 0; i < 1000; i++ {
		n, err := s.Create(RootID, fmt.Sprintf("f%04d", i), false, 0o644, now)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.Commit(n.ID, 1, now); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		js, err := s.Jobs()
		if err != nil || len(js) != 1000 {
			b.Fatalf("jobs: %d, %v", len(js), err)
		}
	}
}

// BenchmarkAttemptsAfterChurn is the uploader janitor's sweep, which lists
// every recorded upload attempt after each finished upload: each small
// upload adds an attempt and drops it when it succeeds, and the listing's
// cost grows with the attempts dropped before (deleted keys the iterator
// steps over until badger compacts them away).
func BenchmarkAttemptsAfterChurn(b *testing.B) {
	for _, churn := range []int{0, 1000, 5000} {
		b.Run(fmt.Sprintf("dropped=%d", churn), func(b *testing.B) {
			s := openBench(b)
			for i := 0; i < churn; i++ {
				a, err := s.AddAttempt(Attempt{Node: uint64(i + 2), Gen: 1, Name: fmt.Sprintf("f%d", i), Size: 1, At: time.Now()})
				if err != nil {
					b.Fatal(err)
				}
				if err := s.DropAttempt(a); err != nil {
					b.Fatal(err)
				}
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if as, err := s.Attempts(0); err != nil || len(as) != 0 {
					b.Fatalf("attempts: %d, %v", len(as), err)
				}
			}
		})
	}
}

func listing(n int, base int64) []RemoteEntry {
	t := time.Now().Add(-time.Hour)
	out := make([]RemoteEntry, n)
	for i := range out {
		out[i] = RemoteEntry{ID: base + int64(i), Name: fmt.Sprintf("file-%04d.txt", i), Size: int64(100 + i),
			Hash: fmt.Sprintf("h%d", i), Created: t, Updated: t}
	}
	return out
}

// BenchmarkMergeListing merges a 2,000-entry listing: into a folder seen for
// the first time (every entry adopted), and again unchanged (a refresh).
func BenchmarkMergeListing(b *testing.B) {
	const entries = 2000
	b.Run("first", func(b *testing.B) {
		s := openBench(b)
		now := time.Now()
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			d, err := s.Create(RootID, fmt.Sprintf("d%d", i), true, 0o755, now)
			if err != nil {
				b.Fatal(err)
			}
			l := listing(entries, int64(i+1)*entries*10)
			b.StartTimer()
			if _, err := s.Merge(d.ID, l, now); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("refresh", func(b *testing.B) {
		s := openBench(b)
		now := time.Now()
		d, err := s.Create(RootID, "d", true, 0o755, now)
		if err != nil {
			b.Fatal(err)
		}
		l := listing(entries, 1)
		if _, err := s.Merge(d.ID, l, now); err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if _, err := s.Merge(d.ID, l, now); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("children", func(b *testing.B) {
		s := openBench(b)
		now := time.Now()
		d, err := s.Create(RootID, "d", true, 0o755, now)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.Merge(d.ID, listing(entries, 1), now); err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			kids, err := s.Children(d.ID)
			if err != nil || len(kids) != entries {
				b.Fatalf("children: %d, %v", len(kids), err)
			}
		}
	})
}

// BenchmarkFilesAdd records downloaded ranges of a 1 GiB file, as the
// fetcher does after every chunk: in order (one extent that grows) and
// every other chunk (thousands of extents, each Add persisting them all).
func BenchmarkFilesAdd(b *testing.B) {
	const size, chunk = 1 << 30, 1 << 20
	for _, c := range []struct {
		name string
		step int64
	}{{"sequential", chunk}, {"fragmented", 2 * chunk}} {
		b.Run(c.name, func(b *testing.B) {
			s := openBench(b)
			id, remote := uint64(1000), int64(1)
			off := int64(0)
			for i := 0; i < b.N; i++ {
				if off+chunk > size {
					b.StopTimer()
					if err := s.Files.Reset(id, remote, size); err != nil {
						b.Fatal(err)
					}
					off = 0
					b.StartTimer()
				}
				if err := s.Files.Add(id, remote, size, off, chunk); err != nil {
					b.Fatal(err)
				}
				off += c.step
			}
		})
	}
}

// BenchmarkFilesMissing asks which parts of a 1 MiB read are missing from
// a file cached in 1,024 separate extents.
func BenchmarkFilesMissing(b *testing.B) {
	s := openBench(b)
	id, remote := uint64(1000), int64(1)
	const size, chunk = 1 << 31, 1 << 20
	for off := int64(0); off < size; off += 2 * chunk {
		if err := s.Files.Add(id, remote, size, off, chunk); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		off := int64(i%1024) * 2 * chunk
		if m := s.Files.Missing(id, remote, off+chunk/2, chunk); len(m) != 1 {
			b.Fatalf("missing %v", m)
		}
	}
}

// BenchmarkExtents is the pure extent arithmetic on 4,096 extents.
func BenchmarkExtents(b *testing.B) {
	var x Extents
	for off := int64(0); off < 4096*2; off += 2 {
		x = x.Add(off, off+1)
	}
	b.Run("add", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			_ = x.Add(int64(i%4096)*2+1, int64(i%4096)*2+2)
		}
	})
	b.Run("missing", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			_ = x.Missing(int64(i%4096)*2, int64(i%4096)*2+64)
		}
	})
}

// BenchmarkSpoolWrite is what a write handler does without passthrough:
// Files.Admit, then pwrite into the content file. The file wraps at
// 256 MiB (overwriting page-cached data), so it measures the copy into the
// page cache, not disk speed.
func BenchmarkSpoolWrite(b *testing.B) {
	for _, size := range []int{4 << 10, 128 << 10, 1 << 20} {
		b.Run(fmt.Sprintf("%dKiB", size>>10), func(b *testing.B) {
			s := openBench(b)
			n, err := s.Create(RootID, "spool", false, 0o644, time.Now())
			if err != nil {
				b.Fatal(err)
			}
			f, err := s.Files.Open(n.ID, os.O_RDWR|os.O_CREATE|os.O_TRUNC)
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			buf := make([]byte, size)
			for i := range buf {
				buf[i] = byte(i * 7)
			}
			const wrap = 256 << 20
			b.SetBytes(int64(size))
			b.ResetTimer()
			off := int64(0)
			for i := 0; i < b.N; i++ {
				if err := s.Files.Admit(int64(size)); err != nil {
					b.Fatal(err)
				}
				if _, err := f.WriteAt(buf, off); err != nil {
					b.Fatal(err)
				}
				off = (off + int64(size)) % wrap
			}
		})
	}
}
