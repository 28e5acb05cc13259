package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// Optional CPU profiles: with DRIMEFS_BENCH_PERF=DIR every timed drimefs
// workload runs under `perf record -a -g` (all CPUs, so the emulator in
// this test binary, the kernel and anything else running show too; the Go
// binaries keep frame pointers, so call graphs work without any hook in
// the product). DIR receives <profile>-<workload>-<n>.data and a text
// summary (.txt): time by command and object, then the mount process and
// the emulator by symbol. When drimefs has --cpuprofile, each mount also
// writes a Go CPU profile of its whole life to DIR/<mount>.pprof (for
// `go tool pprof`). Off by default: sampling costs CPU on a 2-core machine.

const perfEnv = "DRIMEFS_BENCH_PERF"

// perfDir is where profiles go ("" when profiling is off).
func perfDir() string { return os.Getenv(perfEnv) }

// startPerf starts sampling every CPU and returns the function that stops
// it and writes the summary, with the mount process pid singled out. It is
// a no-op when profiling is off.
func (b *bench) startPerf(name string, pid int) func() {
	dir := perfDir()
	if dir == "" {
		return func() {}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.rep.printf("   perf: %v\n", err)
		return func() {}
	}
	b.keepSelf(dir)
	b.seq++
	out := filepath.Join(dir, fmt.Sprintf("%s-%d.data", name, b.seq))
	cmd := exec.Command("perf", "record", "-F", "999", "-g", "-a", "-o", out)
	logf, err := os.Create(out + ".log")
	if err != nil {
		b.rep.printf("   perf: %v\n", err)
		return func() {}
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGINT}
	if err := cmd.Start(); err != nil {
		logf.Close()
		b.rep.printf("   perf: %v\n", err)
		return func() {}
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); logf.Close(); close(done) }()
	// perf needs a moment to attach before the workload starts.
	_ = waitFor(b.ctx, 5*time.Second, "perf to start", func() (bool, error) {
		st, err := os.Stat(out)
		return err == nil && st.Size() > 0, nil
	})
	return func() {
		_ = cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		b.summarizePerf(out, pid)
	}
}

// summarizePerf writes the flat profiles of a recording next to it.
func (b *bench) summarizePerf(data string, pid int) {
	ctx, cancel := context.WithTimeout(b.ctx, 2*time.Minute)
	defer cancel()
	txt, err := os.Create(data + ".txt")
	if err != nil {
		return
	}
	defer txt.Close()
	self := filepath.Base(os.Args[0])
	for _, filter := range [][]string{
		{"--sort", "comm,dso"},
		{"--sort", "symbol", "--pid", fmt.Sprint(pid)},
		{"--sort", "symbol", "--comm", self[:min(len(self), 15)]},
	} {
		fmt.Fprintf(txt, "\n######## perf report %v\n", filter)
		args := append([]string{"report", "-i", data, "--stdio", "--no-children", "--percent-limit", "0.5", "-g", "none"}, filter...)
		cmd := exec.CommandContext(ctx, "perf", args...)
		cmd.Stdout, cmd.Stderr = txt, txt
		_ = cmd.Run()
	}
	b.rep.printf("   perf profile: %s (summary in .txt)\n", data)
}

// keepSelf copies this test binary (the emulator's code) into dir once:
// go test deletes it after the run, and perf needs it to name the
// emulator's functions (link it back to the path in DIR/binaries).
func (b *bench) keepSelf(dir string) {
	self, err := os.Executable()
	if err != nil {
		return
	}
	kept := filepath.Join(dir, filepath.Base(self))
	if _, err := os.Stat(kept); err == nil {
		return
	}
	data, err := os.ReadFile(self)
	if err == nil {
		err = os.WriteFile(kept, data, 0o755)
	}
	if err == nil {
		note := fmt.Sprintf("%s was %s\n%s was %s\n", filepath.Base(self), self, "drimefs", drimefsBin)
		err = os.WriteFile(filepath.Join(dir, "binaries"), []byte(note), 0o644)
	}
	if err == nil {
		data, err = os.ReadFile(drimefsBin)
		if err == nil {
			err = os.WriteFile(filepath.Join(dir, "drimefs"), data, 0o755)
		}
	}
	if err != nil {
		b.rep.printf("   perf: keeping the binaries: %v\n", err)
	}
}
