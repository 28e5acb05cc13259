package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// binary is the drimefs binary built for this test run.
var binary string

// fuseProblem says why FUSE mounts cannot run here ("" when they can).
var fuseProblem string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "drimefs-it-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	binary = filepath.Join(dir, "drimefs")
	_, self, _, _ := runtime.Caller(0)
	root := filepath.Dir(filepath.Dir(self))
	build := exec.Command("go", "build", "-o", binary, "./cmd/drimefs")
	build.Dir = root
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "building drimefs: %v\n", err)
		return 1
	}
	fuseProblem = checkFuse()
	if fuseProblem != "" && os.Getenv("DRIMEFS_REQUIRE_FUSE") == "1" {
		fmt.Fprintf(os.Stderr, "DRIMEFS_REQUIRE_FUSE=1 but FUSE cannot be used: %s\n", fuseProblem)
		return 1
	}
	return m.Run()
}

func checkFuse() string {
	if _, err := os.Stat("/dev/fuse"); err != nil {
		return "/dev/fuse is missing"
	}
	if os.Geteuid() != 0 {
		if _, err := exec.LookPath("fusermount3"); err != nil {
			return "not root and fusermount3 is not installed (apt install fuse3)"
		}
	}
	return ""
}

// requireFuse skips a test that needs a mount when FUSE is unavailable
// (TestMain already failed the run if DRIMEFS_REQUIRE_FUSE=1).
func requireFuse(t *testing.T) {
	t.Helper()
	if fuseProblem != "" {
		t.Skipf("FUSE unavailable: %s", fuseProblem)
	}
}
