package e2e

import (
	"errors"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/client"
	"github.com/cairn-registry/cairn/internal/bench"
)

// dyingTransport lets request bodies through until budget bytes have been
// sent, then fails every request, as a client whose process died would
// stop talking.
type dyingTransport struct {
	base   http.RoundTripper
	budget int64
	sent   atomic.Int64
}

var errDied = errors.New("client died")

func (d *dyingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if d.sent.Load() >= d.budget {
		return nil, errDied
	}
	if r.Body != nil {
		r.Body = &countingBody{ReadCloser: r.Body, d: d}
	}
	return d.base.RoundTrip(r)
}

type countingBody struct {
	io.ReadCloser
	d *dyingTransport
}

func (b *countingBody) Read(p []byte) (int, error) {
	if b.d.sent.Load() >= b.d.budget {
		return 0, errDied
	}
	n, err := b.ReadCloser.Read(p)
	b.d.sent.Add(int64(n))
	return n, err
}

// TestPushResumesInterrupted1GiB is the resume check, end to end:
// a push of a 1 GiB file dies a little past halfway; pushing again
// re-sends less than 60% of the file's bytes, counted by the server's own
// bytes-in metric, and the version comes out ready with the right digest.
func TestPushResumesInterrupted1GiB(t *testing.T) {
	if testing.Short() {
		t.Skip("pushes 1 GiB; skipped with -short")
	}
	const size = 1 << 30
	tmp := t.TempDir()
	srv := startServer(t, "--data", filepath.Join(tmp, "data"))
	c := ctx(t, 10*time.Minute)

	src := filepath.Join(tmp, "weights.bin")
	var seed [32]byte
	copy(seed[:], "cairn e2e resume test, 1 GiB!!!")
	if err := bench.WriteRandomFile(src, size, seed); err != nil {
		t.Fatal(err)
	}

	dying := &dyingTransport{base: http.DefaultTransport, budget: size * 55 / 100}
	first := client.New(srv.URL, client.WithUser("e2e"), client.WithHTTPClient(&http.Client{Transport: dying}))
	_, err := first.Push(c, "resume", []string{src}, cairn.VersionSpec{}, client.PushOptions{Retries: -1})
	if err == nil {
		t.Fatal("the interrupted push succeeded; the transport should have cut it off")
	}
	if !strings.Contains(err.Error(), errDied.Error()) {
		t.Logf("first push failed with: %v", err)
	}

	cl := client.New(srv.URL, client.WithUser("e2e"))
	before := metricSum(t, cl, "cairn_http_bytes_in_total")
	res, err := cl.Push(c, "resume", []string{src}, cairn.VersionSpec{}, client.PushOptions{})
	if err != nil {
		t.Fatalf("resumed push: %v\nserver stderr:\n%s", err, srv.stderr)
	}
	resent := metricSum(t, cl, "cairn_http_bytes_in_total") - before
	t.Logf("first push sent %d MiB before dying; the resumed push sent %d MiB (%.0f%% of the file)",
		dying.sent.Load()>>20, resent>>20, 100*float64(resent)/size)
	if resent >= size*60/100 {
		t.Errorf("the resumed push sent %d bytes, %.0f%% of the file; want less than 60%%", resent, 100*float64(resent)/size)
	}
	v := res.Version
	if v.Status != cairn.StatusReady || v.Number != 1 || len(v.Files) != 1 || v.Files[0].Size != size {
		t.Fatalf("resumed version = %+v, want ready v1 with the 1 GiB file", v)
	}
	n, err := cl.StatBlob(c, v.Files[0].Digest)
	if err != nil || n != size {
		t.Fatalf("blob %s: size %d, %v", v.Files[0].Digest, n, err)
	}
}
