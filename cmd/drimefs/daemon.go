package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"
)

// Start-up reporting. A mount is "ready" once the kernel shows it and the
// control socket answers. Two kinds of waiters want to know:
//
//   - a `drimefs mount --daemon` parent (and so mount(8), which waits for
//     its helper): the parent re-executes itself as a detached child
//     (setsid, stdin /dev/null) with the write end of a pipe as fd 3 and
//     waits for one JSON line on it, {"ready":true} or {"error":"..."}.
//     It prints the error and exits non-zero, or exits 0 once mounted.
//   - systemd with Type=notify: READY=1 over $NOTIFY_SOCKET.
//
// The child logs to --log-file when given, else to the stderr it inherited
// from the parent (the journal under systemd or at boot).

// daemonEnv tells the re-executed child which fd carries the ready pipe.
const daemonEnv = "DRIMEFS_DAEMON_CHILD"

// daemonStartTimeout bounds how long a --daemon parent waits; the token
// check alone gives up after seconds, so this only catches a stuck mount.
const daemonStartTimeout = 2 * time.Minute

// readyMsg is the one line the child writes on the ready pipe.
type readyMsg struct {
	Ready bool   `json:"ready,omitempty"`
	Error string `json:"error,omitempty"`
	Usage bool   `json:"usage,omitempty"` // a usage error: exit 2
}

// isDaemonChild reports whether this process is a --daemon child.
func isDaemonChild() bool { return os.Getenv(daemonEnv) != "" }

// daemonize starts `drimefs mount ARGS` as a detached child and returns
// once it reported the mount ready (nil) or failed (its error).
func daemonize(args []string, logFile string) error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("--daemon: find my own executable: %w", err)
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("--daemon: %w", err)
	}
	defer pr.Close()
	devNull, err := os.Open(os.DevNull)
	if err != nil {
		pw.Close()
		return fmt.Errorf("--daemon: %w", err)
	}
	defer devNull.Close()
	cmd := &exec.Cmd{Path: exe, Args: append([]string{"drimefs", "mount"}, args...),
		Env:   append(os.Environ(), daemonEnv+"=3"),
		Stdin: devNull, Stdout: devNull, Stderr: os.Stderr,
		ExtraFiles: []*os.File{pw}, SysProcAttr: &syscall.SysProcAttr{Setsid: true}}
	if logFile != "" {
		// The child writes its logs there itself; stdout and stderr go
		// there too so that a crash leaves its trace next to the logs.
		lf, err := openLogFile(logFile)
		if err != nil {
			pw.Close()
			return err
		}
		defer lf.Close()
		cmd.Stdout, cmd.Stderr = lf, lf
	}
	if err := cmd.Start(); err != nil {
		pw.Close()
		return fmt.Errorf("--daemon: start the background process: %w", err)
	}
	pw.Close()
	msgs := make(chan readyMsg, 1)
	go func() {
		var msg readyMsg
		line, err := bufio.NewReader(pr).ReadBytes('\n')
		if err == nil {
			err = json.Unmarshal(line, &msg)
		}
		if err != nil {
			msg = readyMsg{} // the child died before saying anything
		}
		msgs <- msg
	}()
	var msg readyMsg
	select {
	case msg = <-msgs:
	case <-time.After(daemonStartTimeout):
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return fmt.Errorf("the mount was not ready after %v; stopped it (see %s)", daemonStartTimeout, logWhere(logFile))
	}
	switch {
	case msg.Ready:
		return cmd.Process.Release()
	case msg.Error != "":
		_ = cmd.Wait()
		if msg.Usage {
			return usageError{msg.Error}
		}
		return errors.New(msg.Error)
	}
	werr := cmd.Wait()
	return fmt.Errorf("the background process exited before the mount was ready (%v); see %s", werr, logWhere(logFile))
}

func logWhere(logFile string) string {
	if logFile == "" {
		return "its log on stderr"
	}
	return "the log in " + logFile
}

// openLogFile opens (creating, 0600) a log file for appending.
func openLogFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("--log-file: %w", err)
	}
	return f, nil
}

// starter reports the end of start-up to a --daemon parent and systemd.
type starter struct {
	pipe *os.File // nil unless this is a --daemon child
	done bool
}

// newStarter picks up the ready pipe of a --daemon child.
func newStarter() *starter {
	s := &starter{}
	if v := os.Getenv(daemonEnv); v != "" {
		os.Unsetenv(daemonEnv)
		if fd, err := strconv.Atoi(v); err == nil && fd > 2 {
			s.pipe = os.NewFile(uintptr(fd), "ready-pipe")
		}
	}
	return s
}

// ready says the mount at mp serves.
func (s *starter) ready(mp string) {
	notifyReady("mounted at " + mp)
	s.send(readyMsg{Ready: true})
}

// fail reports a start-up error to a waiting --daemon parent; after ready
// it does nothing. It reports whether the parent got the error (and so
// prints it).
func (s *starter) fail(err error) bool {
	if err == nil {
		s.send(readyMsg{})
		return false
	}
	var ue usageError
	return s.send(readyMsg{Error: err.Error(), Usage: errors.As(err, &ue)})
}

func (s *starter) send(msg readyMsg) bool {
	if s.done || s.pipe == nil {
		s.done = true
		return false
	}
	s.done = true
	sent := false
	if msg.Ready || msg.Error != "" {
		b, _ := json.Marshal(msg)
		_, err := s.pipe.Write(append(b, '\n'))
		sent = err == nil
	}
	_ = s.pipe.Close()
	return sent
}

// notifyReady tells systemd (Type=notify) that the mount is ready.
func notifyReady(status string) { _ = sdNotify("READY=1\nSTATUS=" + status) }

// notifyStopping tells systemd that the mount is stopping (uploads drain).
func notifyStopping(status string) { _ = sdNotify("STOPPING=1\nSTATUS=" + status) }

// sdNotify sends a state to $NOTIFY_SOCKET (sd_notify(3)) when set.
func sdNotify(state string) error {
	name := os.Getenv("NOTIFY_SOCKET")
	if name == "" {
		return nil
	}
	// A leading @ is an abstract socket; Go's net package maps it.
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("sd_notify: %w", err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(state)); err != nil {
		return fmt.Errorf("sd_notify: %w", err)
	}
	return nil
}
