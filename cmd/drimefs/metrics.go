package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"

	"github.com/drimefs/drimefs/cache"
	"github.com/drimefs/drimefs/uploader"
)

// metrics collects the figures served by --metrics-addr. It lives in a
// private registry (no global state) and is fed by cheap hooks: the
// uploader's Metrics interface, drime.Config.Observe, fs.Options.Op and
// fs.Options.CacheRead. Queue depth and cache use are read at scrape time.
//
// The hooks work whether or not --metrics-addr is given, so wiring never
// depends on flags.
type metrics struct {
	reg *prometheus.Registry

	uploadedBytes  prometheus.Counter
	uploadedFiles  prometheus.Counter
	uploadDuration prometheus.Histogram
	partBytes      prometheus.Counter
	retries        *prometheus.CounterVec
	failures       prometheus.Counter
	requests       *prometheus.HistogramVec
	cacheReads     *prometheus.CounterVec
	fuseOps        *prometheus.HistogramVec
}

// latencyBuckets span a page-cached FUSE op (tens of µs) to a slow part
// upload (a minute).
var latencyBuckets = []float64{.0001, .0005, .001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}

// uploadBuckets span a small file (a tenth of a second) to a large one
// (hours).
var uploadBuckets = []float64{.1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 4 * 3600}

func newMetrics() *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	m.uploadedBytes = prometheus.NewCounter(prometheus.CounterOpts{Name: "drimefs_uploaded_bytes_total",
		Help: "Bytes of files whose upload to Drime finished."})
	m.uploadedFiles = prometheus.NewCounter(prometheus.CounterOpts{Name: "drimefs_uploaded_files_total",
		Help: "Files whose upload to Drime finished."})
	m.uploadDuration = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "drimefs_upload_duration_seconds",
		Help: "Time from the start of a file's upload to its registration in Drime.", Buckets: uploadBuckets})
	m.partBytes = prometheus.NewCounter(prometheus.CounterOpts{Name: "drimefs_upload_part_bytes_total",
		Help: "Bytes of multipart parts accepted by Drime's storage."})
	m.retries = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "drimefs_upload_retries_total",
		Help: "Upload steps retried, by cause (network, http_429, http_503, url_expired, ...)."}, []string{"cause"})
	m.failures = prometheus.NewCounter(prometheus.CounterOpts{Name: "drimefs_upload_failures_total",
		Help: "Uploads marked failed (kept in the cache; see `drimefs status`)."})
	m.requests = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "drimefs_drime_request_duration_seconds",
		Help:    "Duration of HTTP exchanges with Drime, by operation and status class (2xx, 4xx, 5xx, error).",
		Buckets: latencyBuckets}, []string{"op", "status"})
	m.cacheReads = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "drimefs_read_cache_reads_total",
		Help: "Reads of files from Drime, by whether the read cache had the bytes (hit) or not (miss)."}, []string{"result"})
	m.fuseOps = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "drimefs_fuse_operation_duration_seconds",
		Help: "FUSE operations served, by operation (the _count series counts them).", Buckets: latencyBuckets},
		[]string{"op"})
	// Pre-create the label values people alert on, so they show as 0.
	m.cacheReads.WithLabelValues("hit")
	m.cacheReads.WithLabelValues("miss")
	build := prometheus.NewGauge(prometheus.GaugeOpts{Name: "drimefs_build_info",
		Help: "Always 1; the version label says which drimefs runs.", ConstLabels: prometheus.Labels{"version": version}})
	build.Set(1)
	m.reg.MustRegister(m.uploadedBytes, m.uploadedFiles, m.uploadDuration, m.partBytes, m.retries,
		m.failures, m.requests, m.cacheReads, m.fuseOps, build,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

var _ uploader.Metrics = (*metrics)(nil)

// Uploaded counts one finished upload (uploader.Metrics).
func (m *metrics) Uploaded(bytes int64, d time.Duration) {
	m.uploadedFiles.Inc()
	m.uploadedBytes.Add(float64(bytes))
	m.uploadDuration.Observe(d.Seconds())
}

// PartBytes counts one multipart part accepted (uploader.Metrics).
func (m *metrics) PartBytes(n int64) { m.partBytes.Add(float64(n)) }

// Retry counts one retried upload step (uploader.Metrics).
func (m *metrics) Retry(cause string) { m.retries.WithLabelValues(cause).Inc() }

// Failed counts one upload marked failed (uploader.Metrics).
func (m *metrics) Failed() { m.failures.Inc() }

// observe records one HTTP exchange with Drime (drime.Config.Observe).
func (m *metrics) observe(op string, status int, d time.Duration) {
	m.requests.WithLabelValues(op, statusClass(status)).Observe(d.Seconds())
}

// statusClass turns an HTTP status into a low-cardinality label.
func statusClass(status int) string {
	if status < 100 || status > 599 {
		return "error"
	}
	return strconv.Itoa(status/100) + "xx"
}

// fuseOp records one FUSE operation (fs.Options.Op).
func (m *metrics) fuseOp(op string, d time.Duration) {
	m.fuseOps.WithLabelValues(op).Observe(d.Seconds())
}

// cacheRead records one read from Drime (fs.Options.CacheRead).
func (m *metrics) cacheRead(hit bool) {
	if hit {
		m.cacheReads.WithLabelValues("hit").Inc()
	} else {
		m.cacheReads.WithLabelValues("miss").Inc()
	}
}

// watchStore publishes the read cache's size and bound.
func (m *metrics) watchStore(s *cache.Store) {
	m.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "drimefs_read_cache_bytes",
			Help: "Bytes of clean (uploaded or downloaded) data in the read cache."},
			func() float64 { used, _ := s.Files.Used(); return float64(used) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "drimefs_read_cache_max_bytes",
			Help: "Bound of the read cache (--cache-max-size)."},
			func() float64 { _, max := s.Files.Used(); return float64(max) }))
}

// watchUploader publishes the queue depth, read from the uploader's status
// when scraped.
func (m *metrics) watchUploader(u *uploader.Uploader) {
	m.reg.MustRegister(&queueCollector{status: u.Counts})
}

// serve listens on addr at once (so a bad address is a start-up error)
// and serves /metrics until ctx ends.
func (m *metrics) serve(ctx context.Context, addr string, log zerolog.Logger) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("--metrics-addr %s: %w; pick another address or port", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg}))
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "drimefs %s: metrics at /metrics\n", version)
	})
	if os.Getenv("DRIMEFS_PPROF") == "1" {
		servePprof(mux)
		log.Warn().Msg("DRIMEFS_PPROF=1: Go profiles served at /debug/pprof/ on the metrics address")
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Warn().Err(err).Msg("metrics server stopped")
		}
	}()
	log.Info().Str("addr", ln.Addr().String()).Msg("serving Prometheus metrics at /metrics")
	return nil
}

// queueCollector reports the upload queue at scrape time. uploader.Counts
// walks the whole queue, so a result is reused for half a second: several
// scrapers (or a quick re-scrape) cost one walk.
type queueCollector struct {
	status func() (uploader.Status, error)

	mu   sync.Mutex
	at   time.Time
	last uploader.Status
	err  error
}

var (
	queueFilesDesc = prometheus.NewDesc("drimefs_upload_queue_files",
		"Files in the upload queue, by state (pending, uploading, failed).", []string{"state"}, nil)
	queueBytesDesc = prometheus.NewDesc("drimefs_upload_queue_bytes",
		"Bytes still to upload (pending files plus the rest of running uploads).", nil, nil)
	deletionsDesc = prometheus.NewDesc("drimefs_deletions_queue",
		"Deletions queued for Drime, by state (pending, failed).", []string{"state"}, nil)
	pausedDesc = prometheus.NewDesc("drimefs_uploads_paused",
		"1 while uploads are paused because Drime rejected the token (401).", nil, nil)
)

func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- queueFilesDesc
	ch <- queueBytesDesc
	ch <- deletionsDesc
	ch <- pausedDesc
}

func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	if time.Since(c.at) > 500*time.Millisecond {
		c.last, c.err = c.status()
		c.at = time.Now()
	}
	st, err := c.last, c.err
	c.mu.Unlock()
	if err != nil {
		ch <- prometheus.NewInvalidMetric(queueFilesDesc, fmt.Errorf("read the upload queue: %w", err))
		return
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	gauge(queueFilesDesc, float64(len(st.Pending)), "pending")
	gauge(queueFilesDesc, float64(len(st.Uploading)), "uploading")
	gauge(queueFilesDesc, float64(len(st.Failed)), "failed")
	gauge(queueBytesDesc, float64(st.PendingBytes))
	gauge(deletionsDesc, float64(st.Deletions), "pending")
	gauge(deletionsDesc, float64(len(st.FailedDeletions)), "failed")
	paused := 0.0
	if st.Paused != "" {
		paused = 1
	}
	gauge(pausedDesc, paused)
}
