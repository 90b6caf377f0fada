package httpapi_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/cairn-registry/cairn"
)

func TestBlobRoutes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	c := e.Client
	data := []byte("0123456789abcdefghij")
	d := cairn.DigestOf(data)
	path := "/api/v1/blobs/" + string(d)

	_, err := c.StatBlob(ctx, d)
	wantCode(t, err, cairn.ENOTFOUND)
	if err := c.PutBlob(ctx, d, int64(len(data)), bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	if n, err := c.StatBlob(ctx, d); err != nil || n != int64(len(data)) {
		t.Fatalf("StatBlob = %d, %v", n, err)
	}

	resp, body := raw(t, e, "GET", path, "")
	h := resp.Header
	if resp.StatusCode != http.StatusOK || !bytes.Equal(body, data) ||
		h.Get("ETag") != `"`+string(d)+`"` || h.Get("X-Cairn-Digest") != string(d) ||
		h.Get("Content-Type") != "application/octet-stream" || h.Get("Accept-Ranges") != "bytes" {
		t.Fatalf("GET = %d %q, headers %v", resp.StatusCode, body, h)
	}
	resp, body = raw(t, e, "HEAD", path, "")
	if resp.StatusCode != http.StatusOK || len(body) != 0 || resp.ContentLength != int64(len(data)) || resp.Header.Get("ETag") != `"`+string(d)+`"` {
		t.Fatalf("HEAD = %d, length %d, headers %v", resp.StatusCode, resp.ContentLength, resp.Header)
	}

	// Ranges.
	for _, tc := range []struct {
		rng, want, contentRange string
	}{
		{"bytes=2-5", "2345", "bytes 2-5/20"},
		{"bytes=15-", "fghij", "bytes 15-19/20"},
		{"bytes=-3", "hij", "bytes 17-19/20"},
	} {
		resp, body := raw(t, e, "GET", path, "", "Range: "+tc.rng)
		if resp.StatusCode != http.StatusPartialContent || string(body) != tc.want || resp.Header.Get("Content-Range") != tc.contentRange {
			t.Errorf("Range %s = %d %q (%s), want 206 %q (%s)", tc.rng, resp.StatusCode, body, resp.Header.Get("Content-Range"), tc.want, tc.contentRange)
		}
	}
	resp, _ = raw(t, e, "GET", path, "", "Range: bytes=50-60")
	if resp.StatusCode != http.StatusRequestedRangeNotSatisfiable {
		t.Errorf("unsatisfiable range = %d, want 416", resp.StatusCode)
	}
	rc, err := c.OpenBlobRange(ctx, d, 10, 4)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if string(got) != "abcd" {
		t.Fatalf("OpenBlobRange = %q", got)
	}
	// Conditional requests against the digest ETag.
	resp, _ = raw(t, e, "GET", path, "", `If-None-Match: "`+string(d)+`"`)
	if resp.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match = %d, want 304", resp.StatusCode)
	}
	resp, body = raw(t, e, "GET", path, "", "Range: bytes=0-1", `If-Range: "sha256:other"`)
	if resp.StatusCode != http.StatusOK || len(body) != len(data) {
		t.Errorf("stale If-Range = %d, %d bytes; want the whole blob", resp.StatusCode, len(body))
	}

	// A chunked upload (no Content-Length) works and reports the size.
	chunked := []byte(strings.Repeat("chunk", 1000))
	cd := cairn.DigestOf(chunked)
	if err := c.PutBlob(ctx, cd, -1, io.MultiReader(bytes.NewReader(chunked))); err != nil {
		t.Fatalf("chunked PutBlob: %v", err)
	}
	rc2, n, err := c.OpenBlob(ctx, cd)
	if err != nil {
		t.Fatal(err)
	}
	got, _ = io.ReadAll(rc2)
	rc2.Close()
	if n != int64(len(chunked)) || !bytes.Equal(got, chunked) {
		t.Fatalf("chunked blob read back %d bytes (announced %d)", len(got), n)
	}

	// Missing and malformed digests.
	resp, body = raw(t, e, "GET", "/api/v1/blobs/"+string(cairn.DigestOf([]byte("nope"))), "")
	wantProblem(t, resp, body, http.StatusNotFound, cairn.ENOTFOUND)
	resp, body = raw(t, e, "GET", "/api/v1/blobs/sha256:ABC", "")
	wantProblem(t, resp, body, http.StatusBadRequest, cairn.EINVALID)
	resp, _ = raw(t, e, "HEAD", "/api/v1/blobs/md5:abc", "")
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("HEAD bad digest = %d", resp.StatusCode)
	}
}

// TestBlobDigestMismatch: bytes that do not hash to the digest are refused
// with invalid, and nothing is stored under either digest.
func TestBlobDigestMismatch(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	claimed := cairn.DigestOf([]byte("what I claim"))
	before := takeSnapshot(t, e)
	err := e.Client.PutBlob(ctx, claimed, 12, strings.NewReader("what I send!"))
	wantCode(t, err, cairn.EINVALID)
	// Likewise for a chunked body (no Content-Length).
	err = e.Client.PutBlob(ctx, cairn.DigestOf([]byte("abc")), -1, strings.NewReader("abcd"))
	wantCode(t, err, cairn.EINVALID)
	if diff := cmpSnap(before, takeSnapshot(t, e)); diff != "" {
		t.Fatalf("refused uploads changed state:\n%s", diff)
	}
	_, err = e.Client.StatBlob(ctx, claimed)
	wantCode(t, err, cairn.ENOTFOUND)
}

func TestUploadRoutes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	c := e.Client
	part1 := bytes.Repeat([]byte{'a'}, cairn.MinPartSize)
	part2 := []byte("the tail")
	whole := append(append([]byte{}, part1...), part2...)
	d := cairn.DigestOf(whole)

	up, resumed, err := c.StartUpload(ctx, d, int64(len(whole)))
	if err != nil || resumed || up.ID == "" || up.Digest != d || len(up.Parts) != 0 {
		t.Fatalf("StartUpload = %+v, %v, %v", up, resumed, err)
	}
	p, err := c.UploadPart(ctx, up.ID, 1, int64(len(part1)), bytes.NewReader(part1))
	if err != nil || p.Number != 1 || p.Size != int64(len(part1)) || p.Digest != cairn.DigestOf(part1) {
		t.Fatalf("UploadPart = %+v, %v", p, err)
	}
	// The same digest and size resume the session, with its parts.
	again, resumed, err := c.StartUpload(ctx, d, int64(len(whole)))
	if err != nil || !resumed || again.ID != up.ID || len(again.Parts) != 1 || again.Parts[0].Digest != p.Digest {
		t.Fatalf("resumed StartUpload = %+v, %v, %v", again, resumed, err)
	}
	// Completing with a part missing is refused.
	err = c.CompleteUpload(ctx, up.ID)
	wantCode(t, err, cairn.EFAILEDPRECONDITION)
	if _, err := c.UploadPart(ctx, up.ID, 2, int64(len(part2)), bytes.NewReader(part2)); err != nil {
		t.Fatal(err)
	}
	got, err := c.GetUpload(ctx, up.ID)
	if err != nil || len(got.Parts) != 2 {
		t.Fatalf("GetUpload = %+v, %v", got, err)
	}
	if err := c.CompleteUpload(ctx, up.ID); err != nil {
		t.Fatal(err)
	}
	if n, err := c.StatBlob(ctx, d); err != nil || n != int64(len(whole)) {
		t.Fatalf("after complete StatBlob = %d, %v", n, err)
	}

	// Abort, and a session that is gone.
	up2, _, err := c.StartUpload(ctx, cairn.DigestOf([]byte("other")), 5)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.AbortUpload(ctx, up2.ID); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetUpload(ctx, up2.ID)
	wantCode(t, err, cairn.ENOTFOUND)
	_, err = c.UploadPart(ctx, up2.ID, 1, 5, strings.NewReader("other"))
	wantCode(t, err, cairn.ENOTFOUND)

	// Bad input.
	for _, tc := range []struct{ method, path, body string }{
		{"POST", "/api/v1/uploads", `{"digest":"sha256:x","size":1}`},
		{"POST", "/api/v1/uploads", `{"digest":"` + string(d) + `"}`},
		{"POST", "/api/v1/uploads", `{"digest":"` + string(d) + `","size":-1}`},
		{"PUT", "/api/v1/uploads/" + up.ID + "/parts/0", "x"},
		{"PUT", "/api/v1/uploads/" + up.ID + "/parts/10001", "x"},
		{"PUT", "/api/v1/uploads/" + up.ID + "/parts/one", "x"},
	} {
		resp, body := raw(t, e, tc.method, tc.path, tc.body)
		wantProblem(t, resp, body, http.StatusBadRequest, cairn.EINVALID)
	}
	resp, body := raw(t, e, "POST", "/api/v1/uploads", `{"digest":"`+string(d)+`","size":1}`)
	if resp.StatusCode != http.StatusCreated || !strings.HasPrefix(resp.Header.Get("Location"), "/api/v1/uploads/") {
		t.Fatalf("POST /uploads = %d %s (Location %q)", resp.StatusCode, body, resp.Header.Get("Location"))
	}
}
