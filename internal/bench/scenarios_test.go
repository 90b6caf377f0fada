package bench

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/cairn-registry/cairn/internal/httpapi"
	"github.com/cairn-registry/cairn/internal/registry"
	"github.com/cairn-registry/cairn/internal/testenv"
)

// TestScenarios runs every scenario briefly against a real server on a
// seeded SQLite registry and checks that each one succeeds: a benchmark
// whose requests fail measures error pages.
func TestScenarios(t *testing.T) {
	ctx := context.Background()
	store, blobs := openSQLite(t)
	if _, err := Seed(ctx, store, blobs, SeedOptions{Models: 5, Versions: 300}); err != nil {
		t.Fatal(err)
	}
	svc := registry.New(store, blobs, registry.Options{})
	api := httpapi.New(svc, httpapi.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	srv := httptest.NewServer(api.Handler())
	defer srv.Close()

	hc := NewHTTPClient(4)
	tg, err := Discover(ctx, srv.URL, hc)
	if err != nil {
		t.Fatal(err)
	}
	if tg.Models != 5 || tg.Versions != 300 || len(tg.aliased) != 5 {
		t.Fatalf("discovered %d models, %d versions, %d aliased; want 5, 300, 5", tg.Models, tg.Versions, len(tg.aliased))
	}
	for _, name := range []string{ScenarioResolve, ScenarioGet, ScenarioList, ScenarioSearch, ScenarioCreate} {
		t.Run(name, func(t *testing.T) {
			op, note, err := tg.Op(name)
			if err != nil {
				t.Fatal(err)
			}
			if note == "" {
				t.Error("no note")
			}
			res, err := Run(ctx, name, Options{Concurrency: 4, Requests: 40}, op)
			if err != nil {
				t.Fatal(err)
			}
			if res.Errors != 0 || res.Requests != 40 {
				t.Fatalf("%d requests, %d errors, first: %s", res.Requests, res.Errors, res.FirstError)
			}
		})
	}
	// The create scenario made 40 ready versions over 4 worker models.
	page, err := svc.ListModels(ctx, registry.ListRequest{PageSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	var created int64
	for _, m := range page.Items {
		if len(m.Name) > 13 && m.Name[:13] == "bench-create-" {
			created += m.LatestVersion
		}
	}
	if created != 40 {
		t.Errorf("create scenario made %d versions; want 40", created)
	}
	if _, _, err := tg.Op("nonsense"); err == nil {
		t.Error("unknown scenario accepted")
	}

	t.Run("transfer", func(t *testing.T) {
		dir := t.TempDir()
		push, pull, err := tg.Transfer(ctx, TransferOptions{Size: 3<<20 + 17, Dir: dir, ServerPID: os.Getpid()})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range []*Result{push, pull} {
			if r.Bytes != 3<<20+17 || r.MiBps <= 0 || r.Note == "" {
				t.Errorf("%s: %+v", r.Name, r)
			}
		}
		left, _ := os.ReadDir(dir)
		if len(left) != 0 {
			t.Errorf("transfer left %d entries in its directory", len(left))
		}
	})
}

func TestDiscoverEmpty(t *testing.T) {
	ctx := context.Background()
	store, blobs := openSQLite(t)
	svc := registry.New(store, blobs, registry.Options{})
	srv := httptest.NewServer(httpapi.New(svc, httpapi.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}).Handler())
	defer srv.Close()
	tg, err := Discover(ctx, srv.URL, NewHTTPClient(1))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{ScenarioResolve, ScenarioGet, ScenarioList, ScenarioSearch} {
		if _, _, err := tg.Op(name); err == nil {
			t.Errorf("%s on an empty registry: no error", name)
		}
	}
}

func TestBaseline(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	testBaseline(t, func() (*Baseline, error) { return StartBaseline(context.Background(), dir, 5000) })
	if _, err := os.Stat(filepath.Join(dir, baselineFile)); err != nil {
		t.Fatal(err)
	}
}

func TestPostgresBaseline(t *testing.T) {
	t.Parallel()
	dsn := testenv.PostgresURL(t)
	testBaseline(t, func() (*Baseline, error) {
		return StartPostgresBaselineAt(context.Background(), "127.0.0.1:0", dsn, 5000)
	})
}

// testBaseline starts a baseline of 5000 rows with start, checks its
// answers and a short run against it, then starts it again and checks that
// the table was reused, not rebuilt.
func testBaseline(t *testing.T, start func() (*Baseline, error)) {
	ctx := context.Background()
	b, err := start()
	if err != nil {
		t.Fatal(err)
	}
	if b.Built == 0 {
		t.Error("a new baseline database reports no build time")
	}
	for id, want := range map[int64]int{4321: http.StatusOK, 5001: http.StatusNotFound} {
		resp, err := http.Get(b.URL + "/items/" + strconv.FormatInt(id, 10))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Fatalf("GET /items/%d: %s %s, want %d", id, resp.Status, body, want)
		}
		if want != http.StatusOK {
			continue
		}
		var it baselineItem
		if err := json.Unmarshal(body, &it); err != nil || it.ID != id {
			t.Fatalf("GET /items/%d: %s (%v)", id, body, err)
		}
		if n := len(body); n < 250 || n > 350 {
			t.Errorf("answer is %d bytes; the baseline promises about 300", n)
		}
	}
	hc := NewHTTPClient(4)
	res, err := Run(ctx, "baseline", Options{Concurrency: 4, Duration: 200 * time.Millisecond}, b.Op(hc))
	if err != nil {
		t.Fatal(err)
	}
	if res.Errors != 0 || res.Requests == 0 {
		t.Fatalf("%d requests, %d errors: %s", res.Requests, res.Errors, res.FirstError)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}

	// The table is reused when it has the right size.
	b, err = start()
	if err != nil {
		t.Fatal(err)
	}
	if b.Built != 0 {
		t.Error("an existing baseline table was rebuilt")
	}
	b.Close()
}
