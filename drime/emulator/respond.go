package emulator

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// writeJSON answers status with v as JSON and an exact Content-Length.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"message":"Server Error"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func success(extra map[string]any) map[string]any {
	m := map[string]any{"status": "success"}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

// msgError answers Laravel's plain error shape {"message": msg}.
func msgError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]any{"message": msg})
}

// invalid answers a 422 validation error naming field.
func invalid(w http.ResponseWriter, field, msg string) {
	writeJSON(w, http.StatusUnprocessableEntity, map[string]any{
		"status":  "error",
		"message": msg,
		"errors":  map[string][]string{field: {msg}},
	})
}

// notFound answers Laravel's model-not-found 404.
func notFound(w http.ResponseWriter, model string, ref any) {
	msgError(w, http.StatusNotFound, fmt.Sprintf(`No query results for model [App\%s] %v`, model, ref))
}

// serverError answers a failure of the emulator itself (disk, closed).
func serverError(w http.ResponseWriter, err error) {
	if err == errClosed {
		msgError(w, http.StatusServiceUnavailable, "The emulator is shut down.")
		return
	}
	msgError(w, http.StatusInternalServerError, "Server Error: "+err.Error())
}

// htmlError answers status with an HTML page, as Cloudflare and Laravel do
// for 5xx errors.
func htmlError(w http.ResponseWriter, status int) {
	title := http.StatusText(status)
	switch status {
	case 520:
		title = "Web server is returning an unknown error"
	case 521:
		title = "Web server is down"
	case 522:
		title = "Connection timed out"
	case 523:
		title = "Origin is unreachable"
	case 524:
		title = "A timeout occurred"
	}
	if title == "" {
		title = "Error"
	}
	body := fmt.Sprintf(`<!DOCTYPE html>
<html lang="en-US"><head><meta charset="UTF-8"><title>app.drime.cloud | %d: %s</title></head>
<body><div id="cf-wrapper"><h1><span class="cf-error-type">Error</span> <span class="code-label">Error code %d</span></h1>
<h2 class="cf-subheadline">%s</h2><p>Cloudflare Ray ID: emulator</p></div></body></html>
`, status, title, status, title)
	w.Header().Set("Content-Type", "text/html; charset=UTF-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}

// s3Error answers an S3-style XML error (storage endpoint).
func s3Error(w http.ResponseWriter, status int, code, msg string) {
	body := fmt.Sprintf("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>%s</Code><Message>%s</Message></Error>", code, msg)
	w.Header().Set("Content-Type", "application/xml")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}

// rateWindow produces X-Ratelimit headers from a per-minute request count
// (a leaf lock; no enforcement).
type rateWindow struct {
	mu     sync.Mutex
	minute int64
	n      int
}

const rateLimit = 2000

func (rw *rateWindow) headers(h http.Header) {
	m := time.Now().Unix() / 60
	rw.mu.Lock()
	if m != rw.minute {
		rw.minute, rw.n = m, 0
	}
	rw.n++
	left := rateLimit - rw.n
	rw.mu.Unlock()
	if left < 0 {
		left = 0
	}
	h.Set("X-Ratelimit-Limit", strconv.Itoa(rateLimit))
	h.Set("X-Ratelimit-Remaining", strconv.Itoa(left))
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
