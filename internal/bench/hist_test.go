package bench

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestBucketRoundTrip(t *testing.T) {
	t.Parallel()
	for _, v := range []uint64{0, 1, 63, 64, 65, 127, 128, 129, 1000, 1 << 20, 123456789, 1<<62 + 12345, 1<<63 - 1} {
		i := bucketOf(v)
		if i < 0 || i >= histBuckets {
			t.Fatalf("bucketOf(%d) = %d, out of range", v, i)
		}
		lo, hi := bucketRange(i)
		if v < lo || v > hi {
			t.Errorf("bucketOf(%d) = %d, whose range is [%d, %d]", v, i, lo, hi)
		}
		if width := hi - lo; v >= subBuckets && float64(width) > float64(lo)/subBuckets {
			t.Errorf("bucket of %d is [%d, %d]: wider than 1/%d of its value", v, lo, hi, subBuckets)
		}
	}
	// Buckets tile the line: each starts right after the previous ends.
	for i := 1; i < histBuckets; i++ {
		_, prevHi := bucketRange(i - 1)
		lo, _ := bucketRange(i)
		if lo != prevHi+1 {
			t.Fatalf("bucket %d starts at %d; bucket %d ends at %d", i, lo, i-1, prevHi)
		}
	}
}

// TestQuantiles checks the histogram against exact percentiles of a
// sorted sample: never below, at most 1/64 above.
func TestQuantiles(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	var h Histogram
	var sample []time.Duration
	for range 100_000 {
		// Log-normal-ish latencies from 50 µs to a few hundred ms.
		d := time.Duration(50_000 * (1 + r.ExpFloat64()*r.ExpFloat64()*20))
		h.Record(d)
		sample = append(sample, d)
	}
	slices.Sort(sample)
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999} {
		exact := sample[int(q*float64(len(sample))+0.5)-1]
		got := h.Quantile(q)
		if got < exact || float64(got-exact) > float64(exact)/subBuckets+1 {
			t.Errorf("p%v = %v; exact %v", q*100, got, exact)
		}
	}
	if h.Max() != sample[len(sample)-1] || h.Min() != sample[0] || h.Quantile(1) != h.Max() {
		t.Errorf("min/max = %v/%v; want %v/%v", h.Min(), h.Max(), sample[0], sample[len(sample)-1])
	}
	if h.Count() != uint64(len(sample)) {
		t.Errorf("count = %d", h.Count())
	}

	// Merging two halves gives the same histogram.
	var a, b Histogram
	for i, d := range sample {
		if i%2 == 0 {
			a.Record(d)
		} else {
			b.Record(d)
		}
	}
	a.Merge(&b)
	if a != h {
		t.Errorf("merged halves differ from the whole")
	}
}

func TestEmptyHistogram(t *testing.T) {
	t.Parallel()
	var h Histogram
	if h.Quantile(0.99) != 0 || h.Mean() != 0 || h.Max() != 0 {
		t.Errorf("empty histogram reports non-zero figures")
	}
	h.Record(-5)
	if h.Quantile(0.5) != 0 || h.Count() != 1 {
		t.Errorf("a negative duration is not recorded as zero")
	}
}
