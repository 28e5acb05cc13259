package main

import (
	"context"
	"fmt"
	"time"

	"github.com/rs/zerolog"

	"github.com/drimefs/drimefs/cache"
	"github.com/drimefs/drimefs/uploader"
)

// metrics collects figures for --metrics-addr.
type metrics struct{}

func newMetrics() *metrics { return &metrics{} }

func (m *metrics) watchStore(*cache.Store)               {}
func (m *metrics) watchUploader(*uploader.Uploader)      {}
func (m *metrics) fuseOp(op string, d time.Duration)     {}
func (m *metrics) Uploaded(bytes int64, d time.Duration) {}
func (m *metrics) PartBytes(n int64)                     {}
func (m *metrics) Retry(cause string)                    {}
func (m *metrics) Failed()                               {}

func (m *metrics) serve(ctx context.Context, addr string, log zerolog.Logger) error {
	return fmt.Errorf("--metrics-addr: not available in this build")
}
