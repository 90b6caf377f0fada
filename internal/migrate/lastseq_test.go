package migrate

import (
	"context"
	"testing"
)

// lastSeq finds the end of a gap-free sequence in O(log n) probes.
func TestLastSeq(t *testing.T) {
	t.Parallel()
	for _, n := range []int64{0, 1, 2, 3, 4, 5, 7, 8, 9, 100, 1023, 1024, 1025, 1 << 40} {
		probes := 0
		got, err := lastSeq(context.Background(), func(after int64) (bool, error) {
			probes++
			return after < n, nil
		})
		if err != nil || got != n {
			t.Errorf("lastSeq over %d entries = %d, %v", n, got, err)
		}
		if limit := 2*bits(n) + 2; probes > limit {
			t.Errorf("lastSeq over %d entries took %d probes, want at most %d", n, probes, limit)
		}
	}
}

func bits(n int64) int {
	b := 0
	for ; n > 0; n >>= 1 {
		b++
	}
	return b
}
