package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/drimefs/drimefs/uploader"
)

// statusView draws uploader.Status for people: a header with totals,
// throughput and time left, a progress bar per uploading file, pending
// files (as many as fit) and failed ones with their reasons. It is pure
// text; runStatus decides where it goes and how often.
type statusView struct {
	mountpoint string
	width      int  // terminal columns (80 when unknown)
	height     int  // terminal rows; 0 = no limit
	tty        bool // draw progress bars
	utf8       bool // draw them with block characters
	rate       rateMeter
}

// rateMeter turns successive byte totals into a smoothed rate.
type rateMeter struct {
	at    time.Time
	total int64
	rate  float64 // bytes per second, exponentially smoothed
	ok    bool
}

// update adds a sample and returns the smoothed rate.
func (r *rateMeter) update(total int64, now time.Time) float64 {
	if !r.at.IsZero() {
		if dt := now.Sub(r.at).Seconds(); dt > 0 {
			inst := float64(max(0, total-r.total)) / dt
			if r.ok {
				r.rate = 0.7*r.rate + 0.3*inst
			} else {
				r.rate, r.ok = inst, true
			}
		}
	}
	r.at, r.total = now, total
	return r.rate
}

// progressBytes is what this mount has sent so far: finished files plus
// the done part of running ones.
func progressBytes(st uploader.Status) int64 {
	n := st.UploadedBytes
	for _, f := range st.Uploading {
		n += f.Done
	}
	return n
}

// render writes one frame for st, observed at now.
func (v *statusView) render(w io.Writer, st uploader.Status, now time.Time) {
	var lines []string
	add := func(format string, a ...any) { lines = append(lines, fmt.Sprintf(format, a...)) }
	rate := v.rate.update(progressBytes(st), now)
	if !v.rate.ok { // first look: the running uploads' own averages
		rate = 0
		for _, f := range st.Uploading {
			rate += f.Rate
		}
	}
	queued := len(st.Pending) + len(st.Uploading)
	switch {
	case st.Paused != "":
		add("UPLOADS PAUSED: %s. Nothing is lost: files stay queued in the cache.", st.Paused)
		add("Create a new token in Drime (Account settings → Developers) and remount.")
	case queued == 0 && st.Deletions == 0 && len(st.Failed) == 0 && len(st.FailedDeletions) == 0:
		add("%sall uploaded: nothing pending", v.prefix())
	case queued == 0:
		add("%snothing uploading", v.prefix())
	default:
		eta := ""
		if rate > 0 {
			eta = ", about " + roundDuration(time.Duration(float64(st.PendingBytes)/rate*float64(time.Second))) + " left"
		}
		add("%suploading at %s/s, %s to go%s", v.prefix(), humanBytes(int64(rate)), humanBytes(st.PendingBytes), eta)
	}
	add("uploading %d, pending %d (%s to go), failed %d, deletions pending %d; uploaded this mount: %d files, %s",
		len(st.Uploading), len(st.Pending), humanBytes(st.PendingBytes), len(st.Failed), st.Deletions,
		st.UploadedFiles, humanBytes(st.UploadedBytes))
	for _, f := range st.Uploading {
		pct := int64(100)
		if f.Size > 0 {
			pct = min(100, f.Done*100/f.Size)
		}
		bar := ""
		if v.tty {
			bar = v.bar(pct, v.barWidth()) + " "
		}
		head := fmt.Sprintf("  uploading %s%3d%%  %9s / %-9s %9s/s  ", bar, pct, humanBytes(f.Done), humanBytes(f.Size),
			humanBytes(int64(f.Rate)))
		lines = append(lines, head+v.fit(f.Path, v.width-utf8.RuneCountInString(head)))
	}
	var tail []string
	for _, f := range st.Failed {
		tail = append(tail, fmt.Sprintf("  FAILED    %9s  %s: %s", humanBytes(f.Size), f.Path, f.Reason))
	}
	for _, d := range st.FailedDeletions {
		tail = append(tail, "  FAILED    deletion "+d)
	}
	if len(st.Failed) > 0 || len(st.FailedDeletions) > 0 {
		tail = append(tail, fmt.Sprintf("Failed uploads stay in the local cache; retry with `drimefs sync --retry-failed %s`.", v.mpArg()))
	}
	room := 20
	if v.height > 0 {
		room = max(1, v.height-len(lines)-len(tail)-1)
	}
	for i, f := range st.Pending {
		if i == room-1 && len(st.Pending) > room {
			add("  … and %d more pending", len(st.Pending)-i)
			break
		}
		head := fmt.Sprintf("  pending   %9s  ", humanBytes(f.Size))
		lines = append(lines, head+v.fit(f.Path, v.width-utf8.RuneCountInString(head)))
	}
	lines = append(lines, tail...)
	for _, l := range lines {
		io.WriteString(w, l)
		if v.tty {
			io.WriteString(w, "\033[K") // clear what the last frame left
		}
		io.WriteString(w, "\n")
	}
}

func (v *statusView) prefix() string {
	if v.mountpoint == "" {
		return ""
	}
	return v.mountpoint + ": "
}

func (v *statusView) mpArg() string {
	if v.mountpoint == "" {
		return "MOUNTPOINT"
	}
	return v.mountpoint
}

// barWidth leaves room for the figures and some of the path.
func (v *statusView) barWidth() int { return max(10, min(40, v.width-70)) }

// bar draws a progress bar of width cells for pct percent.
func (v *statusView) bar(pct int64, width int) string {
	if !v.utf8 {
		n := int(pct) * width / 100
		return "[" + strings.Repeat("#", n) + strings.Repeat(".", width-n) + "]"
	}
	// Eighths of a cell make slow uploads visibly move.
	eighths := int(pct) * width * 8 / 100
	full, part := eighths/8, eighths%8
	s := strings.Repeat("█", full)
	if full < width {
		if part > 0 {
			s += string([]rune(" ▏▎▍▌▋▊▉")[part])
		} else {
			s += "░"
		}
		s += strings.Repeat("░", width-full-1)
	}
	return s
}

// fit shortens a path to n columns, keeping its end (the file name).
func (v *statusView) fit(p string, n int) string {
	if n < 8 {
		n = 8
	}
	r := []rune(p)
	if len(r) <= n {
		return p
	}
	return "…" + string(r[len(r)-n+1:])
}

// roundDuration prints a time left the way people say it.
func roundDuration(d time.Duration) string {
	switch {
	case d < time.Minute:
		return d.Round(time.Second).String()
	case d < time.Hour:
		return d.Round(time.Second * 10).String()
	case d < 48*time.Hour:
		return d.Round(time.Minute).String()
	}
	return fmt.Sprintf("%d days", int(d.Hours()/24))
}

// utf8Locale reports whether the terminal's locale is UTF-8.
func utf8Locale() bool {
	for _, k := range []string{"LC_ALL", "LC_CTYPE", "LANG"} {
		if v := os.Getenv(k); v != "" {
			v = strings.ToLower(v)
			return strings.Contains(v, "utf-8") || strings.Contains(v, "utf8")
		}
	}
	return false
}
