package s3blob

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/internal/blobtest"
	"github.com/cairn-registry/cairn/internal/testenv"
	"github.com/google/go-cmp/cmp"
)

// newStore returns a store on a fresh bucket of the test S3 server.
func newStore(t testing.TB, prefix string) (*Store, testenv.S3Config) {
	t.Helper()
	env := testenv.S3(t)
	s, err := New(t.Context(), configFor(t, env, prefix))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s, env
}

func configFor(t testing.TB, env testenv.S3Config, prefix string) Config {
	return Config{
		Bucket:    env.Bucket,
		Prefix:    prefix,
		Endpoint:  env.Endpoint,
		Region:    env.Region,
		AccessKey: env.AccessKey,
		SecretKey: env.SecretKey,
		PathStyle: true,
		TempDir:   t.TempDir(),
	}
}

func TestConformance(t *testing.T) {
	t.Parallel()
	blobtest.Run(t, func(t testing.TB) cairn.BlobStore {
		s, _ := newStore(t, "team/registry")
		return s
	})
}

func TestParseURL(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want Config
	}{
		{"s3://models", Config{Bucket: "models"}},
		{"s3://models/", Config{Bucket: "models"}},
		{"s3://models/team/registry/", Config{Bucket: "models", Prefix: "team/registry"}},
		{"s3://models?region=eu-west-1", Config{Bucket: "models", Region: "eu-west-1"}},
		{
			"s3://models/p?endpoint=http://127.0.0.1:9000&region=us-east-1&path_style=true",
			Config{Bucket: "models", Prefix: "p", Endpoint: "http://127.0.0.1:9000", Region: "us-east-1", PathStyle: true},
		},
		{ // an endpoint implies path style
			"s3://models?endpoint=https://storage.example.com",
			Config{Bucket: "models", Endpoint: "https://storage.example.com", PathStyle: true},
		},
		{ // unless turned off
			"s3://models?endpoint=https://storage.example.com&path_style=false",
			Config{Bucket: "models", Endpoint: "https://storage.example.com"},
		},
		{"s3://models?path_style=1", Config{Bucket: "models", PathStyle: true}},
		{"s3://my.bucket-1/a.b/c_d-e", Config{Bucket: "my.bucket-1", Prefix: "a.b/c_d-e"}},
	} {
		got, err := ParseURL(tc.in)
		if err != nil {
			t.Errorf("ParseURL(%q): %v", tc.in, err)
			continue
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("ParseURL(%q) (-want +got):\n%s", tc.in, diff)
		}
	}
	for _, in := range []string{
		"",
		"models",
		"http://models/p",
		"s3:models",
		"s3:///prefix",
		"s3://ab",
		"s3://Models",
		"s3://models_x",
		"s3://key:secret@models",
		"s3://models?endpoint=127.0.0.1:9000",
		"s3://models?endpoint=ftp://host",
		"s3://models?endpoint=",
		"s3://models?region=",
		"s3://models?path_style=maybe",
		"s3://models?bucket=other",
		"s3://models?region=a&region=b",
		"s3://models/a//b",
		"s3://models/a/../b",
		"s3://models/a b",
		"s3://models#frag",
		"s3://models?endpoint=http://user:pw@host",
	} {
		if got, err := ParseURL(in); !cairn.IsCode(err, cairn.EINVALID) {
			t.Errorf("ParseURL(%q) = %+v, %v; want code %s", in, got, err, cairn.EINVALID)
		}
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	t.Parallel()
	env := testenv.S3(t)
	ctx := t.Context()
	good := configFor(t, env, "")
	for _, tc := range []struct {
		name string
		edit func(*Config)
		code cairn.ErrorCode
	}{
		{"no bucket", func(c *Config) { c.Bucket = "" }, cairn.EINVALID},
		{"bad prefix", func(c *Config) { c.Prefix = "a/../b" }, cairn.EINVALID},
		{"access key alone", func(c *Config) { c.SecretKey = "" }, cairn.EINVALID},
		{"bad endpoint", func(c *Config) { c.Endpoint = "localhost:9000" }, cairn.EINVALID},
		{"missing bucket", func(c *Config) { c.Bucket = "cairn-no-such-bucket" }, cairn.ENOTFOUND},
	} {
		cfg := good
		tc.edit(&cfg)
		if _, err := New(ctx, cfg); !cairn.IsCode(err, tc.code) {
			t.Errorf("New with %s: %v, want code %s", tc.name, err, tc.code)
		}
	}
	cfg := good
	cfg.SecretKey = "wrong" + cfg.SecretKey
	if _, err := New(ctx, cfg); err == nil {
		t.Error("New with a wrong secret key succeeded")
	}
}

// TestKeyLayout checks where blobs land, with and without a prefix, and
// that objects under the blob prefix that are not blobs are not walked.
func TestKeyLayout(t *testing.T) {
	t.Parallel()
	for _, prefix := range []string{"", "/team/registry/"} {
		t.Run("prefix="+prefix, func(t *testing.T) {
			t.Parallel()
			s, env := newStore(t, prefix)
			raw := testenv.S3Client(env)
			ctx := t.Context()
			data := []byte("layout")
			d := cairn.DigestOf(data)
			if err := s.Put(ctx, d, int64(len(data)), bytes.NewReader(data)); err != nil {
				t.Fatal(err)
			}
			base := strings.Trim(prefix, "/")
			if base != "" {
				base += "/"
			}
			stray := base + "blobs/sha256/not-a-digest"
			if _, err := raw.PutObject(ctx, &s3.PutObjectInput{Bucket: &env.Bucket, Key: &stray, Body: strings.NewReader("x")}); err != nil {
				t.Fatal(err)
			}
			want := []string{base + "blobs/sha256/" + d.Hex(), stray}
			if diff := cmp.Diff(want, listKeys(t, raw, env.Bucket)); diff != "" {
				t.Errorf("objects (-want +got):\n%s", diff)
			}
			got := map[cairn.Digest]int64{}
			if err := s.Walk(ctx, func(d cairn.Digest, size int64, _ time.Time) error { got[d] = size; return nil }); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(map[cairn.Digest]int64{d: int64(len(data))}, got); diff != "" {
				t.Errorf("Walk (-want +got):\n%s", diff)
			}
		})
	}
}

// TestWalkPages lowers the page size to walk a listing of several pages.
func TestWalkPages(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t, "p")
	s.listPageSize = 3
	rec := record(s)
	ctx := t.Context()
	want := map[cairn.Digest]int64{}
	for i := range 10 {
		data := []byte(strings.Repeat("w", i))
		d := cairn.DigestOf(data)
		want[d] = int64(i)
		if err := s.Put(ctx, d, int64(i), bytes.NewReader(data)); err != nil {
			t.Fatal(err)
		}
	}
	got := map[cairn.Digest]int64{}
	if err := s.Walk(ctx, func(d cairn.Digest, size int64, _ time.Time) error { got[d] = size; return nil }); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Walk (-want +got):\n%s", diff)
	}
	lists := 0
	for _, r := range rec.requests() {
		if strings.Contains(r.query, "list-type=2") {
			lists++
		}
	}
	if lists != 4 {
		t.Errorf("Walk listed %d pages, want 4", lists)
	}
}

func TestPresignGet(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t, "p")
	ctx := t.Context()
	data := randomBytes(100_000, 1)
	d := cairn.DigestOf(data)
	if err := s.Put(ctx, d, -1, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	u, err := s.PresignGet(ctx, d, 5*time.Minute)
	if err != nil {
		t.Fatalf("PresignGet: %v", err)
	}
	// Fetched with a plain HTTP client: no credentials, no SDK.
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || !bytes.Equal(body, data) {
		t.Errorf("GET presigned URL: %s, %d bytes (equal: %v)", resp.Status, len(body), bytes.Equal(body, data))
	}
	// The signature covers the key: another blob's key is refused.
	other := cairn.DigestOf([]byte("other"))
	if err := s.Put(ctx, other, 5, strings.NewReader("other")); err != nil {
		t.Fatal(err)
	}
	resp, err = http.Get(strings.Replace(u, d.Hex(), other.Hex(), 1))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("GET with the key swapped: %s, want 403", resp.Status)
	}

	if _, err := s.PresignGet(ctx, cairn.DigestOf([]byte("missing")), time.Minute); !cairn.IsCode(err, cairn.ENOTFOUND) {
		t.Errorf("PresignGet of a missing blob: %v, want code %s", err, cairn.ENOTFOUND)
	}
	for _, ttl := range []time.Duration{0, -time.Second, 8 * 24 * time.Hour} {
		if _, err := s.PresignGet(ctx, d, ttl); !cairn.IsCode(err, cairn.EINVALID) {
			t.Errorf("PresignGet with ttl %v: %v, want code %s", ttl, err, cairn.EINVALID)
		}
	}
	if _, err := s.PresignGet(ctx, "sha256:../x", time.Minute); !cairn.IsCode(err, cairn.EINVALID) {
		t.Errorf("PresignGet of an invalid digest: %v, want code %s", err, cairn.EINVALID)
	}
}

// TestPutUnknownLengthMultipart puts ~20 MiB from a reader of unknown
// length: three parts on the final key, nothing else left in the bucket.
func TestPutUnknownLengthMultipart(t *testing.T) {
	t.Parallel()
	s, env := newStore(t, "p")
	rec := record(s)
	ctx := t.Context()
	const size = 20<<20 + 4321
	d := digestOfStream(size, 7)
	if err := s.Put(ctx, d, -1, &stream{n: size, seed: 7}); err != nil {
		t.Fatalf("Put: %v", err)
	}
	var parts []string
	for _, r := range rec.requests() {
		if r.method == http.MethodPut && strings.Contains(r.query, "partNumber=") {
			parts = append(parts, r.contentLength)
		}
	}
	want := []string{"8388608", "8388608", "4198625"}
	if diff := cmp.Diff(want, parts); diff != "" {
		t.Errorf("part sizes sent (-want +got):\n%s", diff)
	}
	if got, err := s.Stat(ctx, d); err != nil || got != size {
		t.Errorf("Stat = %d, %v; want %d", got, err, size)
	}
	rc, _, err := s.Open(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	dg := cairn.NewDigester()
	if _, err := io.Copy(dg, rc); err != nil {
		t.Fatal(err)
	}
	rc.Close()
	if dg.Digest() != d {
		t.Errorf("read back %s, want %s", dg.Digest(), d)
	}
	raw := testenv.S3Client(env)
	if diff := cmp.Diff([]string{"p/blobs/sha256/" + d.Hex()}, listKeys(t, raw, env.Bucket)); diff != "" {
		t.Errorf("objects (-want +got):\n%s", diff)
	}
	if ups := listUploads(t, raw, env.Bucket); len(ups) != 0 {
		t.Errorf("multipart uploads left: %v", ups)
	}
}

// TestPutMemory checks that Put's memory does not grow with the blob: a
// 48 MiB blob of unknown length allocates at most two part buffers, not
// the blob. (Not parallel: it reads process-wide allocation counters.)
func TestPutMemory(t *testing.T) {
	s, _ := newStore(t, "p")
	ctx := t.Context()
	const size = 48 << 20
	d := digestOfStream(size, 8)
	// Warm up the pool and connections with a blob of its own.
	warm := digestOfStream(9<<20, 9)
	if err := s.Put(ctx, warm, -1, &stream{n: 9 << 20, seed: 9}); err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	if err := s.Put(ctx, d, -1, &stream{n: size, seed: 8}); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	allocated := after.TotalAlloc - before.TotalAlloc
	t.Logf("Put of %d MiB allocated %.1f MiB", size>>20, float64(allocated)/(1<<20))
	if allocated > 24<<20 {
		t.Errorf("Put of %d MiB allocated %d MiB: memory grows with the blob", size>>20, allocated>>20)
	}
}

// TestLazyReader checks the requests a reader makes: none until a Read,
// one ranged GET per Read after a Seek that moved, none at the end.
func TestLazyReader(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t, "p")
	ctx := t.Context()
	data := randomBytes(200_000, 2)
	d := cairn.DigestOf(data)
	if err := s.Put(ctx, d, -1, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	rec := record(s)
	gets := func() []string {
		var out []string
		for _, r := range rec.requests() {
			if r.method == http.MethodGet {
				out = append(out, r.rng)
			}
		}
		return out
	}
	rc, size, err := s.Open(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if size != int64(len(data)) {
		t.Fatalf("size %d", size)
	}
	mustSeek := func(off int64, whence int) {
		t.Helper()
		if _, err := rc.Seek(off, whence); err != nil {
			t.Fatal(err)
		}
	}
	mustRead := func(n int, at int) {
		t.Helper()
		buf := make([]byte, n)
		if _, err := io.ReadFull(rc, buf); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf, data[at:at+n]) {
			t.Fatalf("read %d at %d: wrong bytes", n, at)
		}
	}
	// What http.ServeContent does to learn the size: no request.
	mustSeek(0, io.SeekEnd)
	mustSeek(0, io.SeekStart)
	if g := gets(); len(g) != 0 {
		t.Fatalf("GETs before any Read: %v", g)
	}
	mustRead(100, 0)
	mustRead(1000, 100) // same stream
	mustSeek(1100, io.SeekStart)
	mustRead(10, 1100) // a seek to where it is keeps the stream
	mustSeek(150_000, io.SeekStart)
	mustRead(10, 150_000)
	mustSeek(-5, io.SeekCurrent)
	mustRead(5, 150_005)
	mustSeek(0, io.SeekEnd)
	if n, err := rc.Read(make([]byte, 10)); n != 0 || err != io.EOF {
		t.Errorf("Read at the end = %d, %v; want 0, EOF", n, err)
	}
	ra := rc.(io.ReaderAt)
	buf := make([]byte, 50)
	if n, err := ra.ReadAt(buf, 199_980); n != 20 || err != io.EOF || !bytes.Equal(buf[:20], data[199_980:]) {
		t.Errorf("ReadAt across the end = %d, %v", n, err)
	}
	want := []string{"bytes=0-", "bytes=150000-", "bytes=150005-", "bytes=199980-199999"}
	if diff := cmp.Diff(want, gets()); diff != "" {
		t.Errorf("GET ranges (-want +got):\n%s", diff)
	}
	if err := rc.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := rc.Read(buf); err == nil {
		t.Error("Read after Close succeeded")
	}
}

// TestReaderBlobDeleted checks that a blob deleted under an open reader
// reports ENOTFOUND on the next request rather than short data.
func TestReaderBlobDeleted(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t, "p")
	ctx := t.Context()
	data := randomBytes(1000, 3)
	d := cairn.DigestOf(data)
	if err := s.Put(ctx, d, -1, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	rc, _, err := s.Open(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if err := s.Delete(ctx, d); err != nil {
		t.Fatal(err)
	}
	if _, err := rc.Read(make([]byte, 10)); !cairn.IsCode(err, cairn.ENOTFOUND) {
		t.Errorf("Read of a deleted blob: %v, want code %s", err, cairn.ENOTFOUND)
	}
}

// TestRequestsCarryOnlySignedSHA256 checks the client configuration: no
// SDK default CRC checksums or aws-chunked bodies (which S3-compatible
// servers often reject), and every upload signed with the SHA-256 of its
// bytes, which the server checks.
func TestRequestsCarryOnlySignedSHA256(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t, "p")
	rec := record(s)
	ctx := t.Context()
	small := []byte("small blob")
	if err := s.Put(ctx, cairn.DigestOf(small), -1, bytes.NewReader(small)); err != nil {
		t.Fatal(err)
	}
	big := randomBytes(9<<20, 4)
	if err := s.Put(ctx, cairn.DigestOf(big), -1, bytes.NewReader(big)); err != nil {
		t.Fatal(err)
	}
	key, err := s.StartUpload(ctx)
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.PutPart(ctx, key, 1, bytes.NewReader(small))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CompleteUpload(ctx, key, []cairn.Part{p}, cairn.DigestOf(small), int64(len(small))); err != nil {
		t.Fatal(err)
	}

	bodies := map[string]bool{} // hashes of the bodies sent
	for _, b := range [][]byte{small, big[:8<<20], big[8<<20:]} {
		sum := sha256.Sum256(b)
		bodies[hex.EncodeToString(sum[:])] = true
	}
	uploads := 0
	for _, r := range rec.requests() {
		for name := range r.header {
			if strings.HasPrefix(strings.ToLower(name), "x-amz-checksum-") || strings.EqualFold(name, "x-amz-sdk-checksum-algorithm") || strings.EqualFold(name, "x-amz-trailer") {
				t.Errorf("%s %s sent %s", r.method, r.path, name)
			}
		}
		if strings.Contains(r.header.Get("Content-Encoding"), "aws-chunked") {
			t.Errorf("%s %s sent an aws-chunked body", r.method, r.path)
		}
		if r.method == http.MethodPut && r.header.Get("X-Amz-Copy-Source") == "" {
			uploads++
			if h := r.header.Get("X-Amz-Content-Sha256"); !bodies[h] {
				t.Errorf("PUT %s?%s signed with payload hash %q, not the SHA-256 of a body sent", r.path, r.query, h)
			}
		}
	}
	if uploads != 4 {
		t.Errorf("saw %d uploads, want 4 (one small Put, two parts, one PutPart)", uploads)
	}
}

// TestPayloadHashIsChecked shows the server half of the integrity
// argument: bytes that do not match the signed hash are refused.
func TestPayloadHashIsChecked(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t, "p")
	ctx := t.Context()
	wrong := cairn.DigestOf([]byte("not the body"))
	_, err := s.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(s.bucket), Key: aws.String("p/probe"),
		Body: strings.NewReader("the body"), ContentLength: aws.Int64(8),
	}, withPayloadHash(wrong.Hex()))
	if err == nil {
		t.Fatal("the server accepted a body that does not match its signed SHA-256")
	}
	if code := apiCode(err); code != "XAmzContentSHA256Mismatch" && code != "BadDigest" {
		t.Errorf("error code %q, want XAmzContentSHA256Mismatch or BadDigest", code)
	}
}

// TestNothingLeftAfterFailures checks that failed Puts and uploads leave no
// objects and no multipart uploads in the bucket.
func TestNothingLeftAfterFailures(t *testing.T) {
	t.Parallel()
	s, env := newStore(t, "p")
	raw := testenv.S3Client(env)
	ctx := t.Context()
	big := randomBytes(17<<20, 5)
	d := cairn.DigestOf(big)
	boom := errors.New("boom")

	if err := s.Put(ctx, cairn.DigestOf([]byte("x")), -1, bytes.NewReader(big)); !cairn.IsCode(err, cairn.EINVALID) {
		t.Errorf("Put with the wrong digest: %v", err)
	}
	if err := s.Put(ctx, d, int64(len(big))-1, bytes.NewReader(big)); !cairn.IsCode(err, cairn.EINVALID) {
		t.Errorf("Put with a short size: %v", err)
	}
	if err := s.Put(ctx, d, -1, io.MultiReader(bytes.NewReader(big[:16<<20+5]), errReader{boom})); !errors.Is(err, boom) {
		t.Errorf("Put from a failing reader: %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	if err := s.Put(cctx, d, -1, io.MultiReader(bytes.NewReader(big[:9<<20]), cancelReader{cancel}, bytes.NewReader(big[9<<20:]))); !errors.Is(err, context.Canceled) {
		t.Errorf("Put with a canceled context: %v", err)
	}
	key, err := s.StartUpload(ctx)
	if err != nil {
		t.Fatal(err)
	}
	p1, err := s.PutPart(ctx, key, 1, bytes.NewReader(big[:6<<20]))
	if err != nil {
		t.Fatal(err)
	}
	p2, err := s.PutPart(ctx, key, 2, bytes.NewReader(big[6<<20:]))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CompleteUpload(ctx, key, []cairn.Part{p1, p2}, cairn.DigestOf([]byte("x")), int64(len(big))); !cairn.IsCode(err, cairn.EINVALID) {
		t.Errorf("CompleteUpload with the wrong digest: %v", err)
	}
	key, err = s.StartUpload(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutPart(ctx, key, 1, bytes.NewReader(big[:6<<20])); err != nil {
		t.Fatal(err)
	}
	if err := s.AbortUpload(ctx, key); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutPart(ctx, key, 2, io.MultiReader(bytes.NewReader(big[:1000]), errReader{boom})); !errors.Is(err, boom) {
		t.Errorf("PutPart from a failing reader: %v", err)
	}

	if keys := listKeys(t, raw, env.Bucket); len(keys) != 0 {
		t.Errorf("objects left: %v", keys)
	}
	if ups := listUploads(t, raw, env.Bucket); len(ups) != 0 {
		t.Errorf("multipart uploads left: %v", ups)
	}
}

// TestCompleteUploadResumes simulates a CompleteUpload that died after
// joining the parts: the next call verifies and publishes the joined object.
func TestCompleteUploadResumes(t *testing.T) {
	t.Parallel()
	s, env := newStore(t, "p")
	raw := testenv.S3Client(env)
	ctx := t.Context()
	data := randomBytes(7<<20, 6)
	d := cairn.DigestOf(data)
	key, err := s.StartUpload(ctx)
	if err != nil {
		t.Fatal(err)
	}
	p1, err := s.PutPart(ctx, key, 1, bytes.NewReader(data[:5<<20]))
	if err != nil {
		t.Fatal(err)
	}
	p2, err := s.PutPart(ctx, key, 2, bytes.NewReader(data[5<<20:]))
	if err != nil {
		t.Fatal(err)
	}
	id, uploadID, err := parseKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: aws.String(env.Bucket), Key: aws.String(s.uploadKey(id)), UploadId: aws.String(uploadID),
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{
			{PartNumber: aws.Int32(1), ETag: aws.String(p1.ETag)},
			{PartNumber: aws.Int32(2), ETag: aws.String(p2.ETag)},
		}},
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Stat(ctx, d); !cairn.IsCode(err, cairn.ENOTFOUND) {
		t.Fatalf("blob visible before verification: %v", err)
	}
	if err := s.CompleteUpload(ctx, key, []cairn.Part{p1, p2}, d, int64(len(data))); err != nil {
		t.Fatalf("CompleteUpload after an interrupted one: %v", err)
	}
	if got := readAll(t, s, d); !bytes.Equal(got, data) {
		t.Error("blob differs")
	}
	if diff := cmp.Diff([]string{"p/blobs/sha256/" + d.Hex()}, listKeys(t, raw, env.Bucket)); diff != "" {
		t.Errorf("objects (-want +got):\n%s", diff)
	}
}

// TestCompleteUploadStalePart checks that a parts list naming a part that
// has been re-sent since (another ETag) is refused, and the upload kept.
func TestCompleteUploadStalePart(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t, "p")
	ctx := t.Context()
	key, err := s.StartUpload(ctx)
	if err != nil {
		t.Fatal(err)
	}
	old, err := s.PutPart(ctx, key, 1, strings.NewReader("first version"))
	if err != nil {
		t.Fatal(err)
	}
	cur, err := s.PutPart(ctx, key, 1, strings.NewReader("later version"))
	if err != nil {
		t.Fatal(err)
	}
	if old.ETag == cur.ETag {
		t.Fatalf("re-sent part kept ETag %s", old.ETag)
	}
	d := cairn.DigestOf([]byte("later version"))
	if err := s.CompleteUpload(ctx, key, []cairn.Part{old}, d, 13); !cairn.IsCode(err, cairn.EINVALID) {
		t.Errorf("CompleteUpload with a stale part: %v, want code %s", err, cairn.EINVALID)
	}
	if err := s.CompleteUpload(ctx, key, []cairn.Part{cur}, d, 13); err != nil {
		t.Errorf("CompleteUpload with the current part: %v", err)
	}
}

// TestCompleteUploadLargeCopy lowers the CopyObject limit so that
// publishing takes the UploadPartCopy path (real objects over 5 GiB would be
// slow to test).
func TestCompleteUploadLargeCopy(t *testing.T) {
	t.Parallel()
	s, env := newStore(t, "p")
	s.maxCopySize = 6 << 20
	s.copyPartSize = 5 << 20
	s.copyWorkers = 2
	rec := record(s)
	ctx := t.Context()
	data := randomBytes(16<<20+99, 7)
	d := cairn.DigestOf(data)
	key, err := s.StartUpload(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var parts []cairn.Part
	for i, off := 0, 0; off < len(data); i, off = i+1, off+6<<20 {
		p, err := s.PutPart(ctx, key, i+1, bytes.NewReader(data[off:min(off+6<<20, len(data))]))
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, p)
	}
	if err := s.CompleteUpload(ctx, key, parts, d, int64(len(data))); err != nil {
		t.Fatalf("CompleteUpload: %v", err)
	}
	var ranges []string
	for _, r := range rec.requests() {
		if r.header.Get("X-Amz-Copy-Source") != "" {
			ranges = append(ranges, r.header.Get("X-Amz-Copy-Source-Range"))
		}
	}
	slices.Sort(ranges)
	want := []string{"bytes=0-5242879", "bytes=10485760-15728639", "bytes=15728640-16777314", "bytes=5242880-10485759"}
	if diff := cmp.Diff(want, ranges); diff != "" {
		t.Errorf("copy ranges (-want +got):\n%s", diff)
	}
	if got := readAll(t, s, d); !bytes.Equal(got, data) {
		t.Error("blob differs")
	}
	raw := testenv.S3Client(env)
	if diff := cmp.Diff([]string{"p/blobs/sha256/" + d.Hex()}, listKeys(t, raw, env.Bucket)); diff != "" {
		t.Errorf("objects (-want +got):\n%s", diff)
	}
	if ups := listUploads(t, raw, env.Bucket); len(ups) != 0 {
		t.Errorf("multipart uploads left: %v", ups)
	}
}

// TestRemoveStale checks that abandoned Put uploads are aborted and upload
// sessions' staging uploads are not.
func TestRemoveStale(t *testing.T) {
	t.Parallel()
	s, env := newStore(t, "p")
	raw := testenv.S3Client(env)
	ctx := t.Context()
	blobKey, _ := s.blobKey(cairn.DigestOf([]byte("abandoned")))
	if _, err := raw.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(env.Bucket), Key: aws.String(blobKey)}); err != nil {
		t.Fatal(err)
	}
	session, err := s.StartUpload(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// A new store does not touch uploads younger than StaleUploadAge.
	if _, err := New(ctx, configFor(t, env, "p")); err != nil {
		t.Fatal(err)
	}
	if got := listUploads(t, raw, env.Bucket); len(got) != 2 {
		t.Fatalf("uploads after New: %v, want both", got)
	}
	// With a cutoff in the future, everything is stale.
	if err := s.RemoveStale(ctx, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	id, _, _ := parseKey(session)
	if diff := cmp.Diff([]string{s.uploadKey(id)}, listUploads(t, raw, env.Bucket)); diff != "" {
		t.Errorf("uploads after RemoveStale (-want +got):\n%s", diff)
	}
}

func TestPutTooLarge(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t, "p")
	d := cairn.DigestOf([]byte("huge"))
	err := s.Put(t.Context(), d, maxBufferedPartSize*cairn.MaxParts+1, strings.NewReader("huge"))
	if !cairn.IsCode(err, cairn.ETOOLARGE) {
		t.Errorf("Put declaring %d bytes: %v, want code %s", int64(maxBufferedPartSize*cairn.MaxParts+1), err, cairn.ETOOLARGE)
	}
}

// TestPutPartTooLarge lowers the part limit (5 GiB would be slow to send)
// and checks that an oversized part is refused and its spool file removed.
func TestPutPartTooLarge(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t, "p")
	s.maxPartSize = 1 << 20
	ctx := t.Context()
	key, err := s.StartUpload(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutPart(ctx, key, 1, bytes.NewReader(make([]byte, 1<<20+1))); !cairn.IsCode(err, cairn.ETOOLARGE) {
		t.Fatalf("PutPart over the limit: %v, want code %s", err, cairn.ETOOLARGE)
	}
	if p, err := s.PutPart(ctx, key, 1, bytes.NewReader(make([]byte, 1<<20))); err != nil || p.Size != 1<<20 {
		t.Fatalf("PutPart at the limit: %+v, %v", p, err)
	}
	if left, err := os.ReadDir(s.tempDir); err != nil || len(left) != 0 {
		t.Errorf("spool files left: %v, %v", left, err)
	}
}

func TestUploadKeyForm(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		key string
		ok  bool
	}{
		{strings.Repeat("a", 32) + "|376f171f-a628-40f9-9312-3d150f56aae7", true},
		{strings.Repeat("0", 32) + "|VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA", true},
		{strings.Repeat("0", 32) + "|2~abc_DEF.ghi", true},
		{strings.Repeat("a", 32), false},
		{strings.Repeat("a", 32) + "|", false},
		{strings.Repeat("a", 31) + "|x", false},
		{strings.Repeat("A", 32) + "|x", false},
		{strings.Repeat("a", 32) + "|x/y", false},
		{strings.Repeat("a", 32) + "|..", false},
		{strings.Repeat("a", 32) + "|x|y", false},
		{strings.Repeat("a", 32) + "|x y", false},
		{"../" + strings.Repeat("a", 29) + "|x", false},
	} {
		_, _, err := parseKey(tc.key)
		if (err == nil) != tc.ok {
			t.Errorf("parseKey(%q) = %v, want ok %v", tc.key, err, tc.ok)
		}
	}
}

// Helpers.

type request struct {
	method, path, query, rng, contentLength string
	header                                  http.Header
}

type recorder struct {
	next *http.Client
	mu   sync.Mutex
	reqs []request
}

func (r *recorder) Do(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	r.reqs = append(r.reqs, request{
		method: req.Method, path: req.URL.Path, query: req.URL.RawQuery,
		rng: req.Header.Get("Range"), contentLength: strconv.FormatInt(req.ContentLength, 10),
		header: req.Header.Clone(),
	})
	r.mu.Unlock()
	return r.next.Do(req)
}

func (r *recorder) requests() []request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.reqs)
}

// record makes s's client send through a recorder.
func record(s *Store) *recorder {
	rec := &recorder{next: &http.Client{}}
	s.client = s3.New(s.client.Options(), func(o *s3.Options) { o.HTTPClient = rec })
	return rec
}

func listKeys(t testing.TB, raw *s3.Client, bucket string) []string {
	t.Helper()
	var keys []string
	p := s3.NewListObjectsV2Paginator(raw, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	for p.HasMorePages() {
		page, err := p.NextPage(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
	}
	slices.Sort(keys)
	return keys
}

func listUploads(t testing.TB, raw *s3.Client, bucket string) []string {
	t.Helper()
	out, err := raw.ListMultipartUploads(t.Context(), &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, u := range out.Uploads {
		keys = append(keys, aws.ToString(u.Key))
	}
	slices.Sort(keys)
	return keys
}

func readAll(t testing.TB, s *Store, d cairn.Digest) []byte {
	t.Helper()
	rc, _, err := s.Open(t.Context(), d)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func randomBytes(n int, seed byte) []byte {
	b := make([]byte, n)
	rand.NewChaCha8([32]byte{seed}).Read(b)
	return b
}

// stream yields n pseudo-random bytes without holding them, hiding its
// length.
type stream struct {
	n    int64
	seed byte
	rng  *rand.ChaCha8
}

func (s *stream) Read(p []byte) (int, error) {
	if s.rng == nil {
		s.rng = rand.NewChaCha8([32]byte{s.seed})
	}
	if s.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > s.n {
		p = p[:s.n]
	}
	n, _ := s.rng.Read(p)
	s.n -= int64(n)
	return n, nil
}

func digestOfStream(n int64, seed byte) cairn.Digest {
	dg := cairn.NewDigester()
	io.Copy(dg, &stream{n: n, seed: seed})
	return dg.Digest()
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// cancelReader cancels on its first read and then reports EOF, so a
// MultiReader goes on to the following data.
type cancelReader struct{ cancel context.CancelFunc }

func (c cancelReader) Read([]byte) (int, error) { c.cancel(); return 0, io.EOF }
