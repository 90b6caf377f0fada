package webhook

import (
	"net/http"
	"testing"
	"time"
)

func TestDefaultBackoff(t *testing.T) {
	t.Parallel()
	for n := 1; n <= 40; n++ {
		full := backoffCap
		if n < 20 {
			full = min(backoffBase<<(n-1), backoffCap)
		}
		for range 50 {
			if d := defaultBackoff(n); d < full/2 || d > full {
				t.Fatalf("defaultBackoff(%d) = %v, want between %v and %v", n, d, full/2, full)
			}
		}
	}
	if defaultBackoff(1) > time.Second || defaultBackoff(100) < backoffCap/2 {
		t.Errorf("backoff bounds: first %v, late %v", defaultBackoff(1), defaultBackoff(100))
	}
}

func TestRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for h, want := range map[string]time.Duration{
		"":         0,
		"0":        0,
		"7":        7 * time.Second,
		"-3":       0,
		"99999999": maxRetryAfter,
		"soon":     0,
		now.Add(90 * time.Second).Format(http.TimeFormat): 90 * time.Second,
		now.Add(-time.Hour).Format(http.TimeFormat):       0,
		now.Add(48 * time.Hour).Format(http.TimeFormat):   maxRetryAfter,
	} {
		if got := retryAfter(h, now); got != want {
			t.Errorf("retryAfter(%q) = %v, want %v", h, got, want)
		}
	}
}
