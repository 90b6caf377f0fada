package httpapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/client"
	"github.com/cairn-registry/cairn/internal/httpapi"
	"github.com/cairn-registry/cairn/internal/httpapi/apitest"
)

// A version's manifest may be far larger than any other JSON body: its
// route has a limit of its own (MaxManifestBody), with and without an
// Idempotency-Key; other routes keep MaxJSONBody.
func TestManifestBodyLimit(t *testing.T) {
	t.Parallel()
	e := apitest.New(t, apitest.Options{API: httpapi.Options{MaxJSONBody: 64 << 10, MaxManifestBody: 1 << 20}})
	manifest := func(n int, seed string) string {
		files := make([]cairn.File, n)
		for i := range files {
			content := fmt.Sprintf("%s %d", seed, i)
			files[i] = cairn.File{Path: fmt.Sprintf("shard-%03d/row-%06d.json", i%100, i), Size: int64(len(content)), Digest: cairn.DigestOf([]byte(content))}
		}
		b, err := json.Marshal(cairn.VersionSpec{Files: files})
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	small := manifest(3000, "a") // ~400 KB: over MaxJSONBody, under MaxManifestBody
	if len(small) < 64<<10 || len(small) > 1<<20 {
		t.Fatalf("test manifest is %d bytes", len(small))
	}
	resp, body := raw(t, e, "POST", "/api/v1/models/rows/versions", small)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("3,000-file manifest: %d %s", resp.StatusCode, body)
	}
	resp, body = raw(t, e, "POST", "/api/v1/models/rows/versions", manifest(3000, "b"), "Idempotency-Key: rows-b")
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("3,000-file manifest with an Idempotency-Key: %d %s", resp.StatusCode, body)
	}
	large := manifest(12000, "c") // ~1.6 MB
	resp, body = raw(t, e, "POST", "/api/v1/models/rows/versions", large)
	wantProblem(t, resp, body, http.StatusRequestEntityTooLarge, cairn.ETOOLARGE)
	resp, body = raw(t, e, "POST", "/api/v1/models/rows/versions", large, "Idempotency-Key: rows-c")
	wantProblem(t, resp, body, http.StatusRequestEntityTooLarge, cairn.ETOOLARGE)
	// Other routes keep the general limit.
	resp, body = raw(t, e, "POST", "/api/v1/models", `{"name":"big","description":"`+strings.Repeat("x", 70<<10)+`"}`)
	wantProblem(t, resp, body, http.StatusRequestEntityTooLarge, cairn.ETOOLARGE)
	page, err := e.Client.ListVersions(t.Context(), "rows", client.ListRequest{})
	if err != nil || len(page.Items) != 2 {
		t.Fatalf("versions after the refusals: %v, %v", page, err)
	}
}
