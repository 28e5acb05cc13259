package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/drimefs/drimefs/uploader"
)

func TestMetricsHooksAndEndpoint(t *testing.T) {
	m := newMetrics()
	m.Uploaded(1000, 2*time.Second)
	m.PartBytes(5 << 20)
	m.Retry("http_503")
	m.Retry("http_503")
	m.Failed()
	m.observe("put-part", 200, 30*time.Millisecond)
	m.observe("list", 0, time.Second)
	m.fuseOp("lookup", time.Millisecond)
	m.cacheRead(true)
	m.cacheRead(false)
	m.cacheRead(false)
	m.reg.MustRegister(&queueCollector{status: func() (uploader.Status, error) {
		return uploader.Status{Pending: make([]uploader.FileStatus, 3), Uploading: make([]uploader.FileStatus, 1),
			PendingBytes: 42, Deletions: 2, Paused: "401"}, nil
	}})

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := m.serve(ctx, addr, zerolog.Nop()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		"drimefs_uploaded_files_total 1", "drimefs_uploaded_bytes_total 1000", "drimefs_upload_duration_seconds_count 1",
		"drimefs_upload_part_bytes_total 5.24288e+06", `drimefs_upload_retries_total{cause="http_503"} 2`,
		"drimefs_upload_failures_total 1",
		`drimefs_drime_request_duration_seconds_count{op="put-part",status="2xx"} 1`,
		`drimefs_drime_request_duration_seconds_count{op="list",status="error"} 1`,
		`drimefs_fuse_operation_duration_seconds_count{op="lookup"} 1`,
		`drimefs_read_cache_reads_total{result="hit"} 1`, `drimefs_read_cache_reads_total{result="miss"} 2`,
		`drimefs_upload_queue_files{state="pending"} 3`, `drimefs_upload_queue_files{state="uploading"} 1`,
		`drimefs_upload_queue_files{state="failed"} 0`, "drimefs_upload_queue_bytes 42",
		`drimefs_deletions_queue{state="pending"} 2`, "drimefs_uploads_paused 1",
		`drimefs_build_info{version=`, "go_goroutines", "process_resident_memory_bytes",
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if err := m.serve(ctx, addr, zerolog.Nop()); err == nil || !strings.Contains(err.Error(), "--metrics-addr") {
		t.Errorf("a busy address must be a clear start-up error, got %v", err)
	}
}

func TestStatusClass(t *testing.T) {
	for status, want := range map[int]string{0: "error", 200: "2xx", 206: "2xx", 404: "4xx", 429: "4xx", 520: "5xx", 1000: "error"} {
		if got := statusClass(status); got != want {
			t.Errorf("statusClass(%d) = %q, want %q", status, got, want)
		}
	}
}
