package client_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/client"
	"github.com/cairn-registry/cairn/internal/httpapi/apitest"
)

// transfers watches the blob and part uploads a client sends: how many
// are in flight at once, and it can cut the network after a number of
// them, as a dying CI runner would.
type transfers struct {
	allowed  int64 // uploads let through; negative: all
	started  atomic.Int64
	mu       sync.Mutex
	inFlight int
	peak     int
}

func (x *transfers) RoundTrip(r *http.Request) (*http.Response, error) {
	upload := r.Method == http.MethodPut && (strings.Contains(r.URL.Path, "/parts/") || strings.HasPrefix(r.URL.Path, "/api/v1/blobs/"))
	if !upload {
		return http.DefaultTransport.RoundTrip(r)
	}
	if x.allowed >= 0 && x.started.Add(1) > x.allowed {
		if r.Body != nil {
			r.Body.Close()
		}
		return nil, errors.New("network is down")
	}
	x.mu.Lock()
	x.inFlight++
	x.peak = max(x.peak, x.inFlight)
	x.mu.Unlock()
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err != nil {
		x.done()
		return nil, err
	}
	// The upload is over once the client has read its answer.
	resp.Body = &doneBody{ReadCloser: resp.Body, x: x}
	return resp, nil
}

func (x *transfers) done() {
	x.mu.Lock()
	x.inFlight--
	x.mu.Unlock()
}

type doneBody struct {
	io.ReadCloser
	x    *transfers
	once sync.Once
}

func (b *doneBody) Close() error {
	b.once.Do(b.x.done)
	return b.ReadCloser.Close()
}

// TestPushShardedCheckpoint is the large multi-file artifact of issue #8,
// scaled for CI: a checkpoint of 200 shards, one of them large (24 MiB,
// pushed in 5 MiB parts: the mechanism a 4 GiB shard uses, which
// internal/e2e's TestPushResumesInterrupted1GiB runs at 1 GiB).
//
//   - the push keeps at most Parallel uploads (blobs and parts) in flight;
//   - a push cut off midway, run again, uploads only what the server does
//     not hold yet: the shards that did not make it and the large shard's
//     missing parts;
//   - pull --include fetches a subset by pattern.
func TestPushShardedCheckpoint(t *testing.T) {
	t.Parallel()
	e := apitest.New(t, apitest.Options{})
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "ckpt")
	const shards = 200
	name := func(i int) string { return fmt.Sprintf("model-%05d-of-%05d.safetensors", i, shards) }
	for i := 1; i < shards; i++ {
		writeRandom(t, filepath.Join(dir, name(i)), 64<<10, uint64(i))
	}
	writeRandom(t, filepath.Join(dir, name(shards)), 24*mib, 7) // the large shard: 5 parts
	writeFile(t, filepath.Join(dir, "config.json"), `{"architectures": ["Churn"]}`)
	opts := client.PushOptions{Parallel: 3, PartSize: 5 * mib, MultipartThreshold: 8 * mib, Retries: -1}

	// Two pushes die midway: the first among the large shard's parts, the
	// second among the small shards (the largest files go first).
	var cuts []string
	for _, allowed := range []int64{2, 60} {
		cut := &transfers{allowed: allowed}
		dying := client.New(e.Server.URL, client.WithUser("ci"), client.WithHTTPClient(&http.Client{Transport: cut}))
		if _, err := dying.Push(ctx, "llm", []string{dir}, cairn.VersionSpec{}, opts); err == nil || !strings.Contains(err.Error(), "network is down") {
			t.Fatalf("push cut after %d uploads: err = %v", allowed, err)
		}
		if cut.peak > opts.Parallel {
			t.Errorf("%d uploads were in flight at once; Parallel is %d", cut.peak, opts.Parallel)
		}
		blobs, parts := uploadsOK(t, e, routeBlob), uploadsOK(t, e, routePart)
		cuts = append(cuts, fmt.Sprintf("%d blobs and %d parts stored", blobs, parts))
		if allowed == 2 && (parts == 0 || parts == 5) {
			t.Errorf("after the first cut the server holds %d of the 5 parts; the test wants a resume among them", parts)
		}
		if allowed == 60 && (blobs == 0 || blobs >= shards) {
			t.Errorf("after the second cut the server holds %d of the %d small files; the test wants a resume among them", blobs, shards)
		}
	}

	watch := &transfers{allowed: -1}
	cl := client.New(e.Server.URL, client.WithUser("ci"), client.WithHTTPClient(&http.Client{Transport: watch}))
	res, err := cl.Push(ctx, "llm", []string{dir}, cairn.VersionSpec{}, opts)
	if err != nil {
		t.Fatal(err)
	}
	if watch.peak > opts.Parallel {
		t.Errorf("%d uploads were in flight at once; Parallel is %d", watch.peak, opts.Parallel)
	}
	// Over the three pushes every small file (199 shards and config.json)
	// and every one of the large shard's 5 parts was stored exactly once:
	// nothing the server held was sent again.
	if b, p := uploadsOK(t, e, routeBlob), uploadsOK(t, e, routePart); b != shards || p != 5 {
		t.Errorf("stored %d blobs and %d parts in all; want %d and 5, each once", b, p, shards)
	}
	t.Logf("after the first cut: %s; after the second: %s; the last push completed it with at most %d uploads in flight (Parallel %d)",
		cuts[0], cuts[1], watch.peak, opts.Parallel)
	v := res.Version
	if v.Status != cairn.StatusReady || len(v.Files) != shards+1 {
		t.Fatalf("version: %s with %d files", v.Status, len(v.Files))
	}

	out := t.TempDir()
	if _, err := cl.Pull(ctx, "llm@latest", out, client.PullOptions{Include: []string{"model-0000[1-2]*", "config.json"}}); err != nil {
		t.Fatal(err)
	}
	got := tree(t, out)
	var names []string
	for p := range got {
		names = append(names, p)
	}
	sort.Strings(names)
	want := []string{client.VersionFile, "config.json", name(1), name(2)}
	if fmt.Sprint(names) != fmt.Sprint(want) {
		t.Fatalf("pulled %v, want %v", names, want)
	}
	if got[name(2)] != fileDigest(t, filepath.Join(dir, name(2))) {
		t.Error("pulled shard 2 differs from the pushed one")
	}
}

// uploadsOK counts the successful (2xx) PUT requests the server answered
// on a route.
func uploadsOK(t testing.TB, e *apitest.Env, route string) int64 {
	t.Helper()
	prefix := `cairn_http_requests_total{route="` + route + `",method="PUT",code="2`
	var total int64
	for _, line := range strings.Split(settledMetrics(t, e), "\n") {
		if rest, ok := strings.CutPrefix(line, prefix); ok {
			_, v, _ := strings.Cut(rest, " ")
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			total += n
		}
	}
	return total
}
