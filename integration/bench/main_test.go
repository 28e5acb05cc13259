// Package bench is `make bench`: the workloads of issue 6 run on a real
// drimefs mount (the real binary as a subprocess, so its peak RSS can be read
// from /proc) against an in-process Drime emulator on a loopback port, and
// the same workloads on two references in the same run: a plain local
// directory and go-fuse's own loopback file system (fs.NewLoopbackRoot, with
// FUSE passthrough when the kernel allows), served by this test binary
// re-executed as a helper process. It prints one line per figure and the
// goals table of the issue with PASS/MISS.
//
// It runs only with DRIMEFS_BENCH=1 (and as root, for passthrough and
// clear_refs), so `make test` stays fast:
//
//	DRIMEFS_BENCH=1 go test -count=1 -timeout 30m -run TestBench -v ./integration/bench/
//
// Nothing here is durable: every file lives under one work directory named
// drimefs-bench-<pid>-* in $TMPDIR, removed at the end (mounts first), and
// left-overs of a run that was killed are swept at the start of the next.
// There is no non-test code and no shared state between tests.
package bench

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// enabled says whether the benchmark suite runs (it is skipped otherwise).
func enabled() bool { return os.Getenv("DRIMEFS_BENCH") == "1" }

// drimefsBin is the drimefs binary built for this run ("" when not enabled).
var drimefsBin string

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == helperLoopback {
		os.Exit(serveLoopbackHelper())
	}
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if !enabled() {
		return m.Run()
	}
	dir, err := os.MkdirTemp("", fmt.Sprintf("%s%d-bin-", workPrefix, os.Getpid()))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	drimefsBin = filepath.Join(dir, "drimefs")
	_, self, _, _ := runtime.Caller(0)
	root := filepath.Dir(filepath.Dir(filepath.Dir(self)))
	build := exec.Command("go", "build", "-o", drimefsBin, "./cmd/drimefs")
	build.Dir = root
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "building drimefs: %v\n", err)
		return 1
	}
	return m.Run()
}

// requireBench skips unless the suite is enabled and can mount with
// passthrough and reset peak RSS (root).
func requireBench(t *testing.T) {
	t.Helper()
	if !enabled() {
		t.Skip("set DRIMEFS_BENCH=1 to run the benchmark suite (make bench)")
	}
	if _, err := os.Stat("/dev/fuse"); err != nil {
		t.Fatalf("/dev/fuse is missing: %v", err)
	}
	if os.Geteuid() != 0 {
		t.Fatal("make bench must run as root (FUSE passthrough, /proc/PID/clear_refs)")
	}
	for _, tool := range []string{"cp", "tar", "ls", "find", "dd", "curl", "sync"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is needed: %v", tool, err)
		}
	}
}
