package client_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/client"
	"github.com/cairn-registry/cairn/internal/httpapi/apitest"
)

const mib = 1 << 20

// writeRandom writes size pseudo-random bytes (seeded, so reproducible) to
// path, streaming.
func writeRandom(t testing.TB, path string, size int64, seed uint64) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	var s [32]byte
	s[0], s[1] = byte(seed), byte(seed>>8)
	if _, err := io.CopyN(f, rand.NewChaCha8(s), size); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func writeFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func fileDigest(t testing.TB, path string) cairn.Digest {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	d := cairn.NewDigester()
	if _, err := io.Copy(d, f); err != nil {
		t.Fatal(err)
	}
	return d.Digest()
}

// tree lists the regular files under dir as relative slash paths →
// digest, failing on anything else (symlinks, leftovers are reported by
// name).
func tree(t testing.TB, dir string) map[string]cairn.Digest {
	t.Helper()
	out := map[string]cairn.Digest{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		out[filepath.ToSlash(rel)] = fileDigest(t, p)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// routeBytes reads a per-route byte counter from the server's metrics.
func routeBytes(t testing.TB, e *apitest.Env, metric, route string) int64 {
	t.Helper()
	text := settledMetrics(t, e)
	prefix := metric + `{route="` + route + `"} `
	for _, line := range strings.Split(text, "\n") {
		if v, ok := strings.CutPrefix(line, prefix); ok {
			var n int64
			if err := json.Unmarshal([]byte(v), &n); err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	return 0
}

// routeRequests sums cairn_http_requests_total for a route and method.
func routeRequests(t testing.TB, e *apitest.Env, route, method string) int64 {
	t.Helper()
	text := settledMetrics(t, e)
	prefix := `cairn_http_requests_total{route="` + route + `",method="` + method + `",code="`
	var total int64
	for _, line := range strings.Split(text, "\n") {
		if rest, ok := strings.CutPrefix(line, prefix); ok {
			_, v, _ := strings.Cut(rest, " ")
			var n int64
			if err := json.Unmarshal([]byte(v), &n); err != nil {
				t.Fatal(err)
			}
			total += n
		}
	}
	return total
}

const (
	routeBlob = "/api/v1/blobs/{digest}"
	routePart = "/api/v1/uploads/{id}/parts/{n}"
)

func TestPushPullRoundTrip(t *testing.T) {
	t.Parallel()
	e := apitest.New(t, apitest.Options{})
	ctx := context.Background()
	src := t.TempDir()
	dir := filepath.Join(src, "model")
	writeRandom(t, filepath.Join(dir, "weights", "model.bin"), 300<<10, 1)
	writeFile(t, filepath.Join(dir, "config.json"), `{"layers":3}`)
	writeFile(t, filepath.Join(dir, "tok", "a", "vocab.txt"), "a\nb\n")
	writeFile(t, filepath.Join(dir, "copy.json"), `{"layers":3}`) // same bytes as config.json
	writeFile(t, filepath.Join(dir, "empty"), "")
	readme := filepath.Join(src, "README.md")
	writeFile(t, readme, "# model\n")

	var lastDone, lastTotal int64
	var calls int
	res, err := e.Client.Push(ctx, "churn", []string{dir, readme}, cairn.VersionSpec{
		Metrics: map[string]float64{"auc": 0.9}, Framework: "pytorch", Aliases: []string{"champion"},
		Dependencies: "config.json",
	}, client.PushOptions{Progress: func(done, total int64) { lastDone, lastTotal = done, total; calls++ }})
	if err != nil {
		t.Fatal(err)
	}
	v := res.Version
	if v.Number != 1 || v.Status != cairn.StatusReady || res.Existing || len(v.Aliases) != 1 || v.Aliases[0] != "champion" {
		t.Fatalf("pushed %+v", v)
	}
	var paths []string
	for _, f := range v.Files {
		paths = append(paths, f.Path)
	}
	want := []string{"README.md", "config.json", "copy.json", "empty", "tok/a/vocab.txt", "weights/model.bin"}
	if diff := cmp.Diff(want, paths); diff != "" {
		t.Fatalf("manifest paths (-want +got):\n%s", diff)
	}
	// Five distinct contents (config.json and copy.json share one blob).
	wantBytes := int64(300<<10 + len(`{"layers":3}`) + len("a\nb\n") + len("# model\n"))
	if res.BlobsUploaded != 5 || res.BlobsSkipped != 0 || res.BytesUploaded != wantBytes {
		t.Fatalf("result = %+v; want 5 blobs, %d bytes", res, wantBytes)
	}
	if calls == 0 || lastDone != lastTotal || lastTotal != wantBytes {
		t.Fatalf("progress: %d calls, last %d/%d; want it to end at %d/%d", calls, lastDone, lastTotal, wantBytes, wantBytes)
	}

	out := filepath.Join(t.TempDir(), "out")
	pulled, err := e.Client.Pull(ctx, "churn@champion", out, client.PullOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if pulled.Digest != v.Digest {
		t.Fatalf("pulled %s, pushed %s", pulled.Digest, v.Digest)
	}
	got := tree(t, out)
	record := got[client.VersionFile]
	delete(got, client.VersionFile)
	wantTree := tree(t, dir)
	wantTree["README.md"] = fileDigest(t, readme)
	if diff := cmp.Diff(wantTree, got); diff != "" {
		t.Fatalf("pulled files differ (-want +got):\n%s", diff)
	}
	if record == "" {
		t.Fatal("no version record written")
	}
	b, err := os.ReadFile(filepath.Join(out, client.VersionFile))
	if err != nil {
		t.Fatal(err)
	}
	var rec cairn.Version
	if err := json.Unmarshal(b, &rec); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(v, &rec); diff != "" {
		t.Fatalf("version record differs from the pushed version (-push +record):\n%s", diff)
	}
}

func TestPushDedup(t *testing.T) {
	t.Parallel()
	e := apitest.New(t, apitest.Options{})
	ctx := context.Background()
	dir := t.TempDir()
	writeRandom(t, filepath.Join(dir, "a.bin"), 64<<10, 2)
	writeFile(t, filepath.Join(dir, "b.txt"), "bee")
	spec := cairn.VersionSpec{Params: map[string]string{"lr": "0.1"}}
	first, err := e.Client.Push(ctx, "m", []string{dir}, spec, client.PushOptions{})
	if err != nil {
		t.Fatal(err)
	}
	in := routeBytes(t, e, "cairn_http_bytes_in_total", routeBlob)

	again, err := e.Client.Push(ctx, "m", []string{dir}, spec, client.PushOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !again.Existing || again.Version.Number != first.Version.Number || again.BytesUploaded != 0 || again.BlobsUploaded != 0 || again.BlobsSkipped != 2 {
		t.Fatalf("second push = %+v; want the existing version, nothing uploaded", again)
	}
	if after := routeBytes(t, e, "cairn_http_bytes_in_total", routeBlob); after != in {
		t.Fatalf("the server read %d more blob bytes on an identical push", after-in)
	}

	// One changed file: a new version, one blob sent.
	writeFile(t, filepath.Join(dir, "b.txt"), "bee 2")
	third, err := e.Client.Push(ctx, "m", []string{dir}, spec, client.PushOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if third.Existing || third.Version.Number != 2 || third.BlobsUploaded != 1 || third.BlobsSkipped != 1 || third.BytesUploaded != 5 {
		t.Fatalf("third push = %+v", third)
	}
	// Same bytes, different fixed fields: a new version, nothing sent.
	fourth, err := e.Client.Push(ctx, "m", []string{dir}, cairn.VersionSpec{Params: map[string]string{"lr": "0.2"}}, client.PushOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if fourth.Existing || fourth.Version.Number != 3 || fourth.BlobsUploaded != 0 || fourth.BytesUploaded != 0 {
		t.Fatalf("fourth push = %+v", fourth)
	}
}

// TestPushLargeFileInParts pushes a 70 MiB file with the default options:
// it goes in 16 MiB parts (5 of them), never as one PUT, and pulls back
// intact.
func TestPushLargeFileInParts(t *testing.T) {
	t.Parallel()
	e := apitest.New(t, apitest.Options{})
	ctx := context.Background()
	dir := t.TempDir()
	big := filepath.Join(dir, "big.bin")
	const size = 70 * mib
	writeRandom(t, big, size, 3)
	res, err := e.Client.Push(ctx, "llm", []string{big}, cairn.VersionSpec{}, client.PushOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.BytesUploaded != size || res.BlobsUploaded != 1 {
		t.Fatalf("result = %+v", res)
	}
	if n := routeRequests(t, e, routePart, "PUT"); n != 5 {
		t.Fatalf("%d part uploads, want 5 (70 MiB in 16 MiB parts)", n)
	}
	if n := routeRequests(t, e, routeBlob, "PUT"); n != 0 {
		t.Fatalf("%d whole-blob uploads, want 0", n)
	}
	out := t.TempDir()
	if _, err := e.Client.Pull(ctx, "llm", out, client.PullOptions{}); err != nil {
		t.Fatal(err)
	}
	if got, want := fileDigest(t, filepath.Join(out, "big.bin")), fileDigest(t, big); got != want {
		t.Fatalf("pulled digest %s, pushed %s", got, want)
	}
}

// failingParts is a transport that lets allowed part uploads through and
// fails every later one before it reaches the server, as a dying network
// would.
type failingParts struct {
	allowed int64
	started atomic.Int64
}

func (f *failingParts) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/parts/") {
		if f.started.Add(1) > f.allowed {
			if r.Body != nil {
				r.Body.Close()
			}
			return nil, errors.New("network is down")
		}
	}
	return http.DefaultTransport.RoundTrip(r)
}

// TestPushResume interrupts a multi-part upload after 3 of 7 parts and
// pushes again: the second push re-sends only the missing parts, which the
// server's own byte counter confirms (< 60% of the file).
func TestPushResume(t *testing.T) {
	t.Parallel()
	e := apitest.New(t, apitest.Options{})
	ctx := context.Background()
	dir := t.TempDir()
	big := filepath.Join(dir, "big.bin")
	const size = 33 * mib // 7 parts of 5 MiB, the last 3 MiB
	writeRandom(t, big, size, 4)
	opts := client.PushOptions{PartSize: 5 * mib, MultipartThreshold: 8 * mib, Parallel: 2, Retries: -1}

	broken := client.New(e.Server.URL, client.WithUser("tester"), client.WithHTTPClient(&http.Client{Transport: &failingParts{allowed: 3}}))
	_, err := broken.Push(ctx, "m", []string{big}, cairn.VersionSpec{}, opts)
	if err == nil || !strings.Contains(err.Error(), "network is down") {
		t.Fatalf("interrupted push: err = %v", err)
	}
	partsBefore := routeRequests(t, e, routePart, "PUT")
	inBefore := routeBytes(t, e, "cairn_http_bytes_in_total", routePart)
	if partsBefore != 3 || inBefore != 15*mib {
		t.Fatalf("the interrupted push sent %d parts, %d bytes; want 3 parts, 15 MiB", partsBefore, inBefore)
	}

	res, err := e.Client.Push(ctx, "m", []string{big}, cairn.VersionSpec{}, opts)
	if err != nil {
		t.Fatal(err)
	}
	resent := routeBytes(t, e, "cairn_http_bytes_in_total", routePart) - inBefore
	if resent != size-15*mib || res.BytesUploaded != resent {
		t.Fatalf("the resumed push sent %d bytes (client says %d); want %d", resent, res.BytesUploaded, size-15*mib)
	}
	if float64(resent) >= 0.6*size {
		t.Fatalf("re-sent %d of %d bytes: not a resume", resent, size)
	}
	if res.Version.Status != cairn.StatusReady || res.Version.Number != 1 {
		t.Fatalf("version = %+v", res.Version)
	}
	out := t.TempDir()
	if _, err := e.Client.Pull(ctx, "m", out, client.PullOptions{}); err != nil {
		t.Fatal(err)
	}
	if fileDigest(t, filepath.Join(out, "big.bin")) != fileDigest(t, big) {
		t.Fatal("the resumed upload does not pull back intact")
	}
}

// TestPushResumeVerifiesParts: a received part whose bytes differ from the
// local file (same size) is sent again; a session started with another
// part size is continued with that size.
func TestPushResumeVerifiesParts(t *testing.T) {
	t.Parallel()
	e := apitest.New(t, apitest.Options{})
	ctx := context.Background()
	dir := t.TempDir()
	big := filepath.Join(dir, "big.bin")
	const size = 12 * mib
	writeRandom(t, big, size, 5)
	d := fileDigest(t, big)

	// A session with parts 1 (right bytes) and 2 (wrong bytes, right size).
	up, _, err := e.Client.StartUpload(ctx, d, size)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(big)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := e.Client.UploadPart(ctx, up.ID, 1, 5*mib, io.NewSectionReader(f, 0, 5*mib)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Client.UploadPart(ctx, up.ID, 2, 5*mib, bytes.NewReader(make([]byte, 5*mib))); err != nil {
		t.Fatal(err)
	}
	inBefore := routeBytes(t, e, "cairn_http_bytes_in_total", routePart)

	// The push asks for 6 MiB parts; the session's 5 MiB layout wins.
	res, err := e.Client.Push(ctx, "m", []string{big}, cairn.VersionSpec{}, client.PushOptions{PartSize: 6 * mib, MultipartThreshold: 8 * mib})
	if err != nil {
		t.Fatal(err)
	}
	resent := routeBytes(t, e, "cairn_http_bytes_in_total", routePart) - inBefore
	if resent != 7*mib || res.BytesUploaded != 7*mib {
		t.Fatalf("sent %d bytes (client: %d); want parts 2 and 3 again, 7 MiB", resent, res.BytesUploaded)
	}
	out := t.TempDir()
	if _, err := e.Client.Pull(ctx, "m", out, client.PullOptions{}); err != nil {
		t.Fatal(err)
	}
	if fileDigest(t, filepath.Join(out, "big.bin")) != d {
		t.Fatal("pulled bytes differ")
	}
}

// TestPushResumeWithoutFirstPart: a push cut off midway may leave a session
// holding later parts but not part 1 (parts go in parallel, and part 1 is
// not always among those that made it). The resume infers the session's
// part size from the parts it holds and sends only the missing part,
// whether it asks for the session's part size or another one.
func TestPushResumeWithoutFirstPart(t *testing.T) {
	t.Parallel()
	e := apitest.New(t, apitest.Options{})
	ctx := context.Background()
	for i, partSize := range []int64{5 * mib, 6 * mib} {
		dir := t.TempDir()
		big := filepath.Join(dir, "big.bin")
		const size = 12 * mib
		writeRandom(t, big, size, uint64(20+i))
		d := fileDigest(t, big)

		// A session in 5 MiB parts holding parts 2 and 3 (the last, 2 MiB).
		up, _, err := e.Client.StartUpload(ctx, d, size)
		if err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(big)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := e.Client.UploadPart(ctx, up.ID, 2, 5*mib, io.NewSectionReader(f, 5*mib, 5*mib)); err != nil {
			t.Fatal(err)
		}
		if _, err := e.Client.UploadPart(ctx, up.ID, 3, 2*mib, io.NewSectionReader(f, 10*mib, 2*mib)); err != nil {
			t.Fatal(err)
		}
		inBefore := routeBytes(t, e, "cairn_http_bytes_in_total", routePart)

		model := fmt.Sprintf("m%d", i)
		res, err := e.Client.Push(ctx, model, []string{big}, cairn.VersionSpec{}, client.PushOptions{PartSize: partSize, MultipartThreshold: 8 * mib})
		if err != nil {
			t.Fatal(err)
		}
		resent := routeBytes(t, e, "cairn_http_bytes_in_total", routePart) - inBefore
		if resent != 5*mib || res.BytesUploaded != 5*mib {
			t.Errorf("push asking for %d MiB parts sent %d bytes (client: %d); want part 1 only, 5 MiB", partSize/mib, resent, res.BytesUploaded)
		}
		out := t.TempDir()
		if _, err := e.Client.Pull(ctx, model, out, client.PullOptions{}); err != nil {
			t.Fatal(err)
		}
		if fileDigest(t, filepath.Join(out, "big.bin")) != d {
			t.Fatal("pulled bytes differ")
		}
	}
}

func TestPushSymlinksAndSpecialFiles(t *testing.T) {
	t.Parallel()
	e := apitest.New(t, apitest.Options{})
	ctx := context.Background()
	store := t.TempDir()
	writeFile(t, filepath.Join(store, "blob1"), "real content")
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "plain.txt"), "plain")
	if err := os.Symlink(filepath.Join(store, "blob1"), filepath.Join(dir, "linked.bin")); err != nil {
		t.Fatal(err)
	}
	// A symlink to a file is followed: its content, under the link's name.
	res, err := e.Client.Push(ctx, "hf", []string{dir}, cairn.VersionSpec{}, client.PushOptions{})
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]cairn.Digest{}
	for _, f := range res.Version.Files {
		files[f.Path] = f.Digest
	}
	if files["linked.bin"] != cairn.DigestOf([]byte("real content")) || len(files) != 2 {
		t.Fatalf("files = %v", files)
	}

	for name, setup := range map[string]func(string) error{
		"symlink to a directory": func(d string) error { return os.Symlink(store, filepath.Join(d, "dirlink")) },
		"broken symlink":         func(d string) error { return os.Symlink(filepath.Join(store, "nope"), filepath.Join(d, "dangling")) },
		"named pipe":             func(d string) error { return syscall.Mkfifo(filepath.Join(d, "pipe"), 0o644) },
	} {
		t.Run(name, func(t *testing.T) {
			d := t.TempDir()
			writeFile(t, filepath.Join(d, "ok.txt"), "ok")
			if err := setup(d); err != nil {
				t.Fatal(err)
			}
			before, _ := e.Service.ListAudit(ctx, cairn.AuditQuery{Limit: 1000})
			_, err := e.Client.Push(ctx, "refused", []string{d}, cairn.VersionSpec{}, client.PushOptions{})
			if err == nil {
				t.Fatal("push succeeded")
			}
			after, _ := e.Service.ListAudit(ctx, cairn.AuditQuery{Limit: 1000})
			if len(after) != len(before) {
				t.Fatalf("a refused push reached the server (%d audit entries added)", len(after)-len(before))
			}
		})
	}
}

func TestPushRefusesBadInput(t *testing.T) {
	t.Parallel()
	e := apitest.New(t, apitest.Options{})
	ctx := context.Background()
	a, b := t.TempDir(), t.TempDir()
	writeFile(t, filepath.Join(a, "x.txt"), "a")
	writeFile(t, filepath.Join(b, "x.txt"), "b")
	writeFile(t, filepath.Join(a, `back\slash`), "c")
	for name, tc := range map[string]struct {
		paths []string
		opts  client.PushOptions
		model string
	}{
		"nothing":          {nil, client.PushOptions{}, "m"},
		"empty directory":  {[]string{t.TempDir()}, client.PushOptions{}, "m"},
		"missing path":     {[]string{filepath.Join(a, "nope")}, client.PushOptions{}, "m"},
		"colliding paths":  {[]string{filepath.Join(a, "x.txt"), filepath.Join(b, "x.txt")}, client.PushOptions{}, "m"},
		"backslash name":   {[]string{a}, client.PushOptions{}, "m"},
		"part size < 5MiB": {[]string{filepath.Join(b, "x.txt")}, client.PushOptions{PartSize: mib}, "m"},
		"bad model name":   {[]string{filepath.Join(b, "x.txt")}, client.PushOptions{}, "a/b"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := e.Client.Push(ctx, tc.model, tc.paths, cairn.VersionSpec{}, tc.opts)
			if err == nil {
				t.Fatal("push succeeded")
			}
		})
	}
	page, err := e.Client.ListModels(ctx, client.ListRequest{})
	if err != nil || len(page.Items) != 0 {
		t.Fatalf("refused pushes created models: %+v, %v", page, err)
	}
}

func sortedKeys(m map[string]cairn.Digest) []string {
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// settledMetrics returns the server's metrics once no request but the
// scrape itself is in flight. A client can finish reading a response
// before the server's handler has returned and counted it, so a scrape
// right after a call may miss that call's counts; the server leaves the
// in-flight gauge only after counting, which makes this wait exact.
func settledMetrics(t testing.TB, e *apitest.Env) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		text, err := e.Client.Metrics(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(text, "\ncairn_http_requests_in_flight 1\n") {
			return text
		}
		if time.Now().After(deadline) {
			t.Fatalf("requests still in flight after 10 s:\n%s", text)
		}
		time.Sleep(time.Millisecond)
	}
}
