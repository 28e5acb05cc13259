package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
)

// Write workloads: (a) cp of 1 GiB, (b) tar x of 1,168 small files, (e)
// peak RSS while writing and uploading 1 GiB (measured during (a)) and
// 4 GiB. All run on one drimefs mount with a fresh cache dir.

// runWrites runs (a), (b) and (e) under profile p.
func (b *bench) runWrites(p profile) {
	m, stop := b.mountDrimefs(p.name + "-write")
	defer stop()
	lb, stopLB := b.mountLoopback()
	defer stopLB()
	for _, sub := range []string{"a", "b", "e"} {
		rel := filepath.Join(p.name, sub)
		for _, root := range []string{b.local, lb.mnt, m.mnt} {
			b.must(os.MkdirAll(filepath.Join(root, rel), 0o755))
		}
	}
	b.rep.printf("drimefs passthrough: %v (mount log); loopback: kernel CAP_PASSTHROUGH %v\n", m.passthrough, lb.passthrough)
	b.cpBig(p, m, lb)
	b.tarSmall(p, m, lb)
	if p.big4 {
		b.write4G(p, m)
	} else {
		b.rep.printf("%-8s | (e) 4 GiB: run in the loopback profile only (the RSS goal is a loopback-profile goal; saves ~1 min)\n", p.name)
	}
}

// cpBig is workload (a): cp of the 1 GiB file, until cp returns and until
// it is durable (local: cp + sync; drimefs: cp + drimefs sync).
func (b *bench) cpBig(p profile, m *drimefs, lb *loopback) {
	ctx := b.ctx
	rel := filepath.Join(p.name, "a", "big.bin")
	b.must(syncAll(ctx))
	localCp, err := timed(ctx, "cp", b.src, filepath.Join(b.local, rel))
	b.must(err)
	localSync, err := timed(ctx, "sync")
	b.must(err)

	r0, w0, err := lb.counts(ctx)
	b.must(err)
	lbCp, err := timed(ctx, "cp", b.src, filepath.Join(lb.mnt, rel))
	b.must(err)
	r1, w1, err := lb.counts(ctx)
	b.must(err)
	lbSync, err := timed(ctx, "sync")
	b.must(err)
	b.noteLoopbackUse("cp 1 GiB", r1-r0, w1-w0)

	b.must(m.resetPeak())
	dCp, err := timed(ctx, "cp", b.src, m.path(rel))
	b.must(err)
	dSync, err := m.sync(ctx)
	b.must(err)
	peak, err := m.peak()
	b.must(err)
	b.rep.time(p.name, figure{key: "a.cp", what: "(a) cp 1 GiB, until cp returns", drimefs: dCp,
		refs: []ref{{"local", localCp}, {"loopback", lbCp}}, rss: peak})
	b.rep.time(p.name, figure{key: "a.durable", what: "(a) cp 1 GiB, until durable (+ sync)", drimefs: dCp + dSync,
		refs: []ref{{"local", localCp + localSync}, {"loopback", lbCp + lbSync}}, rss: peak,
		note: fmt.Sprintf("drimefs sync %.2f s; %.0f MB/s end to end", dSync.Seconds(), gib/1e6/(dCp+dSync).Seconds())})
	b.rep.memory(p.name, "e.1g", "(e) peak RSS, cp 1 GiB + upload", peak, "")
	b.must(b.withoutFaults(p, func() error {
		e, err := b.emu.lookup(ctx, filepath.ToSlash(rel))
		if err == nil && e.Size != gib {
			err = fmt.Errorf("%s is %d bytes in the emulator, want %d", rel, e.Size, gib)
		}
		return err
	}))
}

// tarSmall is workload (b): tar x of 1,168 small files, until tar returns
// and until durable.
func (b *bench) tarSmall(p profile, m *drimefs, lb *loopback) {
	ctx := b.ctx
	rel := filepath.Join(p.name, "b")
	b.must(syncAll(ctx))
	localTar, err := timed(ctx, "tar", "xf", b.small.tar, "-C", filepath.Join(b.local, rel))
	b.must(err)
	localSync, err := timed(ctx, "sync")
	b.must(err)
	lbTar, err := timed(ctx, "tar", "xf", b.small.tar, "-C", filepath.Join(lb.mnt, rel))
	b.must(err)
	lbSync, err := timed(ctx, "sync")
	b.must(err)

	b.must(m.resetPeak())
	dTar, err := timed(ctx, "tar", "xf", b.small.tar, "-C", m.path(rel))
	b.must(err)
	dSync, err := m.sync(ctx)
	b.must(err)
	peak, err := m.peak()
	b.must(err)
	b.rep.time(p.name, figure{key: "b.tar", what: fmt.Sprintf("(b) tar x %d files, until tar returns", b.small.files),
		drimefs: dTar, refs: []ref{{"local", localTar}, {"loopback", lbTar}}, rss: peak})
	b.rep.time(p.name, figure{key: "b.durable", what: fmt.Sprintf("(b) tar x %d files, until durable", b.small.files),
		drimefs: dTar + dSync, refs: []ref{{"local", localTar + localSync}, {"loopback", lbTar + lbSync}}, rss: peak,
		note: fmt.Sprintf("drimefs sync %.2f s", dSync.Seconds())})
	b.must(b.withoutFaults(p, func() error {
		n, err := b.emu.countFiles(ctx, filepath.ToSlash(filepath.Join(rel, b.small.top)))
		if err == nil && n != b.small.files {
			err = fmt.Errorf("the emulator holds %d of the %d extracted files", n, b.small.files)
		}
		return err
	}))
}

// write4G is the 4 GiB half of workload (e): pseudo-random data written
// through the mount in 1 MiB writes, then drimefs sync; the mount's peak
// RSS over both. The file is removed afterwards to give the disk back.
func (b *bench) write4G(p profile, m *drimefs) {
	const size = 4 * gib
	free, err := freeBytes(b.dir)
	b.must(err)
	if need := int64(2*size + 2*gib); free < need {
		b.rep.printf("%-8s | (e) 4 GiB skipped: %.1f GiB free, %.1f GiB needed (spool + emulator)\n",
			p.name, float64(free)/gib, float64(need)/gib)
		return
	}
	ctx := b.ctx
	b.must(syncAll(ctx))
	rel := filepath.Join(p.name, "e", "big4.bin")
	b.must(m.resetPeak())
	dWrite, err := timedFunc(func() error { return writeFile(ctx, m.path(rel), 4, size) })
	b.must(err)
	dSync, err := m.sync(ctx)
	b.must(err)
	peak, err := m.peak()
	b.must(err)
	b.rep.time(p.name, figure{key: "e.4g", what: "(e) write 4 GiB + upload, until durable", drimefs: dWrite + dSync, rss: peak,
		note: fmt.Sprintf("write %.2f s (%.0f MB/s), drimefs sync %.2f s", dWrite.Seconds(), size/1e6/dWrite.Seconds(), dSync.Seconds())})
	b.rep.memory(p.name, "e.4g", "(e) peak RSS, write 4 GiB + upload", peak, "")
	b.must(os.Remove(m.path(rel)))
	_, err = m.sync(ctx)
	b.must(err)
}

// writeFile writes size pseudo-random bytes to p in 1 MiB writes.
func writeFile(ctx context.Context, p string, seed uint64, size int64) error {
	f, err := os.Create(p)
	if err != nil {
		return fmt.Errorf("create %s: %w", p, err)
	}
	err = writeRandom(ctxWriter{ctx, f}, seed, size, nil)
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("close %s: %w", p, cerr)
	}
	return err
}

// ctxWriter stops a long write when the run's context ends.
type ctxWriter struct {
	ctx context.Context
	f   *os.File
}

func (w ctxWriter) Write(b []byte) (int, error) {
	if err := w.ctx.Err(); err != nil {
		return 0, err
	}
	return w.f.Write(b)
}

// noteLoopbackUse prints whether the loopback reference's data went through
// the kernel (passthrough) or through its server.
func (b *bench) noteLoopbackUse(what string, reads, writes int64) {
	used := b.lbSeen.passthrough && reads == 0 && writes == 0
	b.lbSeen.used = used
	b.rep.printf("   loopback reference, %s: %d READ and %d WRITE requests reached its server → passthrough %s\n",
		what, reads, writes, map[bool]string{true: "in use", false: "NOT in use"}[used])
}
