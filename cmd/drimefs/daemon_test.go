package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestSdNotifySendsReady(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	t.Setenv("NOTIFY_SOCKET", sock)
	notifyReady("mounted at /m")
	buf := make([]byte, 256)
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := conn.Read(buf)
	if err != nil || string(buf[:n]) != "READY=1\nSTATUS=mounted at /m" {
		t.Fatalf("got %q, %v", buf[:n], err)
	}
	t.Setenv("NOTIFY_SOCKET", "")
	if err := sdNotify("READY=1"); err != nil {
		t.Errorf("without NOTIFY_SOCKET: %v", err)
	}
}

func TestStarterReportsOnce(t *testing.T) {
	for _, tt := range []struct {
		name string
		do   func(*starter)
		want readyMsg
	}{
		{"ready", func(s *starter) { s.ready("/m"); s.fail(errors.New("later")) }, readyMsg{Ready: true}},
		{"error", func(s *starter) { s.fail(errors.New("Drime rejected the token")) }, readyMsg{Error: "Drime rejected the token"}},
		{"usage", func(s *starter) { s.fail(usageError{"bad --umask"}) }, readyMsg{Error: "bad --umask", Usage: true}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			pr, pw, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			defer pr.Close()
			tt.do(&starter{pipe: pw})
			line, err := bufio.NewReader(pr).ReadBytes('\n')
			if err != nil {
				t.Fatal(err)
			}
			var got readyMsg
			if err := json.Unmarshal(line, &got); err != nil || got != tt.want {
				t.Fatalf("got %s (%v), want %+v", line, err, tt.want)
			}
		})
	}
}
