package bench

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Read workloads: (c) ls -lR and find of the 11,000-entry tree right after
// a fresh mount with an empty cache dir, (d) sequential read of 1 GiB right
// after a fresh mount (bytes from the emulator), then again once cached.

const (
	reps       = 3 // runs of the listings, the cold read and curl; the median is reported
	cachedReps = 5 // runs of the cached read (a tenth of a second each)
)

// runListings is workload (c) under profile p: each drimefs run gets a new
// mount with an empty cache dir, each loopback run a new loopback mount.
func (b *bench) runListings(p profile) {
	for _, w := range []struct {
		key, what string
		args      []string // the tree's path is appended
	}{
		{"c.ls", "(c) ls -lR of 11,000 entries, cold", []string{"ls", "-lR"}},
		{"c.find", "(c) find of 11,000 entries, cold", []string{"find"}},
	} {
		local, err := median(reps, func() (time.Duration, error) {
			return b.listTree(w.args, filepath.Join(b.local, b.tree.root))
		})
		b.must(err)
		var lbLookups int64
		lb, err := median(reps, func() (time.Duration, error) {
			l, stop := b.mountLoopback()
			defer stop()
			d, err := b.listTree(w.args, filepath.Join(l.mnt, b.tree.root))
			if err == nil {
				_, _, lbLookups, err = l.stats(b.ctx)
			}
			return d, err
		})
		b.must(err)
		var peak int64
		var last string
		d, err := median(reps, func() (time.Duration, error) {
			m, stop := b.mountDrimefs(p.name + "-list")
			defer stop()
			before, err := m.scrape(b.ctx)
			if err != nil {
				return 0, err
			}
			if err := m.resetPeak(); err != nil {
				return 0, err
			}
			stopPerf := b.startPerf(p.name+"-"+w.key, m.pid())
			d, err := b.listTree(w.args, m.path(b.tree.root))
			stopPerf()
			if pk, perr := m.peak(); perr == nil {
				peak = max(peak, pk)
			}
			after, serr := m.scrape(b.ctx)
			if err == nil {
				err = serr
			}
			last = breakdown(before, after)
			return d, err
		})
		b.must(err)
		b.rep.timing(p.name, figure{key: w.key, what: w.what, drimefs: d,
			refs: []ref{{"local", local}, {"loopback", lb}}, rss: peak})
		b.rep.printf("   drimefs during %s, last run: %s\n", w.key, last)
		b.rep.printf("   loopback reference during %s, last run: %d LOOKUP requests\n", w.key, lbLookups)
	}
}

// listTree runs a listing command over root and checks that it saw every
// entry (one line per entry for find; per entry and folder header for ls).
func (b *bench) listTree(args []string, root string) (time.Duration, error) {
	cmd := exec.CommandContext(b.ctx, args[0], append(args[1:], root)...)
	var out lineCounter
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	start := time.Now()
	err := cmd.Run()
	d := time.Since(start)
	if err != nil {
		return d, fmt.Errorf("%s %s: %w: %s", args[0], root, err, lastLines(stderr.String(), 5))
	}
	if args[0] == "find" && out.n != b.tree.entries()+1 {
		return d, fmt.Errorf("find %s printed %d lines, want %d", root, out.n, b.tree.entries()+1)
	}
	if args[0] == "ls" && out.n < b.tree.entries() {
		return d, fmt.Errorf("ls -lR %s printed %d lines, want at least %d", root, out.n, b.tree.entries())
	}
	return d, nil
}

// lineCounter counts the lines written to it.
type lineCounter struct{ n int }

func (c *lineCounter) Write(p []byte) (int, error) {
	c.n += bytes.Count(p, []byte{'\n'})
	return len(p), nil
}

// runReads is workload (d) under profile p: the 1 GiB file written in (a)
// read on a fresh mount (cold: from the emulator) against curl of the same
// bytes, then read again (cached) against the local folder and loopback.
func (b *bench) runReads(p profile) {
	ctx := b.ctx
	rel := bigName(p, rounds-1)
	var id int64
	b.must(b.withoutFaults(p, func() error {
		e, err := b.emu.lookup(ctx, filepath.ToSlash(rel))
		if err == nil {
			id = e.ID
		}
		return err
	}))
	curl, err := median(reps, func() (time.Duration, error) { return b.curl(ctx, id, os.DevNull) })
	b.must(err)
	// The same download into a local file: what caching the bytes costs
	// (drimefs writes them to its cache file as it serves them).
	curlFile, err := median(reps, func() (time.Duration, error) {
		out := filepath.Join(b.local, "curl.out")
		defer os.Remove(out)
		return b.curl(ctx, id, out)
	})
	b.must(err)

	// Cold: each run on a new mount with an empty cache dir; the last
	// mount stays for the cached runs.
	var m *drimefs
	var stop func()
	var peak int64
	var last string
	cold, err := median(reps, func() (time.Duration, error) {
		if stop != nil {
			stop()
		}
		m, stop = b.mountDrimefs(p.name + "-read")
		before, err := m.scrape(ctx)
		if err != nil {
			return 0, err
		}
		if err := m.resetPeak(); err != nil {
			return 0, err
		}
		stopPerf := b.startPerf(p.name+"-d-cold", m.pid())
		d, err := ddRead(ctx, m.path(rel))
		stopPerf()
		if err != nil {
			return d, err
		}
		pk, err := m.peak()
		peak = max(peak, pk)
		after, serr := m.scrape(ctx)
		if err == nil {
			err = serr
		}
		last = breakdown(before, after)
		return d, err
	})
	b.must(err)
	defer stop()
	b.rep.timing(p.name, figure{key: "d.cold", what: "(d) read 1 GiB, cold (from the emulator)", drimefs: cold,
		refs: []ref{{"curl", curl}, {"curl>file", curlFile}}, rss: peak,
		note: fmt.Sprintf("%.0f MB/s; curl %.0f MB/s", gib/1e6/cold.Seconds(), gib/1e6/curl.Seconds())})
	b.rep.printf("   drimefs during (d), last run: %s\n", last)

	b.must(m.resetPeak())
	before, err := m.scrape(ctx)
	b.must(err)
	stopPerf := b.startPerf(p.name+"-d-cached", m.pid())
	cached, err := median(cachedReps, func() (time.Duration, error) { return ddRead(ctx, m.path(rel)) })
	stopPerf()
	b.must(err)
	after, err := m.scrape(ctx)
	b.must(err)
	peak, err = m.peak()
	b.must(err)
	local, err := median(cachedReps, func() (time.Duration, error) { return ddRead(ctx, filepath.Join(b.local, rel)) })
	b.must(err)
	l, stopLB := b.mountLoopback()
	defer stopLB()
	r0, w0, err := l.counts(ctx)
	b.must(err)
	lb, err := median(cachedReps, func() (time.Duration, error) { return ddRead(ctx, filepath.Join(l.mnt, rel)) })
	b.must(err)
	r1, w1, err := l.counts(ctx)
	b.must(err)
	b.noteLoopbackUse("dd 1 GiB", r1-r0, w1-w0)
	fuseOps := opDeltas(before, after, "drimefs_fuse_operation_duration_seconds")
	b.rep.timing(p.name, figure{key: "d.cached", what: "(d') read 1 GiB again, cached", drimefs: cached,
		refs: []ref{{"local", local}, {"loopback", lb}}, rss: peak,
		note: fmt.Sprintf("%.0f READ requests reached drimefs in %d runs", countOf(fuseOps, "read"), cachedReps)})
	b.rep.printf("   drimefs during (d'): %s\n", breakdown(before, after))

	sum, err := hashFile(m.path(rel))
	b.must(err)
	if sum != b.srcSum {
		b.t.Fatalf("%s read through drimefs has SHA-256 %s, the source %s", rel, sum, b.srcSum)
	}
	stop()
	stopLB()
	// Give the disk back: the references' copies are not needed any more.
	for _, root := range []string{b.local, b.lbDir} {
		b.must(os.Remove(filepath.Join(root, rel)))
	}
}

// ddRead reads a file sequentially in 1 MiB reads into user space.
func ddRead(ctx context.Context, p string) (time.Duration, error) {
	return timed(ctx, "dd", "if="+p, "of=/dev/null", "bs=1M")
}

// curl downloads entry id from the emulator's download URL into out, the
// way any HTTP client would, with the bearer token read from a header file.
func (b *bench) curl(ctx context.Context, id int64, out string) (time.Duration, error) {
	hdr := filepath.Join(b.dir, "curl-headers")
	if err := os.WriteFile(hdr, []byte("Authorization: Bearer "+b.emu.token+"\n"), 0o600); err != nil {
		return 0, fmt.Errorf("curl header file: %w", err)
	}
	cmd := exec.CommandContext(ctx, "curl", "-sS", "-o", out, "-w", "%{http_code} %{size_download}",
		"-H", "@"+hdr, b.emu.downloadURL(id))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	res, err := cmd.Output()
	d := time.Since(start)
	if err != nil {
		return d, fmt.Errorf("curl: %w: %s", err, stderr.String())
	}
	if got := strings.TrimSpace(string(res)); got != fmt.Sprintf("200 %d", int64(gib)) {
		return d, fmt.Errorf("curl of entry %d: status and size %q, want 200 %d", id, got, int64(gib))
	}
	return d, nil
}
