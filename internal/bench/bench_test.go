package bench

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestRunRequestBound(t *testing.T) {
	t.Parallel()
	var calls atomic.Int64
	res, err := Run(context.Background(), "count", Options{Concurrency: 8, Requests: 1000}, func(ctx context.Context, w *Worker) error {
		calls.Add(1)
		w.Bytes += 10
		if w.Rand.IntN(10) == 0 {
			return errors.New("boom")
		}
		time.Sleep(10 * time.Microsecond)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 1000 {
		t.Errorf("%d operations; want exactly 1000", calls.Load())
	}
	if res.Requests+res.Errors != 1000 || res.Errors == 0 || res.FirstError != "boom" {
		t.Errorf("requests %d + errors %d (first %q); want 1000 in all, some errors", res.Requests, res.Errors, res.FirstError)
	}
	if res.P50 < 10*time.Microsecond || res.P50 > res.P99 || res.P99 > res.Max {
		t.Errorf("percentiles out of order: p50 %v p99 %v max %v", res.P50, res.P99, res.Max)
	}
	if res.Bytes != 10000 || res.RPS <= 0 {
		t.Errorf("bytes %d, rps %v", res.Bytes, res.RPS)
	}
}

func TestRunDurationBound(t *testing.T) {
	t.Parallel()
	start := time.Now()
	res, err := Run(context.Background(), "sleep", Options{Concurrency: 4, Duration: 200 * time.Millisecond, Warmup: 50 * time.Millisecond},
		func(ctx context.Context, w *Worker) error {
			select {
			case <-time.After(5 * time.Millisecond):
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("run took %v; want about 250 ms", took)
	}
	// Operations cut short by the end of the run are not errors.
	if res.Errors != 0 {
		t.Errorf("%d errors: %s", res.Errors, res.FirstError)
	}
	if res.Elapsed < 200*time.Millisecond {
		t.Errorf("measured for %v; want at least the 200 ms asked for", res.Elapsed)
	}
	// Closed loop: each worker has one operation in flight, so 4 workers
	// whose operations take at least 5 ms finish at most 4 per 5 ms.
	if most := uint64(4*res.Elapsed/(5*time.Millisecond)) + 4; res.Requests == 0 || res.Requests > most {
		t.Errorf("%d operations in %v with 4 workers sleeping 5 ms; want 1 to %d", res.Requests, res.Elapsed, most)
	}
	if res.P50 < 5*time.Millisecond {
		t.Errorf("p50 %v below the 5 ms each operation sleeps", res.P50)
	}
}

func TestRunOptions(t *testing.T) {
	t.Parallel()
	op := func(context.Context, *Worker) error { return nil }
	if _, err := Run(context.Background(), "x", Options{Concurrency: 0, Requests: 1}, op); err == nil {
		t.Error("concurrency 0 accepted")
	}
	if _, err := Run(context.Background(), "x", Options{Concurrency: 1}, op); err == nil {
		t.Error("a run without bounds accepted")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Run(ctx, "x", Options{Concurrency: 1, Duration: time.Second}, op); err == nil {
		t.Error("a cancelled run reported results")
	}
}

// TestHTTPClientReusesConnections checks that the shared client keeps
// connections open across requests and never opens more than one per
// worker at a time: a load generator that reconnects measures TCP
// handshakes.
func TestHTTPClientReusesConnections(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var open, peak, total int
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"ok":true}`))
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		mu.Lock()
		defer mu.Unlock()
		switch s {
		case http.StateNew:
			open++
			total++
			peak = max(peak, open)
		case http.StateClosed, http.StateHijacked:
			open--
		}
	}
	srv.Start()
	defer srv.Close()
	hc := NewHTTPClient(16)
	res, err := Run(context.Background(), "get", Options{Concurrency: 16, Requests: 2000}, func(ctx context.Context, w *Worker) error {
		return getOK(ctx, hc, srv.URL, nil)
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Errors != 0 || res.Requests != 2000 {
		t.Fatalf("%d requests, %d errors: %s", res.Requests, res.Errors, res.FirstError)
	}
	mu.Lock()
	defer mu.Unlock()
	// A dial that loses the race to a freed connection may replace an
	// idle one now and then, and the server sees the close a little after
	// the client dialed anew: allow a little slack. Reconnecting per
	// request would be ~2000 in all.
	if peak > 18 || total > 32 {
		t.Errorf("%d connections at most at once, %d in all, for 16 workers and 2000 requests", peak, total)
	}
}

// TestRunPaired checks that the scenario and the baseline take turns and
// that the turns add up to one result each.
func TestRunPaired(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var order []string
	note := func(s string) Op {
		return func(ctx context.Context, w *Worker) error {
			mu.Lock()
			if n := len(order); n == 0 || order[n-1] != s {
				order = append(order, s)
			}
			mu.Unlock()
			time.Sleep(time.Millisecond)
			if s == "op" && w.Rand.IntN(4) == 0 {
				return errors.New("op failed")
			}
			return nil
		}
	}
	res, err := RunPaired(context.Background(), "op", Options{Concurrency: 2, Requests: 300}, 3, note("op"), note("base"))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(order, ","); got != "base,op,base,op,base,op" {
		t.Errorf("turns: %s", got)
	}
	if res.Name != "op" || res.Requests+res.Errors != 300 || res.Errors == 0 || res.FirstError != "op failed" {
		t.Errorf("op: %d requests + %d errors (%q); want 300 in all", res.Requests, res.Errors, res.FirstError)
	}
	b := res.Baseline
	if b == nil || b.Requests != 300 || b.Errors != 0 {
		t.Fatalf("baseline: %+v", b)
	}
	if b.P50 < time.Millisecond || b.P99 < b.P50 || b.Max < b.P99 || b.RPS <= 0 {
		t.Errorf("baseline figures: p50 %v p99 %v max %v rps %v", b.P50, b.P99, b.Max, b.RPS)
	}
	if r := res.Ratio(); r <= 0 || r > 1.5 {
		t.Errorf("ratio %v; both sleep 1 ms per operation and op succeeds 3 times in 4", r)
	}
	if _, err := RunPaired(context.Background(), "op", Options{Concurrency: 1, Requests: 2}, 3, note("op"), note("base")); err == nil {
		t.Error("3 rounds of 2 requests accepted")
	}
}
