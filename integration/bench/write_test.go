package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Write workloads: (a) cp of 1 GiB, (b) tar x of 1,168 small files, (e)
// peak RSS while writing and uploading 1 GiB (measured during (a)) and
// 4 GiB. All run on one drimefs mount with a fresh cache dir. (a) and (b)
// run `rounds` times, the contenders taking turns, and report medians:
// on this VM the first touch of free memory is slow and irregular, so a
// single run can be off by 2–3×.

const rounds = 3

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
		b.rep.printf("%-8s | (e) 4 GiB: run in the loopback profile only (the RSS goal is a loopback-profile goal)\n", p.name)
	}
}

// bigName is the file of round i of workload (a); (d) reads the last one.
func bigName(p profile, i int) string {
	return filepath.Join(p.name, "a", fmt.Sprintf("big-%d.bin", i))
}

// cpBig is workload (a): cp of the 1 GiB file, until cp returns and until
// it is durable (local: cp + sync; drimefs: cp + drimefs sync).
func (b *bench) cpBig(p profile, m *drimefs, lb *loopback) {
	ctx := b.ctx
	cp, durable := samples{}, samples{}
	var peak int64
	var lbReads, lbWrites int64
	var last string
	for i := 0; i < rounds; i++ {
		rel := bigName(p, i)
		b.must(syncAll(ctx))
		d, err := timed(ctx, "cp", b.src, filepath.Join(b.local, rel))
		b.must(err)
		s, err := timed(ctx, "sync")
		b.must(err)
		cp.add("local", d)
		durable.add("local", d+s)

		r0, w0, err := lb.counts(ctx)
		b.must(err)
		d, err = timed(ctx, "cp", b.src, filepath.Join(lb.mnt, rel))
		b.must(err)
		r1, w1, err := lb.counts(ctx)
		b.must(err)
		lbReads, lbWrites = lbReads+r1-r0, lbWrites+w1-w0
		s, err = timed(ctx, "sync")
		b.must(err)
		cp.add("loopback", d)
		durable.add("loopback", d+s)

		before, err := m.scrape(ctx)
		b.must(err)
		b.must(m.resetPeak())
		stopPerf := b.startPerf(p.name+"-a-cp", m.pid())
		d, err = timed(ctx, "cp", b.src, m.path(rel))
		b.must(err)
		s, err = m.sync(ctx)
		stopPerf()
		b.must(err)
		pk, err := m.peak()
		b.must(err)
		after, err := m.scrape(ctx)
		b.must(err)
		peak = max(peak, pk)
		cp.add("drimefs", d)
		durable.add("drimefs", d+s)
		durable.add("drimefs sync", s)
		last = breakdown(before, after)
		b.must(b.withoutFaults(p, func() error {
			e, err := b.emu.lookup(ctx, filepath.ToSlash(rel))
			if err == nil && e.Size != gib {
				err = fmt.Errorf("%s is %d bytes in the emulator, want %d", rel, e.Size, gib)
			}
			return err
		}))
		// Every contender's copy goes before the next round, so that all
		// three write into recycled page-cache memory alike (the first
		// touch of fresh memory is slow on this VM). (d) reads the last.
		if i < rounds-1 {
			for _, f := range []string{filepath.Join(b.local, rel), filepath.Join(b.lbDir, rel), m.path(rel)} {
				b.must(os.Remove(f))
			}
			_, err := m.sync(ctx) // the deletion reaches Drime before the next round
			b.must(err)
		}
	}
	b.noteLoopbackUse("cp 1 GiB", lbReads, lbWrites)
	dur := durable.median("drimefs")
	b.rep.timing(p.name, figure{key: "a.cp", what: "(a) cp 1 GiB, until cp returns", drimefs: cp.median("drimefs"),
		refs: cp.refs("local", "loopback"), rss: peak, note: cp.spread("drimefs")})
	b.rep.timing(p.name, figure{key: "a.durable", what: "(a) cp 1 GiB, until durable (+ sync)", drimefs: dur,
		refs: durable.refs("local", "loopback"), rss: peak,
		note: fmt.Sprintf("drimefs sync %.2f s; %.0f MB/s end to end; %s", durable.median("drimefs sync").Seconds(),
			gib/1e6/dur.Seconds(), durable.spread("drimefs"))})
	b.rep.printf("   drimefs during (a), last round: %s\n", last)
	b.rep.memory(p.name, "e.1g", "(e) peak RSS, cp 1 GiB + upload", peak, fmt.Sprintf("highest of %d rounds", rounds))
}

// tarSmall is workload (b): tar x of 1,168 small files, until tar returns
// and until durable.
func (b *bench) tarSmall(p profile, m *drimefs, lb *loopback) {
	ctx := b.ctx
	untar, durable := samples{}, samples{}
	var peak int64
	var last string
	for i := 0; i < rounds; i++ {
		rel := filepath.Join(p.name, "b", fmt.Sprintf("round-%d", i))
		for _, root := range []string{b.local, lb.mnt, m.mnt} {
			b.must(os.Mkdir(filepath.Join(root, rel), 0o755))
		}
		b.must(syncAll(ctx))
		for _, c := range []struct{ name, root string }{{"local", b.local}, {"loopback", lb.mnt}} {
			d, err := timed(ctx, "tar", "xf", b.small.tar, "-C", filepath.Join(c.root, rel))
			b.must(err)
			s, err := timed(ctx, "sync")
			b.must(err)
			untar.add(c.name, d)
			durable.add(c.name, d+s)
		}
		before, err := m.scrape(ctx)
		b.must(err)
		b.must(m.resetPeak())
		stopPerf := b.startPerf(p.name+"-b-tar", m.pid())
		d, err := timed(ctx, "tar", "xf", b.small.tar, "-C", m.path(rel))
		b.must(err)
		s, err := m.sync(ctx)
		stopPerf()
		b.must(err)
		pk, err := m.peak()
		b.must(err)
		after, err := m.scrape(ctx)
		b.must(err)
		peak = max(peak, pk)
		untar.add("drimefs", d)
		durable.add("drimefs", d+s)
		durable.add("drimefs sync", s)
		last = breakdown(before, after)
	}
	b.rep.timing(p.name, figure{key: "b.tar", what: fmt.Sprintf("(b) tar x %d files, until tar returns", b.small.files),
		drimefs: untar.median("drimefs"), refs: untar.refs("local", "loopback"), rss: peak, note: untar.spread("drimefs")})
	b.rep.timing(p.name, figure{key: "b.durable", what: fmt.Sprintf("(b) tar x %d files, until durable", b.small.files),
		drimefs: durable.median("drimefs"), refs: durable.refs("local", "loopback"), rss: peak,
		note: fmt.Sprintf("drimefs sync %.2f s; %s", durable.median("drimefs sync").Seconds(), durable.spread("drimefs"))})
	b.rep.printf("   drimefs during (b), last round: %s\n", last)
	b.must(b.withoutFaults(p, func() error {
		for i := 0; i < rounds; i++ {
			top := strings.Join([]string{p.name, "b", fmt.Sprintf("round-%d", i), b.small.top}, "/")
			n, err := b.emu.countFiles(ctx, top)
			if err == nil && n != b.small.files {
				err = fmt.Errorf("the emulator holds %d of the %d files extracted to %s", n, b.small.files, top)
			}
			if err != nil {
				return err
			}
		}
		return nil
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
	before, err := m.scrape(ctx)
	b.must(err)
	b.must(m.resetPeak())
	stopPerf := b.startPerf(p.name+"-e-4g", m.pid())
	dWrite, err := timedFunc(func() error { return writeFile(ctx, m.path(rel), 4, size) })
	b.must(err)
	dSync, err := m.sync(ctx)
	stopPerf()
	b.must(err)
	peak, err := m.peak()
	b.must(err)
	after, err := m.scrape(ctx)
	b.must(err)
	b.rep.timing(p.name, figure{key: "e.4g", what: "(e) write 4 GiB + upload, until durable", drimefs: dWrite + dSync, rss: peak,
		note: fmt.Sprintf("write %.2f s (%.0f MB/s), drimefs sync %.2f s", dWrite.Seconds(), size/1e6/dWrite.Seconds(), dSync.Seconds())})
	b.rep.printf("   drimefs during (e): %s\n", breakdown(before, after))
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
	used := b.lbPT && reads == 0 && writes == 0
	b.ptSeen.loopback++
	if used {
		b.ptSeen.loopbackOn++
	}
	state := "NOT in use"
	if used {
		state = "in use"
	}
	b.rep.printf("   loopback reference, %s: %d READ and %d WRITE requests reached its server → passthrough %s\n",
		what, reads, writes, state)
}
