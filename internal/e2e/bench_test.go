package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cairn-registry/cairn/internal/bench"
	"github.com/cairn-registry/cairn/internal/cli"
	"github.com/cairn-registry/cairn/internal/fsblob"
	"github.com/cairn-registry/cairn/internal/httpapi"
	"github.com/cairn-registry/cairn/internal/registry"
	"github.com/cairn-registry/cairn/internal/sqlite"
)

// TestBenchCommand runs `cairn bench seed` on a data directory, serves it,
// and runs a short `cairn bench --json` against it: every scenario must
// succeed, with figures and the machine in the report.
func TestBenchCommand(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	run := func(args ...string) string {
		t.Helper()
		var stdout, stderr bytes.Buffer
		if code := cli.Main(context.Background(), args, nil, &stdout, &stderr); code != 0 {
			t.Fatalf("cairn %s: exit %d\n%s", strings.Join(args, " "), code, stderr.String())
		}
		return stdout.String()
	}
	out := run("bench", "seed", "--data", data, "--models", "4", "--versions", "120", "--batch", "50")
	if !strings.Contains(out, "seeded 120 versions over 4 models") {
		t.Errorf("seed printed %q", out)
	}

	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(data, "cairn.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	blobs, err := fsblob.New(filepath.Join(data, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	defer blobs.Close()
	api := httpapi.New(registry.New(store, blobs, registry.Options{}), httpapi.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	srv := httptest.NewServer(api.Handler())
	defer srv.Close()

	out = run("bench", "--url", srv.URL, "--json", "--concurrency", "2", "--requests", "20", "--warmup", "0",
		"--baseline-rows", "1000", "--baseline-dir", dir, "--transfer-mib", "2", "--transfer-dir", dir)
	var rep struct {
		Machine  bench.Machine   `json:"machine"`
		Versions int64           `json:"versions"`
		Baseline string          `json:"baseline"`
		Results  []*bench.Result `json:"results"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("bench --json printed %q: %v", out, err)
	}
	if rep.Machine.CPUs < 1 || rep.Machine.GoVersion == "" || rep.Versions != 120 || rep.Baseline == "" {
		t.Errorf("report header: %+v, %d versions, baseline %q", rep.Machine, rep.Versions, rep.Baseline)
	}
	var names []string
	for _, r := range rep.Results {
		names = append(names, r.Name)
		if r.Errors != 0 || r.Requests == 0 || r.P99 <= 0 {
			t.Errorf("%s: %d requests, %d errors (%s), p99 %v", r.Name, r.Requests, r.Errors, r.FirstError, r.P99)
		}
		transfer := r.Name == bench.ScenarioPush || r.Name == bench.ScenarioPull
		switch b := r.Baseline; {
		case transfer && b != nil:
			t.Errorf("%s has a baseline", r.Name)
		case !transfer && (b == nil || b.Requests != 20 || b.Errors != 0 || r.Ratio() <= 0):
			t.Errorf("%s: baseline %+v", r.Name, b)
		}
	}
	if got, want := strings.Join(names, ","), "resolve,get,list,search,create,push,pull"; got != want {
		t.Errorf("scenarios run: %s; want %s", got, want)
	}

	// The table for people names the machine and every scenario.
	out = run("bench", "--url", srv.URL, "--concurrency", "2", "--requests", "10", "--warmup", "0",
		"--baseline-rows", "1000", "--baseline-dir", dir, "--rounds", "2", "--scenarios", "resolve,get")
	for _, want := range []string{"machine:", "CPUs", "resolve", "get", "P99", "RATIO"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	var stderr bytes.Buffer
	if code := cli.Main(ctx, []string{"bench", "--url", srv.URL, "--scenarios", "nonsense"}, nil, io.Discard, &stderr); code != 2 {
		t.Errorf("unknown scenario: exit %d; want 2 (usage)", code)
	}
}
