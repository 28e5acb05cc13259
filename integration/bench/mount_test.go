package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// drimefs is a running `drimefs mount` subprocess of the real binary.
type drimefs struct {
	mnt, cache, log string
	cmd             *exec.Cmd
	done            chan struct{}
	err             error
	passthrough     bool
	metrics         string // address of the mount's /metrics; "" if none
}

// mountDrimefs mounts the emulator at mnt (created) with a new, empty
// cache dir and waits until the mount is there.
func mountDrimefs(ctx context.Context, e *emu, dir, name string) (*drimefs, error) {
	m := &drimefs{mnt: filepath.Join(dir, name+"-mnt"), cache: filepath.Join(dir, name+"-cache"),
		log: filepath.Join(dir, name+"-mount.log"), done: make(chan struct{})}
	if err := os.Mkdir(m.mnt, 0o755); err != nil {
		return nil, fmt.Errorf("mount point: %w", err)
	}
	logf, err := os.Create(m.log)
	if err != nil {
		return nil, fmt.Errorf("mount log: %w", err)
	}
	defer logf.Close()
	args := []string{"mount", "--api-url", e.apiURL(), "--cache-dir", m.cache,
		"--log-format", "json", "--log-level", "info", "--metrics-addr", "127.0.0.1:0"}
	if dir := perfDir(); dir != "" && hasCPUProfileFlag() {
		// A Go CPU profile of the mount's whole life, written at unmount.
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("profile dir: %w", err)
		}
		args = append(args, "--cpuprofile", filepath.Join(dir, name+".pprof"))
	}
	m.cmd = exec.Command(drimefsBin, append(args, m.mnt)...)
	m.cmd.Env = append(os.Environ(), "DRIME_TOKEN="+e.token)
	m.cmd.Stdout, m.cmd.Stderr = logf, logf
	// If the test binary dies, the mount unmounts and drains by itself.
	m.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := m.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start drimefs: %w", err)
	}
	go func() { m.err = m.cmd.Wait(); close(m.done) }()
	err = waitFor(ctx, 30*time.Second, "drimefs to mount "+m.mnt, func() (bool, error) {
		select {
		case <-m.done:
			return false, fmt.Errorf("drimefs exited (%v):\n%s", m.err, m.logTail(20))
		default:
		}
		return isMountPoint(m.mnt), nil
	})
	if err != nil {
		m.stop(ctx)
		return nil, err
	}
	// The mount point appears a moment before drimefs logs "mounted".
	err = waitFor(ctx, 10*time.Second, "drimefs to log that it mounted", func() (bool, error) {
		return m.readStartLog(), nil
	})
	if err != nil {
		m.stop(ctx)
		return nil, err
	}
	return m, nil
}

func (m *drimefs) pid() int { return m.cmd.Process.Pid }

// path is a path inside the mount.
func (m *drimefs) path(rel string) string { return filepath.Join(m.mnt, rel) }

// hasCPUProfileFlag reports whether this drimefs has --cpuprofile.
var hasCPUProfileFlag = sync.OnceValue(func() bool {
	out, _ := exec.Command(drimefsBin, "mount", "--help").CombinedOutput()
	return strings.Contains(string(out), "-cpuprofile")
})

// readStartLog finds, in the start-up log, whether passthrough is on and
// where metrics are served; it reports whether the "mounted" line is there.
func (m *drimefs) readStartLog() bool {
	f, err := os.Open(m.log)
	if err != nil {
		return false
	}
	defer f.Close()
	mounted := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var l struct {
			Message     string `json:"message"`
			Passthrough bool   `json:"passthrough"`
			Addr        string `json:"addr"`
		}
		if json.Unmarshal(sc.Bytes(), &l) != nil {
			continue
		}
		switch {
		case l.Message == "mounted":
			m.passthrough, mounted = l.Passthrough, true
		case strings.Contains(l.Message, "metrics") && l.Addr != "":
			m.metrics = l.Addr
		}
	}
	return mounted
}

func (m *drimefs) logTail(n int) string {
	b, _ := os.ReadFile(m.log)
	return lastLines(string(b), n)
}

// sync runs `drimefs sync` on the mount and returns how long it took.
func (m *drimefs) sync(ctx context.Context) (time.Duration, error) {
	d, err := timed(ctx, drimefsBin, "sync", "--timeout", "10m", m.mnt)
	if err != nil {
		return d, fmt.Errorf("%w\nmount log:\n%s", err, m.logTail(20))
	}
	return d, nil
}

// resetPeak resets the mount process's peak RSS; peak reads it.
func (m *drimefs) resetPeak() error     { return resetPeakRSS(m.pid()) }
func (m *drimefs) peak() (int64, error) { return readProcKB(m.pid(), "VmHWM") }
func (m *drimefs) exited() bool         { return isDone(m.done) }
func (m *drimefs) rss() (int64, error)  { return readProcKB(m.pid(), "VmRSS") }
func isDone(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// stop unmounts with SIGTERM (drimefs then drains its queue, which is empty
// after a sync), escalating to a second signal and then SIGKILL.
func (m *drimefs) stop(ctx context.Context) {
	steps := []struct {
		sig  syscall.Signal
		wait time.Duration
	}{{syscall.SIGTERM, 2 * time.Minute}, {syscall.SIGINT, 10 * time.Second}, {syscall.SIGKILL, 10 * time.Second}}
	for _, s := range steps {
		if m.exited() {
			break
		}
		_ = m.cmd.Process.Signal(s.sig)
		select {
		case <-m.done:
		case <-time.After(s.wait):
		case <-ctx.Done():
		}
	}
	forceUnmount(m.mnt)
}

// errorLines returns the mount log's error and warning lines (a healthy
// benchmark run has none).
func (m *drimefs) errorLines() []string {
	b, _ := os.ReadFile(m.log)
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		if strings.Contains(line, `"level":"error"`) || strings.Contains(line, `"level":"warn"`) {
			out = append(out, line)
		}
	}
	return out
}
