package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestSystemdUnitsVerify checks contrib/systemd with systemd-analyze
// verify (skipped where systemd is not installed). The units name
// /usr/local/bin/drimefs, which verify wants to exist: the copies checked
// here point at this test's own executable instead.
func TestSystemdUnitsVerify(t *testing.T) {
	tool, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze not installed (apt install systemd)")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []struct {
		src, name string
		user      bool
	}{
		{"../../contrib/systemd/drimefs@.service", "drimefs@mnt-drime.service", false},
		{"../../contrib/systemd/user/drimefs.service", "drimefs.service", true},
	} {
		t.Run(u.name, func(t *testing.T) {
			b, err := os.ReadFile(u.src)
			if err != nil {
				t.Fatal(err)
			}
			text := string(b)
			for _, want := range []string{"Type=notify", "TimeoutStopSec=15min", "KillMode=mixed", "KillSignal=SIGTERM",
				"ExecStart=/usr/local/bin/drimefs mount "} {
				if !strings.Contains(text, want) {
					t.Errorf("%s lacks %q", u.src, want)
				}
			}
			dir := t.TempDir()
			unit := filepath.Join(dir, u.name)
			text = strings.ReplaceAll(text, "/usr/local/bin/drimefs", self)
			if err := os.WriteFile(unit, []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
			args := []string{"verify", "--man=no", unit}
			cmd := exec.Command(tool, args...)
			if u.user {
				run := filepath.Join(dir, "run")
				if err := os.Mkdir(run, 0o700); err != nil {
					t.Fatal(err)
				}
				cmd = exec.Command(tool, append([]string{"--user"}, args...)...)
				cmd.Env = append(os.Environ(), "XDG_RUNTIME_DIR="+run)
			}
			out, err := cmd.CombinedOutput()
			if err != nil || strings.TrimSpace(string(out)) != "" {
				t.Errorf("systemd-analyze %s: %v\n%s", strings.Join(cmd.Args[1:], " "), err, out)
			}
		})
	}
}
