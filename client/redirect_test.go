package client_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/client"
)

// A blob download redirected to another origin (a presigned object store
// URL) is followed without the client's token and user; a redirect within
// the server's origin keeps them.
func TestRedirectDropsCredentialsAcrossOrigins(t *testing.T) {
	t.Parallel()
	content := []byte("from the object store")
	d := cairn.DigestOf(content)
	var (
		mu   sync.Mutex
		seen = map[string]http.Header{}
	)
	record := func(name string, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		seen[name] = r.Header.Clone()
	}
	store := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		record("store", r)
		w.Write(content)
	}))
	t.Cleanup(store.Close)
	var api *httptest.Server
	api = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/v1/blobs/" + string(d):
			record("api", r)
			http.Redirect(w, r, api.URL+"/same-origin", http.StatusTemporaryRedirect)
		case "/same-origin":
			record("same-origin", r)
			http.Redirect(w, r, store.URL+"/bucket/key?X-Amz-Signature=x", http.StatusTemporaryRedirect)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(api.Close)

	cl := client.New(api.URL, client.WithToken("secret-token"), client.WithUser("alice"))
	rc, _, err := cl.OpenBlob(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || string(got) != string(content) {
		t.Fatalf("OpenBlob through redirects: %q, %v", got, err)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, name := range []string{"api", "same-origin"} {
		if h := seen[name]; h.Get("Authorization") != "Bearer secret-token" || h.Get("X-Cairn-User") != "alice" {
			t.Errorf("%s saw Authorization %q, X-Cairn-User %q; want the client's", name, h.Get("Authorization"), h.Get("X-Cairn-User"))
		}
	}
	if h := seen["store"]; h == nil || h.Get("Authorization") != "" || h.Get("X-Cairn-User") != "" {
		t.Errorf("the other origin saw Authorization %q, X-Cairn-User %q; want neither", h.Get("Authorization"), h.Get("X-Cairn-User"))
	}
}
