package bench

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"
)

// The report: one line per figure as it is measured, and the goals table
// of issue 6 with PASS/MISS at the end.

// ref is a reference's time for the same workload.
type ref struct {
	name string
	d    time.Duration
}

// figure is one timed workload on drimefs and its references.
type figure struct {
	key     string // e.g. "a.cp"; goals find figures by profile and key
	what    string
	drimefs time.Duration
	refs    []ref
	rss     int64 // peak RSS of the mount during the workload; 0 = not measured
	note    string
}

// ratio is drimefs's time over the named reference's (0 if absent).
func (f figure) ratio(name string) float64 {
	for _, r := range f.refs {
		if r.name == name && r.d > 0 {
			return f.drimefs.Seconds() / r.d.Seconds()
		}
	}
	return 0
}

type report struct {
	out  io.Writer
	mu   sync.Mutex
	figs map[string]figure // profile/key
	mem  map[string]int64  // profile/key → bytes
}

func newReport(out io.Writer) *report {
	return &report{out: out, figs: map[string]figure{}, mem: map[string]int64{}}
}

func (r *report) printf(format string, a ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	fmt.Fprintf(r.out, format, a...)
}

// timing records and prints a timed figure.
func (r *report) timing(profile string, f figure) {
	var b strings.Builder
	fmt.Fprintf(&b, "%-8s | %-44s | drimefs %8.3f s", profile, f.what, f.drimefs.Seconds())
	for _, x := range f.refs {
		fmt.Fprintf(&b, " | %s %8.3f s %6.2f×", x.name, x.d.Seconds(), f.drimefs.Seconds()/x.d.Seconds())
	}
	if f.rss > 0 {
		fmt.Fprintf(&b, " | mount peak RSS %s", mib(f.rss))
	}
	if f.note != "" {
		fmt.Fprintf(&b, " | %s", f.note)
	}
	r.mu.Lock()
	r.figs[profile+"/"+f.key] = f
	r.mu.Unlock()
	r.printf("%s\n", b.String())
}

// memory records and prints a peak-RSS figure.
func (r *report) memory(profile, key, what string, bytes int64, note string) {
	r.mu.Lock()
	r.mem[profile+"/"+key] = bytes
	r.mu.Unlock()
	line := fmt.Sprintf("%-8s | %-44s | drimefs %s (VmHWM of the mount process)", profile, what, mib(bytes))
	if note != "" {
		line += " | " + note
	}
	r.printf("%s\n", line)
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

// goal is one row of issue 6's goals table.
type goal struct {
	label string
	limit string
	eval  func(r *report) (shown string, pass, ok bool)
}

func ratioGoal(profile, key, refName string, max float64, label string) goal {
	return goal{label: label, limit: fmt.Sprintf("≤ %.1f× %s", max, refName), eval: func(r *report) (string, bool, bool) {
		f, ok := r.figs[profile+"/"+key]
		x := f.ratio(refName)
		if !ok || x == 0 {
			return "not measured", false, false
		}
		return fmt.Sprintf("%.2f× (%.2f s vs %.2f s)", x, f.drimefs.Seconds(), f.drimefs.Seconds()/x), x <= max, true
	}}
}

func secondsGoal(profile, key string, max time.Duration, label string) goal {
	return goal{label: label, limit: fmt.Sprintf("≤ %v", max), eval: func(r *report) (string, bool, bool) {
		f, ok := r.figs[profile+"/"+key]
		if !ok {
			return "not measured", false, false
		}
		return fmt.Sprintf("%.2f s", f.drimefs.Seconds()), f.drimefs <= max, true
	}}
}

func rssGoal(profile, key string, max int64, label string) goal {
	return goal{label: label, limit: "≤ " + mib(max), eval: func(r *report) (string, bool, bool) {
		b, ok := r.mem[profile+"/"+key]
		if !ok {
			return "not measured", false, false
		}
		return mib(b), b <= max, true
	}}
}

func throughputGoal(profile, key string, bytes int64, minMBps float64, label string) goal {
	return goal{label: label, limit: fmt.Sprintf("≥ %.0f MB/s", minMBps), eval: func(r *report) (string, bool, bool) {
		f, ok := r.figs[profile+"/"+key]
		if !ok || f.drimefs <= 0 {
			return "not measured", false, false
		}
		mbps := float64(bytes) / 1e6 / f.drimefs.Seconds()
		return fmt.Sprintf("%.0f MB/s (%.2f s)", mbps, f.drimefs.Seconds()), mbps >= minMBps, true
	}}
}

// goals is the table of issue 6 (loopback profile) plus the wan goals.
func goals() []goal {
	return []goal{
		ratioGoal("loopback", "a.cp", "loopback", 1.2, "(a) cp 1 GiB returns"),
		ratioGoal("loopback", "a.durable", "local", 4, "(a) 1 GiB durable in the emulator"),
		ratioGoal("loopback", "b.tar", "loopback", 1.5, "(b) tar x returns"),
		secondsGoal("loopback", "b.durable", 3*time.Second, "(b) all 1,168 files durable"),
		secondsGoal("loopback", "c.ls", 2*time.Second, "(c) ls -lR of 11,000 entries, cold"),
		ratioGoal("loopback", "d.cold", "curl", 1.5, "(d) 1 GiB sequential read, cold"),
		ratioGoal("loopback", "d.cached", "loopback", 1.2, "(d') the same read again, cached"),
		rssGoal("loopback", "e.1g", 100<<20, "(e) peak RSS, 1 GiB written and uploaded"),
		rssGoal("loopback", "e.4g", 100<<20, "(e) peak RSS, 4 GiB written and uploaded"),
		secondsGoal("wan", "b.durable", 15*time.Second, "wan: 1,168 small files durable"),
		throughputGoal("wan", "a.durable", 1<<30, 150, "wan: 1 GiB durable"),
	}
}

// printGoals prints the goals table and returns the number of misses.
func (r *report) printGoals() int {
	misses := 0
	r.printf("\nGoals of issue 6 (loopback profile unless marked wan; ratios from the same run)\n")
	r.printf("%-44s | %-32s | %-18s | %s\n", "goal", "figure", "limit", "result")
	r.printf("%s\n", strings.Repeat("-", 108))
	for _, g := range goals() {
		shown, pass, ok := g.eval(r)
		res := "PASS"
		switch {
		case !ok:
			res = "MISS (not measured)"
			misses++
		case !pass:
			res = "MISS"
			misses++
		}
		r.printf("%-44s | %-32s | %-18s | %s\n", g.label, shown, g.limit, res)
	}
	return misses
}

// samples collects the runs of one workload per contender.
type samples map[string][]time.Duration

func (s samples) add(name string, d time.Duration) { s[name] = append(s[name], d) }

// median of a contender's runs.
func (s samples) median(name string) time.Duration {
	ds := slices.Clone(s[name])
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	return ds[len(ds)/2]
}

// spread describes a contender's runs: "2.31–3.05 s over 3 runs".
func (s samples) spread(name string) string {
	ds := s[name]
	if len(ds) < 2 {
		return ""
	}
	return fmt.Sprintf("%s runs %.2f–%.2f s", name, slices.Min(ds).Seconds(), slices.Max(ds).Seconds())
}

// refs are the medians of the named references.
func (s samples) refs(names ...string) []ref {
	var out []ref
	for _, n := range names {
		out = append(out, ref{n, s.median(n)})
	}
	return out
}
