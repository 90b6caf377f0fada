package bench

import (
	"context"
	"encoding/base64"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/cairn-registry/cairn"
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

	// The same registry with auth on: the bootstrap admin's token as a
	// bearer token, and a user with a password over HTTP Basic (what MLflow
	// clients send), on every request.
	authSvc := registry.New(store, blobs, registry.Options{Auth: true})
	token, err := authSvc.Bootstrap(ctx)
	if err != nil || token == "" {
		b.Fatalf("bootstrap: %q %v", token, err)
	}
	admin := cairn.NewContextWithPrincipal(ctx, &cairn.Principal{Name: registry.BootstrapAdmin, Kind: cairn.KindUser,
		Roles: []cairn.RoleBinding{{Principal: registry.BootstrapAdmin, Role: cairn.RoleAdmin, Scope: cairn.ScopeAll}}})
	if _, err := authSvc.CreateUser(admin, registry.UserCreate{Name: "bench", Password: "bench-password-1"}); err != nil {
		b.Fatal(err)
	}
	if _, err := authSvc.GrantRole(admin, registry.RoleGrant{Principal: "bench", Role: cairn.RoleReader, Scope: cairn.ScopeAll}); err != nil {
		b.Fatal(err)
	}
	authAPI := httpapi.New(authSvc, httpapi.Options{Logger: logger})
	mlflowapi.New(authSvc, mlflowapi.Options{Logger: logger}).Register(authAPI.Mount)
	authH := authAPI.Handler()
	// And without the principal cache, every request reading the token or
	// the user with its roles from the database: the cost before it.
	uncached := httpapi.New(registry.New(store, blobs, registry.Options{Auth: true, AuthCacheTTL: -1}), httpapi.Options{Logger: logger}).Handler()
	bearer := "Bearer " + token
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("bench:bench-password-1"))

	page := strconv.Itoa(PageSize)
	for _, bc := range []struct {
		name, target, authorization string
		h                           http.Handler
	}{
		{name: "resolve", target: "/api/v1/resolve/bench-00003@champion", h: h},
		{name: "resolve-auth-token", target: "/api/v1/resolve/bench-00003@champion", authorization: bearer, h: authH},
		{name: "resolve-auth-basic", target: "/api/v1/resolve/bench-00003@champion", authorization: basic, h: authH},
		{name: "resolve-auth-token-uncached", target: "/api/v1/resolve/bench-00003@champion", authorization: bearer, h: uncached},
		{name: "resolve-auth-basic-uncached", target: "/api/v1/resolve/bench-00003@champion", authorization: basic, h: uncached},
		{name: "get", target: "/api/v1/models/bench-00003/versions/20", h: h},
		{name: "list", target: "/api/v1/models/bench-00003/versions?page_size=" + page, h: h},
		{name: "search", target: "/api/v1/versions?" + url.Values{"filter": {SearchFilter}, "page_size": {page}}.Encode(), h: h},
		{name: "models", target: "/api/v1/models?page_size=" + page, h: h},
		{name: "mlflow-alias", target: "/api/2.0/mlflow/registered-models/alias?name=bench-00003&alias=champion", h: h},
		{name: "mlflow-alias-auth-basic", target: "/api/2.0/mlflow/registered-models/alias?name=bench-00003&alias=champion", authorization: basic, h: authH},
		{name: "mlflow-get", target: "/api/2.0/mlflow/model-versions/get?name=bench-00003&version=20", h: h},
		{name: "search-tag", target: "/api/v1/versions?" + url.Values{"filter": {TagFilter}, "page_size": {page}}.Encode(), h: h},
		{name: "mlflow-versions", target: "/api/2.0/mlflow/model-versions/search?" + url.Values{"filter": {TagFilter}, "max_results": {page}, "order_by": {"name"}}.Encode(), h: h},
		{name: "mlflow-search", target: "/api/2.0/mlflow/registered-models/search?max_results=" + page, h: h},
	} {
		get := func(b *testing.B) {
			w := httptest.NewRecorder()
			r := httptest.NewRequest(http.MethodGet, bc.target, nil)
			if bc.authorization != "" {
				r.Header.Set("Authorization", bc.authorization)
			}
			bc.h.ServeHTTP(w, r)
			if w.Code != http.StatusOK {
				b.Fatalf("GET %s: %d %s", bc.target, w.Code, w.Body)
			}
		}
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			get(b) // warm up: a password's first check runs the slow KDF once
			before := cpuTime(b)
			for b.Loop() {
				get(b)
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
