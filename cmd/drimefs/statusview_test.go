package main

import (
	"strings"
	"testing"
	"time"

	"github.com/drimefs/drimefs/uploader"
)

func TestStatusViewShowsProgressTotalsAndFailures(t *testing.T) {
	st := uploader.Status{
		Uploading: []uploader.FileStatus{
			{Path: "/photos/2024/a-very-long-folder-name/holiday.mov", Size: 100 << 20, Done: 40 << 20, Rate: 4 << 20},
		},
		Pending:       []uploader.FileStatus{{Path: "/b.txt", Size: 10}, {Path: "/c.txt", Size: 20}},
		Failed:        []uploader.FileStatus{{Path: "/bad.bin", Size: 5, Reason: "413 Payload Too Large"}},
		Deletions:     2,
		PendingBytes:  60<<20 + 30,
		UploadedFiles: 7,
		UploadedBytes: 1 << 30,
	}
	v := &statusView{mountpoint: "/home/a/Drime", width: 100, tty: true, utf8: true}
	var b strings.Builder
	now := time.Now()
	v.render(&b, st, now)
	out := b.String()
	for _, want := range []string{
		"/home/a/Drime: uploading at 4.0 MiB/s, 60.0 MiB to go, about 15s left",
		"uploading 1, pending 2", "failed 1", "deletions pending 2", "uploaded this mount: 7 files, 1.0 GiB",
		" 40%", "40.0 MiB / 100.0 MiB", "holiday.mov", "████████", "░",
		"pending", "/b.txt", "/c.txt",
		"FAILED", "/bad.bin: 413 Payload Too Large", "drimefs sync --retry-failed /home/a/Drime",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("view lacks %q:\n%s", want, out)
		}
	}
	for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		l = strings.TrimSuffix(l, "\033[K")
		if n := len([]rune(l)); n > 100 && strings.HasPrefix(l, "  uploading") {
			t.Errorf("line wider than the terminal (%d): %q", n, l)
		}
	}

	// A second frame a second later: the rate follows the bytes sent.
	st.Uploading[0].Done += 8 << 20
	st.PendingBytes -= 8 << 20
	b.Reset()
	v.render(&b, st, now.Add(time.Second))
	if !strings.Contains(b.String(), "uploading at 8.0 MiB/s") {
		t.Errorf("second frame rate:\n%s", b.String())
	}
}

func TestStatusViewStates(t *testing.T) {
	v := &statusView{width: 80}
	var b strings.Builder
	v.render(&b, uploader.Status{}, time.Now())
	if !strings.HasPrefix(b.String(), "all uploaded: nothing pending\n") {
		t.Errorf("idle:\n%s", b.String())
	}
	b.Reset()
	v.render(&b, uploader.Status{Paused: "Drime rejected the token (401)", Pending: []uploader.FileStatus{{Path: "/x"}}}, time.Now())
	if out := b.String(); !strings.Contains(out, "UPLOADS PAUSED: Drime rejected the token (401)") ||
		!strings.Contains(out, "Create a new token") || strings.Contains(out, "\033") {
		t.Errorf("paused (no terminal, so no escapes):\n%q", out)
	}
}

func TestStatusViewFitsPendingToHeight(t *testing.T) {
	st := uploader.Status{}
	for i := 0; i < 100; i++ {
		st.Pending = append(st.Pending, uploader.FileStatus{Path: "/f", Size: 1})
	}
	v := &statusView{width: 80, height: 12, tty: true}
	var b strings.Builder
	v.render(&b, st, time.Now())
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) > 12 || !strings.Contains(b.String(), "more pending") {
		t.Errorf("%d lines for a 12-row terminal:\n%s", len(lines), b.String())
	}
}

func TestProgressBar(t *testing.T) {
	v := &statusView{}
	if got := v.bar(50, 10); got != "[#####.....]" {
		t.Errorf("ascii bar %q", got)
	}
	v.utf8 = true
	for _, pct := range []int64{0, 1, 37, 99, 100} {
		if got := []rune(v.bar(pct, 20)); len(got) != 20 {
			t.Errorf("utf8 bar at %d%% is %d cells: %q", pct, len(got), string(got))
		}
	}
	if got := v.bar(100, 4); got != "████" {
		t.Errorf("full bar %q", got)
	}
}
