package bench

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
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
	// 4 workers × 200 ms / 5 ms ≈ 160, less scheduling slack.
	if res.Requests < 60 || res.Requests > 170 {
		t.Errorf("%d operations in 200 ms with 4 workers sleeping 5 ms", res.Requests)
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

// TestHTTPClientReusesConnections checks that the shared client keeps one
// connection per worker open: a load generator that reconnects measures
// TCP handshakes.
func TestHTTPClientReusesConnections(t *testing.T) {
	t.Parallel()
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"ok":true}`))
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
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
	if n := conns.Load(); n > 16 {
		t.Errorf("%d connections for 16 workers", n)
	}
}
