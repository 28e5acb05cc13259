package bench

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The mount serves Prometheus metrics (--metrics-addr): FUSE operations by
// op and Drime requests by op, each a histogram whose _count and _sum say
// how many there were and how long they took. A snapshot before and after a
// workload shows where the mount spent its time, and whether the kernel
// sent reads and writes to it at all (with passthrough it should not).

// metricsSnap maps `name{labels}` to a sample value.
type metricsSnap map[string]float64

// scrape reads the mount's /metrics (nil, nil when it serves none).
func (m *drimefs) scrape(ctx context.Context) (metricsSnap, error) {
	if m.metrics == "" {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+m.metrics+"/metrics", nil)
	if err != nil {
		return nil, fmt.Errorf("metrics request: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scrape drimefs metrics: %w", err)
	}
	defer resp.Body.Close()
	snap := metricsSnap{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			snap[line[:i]] = v
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read drimefs metrics: %w", err)
	}
	return snap, nil
}

// opStat is how many operations of one kind ran and their total time.
type opStat struct {
	name       string
	count, sum float64
}

var opLabel = regexp.MustCompile(`op="([^"]*)"`)

// opDeltas sums histogram _count and _sum by the op label between two
// snapshots, largest total time first.
func opDeltas(before, after metricsSnap, histogram string) []opStat {
	by := map[string]*opStat{}
	for k, v := range after {
		var field *float64
		name, labels, _ := strings.Cut(k, "{")
		m := opLabel.FindStringSubmatch(labels)
		if m == nil {
			continue
		}
		s := by[m[1]]
		if s == nil {
			s = &opStat{name: m[1]}
			by[m[1]] = s
		}
		switch name {
		case histogram + "_count":
			field = &s.count
		case histogram + "_sum":
			field = &s.sum
		default:
			continue
		}
		*field += v - before[k]
	}
	var out []opStat
	for _, s := range by {
		if s.count > 0 {
			out = append(out, *s)
		}
	}
	slices.SortFunc(out, func(a, b opStat) int {
		if a.sum != b.sum {
			if a.sum > b.sum {
				return -1
			}
			return 1
		}
		return strings.Compare(a.name, b.name)
	})
	return out
}

// count returns the number of op operations in a delta list.
func countOf(ops []opStat, op string) float64 {
	for _, s := range ops {
		if s.name == op {
			return s.count
		}
	}
	return 0
}

func formatOps(ops []opStat, top int) string {
	if len(ops) == 0 {
		return "none"
	}
	var parts []string
	for i, s := range ops {
		if i == top {
			parts = append(parts, fmt.Sprintf("+%d more", len(ops)-top))
			break
		}
		parts = append(parts, fmt.Sprintf("%s %.0f×%s=%.2fs", s.name, s.count, shortDur(s.sum/s.count), s.sum))
	}
	return strings.Join(parts, ", ")
}

func shortDur(sec float64) string {
	switch {
	case sec < 1e-3:
		return fmt.Sprintf("%.0fµs", sec*1e6)
	case sec < 1:
		return fmt.Sprintf("%.1fms", sec*1e3)
	}
	return fmt.Sprintf("%.2fs", sec)
}

// breakdown describes what the mount did between two snapshots.
func breakdown(before, after metricsSnap) string {
	if before == nil || after == nil {
		return "(no metrics)"
	}
	return fmt.Sprintf("FUSE ops: %s; Drime requests: %s",
		formatOps(opDeltas(before, after, "drimefs_fuse_operation_duration_seconds"), 7),
		formatOps(opDeltas(before, after, "drimefs_drime_request_duration_seconds"), 6))
}
