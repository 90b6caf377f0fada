package bench

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/cairn-registry/cairn/internal/httpapi"
	"github.com/cairn-registry/cairn/internal/mlflowapi"
	"github.com/cairn-registry/cairn/internal/registry"
)

// TestMLflowScenarios runs the MLflow scenarios against Cairn with its
// MLflow API mounted, and against a server that answers only MLflow's API
// (as MLflow itself does), which Discover must recognize.
func TestMLflowScenarios(t *testing.T) {
	ctx := context.Background()
	store, blobs := openSQLite(t)
	if _, err := Seed(ctx, store, blobs, SeedOptions{Models: 5, Versions: 100}); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	svc := registry.New(store, blobs, registry.Options{})
	api := httpapi.New(svc, httpapi.Options{Logger: log})
	ml := mlflowapi.New(svc, mlflowapi.Options{Logger: log})
	ml.Register(api.Mount)
	srv := httptest.NewServer(api.Handler())
	defer srv.Close()
	only := http.NewServeMux()
	only.Handle("/api/2.0/mlflow/", ml)
	mlflowOnly := httptest.NewServer(only)
	defer mlflowOnly.Close()

	for _, tc := range []struct {
		name      string
		url       string
		scenarios []string
	}{
		{"cairn", srv.URL, MLflowScenarios},
		{"mlflow-only", mlflowOnly.URL, []string{ScenarioMLflowAlias, ScenarioMLflowGet, ScenarioMLflowSearch, ScenarioMLflowCreate}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tg, err := Discover(ctx, tc.url, NewHTTPClient(4))
			if err != nil {
				t.Fatal(err)
			}
			// The first case's mlflow-create adds 4 models of 10 versions.
			wantModels, wantVersions := 5, int64(100)
			if tc.name == "mlflow-only" {
				wantModels, wantVersions = 9, 140
			}
			if tg.Models != wantModels || tg.Versions != wantVersions || len(tg.aliased) != 5 || tg.mlflowOnly != (tc.name == "mlflow-only") {
				t.Fatalf("discovered %d models, %d versions, %d aliased, MLflow only %v", tg.Models, tg.Versions, len(tg.aliased), tg.mlflowOnly)
			}
			for _, name := range tc.scenarios {
				op, note, err := tg.Op(name)
				if err != nil {
					t.Fatal(err)
				}
				if note == "" {
					t.Errorf("%s: no note", name)
				}
				res, err := Run(ctx, name, Options{Concurrency: 4, Requests: 40}, op)
				if err != nil {
					t.Fatal(err)
				}
				if res.Errors != 0 || res.Requests != 40 {
					t.Fatalf("%s: %d requests, %d errors, first: %s", name, res.Requests, res.Errors, res.FirstError)
				}
			}
			if tc.name == "mlflow-only" {
				if _, _, err := tg.Op(ScenarioGet); err == nil {
					t.Error("a native scenario accepted against an MLflow-only server")
				}
			}
		})
	}
}
