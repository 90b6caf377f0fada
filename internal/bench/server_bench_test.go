package bench

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/cairn-registry/cairn/internal/httpapi"
	"github.com/cairn-registry/cairn/internal/mlflowapi"
	"github.com/cairn-registry/cairn/internal/registry"
)

// BenchmarkHandler measures the read scenarios' requests through the API
// handler in-process, without the network or a load generator: what one
// request costs the server. Profile it with
//
//	go test ./internal/bench -run '^$' -bench Handler -cpuprofile cpu.out
//
// Besides wall time per request it reports cpu-ns/op, the process's CPU
// time (user and system, garbage collection included) per request, which
// moves much less than wall time when other work shares the machine.
func BenchmarkHandler(b *testing.B) {
	ctx := context.Background()
	store, blobs := openSQLite(b)
	if _, err := Seed(ctx, store, blobs, SeedOptions{Models: 200, Versions: 5000}); err != nil {
		b.Fatal(err)
	}
	svc := registry.New(store, blobs, registry.Options{})
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	api := httpapi.New(svc, httpapi.Options{Logger: logger})
	mlflowapi.New(svc, mlflowapi.Options{Logger: logger}).Register(api.Mount)
	h := api.Handler()
	page := strconv.Itoa(PageSize)
	for _, bc := range []struct{ name, target string }{
		{"resolve", "/api/v1/resolve/bench-00003@champion"},
		{"get", "/api/v1/models/bench-00003/versions/20"},
		{"list", "/api/v1/models/bench-00003/versions?page_size=" + page},
		{"search", "/api/v1/versions?" + url.Values{"filter": {SearchFilter}, "page_size": {page}}.Encode()},
		{"models", "/api/v1/models?page_size=" + page},
		{"mlflow-alias", "/api/2.0/mlflow/registered-models/alias?name=bench-00003&alias=champion"},
		{"mlflow-get", "/api/2.0/mlflow/model-versions/get?name=bench-00003&version=20"},
		{"mlflow-search", "/api/2.0/mlflow/registered-models/search?max_results=" + page},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			before := cpuTime(b)
			for b.Loop() {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, bc.target, nil))
				if w.Code != http.StatusOK {
					b.Fatalf("GET %s: %d %s", bc.target, w.Code, w.Body)
				}
			}
			b.ReportMetric(float64(cpuTime(b)-before)/float64(b.N), "cpu-ns/op")
		})
	}
}

// cpuTime returns the CPU time the process has used so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
