package drime

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestPolicyDefaultsAndCeiling(t *testing.T) {
	p := RetryPolicy{}.withDefaults()
	if p.MaxAttempts != 8 || p.Base != 200*time.Millisecond || p.Cap != 20*time.Second {
		t.Fatalf("defaults = %+v", p)
	}
	want := []time.Duration{200, 400, 800, 1600, 3200, 6400, 12800, 20000, 20000}
	for i, w := range want {
		if got := p.ceiling(i); got != w*time.Millisecond {
			t.Errorf("ceiling(%d) = %v, want %v", i, got, w*time.Millisecond)
		}
	}
	if got := p.ceiling(1000); got != p.Cap {
		t.Errorf("ceiling(1000) = %v, want cap", got)
	}
}

// Full jitter: every delay lies in [0, min(Cap, Base·2^n)], and the delays
// really spread over that range.
func TestDelayFullJitterBounded(t *testing.T) {
	c, err := New(Config{BaseURL: "http://h/api/v1", Retry: RetryPolicy{Base: 10 * time.Millisecond, Cap: 80 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	for attempt := 0; attempt < 8; attempt++ {
		ceil := c.policy.ceiling(attempt)
		var lo, hi time.Duration = time.Hour, 0
		for i := 0; i < 2000; i++ {
			d := c.delay(attempt, 0)
			if d < 0 || d > ceil || d > 80*time.Millisecond {
				t.Fatalf("attempt %d: delay %v outside [0, %v]", attempt, d, ceil)
			}
			lo, hi = min(lo, d), max(hi, d)
		}
		if lo > ceil/10 || hi < ceil*9/10 {
			t.Errorf("attempt %d: delays span [%v, %v] of [0, %v]: not full jitter", attempt, lo, hi, ceil)
		}
	}
	if d := c.delay(0, 3*time.Second); d != 3*time.Second {
		t.Errorf("Retry-After 3s gave %v", d)
	}
	if d := c.delay(0, time.Hour); d != maxRetryAfter {
		t.Errorf("Retry-After 1h gave %v, want the %v bound", d, maxRetryAfter)
	}
}

func TestParseRetryAfter(t *testing.T) {
	for in, want := range map[string]time.Duration{"": 0, "1": time.Second, " 2 ": 2 * time.Second, "0.5": 500 * time.Millisecond,
		"-1": 0, "soon": 0} {
		if got := parseRetryAfter(in); got != want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", in, got, want)
		}
	}
	future := time.Now().Add(90 * time.Second).UTC().Format(http.TimeFormat)
	if got := parseRetryAfter(future); got < 80*time.Second || got > 91*time.Second {
		t.Errorf("parseRetryAfter(date) = %v", got)
	}
}

func TestRetryHonoursRetryAfter(t *testing.T) {
	var n atomic.Int32
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) <= 2 {
			w.Header().Set("Retry-After", "2")
			writeJSON(w, 429, map[string]any{"message": "Too Many Attempts."})
			return
		}
		writeJSON(w, 200, map[string]any{"used": "5", "available": 10})
	})
	c := f.client()
	u, err := c.SpaceUsage(context.Background())
	if err != nil || u.Used != 5 || u.Available != 10 {
		t.Fatalf("SpaceUsage = %+v, %v", u, err)
	}
	if len(f.sleeps) != 2 || f.sleeps[0] != 2*time.Second || f.sleeps[1] != 2*time.Second {
		t.Errorf("sleeps = %v, want [2s 2s]", f.sleeps)
	}
	logs := f.logs.String()
	if !strings.Contains(logs, `"level":"warn"`) || !strings.Contains(logs, `"status":429`) ||
		!strings.Contains(logs, `"attempt":1`) || !strings.Contains(logs, `"delay"`) {
		t.Errorf("retry not logged with status/attempt/delay:\n%s", logs)
	}
}

func TestRetryRetryableStatuses(t *testing.T) {
	for _, status := range []int{429, 500, 502, 503, 504, 509, 520, 521, 522, 523, 524} {
		var n atomic.Int32
		f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
			if n.Add(1) == 1 {
				w.WriteHeader(status)
				_, _ = w.Write([]byte("<html><title>oops</title></html>"))
				return
			}
			writeJSON(w, 200, map[string]any{"workspaces": []any{map[string]any{"id": "3", "name": "team"}}})
		})
		ws, err := f.client().Workspaces(context.Background())
		if err != nil || len(ws) != 1 || ws[0].ID != 3 || n.Load() != 2 {
			t.Errorf("status %d: %+v, %v after %d requests", status, ws, err, n.Load())
		}
	}
}

func TestNoRetryOnClean4xx(t *testing.T) {
	for _, status := range []int{400, 401, 403, 404, 405, 409, 413, 422} {
		f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, status, map[string]any{"message": "no"})
		})
		_, err := f.client().SpaceUsage(context.Background())
		var ae *APIError
		if !errors.As(err, &ae) || ae.Status != status {
			t.Errorf("status %d: err = %v", status, err)
		}
		if got := len(f.reqs()); got != 1 {
			t.Errorf("status %d: %d requests, want 1", status, got)
		}
	}
}

func TestRetryGivesUpAfterMaxAttempts(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) })
	_, err := f.client().SpaceUsage(context.Background())
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "giving up after 5 attempts") {
		t.Errorf("err = %v", err)
	}
	if got := len(f.reqs()); got != 5 {
		t.Errorf("%d requests, want 5", got)
	}
	// Delays grow with the attempt but never exceed the cap.
	for i, d := range f.sleeps {
		if d > (1<<i)*time.Millisecond || d > 4*time.Millisecond {
			t.Errorf("sleep %d = %v beyond its ceiling", i, d)
		}
	}
}

// Cancelling ctx ends a long Retry-After wait at once (real sleep here).
func TestRetryStopsOnCancel(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "60")
		w.WriteHeader(429)
	})
	c := f.client()
	c.sleep = sleepCtx
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	_, err := c.SpaceUsage(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("cancel took %v", el)
	}
	if IsRetryable(err) {
		t.Error("a cancelled call must not be retryable")
	}
}

func TestRetryCancelledBeforeStart(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, map[string]any{}) })
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := f.client().SpaceUsage(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v", err)
	}
	if n := len(f.reqs()); n != 0 {
		t.Errorf("%d requests after cancel", n)
	}
}

func TestObserveCalled(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, listing()) })
	c := f.client()
	var got []string
	c.observe = func(op string, status int, d time.Duration) {
		if d < 0 {
			t.Error("negative duration")
		}
		got = append(got, op+":"+http.StatusText(status))
	}
	if _, err := c.ListFolder(context.Background(), 0); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0] != "list:OK" {
		t.Errorf("observed %v", got)
	}
	if !strings.Contains(f.logs.String(), `"level":"debug"`) || !strings.Contains(f.logs.String(), `"op":"list"`) {
		t.Errorf("exchange not logged at debug:\n%s", f.logs.String())
	}
}
