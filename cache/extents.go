package cache

// Extents is a sorted list of disjoint, non-adjacent half-open byte ranges
// [Start, End).
type Extents []Extent

// Extent is one byte range [Start, End).
type Extent [2]int64

// Start and End of the range.
func (e Extent) Start() int64 { return e[0] }
func (e Extent) End() int64   { return e[1] }

// Total is the number of bytes covered.
func (x Extents) Total() int64 {
	var t int64
	for _, e := range x {
		t += e[1] - e[0]
	}
	return t
}

// Add returns x with [start, end) added, merging overlapping and adjacent
// ranges.
func (x Extents) Add(start, end int64) Extents {
	if end <= start {
		return x
	}
	out := make(Extents, 0, len(x)+1)
	i := 0
	for ; i < len(x) && x[i][1] < start; i++ {
		out = append(out, x[i])
	}
	for ; i < len(x) && x[i][0] <= end; i++ {
		start = min(start, x[i][0])
		end = max(end, x[i][1])
	}
	out = append(out, Extent{start, end})
	return append(out, x[i:]...)
}

// Missing returns the parts of [start, end) that x does not cover.
func (x Extents) Missing(start, end int64) Extents {
	var out Extents
	for _, e := range x {
		if e[1] <= start {
			continue
		}
		if e[0] >= end {
			break
		}
		if e[0] > start {
			out = append(out, Extent{start, e[0]})
		}
		start = max(start, e[1])
	}
	if start < end {
		out = append(out, Extent{start, end})
	}
	return out
}
