package emulator

import (
	"strconv"
	"sync"
	"sync/atomic"
)

// Stats counts what the emulator received since start or the last reset.
type Stats struct {
	// Requests counts requests per fault OP name, plus "other".
	Requests map[string]int64 `json:"requests"`
	// PutPartBytes is the body bytes received by storage PUTs.
	PutPartBytes int64 `json:"put_part_bytes"`
	// UploadBytes is the file bytes received by POST /uploads.
	UploadBytes int64 `json:"upload_bytes"`
	// PartSizes counts stored multipart parts by size in bytes.
	PartSizes map[string]int64 `json:"part_sizes"`
	// FaultsInjected counts injected faults by "<op>:<kind>", op being the
	// request's OP and kind the SPEC kind ("latency" without its duration).
	FaultsInjected map[string]int64 `json:"faults_injected"`
}

// statsCounter is a leaf lock; byte counters are atomics updated while bodies
// stream.
type statsCounter struct {
	mu        sync.Mutex
	requests  map[string]int64
	partSizes map[int64]int64
	faults    map[string]int64
	putBytes  atomic.Int64
	upBytes   atomic.Int64
}

func (c *statsCounter) init() {
	c.mu.Lock()
	c.requests = make(map[string]int64)
	c.partSizes = make(map[int64]int64)
	c.faults = make(map[string]int64)
	c.mu.Unlock()
	c.putBytes.Store(0)
	c.upBytes.Store(0)
}

func (c *statsCounter) request(op string) {
	c.mu.Lock()
	c.requests[op]++
	c.mu.Unlock()
}

func (c *statsCounter) fault(op, kind string) {
	c.mu.Lock()
	c.faults[op+":"+kind]++
	c.mu.Unlock()
}

func (c *statsCounter) partSize(n int64) {
	c.mu.Lock()
	c.partSizes[n]++
	c.mu.Unlock()
}

// Stats returns a copy of the counters.
func (s *Server) Stats() Stats {
	c := &s.stats
	st := Stats{
		Requests:       make(map[string]int64, len(opNames)),
		PartSizes:      make(map[string]int64),
		FaultsInjected: make(map[string]int64),
		PutPartBytes:   c.putBytes.Load(),
		UploadBytes:    c.upBytes.Load(),
	}
	for _, op := range opNames {
		st.Requests[op] = 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, v := range c.requests {
		st.Requests[k] = v
	}
	for k, v := range c.partSizes {
		st.PartSizes[strconv.FormatInt(k, 10)] = v
	}
	for k, v := range c.faults {
		st.FaultsInjected[k] = v
	}
	return st
}

// ResetStats sets every counter to zero.
func (s *Server) ResetStats() { s.stats.init() }

// countingReader adds the bytes read to a counter as they stream.
type countingReader struct {
	r interface{ Read([]byte) (int, error) }
	n *atomic.Int64
}

func (c countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}
