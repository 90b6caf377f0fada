package bench

import (
	"math/bits"
	"time"
)

// Histogram records durations in fixed log-linear buckets, in the manner of
// HdrHistogram: each power of two of nanoseconds is split into 64 equal
// sub-buckets, so a recorded value is known to within 1/64 (1.6 %) of
// itself, whatever its magnitude, in a fixed 30 KiB. Recording allocates
// nothing and takes a few nanoseconds; each load worker keeps its own and
// they are merged at the end, so no lock is taken on the hot path.
//
// The zero value is ready to use. A Histogram is not safe for concurrent use.
type Histogram struct {
	counts [histBuckets]uint64
	n      uint64
	sum    time.Duration
	min    time.Duration
	max    time.Duration
}

const (
	subBits     = 6
	subBuckets  = 1 << subBits // sub-buckets per power of two
	histBuckets = (64 - subBits + 1) * subBuckets
)

// bucketOf returns the bucket index of v nanoseconds (v >= 0).
func bucketOf(v uint64) int {
	if v < subBuckets {
		return int(v)
	}
	// Shift v so that its top bit lands at bit subBits: v>>e is then in
	// [subBuckets, 2*subBuckets).
	e := bits.Len64(v) - subBits - 1
	return (e+1)*subBuckets + int(v>>e) - subBuckets
}

// bucketRange returns the smallest and largest value that land in bucket i.
func bucketRange(i int) (lo, hi uint64) {
	if i < subBuckets {
		return uint64(i), uint64(i)
	}
	e := i/subBuckets - 1
	m := uint64(i%subBuckets + subBuckets)
	return m << e, (m+1)<<e - 1
}

// Record adds one observation. Negative durations count as zero.
func (h *Histogram) Record(d time.Duration) {
	if d < 0 {
		d = 0
	}
	h.counts[bucketOf(uint64(d))]++
	if h.n == 0 || d < h.min {
		h.min = d
	}
	if d > h.max {
		h.max = d
	}
	h.n++
	h.sum += d
}

// Merge adds every observation of o to h.
func (h *Histogram) Merge(o *Histogram) {
	if o.n == 0 {
		return
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	if h.n == 0 || o.min < h.min {
		h.min = o.min
	}
	if o.max > h.max {
		h.max = o.max
	}
	h.n += o.n
	h.sum += o.sum
}

// Count returns the number of observations.
func (h *Histogram) Count() uint64 { return h.n }

// Max returns the largest observation, exactly.
func (h *Histogram) Max() time.Duration { return h.max }

// Min returns the smallest observation, exactly.
func (h *Histogram) Min() time.Duration { return h.min }

// Mean returns the arithmetic mean, exactly.
func (h *Histogram) Mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return h.sum / time.Duration(h.n)
}

// Quantile returns the value below or at which a fraction q (0..1) of the
// observations lie. It answers the upper bound of the bucket holding that
// observation, clamped to the exact maximum: a percentile is never
// under-reported, and over-reported by at most 1.6 %.
func (h *Histogram) Quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	switch {
	case q <= 0:
		return h.min
	case q >= 1:
		return h.max
	}
	// The rank of the observation that a fraction q of them do not exceed,
	// 1-based: ceil(q*n).
	rank := uint64(q * float64(h.n))
	if float64(rank) < q*float64(h.n) {
		rank++
	}
	rank = max(rank, 1)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			_, hi := bucketRange(i)
			return min(time.Duration(hi), h.max)
		}
	}
	return h.max
}
