// Package apitest runs a real Cairn API server for tests: the registry
// service over SQLite and a blob directory in t.TempDir(), behind
// httptest.NewServer, with a client for it. No store is mocked.
package apitest

import (
	"bytes"
	"context"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"

	"github.com/cairn-registry/cairn/client"
	"github.com/cairn-registry/cairn/internal/fsblob"
	"github.com/cairn-registry/cairn/internal/httpapi"
	"github.com/cairn-registry/cairn/internal/registry"
	"github.com/cairn-registry/cairn/internal/sqlite"
)

// Env is a running server and what it is made of.
type Env struct {
	Server   *httptest.Server
	API      *httpapi.Server
	Service  *registry.Service
	Store    *sqlite.DB
	Blobs    *fsblob.Store
	Client   *client.Client // acting as user "tester"
	Logs     *SyncBuffer    // the server's JSON log lines
	BlobsDir string
	DBPath   string // the SQLite database file
}

// Options tune New.
type Options struct {
	API      httpapi.Options  // Logger is replaced by one writing to Env.Logs
	Registry registry.Options // passed to registry.New
	Client   []client.Option  // added after the defaults
}

// New starts a server for the test; it is stopped when the test ends.
func New(tb testing.TB, opts Options) *Env {
	tb.Helper()
	dir := tb.TempDir()
	ctx := context.Background()
	dbPath := filepath.Join(dir, "cairn.db")
	db, err := sqlite.Open(ctx, dbPath)
	if err != nil {
		tb.Fatalf("sqlite.Open: %v", err)
	}
	blobDir := filepath.Join(dir, "blobs")
	blobs, err := fsblob.New(blobDir)
	if err != nil {
		tb.Fatalf("fsblob.New: %v", err)
	}
	logs := &SyncBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	regOpts := opts.Registry
	if regOpts.Logger == nil {
		regOpts.Logger = logger
	}
	svc := registry.New(db, blobs, regOpts)
	apiOpts := opts.API
	apiOpts.Logger = logger
	api := httpapi.New(svc, apiOpts)
	srv := httptest.NewServer(api.Handler())
	tb.Cleanup(func() {
		srv.Close()
		_ = db.Close()
		_ = blobs.Close()
	})
	copts := append([]client.Option{client.WithUser("tester"), client.WithHTTPClient(srv.Client())}, opts.Client...)
	return &Env{
		Server: srv, API: api, Service: svc, Store: db, Blobs: blobs,
		Client: client.New(srv.URL, copts...), Logs: logs, BlobsDir: blobDir, DBPath: dbPath,
	}
}

// SyncBuffer is a bytes.Buffer safe for concurrent writers.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
