package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Running and timing commands, and the plumbing around mounts.

// timed runs a command with stdout discarded and returns its wall time.
func timed(ctx context.Context, name string, args ...string) (time.Duration, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	err := cmd.Run()
	d := time.Since(start)
	if err != nil {
		return d, fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, lastLines(stderr.String(), 5))
	}
	return d, nil
}

// timedFunc times fn.
func timedFunc(fn func() error) (time.Duration, error) {
	start := time.Now()
	err := fn()
	return time.Since(start), err
}

// median runs fn n times and returns the median duration.
func median(n int, fn func() (time.Duration, error)) (time.Duration, error) {
	var ds []time.Duration
	for i := 0; i < n; i++ {
		d, err := fn()
		if err != nil {
			return 0, err
		}
		ds = append(ds, d)
	}
	slices.Sort(ds)
	return ds[len(ds)/2], nil
}

// syncAll flushes all dirty pages (untimed, between workloads, so one
// workload's writeback does not slow the next).
func syncAll(ctx context.Context) error {
	_, err := timed(ctx, "sync")
	return err
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// isMountPoint reports whether p is mounted, from /proc/self/mountinfo.
func isMountPoint(p string) bool {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) > 4 && strings.ReplaceAll(fs[4], `\040`, " ") == p {
			return true
		}
	}
	return false
}

// mountsUnder lists the mount points below dir.
func mountsUnder(dir string) []string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) > 4 {
			if p := strings.ReplaceAll(fs[4], `\040`, " "); strings.HasPrefix(p, dir+"/") {
				out = append(out, p)
			}
		}
	}
	return out
}

// forceUnmount detaches a mount (lazily, so a busy one goes too).
func forceUnmount(dir string) {
	deadline := time.Now().Add(5 * time.Second)
	for isMountPoint(dir) && time.Now().Before(deadline) {
		_ = syscall.Unmount(dir, syscall.MNT_DETACH)
		time.Sleep(20 * time.Millisecond)
	}
}

// waitFor polls cond every 20 ms until it holds, fails, or within passes.
func waitFor(ctx context.Context, within time.Duration, what string, cond func() (bool, error)) error {
	deadline := time.Now().Add(within)
	for {
		ok, err := cond()
		if err != nil {
			return fmt.Errorf("waiting for %s: %w", what, err)
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %v waiting for %s", within, what)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w", what, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// freeBytes is the space available to root on the file system of p.
func freeBytes(p string) (int64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(p, &st); err != nil {
		return 0, fmt.Errorf("statfs %s: %w", p, err)
	}
	return int64(st.Bfree) * st.Bsize, nil
}

// workPrefix names the work directories; the pid says whose they are.
const workPrefix = "drimefs-bench-"

// newWorkDir makes this run's work directory after sweeping the ones left
// by runs that were killed (their process is gone): unmount, then remove.
func newWorkDir() (string, error) {
	base := os.TempDir()
	ents, _ := os.ReadDir(base)
	for _, e := range ents {
		rest, ok := strings.CutPrefix(e.Name(), workPrefix)
		if !ok || !e.IsDir() {
			continue
		}
		pidText, _, _ := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidText)
		if err != nil || processAlive(pid) {
			continue
		}
		removeWorkDir(filepath.Join(base, e.Name()))
	}
	return os.MkdirTemp(base, fmt.Sprintf("%s%d-", workPrefix, os.Getpid()))
}

// killLeftovers kills the processes a killed run left working in dir: a
// mount still draining its queue towards a dead emulator, a loopback
// helper, perf. They are found by dir in their arguments or environment.
func killLeftovers(dir string) {
	procs, _ := filepath.Glob("/proc/[0-9]*")
	for _, p := range procs {
		pid, err := strconv.Atoi(filepath.Base(p))
		if err != nil || pid == os.Getpid() {
			continue
		}
		args, _ := os.ReadFile(filepath.Join(p, "cmdline"))
		env, _ := os.ReadFile(filepath.Join(p, "environ"))
		if bytes.Contains(args, []byte(dir+"/")) || bytes.Contains(env, []byte("="+dir+"/")) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// removeWorkDir unmounts everything below dir and removes it.
func removeWorkDir(dir string) {
	killLeftovers(dir)
	mps := mountsUnder(dir)
	slices.Sort(mps)
	slices.Reverse(mps) // deepest first
	for _, mp := range mps {
		forceUnmount(mp)
	}
	_ = os.RemoveAll(dir)
}

// readProcKB reads a "Key:   N kB" field of /proc/PID/status in bytes.
func readProcKB(pid int, key string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("read status of %d: %w", pid, err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, key+":"); ok {
			f := strings.Fields(v)
			if len(f) == 0 {
				break
			}
			kb, err := strconv.ParseInt(f[0], 10, 64)
			if err != nil {
				return 0, fmt.Errorf("%s of %d: %w", key, pid, err)
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", key, pid)
}

// resetPeakRSS resets VmHWM of a process to its current RSS.
func resetPeakRSS(pid int) error {
	if err := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0); err != nil {
		return fmt.Errorf("reset peak RSS of %d: %w", pid, err)
	}
	return nil
}
