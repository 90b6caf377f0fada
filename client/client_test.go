package client_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/client"
	"github.com/cairn-registry/cairn/internal/httpapi/apitest"
	"github.com/cairn-registry/cairn/internal/registry"
)

func TestErrorsDecodeIntoCairnErrors(t *testing.T) {
	t.Parallel()
	e := apitest.New(t, apitest.Options{})
	ctx := context.Background()
	_, err := e.Client.GetModel(ctx, "missing")
	if cairn.ErrorCodeOf(err) != cairn.ENOTFOUND || cairn.ErrorMessage(err) != `model "missing" not found` {
		t.Fatalf("err = %v (code %s, message %q)", err, cairn.ErrorCodeOf(err), cairn.ErrorMessage(err))
	}
	var se *client.StatusError
	if !errors.As(err, &se) || se.StatusCode != 404 || se.RequestID == "" || se.Type != "urn:cairn:problem:not_found" {
		t.Fatalf("StatusError = %+v", se)
	}
	_, err = e.Client.CreateModel(ctx, registry.ModelCreate{Name: "bad:name"})
	if cairn.ErrorCodeOf(err) != cairn.EINVALID {
		t.Fatalf("err = %v", err)
	}
}

func TestNonProblemAnswers(t *testing.T) {
	t.Parallel()
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		switch r.URL.Path {
		case "/api/v1/models/teapot":
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write([]byte("<html>proxy says no</html>"))
		default:
			w.WriteHeader(http.StatusBadGateway)
		}
	}))
	defer srv.Close()
	c := client.New(srv.URL, client.WithRetries(0))
	_, err := c.GetModel(context.Background(), "teapot")
	if cairn.ErrorCodeOf(err) != cairn.EPERMISSION {
		t.Fatalf("403 HTML: err = %v, want permission_denied", err)
	}
	_, err = c.GetModel(context.Background(), "other")
	var se *client.StatusError
	if cairn.ErrorCodeOf(err) != cairn.EINTERNAL || !errors.As(err, &se) || se.StatusCode != 502 {
		t.Fatalf("502: err = %v", err)
	}
}

// TestRetries: 502/503/504 and transport errors are retried (with the same
// Idempotency-Key for POSTs); client errors are not.
func TestRetries(t *testing.T) {
	t.Parallel()
	e := apitest.New(t, apitest.Options{})
	var calls atomic.Int64
	var mu sync.Mutex
	keys := map[string]int{}
	flaky := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		if r.Method == http.MethodPost {
			mu.Lock()
			keys[r.Header.Get("Idempotency-Key")]++
			mu.Unlock()
		}
		if n%2 == 1 { // every first try fails
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		e.API.Handler().ServeHTTP(w, r)
	}))
	defer flaky.Close()
	c := client.New(flaky.URL, client.WithRetries(1))
	ctx := context.Background()
	if _, err := c.CreateModel(ctx, registry.ModelCreate{Name: "m"}); err != nil {
		t.Fatalf("CreateModel through a flaky server: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(keys) != 1 {
		t.Fatalf("the retry used another idempotency key: %v", keys)
	}
	for k, n := range keys {
		if k == "" || n != 2 {
			t.Fatalf("keys = %v; want one key sent twice", keys)
		}
	}
	if _, err := c.GetModel(ctx, "m"); err != nil {
		t.Fatalf("GetModel through a flaky server: %v", err)
	}
	before := calls.Load()
	_, err := c.GetModel(ctx, "nope")
	if cairn.ErrorCodeOf(err) != cairn.ENOTFOUND || calls.Load()-before != 2 {
		t.Fatalf("404 after a 503: err %v after %d calls", err, calls.Load()-before)
	}
	// A server that keeps failing: tried 1 + retries times, then the 503
	// surfaces.
	var down atomic.Int64
	dead := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		down.Add(1)
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer dead.Close()
	_, err = client.New(dead.URL, client.WithRetries(2)).GetModel(ctx, "m")
	var se *client.StatusError
	if !errors.As(err, &se) || se.StatusCode != 503 || down.Load() != 3 {
		t.Fatalf("err = %v after %d calls; want the 503 after 3", err, down.Load())
	}
}

func TestUnreachableServer(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	_, err := client.New(url, client.WithRetries(0)).GetModel(context.Background(), "m")
	var ce *cairn.Error
	if err == nil || errors.As(err, &ce) {
		t.Fatalf("err = %v; want a transport error, not a server answer", err)
	}
}

// TestUserHeader: WithUser declares the actor; the server records it,
// unverified.
func TestUserHeader(t *testing.T) {
	t.Parallel()
	e := apitest.New(t, apitest.Options{})
	c := client.New(e.Server.URL, client.WithUser("alice"))
	m, err := c.CreateModel(context.Background(), registry.ModelCreate{Name: "m"})
	if err != nil || m.CreatedBy != "alice" {
		t.Fatalf("created %+v, %v", m, err)
	}
}

// TestRequestHeaders: the options become headers on every request, and a
// blob answer naming another digest is refused.
func TestRequestHeaders(t *testing.T) {
	t.Parallel()
	var got atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Store(r.Header.Clone())
		w.Header().Set("X-Cairn-Digest", string(cairn.DigestOf([]byte("other"))))
		_, _ = w.Write([]byte("{}"))
	}))
	defer srv.Close()
	c := client.New(srv.URL+"/", client.WithToken("tok"), client.WithUser("bob"), client.WithUserAgent("cairn-cli/1"))
	if c.BaseURL() != srv.URL {
		t.Fatalf("BaseURL = %q", c.BaseURL())
	}
	if _, err := c.GetModel(context.Background(), "m"); err != nil {
		t.Fatal(err)
	}
	h := got.Load().(http.Header)
	if h.Get("Authorization") != "Bearer tok" || h.Get("X-Cairn-User") != "bob" || h.Get("User-Agent") != "cairn-cli/1" {
		t.Fatalf("headers = %v", h)
	}
	if _, _, err := c.OpenBlob(context.Background(), cairn.DigestOf([]byte("mine"))); err == nil {
		t.Fatal("OpenBlob accepted an answer for another digest")
	}
}
