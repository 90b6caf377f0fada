package httpapi_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/client"
	"github.com/cairn-registry/cairn/internal/httpapi"
	"github.com/cairn-registry/cairn/internal/httpapi/apitest"
	"github.com/cairn-registry/cairn/internal/registry"
	"github.com/cairn-registry/cairn/internal/s3blob"
	"github.com/cairn-registry/cairn/internal/sqlite"
	"github.com/cairn-registry/cairn/internal/testenv"
)

// With presigned downloads on and an S3 blob store (versitygw), a blob GET
// is a 307 to the bucket; the client follows it (without carrying its
// token there), still verifies digests, and Range requests work through
// it. HEAD and conditional requests are answered by the server.
func TestPresignedDownloads(t *testing.T) {
	t.Parallel()
	s3cfg := testenv.S3(t)
	ctx := context.Background()
	dir := t.TempDir()
	db, err := sqlite.Open(ctx, filepath.Join(dir, "cairn.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	blobs, err := s3blob.New(ctx, s3blob.Config{
		Bucket: s3cfg.Bucket, Prefix: "reg", Endpoint: s3cfg.Endpoint, Region: s3cfg.Region,
		AccessKey: s3cfg.AccessKey, SecretKey: s3cfg.SecretKey, PathStyle: true, TempDir: t.TempDir(),
	})
	if err != nil {
		t.Fatal(err)
	}
	svc := registry.New(db, blobs, registry.Options{})
	api := httpapi.New(svc, httpapi.Options{PresignDownloads: 5 * time.Minute})
	var served atomic.Int64 // bytes of blob downloads this server sent
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cw := &countingWriter{ResponseWriter: w}
		api.Handler().ServeHTTP(cw, r)
		if r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/api/v1/blobs/") {
			served.Add(cw.n)
		}
	}))
	t.Cleanup(srv.Close)
	// A token the object store must never see: versitygw refuses a
	// presigned request that also carries an Authorization header.
	cl := client.New(srv.URL, client.WithUser("tester"), client.WithToken("not-for-s3"))

	src := t.TempDir()
	content := bytes.Repeat([]byte("presigned bytes "), 64<<10) // 1 MiB
	if err := os.WriteFile(filepath.Join(src, "weights.bin"), content, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "config.json"), []byte(`{"layers": 2}`), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := cl.Push(ctx, "churn", []string{filepath.Join(src, "weights.bin"), filepath.Join(src, "config.json")}, cairn.VersionSpec{}, client.PushOptions{})
	if err != nil {
		t.Fatal(err)
	}
	d := cairn.DigestOf(content)

	// The raw answer: 307 to the bucket, not the bytes.
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get(srv.URL + "/api/v1/blobs/" + string(d))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusTemporaryRedirect || !strings.HasPrefix(loc, s3cfg.Endpoint+"/"+s3cfg.Bucket+"/reg/") ||
		resp.Header.Get("X-Cairn-Digest") != string(d) || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("GET blob: %d, Location %q, headers %v", resp.StatusCode, loc, resp.Header)
	}
	resp, err = http.Get(loc)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || !bytes.Equal(got, content) {
		t.Fatalf("GET the presigned URL: %d, %d bytes, %v", resp.StatusCode, len(got), err)
	}

	// Pull follows the redirects and verifies; the server sent no blob bytes.
	dst := t.TempDir()
	if _, err := cl.Pull(ctx, "churn@v1", dst, client.PullOptions{}); err != nil {
		t.Fatalf("Pull through presigned URLs: %v", err)
	}
	if got, err := os.ReadFile(filepath.Join(dst, "weights.bin")); err != nil || !bytes.Equal(got, content) {
		t.Fatalf("pulled weights.bin: %d bytes, %v", len(got), err)
	}
	if n := served.Load(); n != 0 {
		t.Errorf("the server sent %d blob bytes itself", n)
	}

	// A Range request goes through the redirect too.
	rc, err := cl.OpenBlobRange(ctx, d, 100, 50)
	if err != nil {
		t.Fatal(err)
	}
	part, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(part, content[100:150]) {
		t.Errorf("range through the redirect: %q, %v", part, err)
	}

	// HEAD is answered here.
	if size, err := cl.StatBlob(ctx, d); err != nil || size != int64(len(content)) {
		t.Errorf("StatBlob = %d, %v", size, err)
	}
	// If-None-Match with the digest: 304 here; If-Range: streamed here.
	resp, body := raw(t, &apitest.Env{Server: srv}, "GET", "/api/v1/blobs/"+string(d), "", `If-None-Match: "`+string(d)+`"`)
	if resp.StatusCode != http.StatusNotModified || len(body) != 0 {
		t.Errorf("If-None-Match: %d, %d bytes", resp.StatusCode, len(body))
	}
	resp, body = raw(t, &apitest.Env{Server: srv}, "GET", "/api/v1/blobs/"+string(d), "", `If-Range: "`+string(d)+`"`, "Range: bytes=0-9")
	if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(body, content[:10]) {
		t.Errorf("If-Range: %d, %q", resp.StatusCode, body)
	}
	// A blob that does not exist: 404 from the server, no redirect.
	missing := cairn.DigestOf([]byte("nothing"))
	resp, body = raw(t, &apitest.Env{Server: srv}, "GET", "/api/v1/blobs/"+string(missing), "")
	wantProblem(t, resp, body, http.StatusNotFound, cairn.ENOTFOUND)

	// Bytes changed behind the registry's back are caught by the client,
	// which verifies the digest of what the bucket sent.
	if _, err := testenv.S3Client(s3cfg).PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(s3cfg.Bucket), Key: aws.String("reg/blobs/sha256/" + d.Hex()),
		Body: bytes.NewReader(bytes.ToUpper(content)),
	}); err != nil {
		t.Fatal(err)
	}
	_, err = cl.Pull(ctx, "churn@v1", t.TempDir(), client.PullOptions{})
	if err == nil || !strings.Contains(err.Error(), "digest") {
		t.Errorf("Pull of tampered bytes = %v, want a digest mismatch", err)
	}
	if res.Version.Number != 1 {
		t.Errorf("pushed %s", res.Version.Ref())
	}
}

// Presigned downloads asked for on a store that cannot presign: blobs
// stream as usual.
func TestPresignedDownloadsFallBackToStreaming(t *testing.T) {
	t.Parallel()
	e := apitest.New(t, apitest.Options{API: httpapi.Options{PresignDownloads: time.Minute}})
	content := []byte("streamed, not redirected")
	d := cairn.DigestOf(content)
	if err := e.Client.PutBlob(context.Background(), d, int64(len(content)), bytes.NewReader(content)); err != nil {
		t.Fatal(err)
	}
	resp, body := raw(t, e, "GET", "/api/v1/blobs/"+string(d), "")
	if resp.StatusCode != http.StatusOK || !bytes.Equal(body, content) {
		t.Errorf("GET on fsblob with presigning on: %d %q", resp.StatusCode, body)
	}
}

type countingWriter struct {
	http.ResponseWriter
	n int64
}

func (c *countingWriter) Write(b []byte) (int, error) {
	n, err := c.ResponseWriter.Write(b)
	c.n += int64(n)
	return n, err
}

func (c *countingWriter) ReadFrom(r io.Reader) (int64, error) {
	n, err := io.Copy(struct{ io.Writer }{c}, r)
	if errors.Is(err, io.EOF) {
		err = nil
	}
	return n, err
}

// With auth on, a presigned redirect is a read like any other: a principal
// without a reader role gets 403, not a URL to the bytes.
func TestPresignedDownloadsNeedARole(t *testing.T) {
	t.Parallel()
	s3cfg := testenv.S3(t)
	ctx := context.Background()
	dir := t.TempDir()
	db, err := sqlite.Open(ctx, filepath.Join(dir, "cairn.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	blobs, err := s3blob.New(ctx, s3blob.Config{
		Bucket: s3cfg.Bucket, Prefix: "authz", Endpoint: s3cfg.Endpoint, Region: s3cfg.Region,
		AccessKey: s3cfg.AccessKey, SecretKey: s3cfg.SecretKey, PathStyle: true, TempDir: t.TempDir(),
	})
	if err != nil {
		t.Fatal(err)
	}
	svc := registry.New(db, blobs, registry.Options{Auth: true, PasswordIterations: 1000})
	secret, err := svc.Bootstrap(ctx)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(httpapi.New(svc, httpapi.Options{PresignDownloads: time.Minute}).Handler())
	t.Cleanup(srv.Close)
	admin := client.New(srv.URL, client.WithToken(secret))
	content := []byte("guarded bytes")
	if err := admin.PutBlob(ctx, cairn.DigestOf(content), int64(len(content)), bytes.NewReader(content)); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.CreateUser(ctx, client.UserCreate{Name: "nobody"}); err != nil {
		t.Fatal(err)
	}
	tk, err := admin.CreateToken(ctx, "nobody", client.TokenCreate{})
	if err != nil {
		t.Fatal(err)
	}
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(token string) int {
		req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/api/v1/blobs/"+string(cairn.DigestOf(content)), nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := get(tk.Secret); got != http.StatusForbidden {
		t.Errorf("a principal without a role: %d, want 403", got)
	}
	if got := get(secret); got != http.StatusTemporaryRedirect {
		t.Errorf("the admin: %d, want 307", got)
	}
}
