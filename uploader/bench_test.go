package uploader

import (
	"fmt"
	"testing"
)

// Benchmarks of multipart part planning (go test -bench . ./uploader/):
// the part size for a file and the plan of its parts, for the sizes the
// bench workloads upload and for the largest file (where the part size
// grows to fit 10,000 parts).

func BenchmarkPartSize(b *testing.B) {
	sizes := []int64{6 << 20, 1 << 30, 4 << 30, 1 << 40}
	for i := 0; i < b.N; i++ {
		_ = PartSize(sizes[i%len(sizes)], MinPartSize)
	}
}

func BenchmarkPlan(b *testing.B) {
	for _, size := range []int64{6 << 20, 1 << 30, 4 << 30, 1 << 40} {
		b.Run(fmt.Sprintf("%dMiB", size>>20), func(b *testing.B) {
			ps := PartSize(size, MinPartSize)
			b.ReportMetric(float64((size+ps-1)/ps), "parts")
			for i := 0; i < b.N; i++ {
				if parts := Plan(size, ps); len(parts) == 0 {
					b.Fatal("no parts")
				}
			}
		})
	}
}
