package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// profile is one set of network conditions the workloads run under.
type profile struct {
	name   string
	faults string // emulator fault SPEC
	big4   bool   // also write and upload the 4 GiB file of workload (e)
}

var profiles = []profile{
	{name: "loopback", big4: true},
	{name: "wan", faults: "any:latency=30ms:1"},
}

// bench is one run of the suite: the emulator, the data sets, the local
// folders the references work in, and the report.
type bench struct {
	t      *testing.T
	ctx    context.Context
	dir    string
	emu    *emu
	rep    *report
	src    string // the 1 GiB random file
	srcSum string
	small  smallFiles
	tree   tree
	local  string // local reference folder
	lbDir  string // backing folder of the loopback reference
	seq    int    // numbers mount points
	// passthrough checks: drimefs mounts that had it on, loopback
	// workloads whose data never reached the helper's server
	ptSeen struct{ drimefs, drimefsOn, loopback, loopbackOn int }
	lbPT   bool // the loopback helper's kernel offers CAP_PASSTHROUGH
}

const gib = 1 << 30

func TestBench(t *testing.T) {
	requireBench(t)
	start := time.Now()
	// Ctrl-C or the deadline ends the run through the usual failure path,
	// so the cleanups unmount and remove everything.
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Minute)
	defer cancel()
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	b := setup(ctx, t)
	for _, p := range profiles {
		b.runProfile(p)
	}
	misses := b.rep.printGoals()
	pt := b.ptSeen
	b.rep.printf("\npassthrough: on in %d of %d drimefs mounts; the loopback reference's data bypassed its server in %d of %d checks\n",
		pt.drimefsOn, pt.drimefs, pt.loopbackOn, pt.loopback)
	b.rep.printf("%d of %d goals missed; whole run %.0f s (setup and seeding included; load average %s)\n",
		misses, len(goals()), time.Since(start).Seconds(), loadAvg())
}

// must stops the run on an error (cleanups unmount and remove everything).
func (b *bench) must(err error) {
	b.t.Helper()
	if err != nil {
		b.t.Fatal(err)
	}
}

func setup(ctx context.Context, t *testing.T) *bench {
	b := &bench{t: t, ctx: ctx, rep: newReport(os.Stdout)}
	dir, err := newWorkDir()
	b.must(err)
	b.dir = dir
	t.Cleanup(func() { removeWorkDir(dir) })
	free, err := freeBytes(dir)
	b.must(err)
	if free < 8*gib {
		t.Fatalf("%s has %.1f GiB free; the 1 GiB workloads need 8 GiB", dir, float64(free)/gib)
	}
	b.emu, err = startEmu(filepath.Join(dir, "emulator"))
	b.must(err)
	t.Cleanup(b.emu.close)
	b.local, b.lbDir = filepath.Join(dir, "local"), filepath.Join(dir, "lb")
	for _, d := range []string{b.local, b.lbDir, filepath.Join(dir, "src")} {
		b.must(os.MkdirAll(d, 0o755))
	}

	b.printHeader()
	prep := time.Now()
	b.src = filepath.Join(dir, "src", "big.bin")
	b.srcSum, err = writeRandomFile(b.src, 1, gib)
	b.must(err)
	b.small, err = goCryptoTar(filepath.Join(dir, "src"))
	b.must(err)
	b.tree = newTree("tree")
	b.must(b.tree.writeLocal(b.local))
	b.must(b.tree.writeLocal(b.lbDir))
	b.rep.printf("data: 1 GiB random file; tar of %d files, %.1f MB (%s); tree of %d entries (%d folders, one with %d files) — made in %.1f s\n",
		b.small.files, float64(b.small.bytes)/1e6, b.small.note, b.tree.entries(), len(b.tree.dirs)-1, bigFolder, time.Since(prep).Seconds())
	seed := time.Now()
	b.must(b.emu.seedTree(ctx, b.tree, 8))
	b.rep.printf("seeded the emulator with the tree through the API in %.1f s\n", time.Since(seed).Seconds())
	return b
}

func (b *bench) printHeader() {
	kernel, _ := exec.Command("uname", "-r").Output()
	b.rep.printf("drimefs bench: %d CPUs, Linux %s, %s, load average %s, work dir %s\n", runtime.NumCPU(),
		strings.TrimSpace(string(kernel)), runtime.Version(), loadAvg(), b.dir)
	b.rep.printf("references: local = a plain folder on the same disk; loopback = go-fuse %s fs.NewLoopbackRoot over a local folder\n", goFuseVersion())
	b.rep.printf("times are wall seconds of the command: medians of %d runs for (a) and (b), of %d for (c), (d) and curl, of %d for (d'); ratios are drimefs ÷ reference\n\n", rounds, reps, cachedReps)
}

// loadAvg is the 1-, 5- and 15-minute load average: other work on this
// machine skews the figures, so the report shows it.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

func goFuseVersion() string {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Version}}", "github.com/hanwen/go-fuse/v2").Output()
	if err != nil {
		return "v2"
	}
	return strings.TrimSpace(string(out))
}

// runProfile runs every workload under one profile.
func (b *bench) runProfile(p profile) {
	b.must(b.emu.setFaults(p.faults))
	faults := p.faults
	if faults == "" {
		faults = "none"
	}
	b.rep.printf("== profile %s (emulator faults: %s; load average %s)\n", p.name, faults, loadAvg())
	start := time.Now()
	b.runWrites(p)
	b.runListings(p)
	b.runReads(p)
	b.rep.printf("== profile %s done in %.0f s (load average %s)\n\n", p.name, time.Since(start).Seconds(), loadAvg())
	b.must(b.emu.setFaults(""))
}

// mountDrimefs mounts drimefs with a fresh cache dir; stopped and its cache
// removed by the returned function (and at cleanup, if the run fails).
func (b *bench) mountDrimefs(name string) (*drimefs, func()) {
	b.seq++
	m, err := mountDrimefs(b.ctx, b.emu, b.dir, fmt.Sprintf("%s-%d", name, b.seq))
	b.must(err)
	b.ptSeen.drimefs++
	if m.passthrough {
		b.ptSeen.drimefsOn++
	}
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		m.stop(b.ctx)
		if errs := m.errorLines(); len(errs) > 0 {
			b.rep.printf("   (mount log %s has %d warnings/errors; first: %s)\n", m.log, len(errs), errs[0])
		}
		_ = os.RemoveAll(m.cache)
	}
	b.t.Cleanup(stop)
	return m, stop
}

// mountLoopback mounts the loopback reference over b.lbDir.
func (b *bench) mountLoopback() (*loopback, func()) {
	b.seq++
	mnt := filepath.Join(b.dir, fmt.Sprintf("loopback-%d-mnt", b.seq))
	b.must(os.Mkdir(mnt, 0o755))
	l, err := startLoopback(b.ctx, b.lbDir, mnt)
	b.must(err)
	b.lbPT = l.passthrough
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			l.stop()
		}
	}
	b.t.Cleanup(stop)
	return l, stop
}

// withoutFaults runs fn (checks, look-ups) with the emulator's faults off.
func (b *bench) withoutFaults(p profile, fn func() error) error {
	if err := b.emu.setFaults(""); err != nil {
		return err
	}
	err := fn()
	if ferr := b.emu.setFaults(p.faults); err == nil {
		err = ferr
	}
	return err
}
