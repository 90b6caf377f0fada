package mlflowapi_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/internal/httpapi/apitest"
	"github.com/cairn-registry/cairn/internal/mlflowapi"
	"github.com/cairn-registry/cairn/internal/registry"
)

const artifactsBase = "/api/2.0/mlflow-artifacts/artifacts/"

func newArtifactEnv(t *testing.T, opts registry.Options) *env {
	t.Helper()
	e := apitest.New(t, apitest.Options{Registry: opts})
	log := slog.New(slog.NewJSONHandler(e.Logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	mlflowapi.New(e.Service, mlflowapi.Options{Logger: log}).Register(e.API.Mount)
	for _, p := range mlflowapi.PartPrefixes() {
		e.API.AllowCapability("PUT", p)
	}
	return &env{Env: e, t: t}
}

// raw sends a request whose request target is exactly rawPath (and
// query), unnormalized by the client, with body as a raw (non-JSON) body.
func (e *env) raw(method, rawPath, rawQuery string, body io.Reader) (int, http.Header, []byte) {
	e.t.Helper()
	req, err := http.NewRequestWithContext(e.t.Context(), method, e.Server.URL, body)
	if err != nil {
		e.t.Fatal(err)
	}
	req.URL.Opaque = rawPath
	req.URL.RawQuery = rawQuery
	if body != nil {
		req.Header.Set("Content-Type", "application/octet-stream")
	}
	res, err := e.Server.Client().Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, rawPath, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return res.StatusCode, res.Header, b
}

func (e *env) put(path, content string) {
	e.t.Helper()
	st, _, b := e.raw("PUT", artifactsBase+path, "", strings.NewReader(content))
	if st != 200 || string(b) != "{}" {
		e.t.Fatalf("PUT %s: %d %s, want 200 {}", path, st, b)
	}
}

func (e *env) get(path string) (int, string) {
	e.t.Helper()
	st, _, b := e.raw("GET", artifactsBase+path, "", nil)
	return st, string(b)
}

type fileInfo struct {
	Path     string `json:"path"`
	IsDir    bool   `json:"is_dir"`
	FileSize *int64 `json:"file_size"`
}

func (e *env) list(prefix, dir string) []fileInfo {
	e.t.Helper()
	q := ""
	if dir != "" {
		q = url.Values{"path": {dir}}.Encode()
	}
	st, _, b := e.raw("GET", prefix+"artifacts", q, nil)
	if st != 200 {
		e.t.Fatalf("list %q: %d %s", dir, st, b)
	}
	var out struct {
		Files []fileInfo `json:"files"`
	}
	if err := json.Unmarshal(b, &out); err != nil {
		e.t.Fatal(err)
	}
	return out.Files
}

func size(n int64) *int64 { return &n }

// Upload, download (whole, ranged, conditional), list and delete, under
// both prefixes, as MLflow's MlflowArtifactsRepository calls them.
func TestArtifactProxyRoundTrip(t *testing.T) {
	e := newEnv(t)
	base := "1/5f0c/artifacts/model/"
	e.put(base+"MLmodel", "flavors: {}\n")
	e.put(base+"model.pkl", "0123456789")
	e.put(base+"data/a.bin", "a")
	e.put(base+"data/deep/b.bin", "bb")
	e.put("1/5f0c/artifacts/model-notes.txt", "sibling, not inside model/")

	if st, body := e.get(base + "model.pkl"); st != 200 || body != "0123456789" {
		t.Fatalf("GET model.pkl: %d %q", st, body)
	}
	// Range and ETag: the blob's digest.
	req, _ := http.NewRequest("GET", e.Server.URL+artifactsBase+base+"model.pkl", nil)
	req.Header.Set("Range", "bytes=2-4")
	res, err := e.Server.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	etag := res.Header.Get("ETag")
	if res.StatusCode != 206 || string(b) != "234" || etag != `"`+string(cairn.DigestOf([]byte("0123456789")))+`"` {
		t.Errorf("ranged GET: %d %q ETag %s", res.StatusCode, b, etag)
	}
	req.Header.Del("Range")
	req.Header.Set("If-None-Match", etag)
	if res, err = e.Server.Client().Do(req); err != nil || res.StatusCode != 304 {
		t.Errorf("conditional GET: %v %v, want 304", res.StatusCode, err)
	}
	res.Body.Close()

	for _, prefix := range mlflowapi.ArtifactPrefixes {
		got := e.list(prefix, "1/5f0c/artifacts/model")
		want := []fileInfo{{Path: "MLmodel", FileSize: size(12)}, {Path: "data", IsDir: true}, {Path: "model.pkl", FileSize: size(10)}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("list model under %s (-want +got):\n%s", prefix, diff)
		}
	}
	if diff := cmp.Diff([]fileInfo{{Path: "1", IsDir: true}}, e.list(mlflowapi.ArtifactPrefixes[0], "")); diff != "" {
		t.Errorf("list root (-want +got):\n%s", diff)
	}
	// MLflow's directory check on a run without such a directory: empty.
	if got := e.list(mlflowapi.ArtifactPrefixes[0], "1/5f0c/artifacts/nothing"); len(got) != 0 {
		t.Errorf("list of a missing directory = %v, want empty", got)
	}
	// The list body keeps MLflow's field names; a directory has no size.
	st, _, raw := e.raw("GET", "/api/2.0/mlflow-artifacts/artifacts", "path=1%2F5f0c%2Fartifacts%2Fmodel%2Fdata", nil)
	if st != 200 || string(raw) != `{"files":[{"path":"a.bin","is_dir":false,"file_size":1},{"path":"deep","is_dir":true}]}` {
		t.Errorf("list body: %d %s", st, raw)
	}

	// Overwrite: the path points at the new bytes.
	e.put(base+"model.pkl", "new weights")
	if st, body := e.get(base + "model.pkl"); st != 200 || body != "new weights" {
		t.Errorf("GET after overwrite: %d %q", st, body)
	}

	// Delete a directory: everything under it goes, its sibling stays.
	st, _, raw = e.raw("DELETE", artifactsBase+"1/5f0c/artifacts/model", "", nil)
	if st != 200 || string(raw) != "{}" {
		t.Fatalf("DELETE model: %d %s", st, raw)
	}
	if st, _ := e.get(base + "MLmodel"); st != 404 {
		t.Errorf("GET a deleted file: %d, want 404", st)
	}
	if diff := cmp.Diff([]fileInfo{{Path: "model-notes.txt", FileSize: size(26)}}, e.list(mlflowapi.ArtifactPrefixes[1], "1/5f0c/artifacts")); diff != "" {
		t.Errorf("after the delete (-want +got):\n%s", diff)
	}
	// Deleting nothing is fine, as in MLflow.
	if st, _, raw := e.raw("DELETE", artifactsBase+"1/5f0c/artifacts/model", "", nil); st != 200 {
		t.Errorf("DELETE again: %d %s", st, raw)
	}
	// Each write and delete is audited.
	es, err := e.Store.ListAudit(t.Context(), cairn.AuditQuery{Action: registry.AuditArtifactWritten, Limit: 100})
	if err != nil || len(es) != 6 {
		t.Errorf("%d artifact.written audit entries (%v), want 6", len(es), err)
	}
}

// A file a browser would render is served as plain text, never as a page
// in the server's origin.
func TestArtifactDownloadIsInert(t *testing.T) {
	e := newEnv(t)
	for name, want := range map[string]string{
		"x/page.html": "text/plain; charset=utf-8", "x/pic.svg": "text/plain; charset=utf-8",
		"x/app.js": "text/plain; charset=utf-8", "x/model.pkl": "application/octet-stream", "x/img.png": "image/png",
	} {
		e.put(name, "<script>alert(1)</script>")
		_, h, _ := e.raw("GET", artifactsBase+name, "", nil)
		if got := h.Get("Content-Type"); got != want {
			t.Errorf("%s served as %q, want %q", name, got, want)
		}
		if h.Get("X-Content-Type-Options") != "nosniff" || !strings.Contains(h.Get("Content-Security-Policy"), "sandbox") {
			t.Errorf("%s: headers %v lack nosniff and a sandboxing CSP", name, h)
		}
	}
}

// Every path-traversal form from MLflow's advisories is refused with 400
// INVALID_PARAMETER_VALUE, by every method, and nothing is written.
func TestArtifactTraversalRefused(t *testing.T) {
	e := newEnv(t)
	e.put("0/run/artifacts/ok.txt", "fine")
	forms := []string{
		// .. and . segments
		"..", "../secret", "0/run/../../../etc/passwd", "0/run/artifacts/..", "./x", "0/./x", "..;/x",
		// percent-encoded once, mixed case, partly
		"%2e%2e/secret", "%2E%2E/secret", ".%2e/secret", "%2e./secret", "0/%2e%2e/%2e%2e/x", "0%2f..%2f..%2fx", "%2e",
		// double and triple encoding
		"%252e%252e/secret", "%252E%252E%252Fsecret", "0/%25252e%25252e/x", "..%252fsecret",
		// fragments and path parameters
		"ok.txt%23", "x%23/../../y", "a;jsessionid=1", "ok.txt%3b.png", "..%3b/x",
		// backslashes
		"..%5csecret", "a%5cb", "0\\run", "%255c..%255csecret",
		// absolute paths, drive letters, file URIs
		"/etc/passwd", "//proc/self/root/etc/passwd", "%2fetc%2fpasswd", "%252fetc%252fpasswd", "C:%5cwindows", "C:/x", "file:///etc/passwd",
		// NUL and control characters
		"a%00b", "ok.txt%00.png", "%2500", "a%0ab", "a%7fb",
		// empty segments
		"a//b", "a/", "a/b/",
		// not UTF-8 (a broken escape such as %zz never reaches a
		// handler: net/http answers 400 itself)
		"a%ffb",
	}
	before, _ := e.Store.ListAudit(t.Context(), cairn.AuditQuery{Limit: 1000})
	for _, prefix := range []string{artifactsBase, "/ajax-api/2.0/mlflow-artifacts/artifacts/", "/api/2.0/mlflow-artifacts/mpu/create/"} {
		for _, form := range forms {
			methods := []string{"GET", "PUT", "DELETE"}
			if strings.Contains(prefix, "mpu") {
				methods = []string{"POST"}
			}
			for _, m := range methods {
				var body io.Reader
				if m == "PUT" || m == "POST" {
					body = strings.NewReader("evil")
				}
				st, _, raw := e.raw(m, prefix+form, "", body)
				var eb struct {
					Code string `json:"error_code"`
				}
				_ = json.Unmarshal(raw, &eb)
				if st != 400 || eb.Code != "INVALID_PARAMETER_VALUE" {
					t.Errorf("%s %s%s: %d %s, want 400 INVALID_PARAMETER_VALUE", m, prefix, form, st, raw)
				}
			}
		}
	}
	// The listing's path parameter too (the query is decoded once by the
	// server; the forms decode further).
	for _, dir := range []string{"..", "../x", "0/../..", "%2e%2e", "%252e%252e/x", "/etc", "//proc/self/root", "a\\b", "a\x00b", "a//b", "x#/../..", "..;"} {
		st, _, raw := e.raw("GET", "/api/2.0/mlflow-artifacts/artifacts", url.Values{"path": {dir}}.Encode(), nil)
		if st != 400 || !bytes.Contains(raw, []byte("INVALID_PARAMETER_VALUE")) {
			t.Errorf("list path=%q: %d %s, want 400", dir, st, raw)
		}
	}
	// Traversal out of the proxy's prefix is refused too, not redirected.
	for _, p := range []string{"/api/2.0/mlflow-artifacts/../mlflow/registered-models/search", "/api/2.0/mlflow-artifacts/%2e%2e/mlflow/registered-models/search",
		"/api/2.0/mlflow-artifacts/artifacts/../../mlflow/registered-models/search"} {
		st, _, raw := e.raw("GET", p, "", nil)
		if st != 400 {
			t.Errorf("GET %s: %d %s, want 400", p, st, raw)
		}
	}
	after, _ := e.Store.ListAudit(t.Context(), cairn.AuditQuery{Limit: 1000})
	if len(after) != len(before) {
		t.Errorf("refused requests wrote %d audit entries", len(after)-len(before))
	}
	page, err := e.Store.ListArtifacts(t.Context(), cairn.ArtifactQuery{})
	if err != nil || len(page.Items) != 1 {
		t.Errorf("artifacts after the refusals: %v %v, want only ok.txt", page, err)
	}
	if st, body := e.get("0/run/artifacts/ok.txt"); st != 200 || body != "fine" {
		t.Errorf("ok.txt: %d %q", st, body)
	}
	// Names that merely look odd are fine.
	for _, name := range []string{"0/r/a..b", "0/r/..a", "0/r/.hidden", "0/r/100%.txt", "0/r/sp ace.txt", "0/r/é.txt"} {
		st, _, raw := e.raw("PUT", artifactsBase+url.PathEscape(name), "", strings.NewReader("x"))
		if st != 200 {
			t.Errorf("PUT %q: %d %s, want 200", name, st, raw)
		}
	}
}

// A body over the limit is refused, declared or streamed, and stores
// nothing; the reserved root cannot be written.
func TestArtifactUploadLimits(t *testing.T) {
	e := newArtifactEnv(t, registry.Options{MaxArtifactSize: 10})
	e.put("0/r/ten.bin", "0123456789")
	st, _, raw := e.raw("PUT", artifactsBase+"0/r/eleven.bin", "", strings.NewReader("0123456789A"))
	if st != 400 || !bytes.Contains(raw, []byte("limit")) {
		t.Errorf("declared oversize: %d %s, want 400", st, raw)
	}
	// Chunked: no Content-Length, the limit bites while streaming.
	st, _, raw = e.raw("PUT", artifactsBase+"0/r/streamed.bin", "", io.MultiReader(strings.NewReader("01234"), strings.NewReader("56789AB")))
	if st != 400 || !bytes.Contains(raw, []byte("limit")) {
		t.Errorf("streamed oversize: %d %s, want 400", st, raw)
	}
	st, _, raw = e.raw("PUT", artifactsBase+"_cairn/versions/m/1/x", "", strings.NewReader("x"))
	if st != 400 || !bytes.Contains(raw, []byte("reserved")) {
		t.Errorf("write under _cairn/: %d %s, want 400", st, raw)
	}
	page, err := e.Store.ListArtifacts(t.Context(), cairn.ArtifactQuery{})
	if err != nil || len(page.Items) != 1 {
		t.Errorf("artifacts stored: %+v %v, want only ten.bin", page.Items, err)
	}
}

type mpuCreated struct {
	UploadID    string `json:"upload_id"`
	Credentials []struct {
		URL        string            `json:"url"`
		PartNumber int               `json:"part_number"`
		Headers    map[string]string `json:"headers"`
	} `json:"credentials"`
}

// putPart sends a part to its URL as MLflow's client does (requests.put
// with the credential's headers, no credentials of its own) and returns
// the ETag.
func putPart(t *testing.T, c *http.Client, url, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), "PUT", url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, res.Body)
	return res.StatusCode, res.Header.Get("ETag")
}

// A multipart upload as MLflow's client makes it (MLFLOW_ENABLE_PROXY_
// MULTIPART_UPLOAD): create, parts in any order and in parallel to the
// URLs handed out, complete with their ETags; the artifact is the parts
// joined. Staged parts are invisible; every wrong completion is refused.
func TestArtifactMultipartUpload(t *testing.T) {
	e := newEnv(t)
	path := "0/r/artifacts/model/big.bin"
	create := func() mpuCreated {
		t.Helper()
		r := e.ok("POST", "/api/2.0/mlflow-artifacts/mpu/create/"+path, `{"path": "big.bin", "num_parts": 3}`, "")
		var c mpuCreated
		if err := json.Unmarshal(r.Raw, &c); err != nil || len(c.UploadID) != 32 || len(c.Credentials) != 3 {
			t.Fatalf("create: %s", r.Raw)
		}
		for i, cr := range c.Credentials {
			want := e.Server.URL + "/api/2.0/mlflow-artifacts/mpu/part/" + c.UploadID + "/" + strconv.Itoa(i+1)
			if cr.URL != want || cr.PartNumber != i+1 || cr.Headers == nil {
				t.Errorf("credential %d: %+v, want url %s", i, cr, want)
			}
		}
		return c
	}
	c := create()
	parts := []string{"first part|", "second part|", "third"}
	etags := make([]string, 3)
	for _, i := range []int{2, 0, 1, 0} { // out of order, part 1 twice
		st, etag := putPart(t, e.Server.Client(), c.Credentials[i].URL, parts[i])
		if st != 200 || etag != `"`+string(cairn.DigestOf([]byte(parts[i])))+`"` {
			t.Fatalf("part %d: %d ETag %s", i+1, st, etag)
		}
		etags[i] = etag
	}
	// Staged parts are nowhere to be seen.
	if got := e.list(mlflowapi.ArtifactPrefixes[0], ""); len(got) != 0 {
		t.Errorf("the root lists %v during an upload", got)
	}
	if st, _ := e.get("_cairn/uploads/" + c.UploadID + "/parts/00001"); st != 404 {
		t.Errorf("a staged part can be downloaded: %d", st)
	}
	st, _, _ := e.raw("GET", "/api/2.0/mlflow-artifacts/artifacts", "path=_cairn%2Fuploads", nil)
	if st != 400 {
		t.Errorf("listing the staging area: %d, want 400", st)
	}
	complete := func(body any) *response {
		return e.do("POST", "/api/2.0/mlflow-artifacts/mpu/complete/"+path, jsonBody(t, body), "")
	}
	part := func(n int, etag string) map[string]any {
		return map[string]any{"part_number": n, "etag": etag, "url": "x"}
	}
	for name, body := range map[string]any{
		"a wrong ETag":       map[string]any{"path": "big.bin", "upload_id": c.UploadID, "parts": []any{part(1, `"sha256:00"`), part(2, etags[1]), part(3, etags[2])}},
		"a missing part":     map[string]any{"path": "big.bin", "upload_id": c.UploadID, "parts": []any{part(1, etags[0]), part(2, etags[1]), part(3, etags[2]), part(4, "")}},
		"parts out of order": map[string]any{"path": "big.bin", "upload_id": c.UploadID, "parts": []any{part(2, etags[1]), part(1, etags[0]), part(3, etags[2])}},
		"no parts":           map[string]any{"path": "big.bin", "upload_id": c.UploadID},
	} {
		if r := complete(body); r.Status != 400 || r.Body["error_code"] != "INVALID_PARAMETER_VALUE" {
			t.Errorf("completing with %s: %d %s, want 400", name, r.Status, r.Raw)
		}
	}
	r := e.do("POST", "/api/2.0/mlflow-artifacts/mpu/complete/0/r/artifacts/other.bin", jsonBody(t, map[string]any{"upload_id": c.UploadID, "parts": []any{part(1, etags[0])}}), "")
	if r.Status != 400 {
		t.Errorf("completing into another path: %d %s", r.Status, r.Raw)
	}
	if st, _ := e.get(path); st != 404 {
		t.Errorf("the artifact exists before completion: %d", st)
	}
	r = complete(map[string]any{"path": "big.bin", "upload_id": c.UploadID, "parts": []any{part(1, etags[0]), part(2, etags[1]), part(3, etags[2])}})
	if r.Status != 200 || string(r.Raw) != "{}" {
		t.Fatalf("complete: %d %s", r.Status, r.Raw)
	}
	if st, body := e.get(path); st != 200 || body != strings.Join(parts, "") {
		t.Errorf("the completed artifact: %d %q", st, body)
	}
	if r := complete(map[string]any{"upload_id": c.UploadID, "parts": []any{part(1, "")}}); r.Status != 404 {
		t.Errorf("completing twice: %d %s, want 404", r.Status, r.Raw)
	}
	if st, _ := putPart(t, e.Server.Client(), c.Credentials[0].URL, "late"); st != 404 {
		t.Errorf("a part after completion: %d, want 404", st)
	}
	page, err := e.Store.ListArtifacts(t.Context(), cairn.ArtifactQuery{})
	if err != nil || len(page.Items) != 1 || page.Items[0].Path != path {
		t.Errorf("rows after completion: %+v %v, want only the artifact", page.Items, err)
	}

	// Abort: the upload ends, nothing is written.
	c = create()
	if st, _ := putPart(t, e.Server.Client(), c.Credentials[0].URL, "x"); st != 200 {
		t.Fatal(st)
	}
	e.ok("POST", "/api/2.0/mlflow-artifacts/mpu/abort/"+path, jsonBody(t, map[string]any{"path": "big.bin", "upload_id": c.UploadID}), "")
	if st, _ := putPart(t, e.Server.Client(), c.Credentials[1].URL, "y"); st != 404 {
		t.Errorf("a part after abort: %d, want 404", st)
	}
	if st, body := e.get(path); st != 200 || body != strings.Join(parts, "") {
		t.Errorf("abort changed the artifact: %d %q", st, body)
	}
	// Bad requests.
	for _, tc := range []struct{ method, path, body string }{
		{"POST", "/api/2.0/mlflow-artifacts/mpu/create/" + path, `{"num_parts": 0}`},
		{"POST", "/api/2.0/mlflow-artifacts/mpu/create/" + path, `{"num_parts": 10001}`},
		{"POST", "/api/2.0/mlflow-artifacts/mpu/create/_cairn/x", `{"num_parts": 1}`},
		{"POST", "/api/2.0/mlflow-artifacts/mpu/complete/" + path, `{"parts": []}`},
		{"PUT", "/api/2.0/mlflow-artifacts/mpu/part/" + c.UploadID + "/0", ``},
		{"PUT", "/api/2.0/mlflow-artifacts/mpu/part/" + c.UploadID + "/x", ``},
		{"PUT", "/api/2.0/mlflow-artifacts/mpu/part/" + c.UploadID + "/1/2", ``},
	} {
		st, _, raw := e.raw(tc.method, tc.path, "", strings.NewReader(tc.body))
		if st != 400 {
			t.Errorf("%s %s %s: %d %s, want 400", tc.method, tc.path, tc.body, st, raw)
		}
	}
	if st, _ := putPart(t, e.Server.Client(), e.Server.URL+"/api/2.0/mlflow-artifacts/mpu/part/0123456789abcdef0123456789abcdef/1", "x"); st != 404 {
		t.Errorf("a part of an unknown upload: %d, want 404", st)
	}
}
