package mlflowapi_test

import (
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/cairn-registry/cairn/client"
	"github.com/cairn-registry/cairn/internal/fsblob"
	"github.com/cairn-registry/cairn/internal/httpapi"
	"github.com/cairn-registry/cairn/internal/httpapi/apitest"
	"github.com/cairn-registry/cairn/internal/mlflowapi"
	"github.com/cairn-registry/cairn/internal/postgres"
	"github.com/cairn-registry/cairn/internal/registry"
	"github.com/cairn-registry/cairn/internal/testenv"
)

// storeEnvs are the metadata stores the tracking tests run on, each
// behind the real HTTP front door with the MLflow API mounted.
var storeEnvs = []struct {
	name string
	open func(t *testing.T) *env
}{
	{"sqlite", newEnv},
	{"postgres", newPostgresEnv},
}

// newPostgresEnv is newEnv over a throwaway PostgreSQL database (and a
// blob directory).
func newPostgresEnv(t *testing.T) *env {
	t.Helper()
	url := testenv.PostgresURL(t)
	db, err := postgres.Open(t.Context(), url, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	blobs, err := fsblob.New(filepath.Join(t.TempDir(), "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	logs := &apitest.SyncBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	svc := registry.New(db, blobs, registry.Options{Logger: log})
	api := httpapi.New(svc, httpapi.Options{Logger: log})
	mlflowapi.New(svc, mlflowapi.Options{Logger: log}).Register(api.Mount)
	srv := httptest.NewServer(api.Handler())
	t.Cleanup(func() {
		srv.Close()
		db.Close()
		blobs.Close()
	})
	return &env{t: t, Env: &apitest.Env{
		Server: srv, API: api, Service: svc, Logs: logs,
		Client: client.New(srv.URL, client.WithUser("tester"), client.WithHTTPClient(srv.Client())),
	}}
}
