package client_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/client"
	"github.com/cairn-registry/cairn/internal/httpapi/apitest"
)

// pushTree pushes files (path → content) as a version of model.
func pushTree(t testing.TB, e *apitest.Env, model string, files map[string]string) *cairn.Version {
	t.Helper()
	dir := t.TempDir()
	for p, c := range files {
		writeFile(t, filepath.Join(dir, filepath.FromSlash(p)), c)
	}
	res, err := e.Client.Push(context.Background(), model, []string{dir}, cairn.VersionSpec{}, client.PushOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return res.Version
}

func TestPullInclude(t *testing.T) {
	t.Parallel()
	e := apitest.New(t, apitest.Options{})
	ctx := context.Background()
	pushTree(t, e, "m", map[string]string{
		"config.json": "{}", "weights/a.bin": "A", "weights/deep/b.bin": "B",
		"tok/vocab.txt": "v", "tok/merges.json": "[]", "README.md": "r",
	})
	for _, tc := range []struct {
		include []string
		want    []string
	}{
		{[]string{"*.json"}, []string{"config.json"}},
		{[]string{"weights"}, []string{"weights/a.bin", "weights/deep/b.bin"}},
		{[]string{"weights/"}, []string{"weights/a.bin", "weights/deep/b.bin"}},
		{[]string{"weights/*"}, []string{"weights/a.bin", "weights/deep/b.bin"}},
		{[]string{"tok/*.json", "README.md"}, []string{"README.md", "tok/merges.json"}},
		{[]string{"*/deep"}, []string{"weights/deep/b.bin"}},
	} {
		out := t.TempDir()
		if _, err := e.Client.Pull(ctx, "m", out, client.PullOptions{Include: tc.include}); err != nil {
			t.Fatalf("include %v: %v", tc.include, err)
		}
		got := tree(t, out)
		delete(got, client.VersionFile)
		if diff := cmp.Diff(tc.want, sortedKeys(got)); diff != "" {
			t.Errorf("include %v (-want +got):\n%s", tc.include, diff)
		}
	}
	for _, bad := range [][]string{{"nothing*"}, {"["}} {
		out := t.TempDir()
		_, err := e.Client.Pull(ctx, "m", out, client.PullOptions{Include: bad})
		if cairn.ErrorCodeOf(err) != cairn.EINVALID {
			t.Errorf("include %v: err = %v, want invalid", bad, err)
		}
		if entries, _ := os.ReadDir(out); len(entries) != 0 {
			t.Errorf("include %v wrote %d entries", bad, len(entries))
		}
	}
}

// TestPullResume: files already present with the right digest are not
// downloaded again; a damaged one is.
func TestPullResume(t *testing.T) {
	t.Parallel()
	e := apitest.New(t, apitest.Options{})
	ctx := context.Background()
	pushTree(t, e, "m", map[string]string{"a.txt": strings.Repeat("a", 1000), "b.txt": strings.Repeat("b", 2000), "c/d.txt": "ddd"})
	out := t.TempDir()
	pushed := routeBytes(t, e, "cairn_http_bytes_out_total", routeBlob) // the push's PUT answers
	if _, err := e.Client.Pull(ctx, "m", out, client.PullOptions{}); err != nil {
		t.Fatal(err)
	}
	sent := routeBytes(t, e, "cairn_http_bytes_out_total", routeBlob)
	if sent-pushed != 3003 {
		t.Fatalf("first pull: the server sent %d blob bytes, want 3003", sent-pushed)
	}
	// Damage b.txt (same size) and pull again: only b.txt travels.
	writeFile(t, filepath.Join(out, "b.txt"), strings.Repeat("x", 2000))
	if _, err := e.Client.Pull(ctx, "m", out, client.PullOptions{}); err != nil {
		t.Fatal(err)
	}
	if again := routeBytes(t, e, "cairn_http_bytes_out_total", routeBlob) - sent; again != 2000 {
		t.Fatalf("second pull: the server sent %d blob bytes, want 2000 (b.txt only)", again)
	}
	if b, _ := os.ReadFile(filepath.Join(out, "b.txt")); string(b) != strings.Repeat("b", 2000) {
		t.Fatal("b.txt not repaired")
	}
}

// TestPullRefusesSymlinkInDestination: a symbolic link inside the
// destination on the way to a file is refused, and nothing is written
// where it points.
func TestPullRefusesSymlinkInDestination(t *testing.T) {
	t.Parallel()
	e := apitest.New(t, apitest.Options{})
	ctx := context.Background()
	pushTree(t, e, "m", map[string]string{"sub/file.txt": "payload", "top.txt": "t"})
	outside := t.TempDir()
	out := t.TempDir()
	if err := os.Symlink(outside, filepath.Join(out, "sub")); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Client.Pull(ctx, "m", out, client.PullOptions{}); err == nil || !strings.Contains(err.Error(), "symbolic link") {
		t.Fatalf("pull through a symlinked directory: err = %v", err)
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 0 {
		t.Fatalf("pull wrote %d entries through the symlink", len(entries))
	}
	// A symlink in place of a file is refused too (not written through).
	out2 := t.TempDir()
	target := filepath.Join(outside, "victim")
	writeFile(t, target, "keep me")
	if err := os.Symlink(target, filepath.Join(out2, "top.txt")); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Client.Pull(ctx, "m", out2, client.PullOptions{Include: []string{"top.txt"}}); err == nil {
		t.Fatal("pull over a symlinked file succeeded")
	}
	if b, _ := os.ReadFile(target); string(b) != "keep me" {
		t.Fatalf("the symlink's target was overwritten: %q", b)
	}
}

// fakeServer serves a hand-made version record and blobs, to test what
// the client does with answers a real server would never give.
type fakeServer struct {
	version    cairn.Version
	blobs      map[cairn.Digest]string
	blobHits   atomic.Int64
	srv        *httptest.Server
	resolveRef atomic.Value
}

func newFakeServer(t *testing.T, v cairn.Version, blobs map[cairn.Digest]string) *fakeServer {
	f := &fakeServer{version: v, blobs: blobs}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/resolve/{ref}", func(w http.ResponseWriter, r *http.Request) {
		f.resolveRef.Store(r.PathValue("ref"))
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(f.version)
	})
	mux.HandleFunc("GET /api/v1/blobs/{digest}", func(w http.ResponseWriter, r *http.Request) {
		f.blobHits.Add(1)
		b, ok := f.blobs[cairn.Digest(r.PathValue("digest"))]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		_, _ = w.Write([]byte(b))
	})
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func readyVersion(files ...cairn.File) cairn.Version {
	return cairn.Version{Model: "evil", Number: 1, Status: cairn.StatusReady, Files: files, CreatedAt: time.Now()}
}

// TestPullRefusesHostileManifest: the server cannot make a client write
// outside its destination. The manifests below cannot be created through
// a real server (it validates paths), so a fake one serves them.
func TestPullRefusesHostileManifest(t *testing.T) {
	t.Parallel()
	content := "pwned"
	d := cairn.DigestOf([]byte(content))
	for _, p := range []string{
		"../evil.txt", "a/../../evil.txt", "/tmp/evil.txt", `..\evil.txt`, "a/./b", "a//b", "", ".",
		"sub/..", "evil\x00.txt", "C:/evil.txt", client.VersionFile,
	} {
		t.Run(p, func(t *testing.T) {
			f := newFakeServer(t, readyVersion(
				cairn.File{Path: "fine.txt", Size: int64(len(content)), Digest: d},
				cairn.File{Path: p, Size: int64(len(content)), Digest: d},
			), map[cairn.Digest]string{d: content})
			parent := t.TempDir()
			out := filepath.Join(parent, "dest", "inner")
			c := client.New(f.srv.URL)
			_, err := c.Pull(context.Background(), "evil", out, client.PullOptions{})
			if err == nil {
				t.Fatalf("pull of a manifest with %q succeeded", p)
			}
			if n := f.blobHits.Load(); n != 0 {
				t.Fatalf("the client fetched %d blobs before refusing", n)
			}
			if entries, _ := os.ReadDir(parent); len(entries) != 0 {
				t.Fatalf("pull created %d entries before refusing", len(entries))
			}
		})
	}
	// Duplicates and file-versus-directory clashes are refused as well.
	for name, files := range map[string][]cairn.File{
		"duplicate":         {{Path: "a", Size: 5, Digest: d}, {Path: "a", Size: 5, Digest: d}},
		"file and dir":      {{Path: "a", Size: 5, Digest: d}, {Path: "a/b", Size: 5, Digest: d}},
		"bad digest":        {{Path: "a", Size: 5, Digest: "sha256:zz"}},
		"negative size":     {{Path: "a", Size: -1, Digest: d}},
		"not ready version": nil,
	} {
		t.Run(name, func(t *testing.T) {
			v := readyVersion(files...)
			if files == nil {
				v = readyVersion(cairn.File{Path: "a", Size: 5, Digest: d})
				v.Status = cairn.StatusPending
			}
			f := newFakeServer(t, v, map[cairn.Digest]string{d: content})
			out := filepath.Join(t.TempDir(), "out")
			if _, err := client.New(f.srv.URL).Pull(context.Background(), "evil", out, client.PullOptions{}); err == nil {
				t.Fatal("pull succeeded")
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Fatalf("pull created the destination: %v", err)
			}
		})
	}
}

// TestPullDigestMismatch: bytes that do not match the manifest are not
// kept: no file, no temporary file, and an error.
func TestPullDigestMismatch(t *testing.T) {
	t.Parallel()
	good := "good bytes"
	d := cairn.DigestOf([]byte(good))
	for name, served := range map[string]string{
		"same size, other bytes": "evil bytes",
		"too short":              "good",
		"too long":               "good bytes and more",
	} {
		t.Run(name, func(t *testing.T) {
			f := newFakeServer(t, readyVersion(cairn.File{Path: "dir/a.txt", Size: int64(len(good)), Digest: d}), map[cairn.Digest]string{d: served})
			out := t.TempDir()
			_, err := client.New(f.srv.URL).Pull(context.Background(), "x@v1", out, client.PullOptions{})
			if err == nil {
				t.Fatal("pull of corrupt bytes succeeded")
			}
			files := tree(t, out)
			if len(files) != 0 {
				t.Fatalf("files left behind: %v", files)
			}
		})
	}
	// The reference reaches the server escaped and intact.
	f := newFakeServer(t, readyVersion(cairn.File{Path: "a", Size: int64(len(good)), Digest: d}), map[cairn.Digest]string{d: good})
	if _, err := client.New(f.srv.URL).Pull(context.Background(), "models:/my model/3", t.TempDir(), client.PullOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := f.resolveRef.Load(); got != "models:/my model/3" {
		t.Fatalf("the server saw reference %q", got)
	}
}
