package emulator

import (
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Fault kinds.
const (
	KindStatus   = "status"   // answer an HTTP status without doing the work
	KindDrop     = "drop"     // close the connection without doing the work
	KindLost     = "lost"     // do the work, then close the connection before answering
	KindLatency  = "latency"  // wait, then continue
	KindTruncate = "truncate" // send headers with the full length, half the body, close
	KindHTML     = "html"     // 200 with an HTML body instead of the answer
)

// faultOps are the OP names a SPEC item may use.
var faultOps = []string{"any", "list", "upload", "create", "sign", "put-part", "complete", "entries",
	"download", "folders", "rename", "move", "delete"}

// Fault is one OP:KIND:RATE item of a fault SPEC.
type Fault struct {
	Op      string        // one of faultOps
	Kind    string        // one of the Kind* constants
	Status  int           // KindStatus: the HTTP status
	Latency time.Duration // KindLatency: the delay
	Rate    float64       // probability per matching request, 0..1
}

// String returns the item in SPEC form.
func (f Fault) String() string {
	return f.Op + ":" + f.kindText() + ":" + strconv.FormatFloat(f.Rate, 'g', -1, 64)
}

func (f Fault) kindText() string {
	switch f.Kind {
	case KindStatus:
		return strconv.Itoa(f.Status)
	case KindLatency:
		return "latency=" + f.Latency.String()
	}
	return f.Kind
}

// statsKey is the kind as counted in Stats.FaultsInjected ("latency" without
// its duration).
func (f Fault) statsKey() string {
	if f.Kind == KindLatency {
		return KindLatency
	}
	return f.kindText()
}

// ParseFaults parses a SPEC: comma-separated OP:KIND:RATE items, where KIND
// is an HTTP status (400–599), drop, lost, truncate, html or
// latency=DURATION, and RATE a fraction 0..1. "" is no faults.
func ParseFaults(spec string) ([]Fault, error) {
	var out []Fault
	for _, item := range strings.Split(spec, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		f, err := parseFault(item)
		if err != nil {
			return nil, fmt.Errorf("fault %q: %w", item, err)
		}
		out = append(out, f)
	}
	return out, nil
}

func parseFault(item string) (Fault, error) {
	fields := strings.Split(item, ":")
	if len(fields) != 3 {
		return Fault{}, fmt.Errorf("want OP:KIND:RATE")
	}
	f := Fault{Op: strings.TrimSpace(fields[0])}
	if !slices.Contains(faultOps, f.Op) {
		return Fault{}, fmt.Errorf("unknown OP %q (want one of %s)", f.Op, strings.Join(faultOps, " "))
	}
	kind := strings.TrimSpace(fields[1])
	switch {
	case kind == KindDrop, kind == KindLost, kind == KindTruncate, kind == KindHTML:
		f.Kind = kind
	case strings.HasPrefix(kind, "latency="):
		d, err := time.ParseDuration(strings.TrimPrefix(kind, "latency="))
		if err != nil || d < 0 {
			return Fault{}, fmt.Errorf("bad latency %q", kind)
		}
		f.Kind, f.Latency = KindLatency, d
	default:
		code, err := strconv.Atoi(kind)
		if err != nil || code < 400 || code > 599 {
			return Fault{}, fmt.Errorf("unknown KIND %q (want an HTTP status 400-599, drop, lost, truncate, html or latency=DURATION)", kind)
		}
		f.Kind, f.Status = KindStatus, code
	}
	rate, err := strconv.ParseFloat(strings.TrimSpace(fields[2]), 64)
	if err != nil || math.IsNaN(rate) || rate < 0 || rate > 1 {
		return Fault{}, fmt.Errorf("bad RATE %q (want a fraction 0..1)", fields[2])
	}
	f.Rate = rate
	return f, nil
}

// faultSet is the active faults and their RNG (a leaf lock).
type faultSet struct {
	mu  sync.Mutex
	rng *rand.Rand
	fs  []Fault
}

func (fs *faultSet) init(seed int64) {
	if seed == 0 {
		seed = time.Now().UnixNano()
	}
	fs.rng = rand.New(rand.NewPCG(uint64(seed), 0x6472696d65))
}

// draw decides the faults of one request of op: the summed latency of the
// latency items that fire, and the first other item that fires.
func (fs *faultSet) draw(op string) (latency []Fault, hit *Fault) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	for i := range fs.fs {
		f := fs.fs[i]
		if f.Op != "any" && f.Op != op {
			continue
		}
		if f.Kind != KindLatency && hit != nil {
			continue
		}
		if f.Rate <= 0 || (f.Rate < 1 && fs.rng.Float64() >= f.Rate) {
			continue
		}
		if f.Kind == KindLatency {
			latency = append(latency, f)
		} else {
			hit = &f
		}
	}
	return latency, hit
}

// SetFaults replaces the active faults by SPEC ("" clears).
func (s *Server) SetFaults(spec string) error {
	fs, err := ParseFaults(spec)
	if err != nil {
		return err
	}
	s.faults.mu.Lock()
	s.faults.fs = fs
	s.faults.mu.Unlock()
	return nil
}

// FaultSpec returns the active faults in SPEC form.
func (s *Server) FaultSpec() string {
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	items := make([]string, len(s.faults.fs))
	for i, f := range s.faults.fs {
		items[i] = f.String()
	}
	return strings.Join(items, ",")
}

// withFaults runs h for a request of op under the faults drawn for it.
func (s *Server) withFaults(w *respWriter, r *http.Request, op string, h http.HandlerFunc) {
	lat, f := s.faults.draw(op)
	for _, l := range lat {
		s.stats.fault(op, l.statsKey())
		t := time.NewTimer(l.Latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	if f == nil {
		h(w, r)
		return
	}
	s.stats.fault(op, f.statsKey())
	switch f.Kind {
	case KindStatus:
		faultStatus(w, f.Status)
	case KindHTML:
		body := "<!DOCTYPE html>\n<html><head><title>Drime</title></head><body><div id=\"root\"></div></body></html>\n"
		w.Header().Set("Content-Type", "text/html; charset=UTF-8")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(body))
	case KindDrop:
		w.cut()
	case KindLost:
		h(&lostWriter{h: make(http.Header)}, r)
		w.cut()
	case KindTruncate:
		tw := &truncWriter{w: w, limit: -1}
		h(tw, r)
		w.cut()
	}
}

func faultStatus(w http.ResponseWriter, code int) {
	switch {
	case code == http.StatusTooManyRequests:
		w.Header().Set("Retry-After", "1")
		msgError(w, code, "Too Many Attempts.")
	case code >= 500:
		htmlError(w, code)
	default:
		msgError(w, code, http.StatusText(code))
	}
}

// lostWriter swallows the answer of a request whose response gets lost.
type lostWriter struct{ h http.Header }

func (l *lostWriter) Header() http.Header         { return l.h }
func (l *lostWriter) WriteHeader(int)             {}
func (l *lostWriter) Write(p []byte) (int, error) { return len(p), nil }

// truncWriter passes the headers and about half of the announced body, then
// refuses further writes; withFaults cuts the connection afterwards.
type truncWriter struct {
	w       *respWriter
	limit   int64 // bytes allowed; -1 until the header is written
	written int64
}

func (t *truncWriter) Header() http.Header { return t.w.Header() }

func (t *truncWriter) WriteHeader(code int) {
	if t.limit >= 0 {
		return
	}
	n, err := strconv.ParseInt(t.w.Header().Get("Content-Length"), 10, 64)
	if err != nil || n < 0 {
		n = 0
	}
	t.limit = n / 2
	t.w.WriteHeader(code)
}

func (t *truncWriter) Write(p []byte) (int, error) {
	if t.limit < 0 {
		t.WriteHeader(http.StatusOK)
	}
	room := t.limit - t.written
	if room <= 0 {
		return 0, errConnCut
	}
	if int64(len(p)) > room {
		n, _ := t.w.Write(p[:room])
		t.written += int64(n)
		return n, errConnCut
	}
	n, err := t.w.Write(p)
	t.written += int64(n)
	return n, err
}
