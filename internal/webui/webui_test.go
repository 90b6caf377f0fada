package webui_test

import (
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/cairn-registry/cairn/internal/httpapi/apitest"
	"github.com/cairn-registry/cairn/internal/registry"
)

func get(t *testing.T, c *http.Client, url string, hdr ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	c2 := *c
	c2.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c2.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

// The embedded build is whole: index.html names assets that are served
// with long-lived caching, every app path answers index.html, and the
// security headers are set.
func TestServesEmbeddedBuild(t *testing.T) {
	t.Parallel()
	e := newUIEnv(t, apitest.Options{})
	c := e.Server.Client()

	resp, index := get(t, c, e.Server.URL+"/ui/")
	if resp.StatusCode != 200 || !strings.Contains(index, `<div id="app">`) {
		t.Fatalf("GET /ui/ = %d\n%s", resp.StatusCode, index)
	}
	for k, want := range map[string]string{
		"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-cache",
		"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY",
	} {
		if got := resp.Header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe") {
		t.Errorf("CSP = %q", csp)
	}

	assets := regexp.MustCompile(`(?:src|href)="(/ui/assets/[^"]+)"`).FindAllStringSubmatch(index, -1)
	if len(assets) < 2 {
		t.Fatalf("index.html names %d assets, want the script and the stylesheet:\n%s", len(assets), index)
	}
	for _, a := range assets {
		resp, body := get(t, c, e.Server.URL+a[1])
		if resp.StatusCode != 200 || len(body) == 0 {
			t.Errorf("GET %s = %d (%d bytes)", a[1], resp.StatusCode, len(body))
		}
		if cc := resp.Header.Get("Cache-Control"); !strings.Contains(cc, "immutable") {
			t.Errorf("GET %s Cache-Control = %q", a[1], cc)
		}
		if strings.HasSuffix(a[1], ".js") && strings.Contains(body, "innerHTML") {
			t.Errorf("%s assigns innerHTML; the UI builds every node through the DOM", a[1])
		}
	}

	// Client-side routes answer the app; a missing asset is a 404.
	for _, p := range []string{"/ui/models/churn", "/ui/models/a%20b/versions/3", "/ui/compare?v=a@v1&v=a@v2"} {
		if resp, body := get(t, c, e.Server.URL+p); resp.StatusCode != 200 || body != index {
			t.Errorf("GET %s = %d, want index.html", p, resp.StatusCode)
		}
	}
	if resp, _ := get(t, c, e.Server.URL+"/ui/assets/nope.js"); resp.StatusCode != 404 {
		t.Errorf("GET a missing asset = %d, want 404", resp.StatusCode)
	}
	if resp, _ := get(t, c, e.Server.URL+"/"); resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/ui/" {
		t.Errorf("GET / = %d to %q, want 302 to /ui/", resp.StatusCode, resp.Header.Get("Location"))
	}
	// The API is untouched: unknown API paths are still problem documents.
	if resp, body := get(t, c, e.Server.URL+"/api/v1/nope"); resp.StatusCode != 404 || !strings.Contains(body, `"code":"not_found"`) {
		t.Errorf("GET /api/v1/nope = %d %s", resp.StatusCode, body)
	}
}

// With auth on the UI's files answer without credentials (the page must
// load to show its sign-in form) but the API still refuses.
func TestUIIsPublicAPIIsNot(t *testing.T) {
	t.Parallel()
	e := newUIEnv(t, apitest.Options{Registry: registry.Options{Auth: true, PasswordIterations: 1000}})
	if _, err := e.Service.Bootstrap(t.Context()); err != nil {
		t.Fatal(err)
	}
	c := e.Server.Client()
	for _, p := range []string{"/ui/", "/ui/models/x", "/"} {
		if resp, _ := get(t, c, e.Server.URL+p); resp.StatusCode >= 400 {
			t.Errorf("GET %s without credentials = %d", p, resp.StatusCode)
		}
	}
	for _, p := range []string{"/api/v1/models", "/api/v1/whoami", "/uix", "/api/v1/lineage/a@v1"} {
		if resp, _ := get(t, c, e.Server.URL+p); resp.StatusCode != 401 {
			t.Errorf("GET %s without credentials = %d, want 401", p, resp.StatusCode)
		}
	}
	// Wrong credentials on a UI path are still refused: credentials that
	// are sent are always checked.
	if resp, _ := get(t, c, e.Server.URL+"/ui/", "Authorization", "Bearer nope"); resp.StatusCode != 401 {
		t.Errorf("GET /ui/ with a bad token = %d, want 401", resp.StatusCode)
	}
}
