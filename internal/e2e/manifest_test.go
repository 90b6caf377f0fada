package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/client"
)

// manifestFiles is how many files TestManifest100k pushes:
// CAIRN_E2E_MANIFEST_FILES, by default 10,000, which a loaded CI machine
// pushes and pulls in a minute or two (every blob costs two fsyncs; see
// docs/benchmarks.md, which records a run with
// CAIRN_E2E_MANIFEST_FILES=100000). The manifest limit itself is tested
// in internal/httpapi (TestManifestBodyLimit).
func manifestFiles(t *testing.T) int {
	if s := os.Getenv("CAIRN_E2E_MANIFEST_FILES"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("CAIRN_E2E_MANIFEST_FILES=%q: want a positive number", s)
		}
		return n
	}
	return 10_000
}

// TestManifest100k pushes a version of 100,000 (see manifestFiles) tiny files to a real
// `cairn serve`, reads it back (resolve, the version list, cairn show's
// record), pulls all of it and a subset, and logs how long each step
// took; docs/benchmarks.md records the figures. It checks what came back,
// never how fast.
func TestManifest100k(t *testing.T) {
	if testing.Short() {
		t.Skip("pushes 100,000 files; skipped with -short")
	}
	n := manifestFiles(t)
	tmp := t.TempDir()
	srv := startServer(t, "--data", filepath.Join(tmp, "data"))
	c := ctx(t, 20*time.Minute)
	cl := client.New(srv.URL, client.WithUser("e2e"))

	// 100 directories of n/100 files, as a sharded dataset would be laid out.
	src := filepath.Join(tmp, "src")
	start := time.Now()
	for i := range n {
		dir := filepath.Join(src, fmt.Sprintf("part-%03d", i%100))
		if i < 100 {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("row-%06d.json", i)), []byte(fmt.Sprintf(`{"row":%d}`, i)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("wrote %d files in %v", n, time.Since(start).Round(time.Millisecond))

	start = time.Now()
	res, err := cl.Push(c, "rows", []string{src}, cairn.VersionSpec{Kind: cairn.KindDataset}, client.PushOptions{})
	if err != nil {
		t.Fatalf("push: %v\nserver stderr:\n%s", err, srv.stderr)
	}
	push := time.Since(start)
	if v := res.Version; v.Status != cairn.StatusReady || len(v.Files) != n || res.BlobsUploaded != n {
		t.Fatalf("push: %d files, status %s, %d uploaded; want %d files, ready, all uploaded", len(v.Files), v.Status, res.BlobsUploaded, n)
	}

	start = time.Now()
	again, err := cl.Push(c, "rows", []string{src}, cairn.VersionSpec{Kind: cairn.KindDataset}, client.PushOptions{})
	if err != nil {
		t.Fatal(err)
	}
	repush := time.Since(start)
	if !again.Existing || again.BlobsUploaded != 0 {
		t.Fatalf("push again: existing %v, %d uploaded; want the same version, nothing uploaded", again.Existing, again.BlobsUploaded)
	}

	start = time.Now()
	v, err := cl.Resolve(c, "rows@latest")
	if err != nil || len(v.Files) != n {
		t.Fatalf("resolve: %v, %d files", err, len(v.Files))
	}
	resolve := time.Since(start)
	start = time.Now()
	page, err := cl.ListVersions(c, "rows", client.ListRequest{})
	if err != nil || len(page.Items) != 1 || len(page.Items[0].Files) != n {
		t.Fatalf("list versions: %v", err)
	}
	list := time.Since(start)

	dst := filepath.Join(tmp, "pulled")
	start = time.Now()
	if _, err := cl.Pull(c, "rows", dst, client.PullOptions{}); err != nil {
		t.Fatalf("pull: %v", err)
	}
	pull := time.Since(start)
	for _, i := range []int{0, n / 2, n - 1} {
		b, err := os.ReadFile(filepath.Join(dst, fmt.Sprintf("part-%03d", i%100), fmt.Sprintf("row-%06d.json", i)))
		if err != nil || string(b) != fmt.Sprintf(`{"row":%d}`, i) {
			t.Fatalf("pulled file %d: %q, %v", i, b, err)
		}
	}
	start = time.Now()
	if _, err := cl.Pull(c, "rows", dst, client.PullOptions{}); err != nil {
		t.Fatalf("pull again: %v", err)
	}
	repull := time.Since(start)

	sub := filepath.Join(tmp, "subset")
	start = time.Now()
	if _, err := cl.Pull(c, "rows", sub, client.PullOptions{Include: []string{"part-00[0-1]"}}); err != nil {
		t.Fatalf("pull a subset: %v", err)
	}
	subset := time.Since(start)
	entries, err := os.ReadDir(sub)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 3 { // part-000, part-001, .cairn-version.json
		t.Errorf("subset pull wrote %d entries, want 3", len(entries))
	}
	t.Logf("%d files: push %v, push again (nothing to upload) %v, resolve %v, list versions %v, pull %v, pull again (all present) %v, pull 2%% (--include) %v",
		n, push.Round(time.Millisecond), repush.Round(time.Millisecond), resolve.Round(time.Millisecond), list.Round(time.Millisecond),
		pull.Round(time.Millisecond), repull.Round(time.Millisecond), subset.Round(time.Millisecond))
}
