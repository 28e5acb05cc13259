package uploader

import "github.com/drimefs/drimefs/drime"

// MaxParts is the most parts an S3 multipart upload may have.
const MaxParts = 10000

// MinPartSize is the smallest non-final part S3 (and Drime) accepts.
const MinPartSize = drime.MultipartThreshold

// Part is one part of a multipart upload.
type Part struct {
	Number int   // 1-based
	Offset int64 // in the file
	Size   int64
}

// PartSize returns the part size for a file: base (at least MinPartSize),
// grown only when the file would need more than MaxParts parts, to the
// next MiB multiple that fits.
func PartSize(size, base int64) int64 {
	if base < MinPartSize {
		base = MinPartSize
	}
	if (size+base-1)/base <= MaxParts {
		return base
	}
	const mib = 1 << 20
	ps := (size + MaxParts - 1) / MaxParts
	return (ps + mib - 1) / mib * mib
}

// Plan splits a file of size bytes into parts of partSize, all equal but
// the last. A file of zero bytes has no parts.
func Plan(size, partSize int64) []Part {
	if size <= 0 || partSize <= 0 {
		return nil
	}
	n := int((size + partSize - 1) / partSize)
	parts := make([]Part, n)
	for i := range parts {
		off := int64(i) * partSize
		parts[i] = Part{Number: i + 1, Offset: off, Size: min(partSize, size-off)}
	}
	return parts
}
