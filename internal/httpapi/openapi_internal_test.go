package httpapi

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/cairn-registry/cairn"
)

// newBareServer builds a Server without stores: enough for the route
// table, the mux and the document, which is all these tests look at.
func newBareServer(t *testing.T) *Server {
	t.Helper()
	return New(nil, Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
}

type opKey struct{ method, path string }

func documentOps(t *testing.T, s *Server) []opKey {
	t.Helper()
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(s.openapi, &doc); err != nil {
		t.Fatal(err)
	}
	var ops []opKey
	for p, item := range doc.Paths {
		for m := range item {
			ops = append(ops, opKey{strings.ToUpper(m), p})
		}
	}
	return ops
}

// TestOpenAPIMatchesRoutes compares the OpenAPI document with the patterns
// actually registered on the mux, both ways, and then asks the mux itself:
// every documented operation must be routed to its pattern, and every
// other method on a documented path must not be.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	s := newBareServer(t)
	doc := documentOps(t, s)
	var registered []opKey
	for _, p := range s.patterns {
		method, path, ok := strings.Cut(p, " ")
		if !ok {
			t.Fatalf("pattern %q has no method: every route must name one", p)
		}
		registered = append(registered, opKey{method, openAPIPath(path)})
	}
	cmpKey := func(a, b opKey) int { return strings.Compare(a.method+" "+a.path, b.method+" "+b.path) }
	slices.SortFunc(doc, cmpKey)
	slices.SortFunc(registered, cmpKey)
	for _, k := range registered {
		if !slices.Contains(doc, k) {
			t.Errorf("registered but not documented: %s %s", k.method, k.path)
		}
	}
	for _, k := range doc {
		if !slices.Contains(registered, k) {
			t.Errorf("documented but not registered: %s %s", k.method, k.path)
		}
	}
	if len(doc) != len(registered) {
		t.Errorf("%d documented operations, %d registered patterns", len(doc), len(registered))
	}

	// Ask the mux. Fill path parameters with sample values.
	params := regexp.MustCompile(`\{[a-z_]+\}`)
	fill := func(p string) string {
		return params.ReplaceAllStringFunc(p, func(m string) string {
			switch m {
			case "{version}":
				return "3"
			case "{n}":
				return "1"
			}
			return "sample"
		})
	}
	documented := map[opKey]bool{}
	paths := map[string]bool{}
	for _, k := range doc {
		documented[k] = true
		paths[k.path] = true
	}
	for p := range paths {
		for _, method := range []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"} {
			r := httptest.NewRequest(method, fill(p), nil)
			_, pattern := s.mux.Handler(r)
			want := documented[opKey{method, p}] || (method == "HEAD" && documented[opKey{"GET", p}])
			switch {
			case want && pattern == "":
				t.Errorf("%s %s is documented but the mux does not route it", method, p)
			case want && openAPIPath(routeLabel(pattern)) != p:
				t.Errorf("%s %s is routed to %q", method, p, pattern)
			case !want && pattern != "" && openAPIPath(routeLabel(pattern)) == p:
				t.Errorf("%s %s is routed (to %q) but not documented", method, p, pattern)
			}
		}
	}
}

// TestOpenAPIDocument checks the document's shape: version, operation
// ids unique, path parameters declared, schemas resolvable.
func TestOpenAPIDocument(t *testing.T) {
	s := newBareServer(t)
	var doc map[string]any
	if err := json.Unmarshal(s.openapi, &doc); err != nil {
		t.Fatal(err)
	}
	if doc["openapi"] != "3.1.0" {
		t.Fatalf("openapi = %v", doc["openapi"])
	}
	schemas := doc["components"].(map[string]any)["schemas"].(map[string]any)
	for _, name := range []string{"Version", "VersionSpec", "Model", "Problem", "CreateVersionResult", "Upload", "Run", "LineageGraph"} {
		if schemas[name] == nil {
			t.Errorf("schema %s missing", name)
		}
	}
	// Every $ref points at a schema that exists.
	refs := regexp.MustCompile(`"\$ref":\s*"#/components/schemas/([A-Za-z]+)"`).FindAllStringSubmatch(string(s.openapi), -1)
	if len(refs) == 0 {
		t.Fatal("no $ref in the document")
	}
	for _, m := range refs {
		if schemas[m[1]] == nil {
			t.Errorf("dangling $ref %s", m[1])
		}
	}
	// The upload's backend key is internal: never in the document.
	if strings.Contains(string(s.openapi), "BackendKey") || strings.Contains(string(s.openapi), "backend_key") {
		t.Error("the document exposes the upload's backend key")
	}
	ids := map[string]bool{}
	for path, item := range doc["paths"].(map[string]any) {
		for method, op := range item.(map[string]any) {
			o := op.(map[string]any)
			id := o["operationId"].(string)
			if ids[id] {
				t.Errorf("operationId %s used twice", id)
			}
			ids[id] = true
			var declared []string
			if ps, ok := o["parameters"].([]any); ok {
				for _, p := range ps {
					pm := p.(map[string]any)
					if pm["in"] == "path" {
						declared = append(declared, pm["name"].(string))
					}
				}
			}
			for _, m := range regexp.MustCompile(`\{([a-z_]+)\}`).FindAllStringSubmatch(path, -1) {
				if !slices.Contains(declared, m[1]) {
					t.Errorf("%s %s: path parameter %s not declared", method, path, m[1])
				}
			}
			if o["responses"].(map[string]any)["default"] == nil {
				t.Errorf("%s %s: no default (problem) response", method, path)
			}
		}
	}
	// Versions take an archive body with remove_aliases; the schema says so.
	vs := schemas["ArchiveRequest"].(map[string]any)["properties"].(map[string]any)
	if vs["remove_aliases"] == nil {
		t.Errorf("ArchiveRequest schema = %v", vs)
	}
}

// TestPanicRecovered: a panicking handler becomes a 500 problem with the
// request id, the panic is logged, and the server keeps serving.
func TestPanicRecovered(t *testing.T) {
	logs := &strings.Builder{}
	s := New(nil, Options{Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	s.mux.Handle("GET /test/panic", s.adapt(route{Method: "GET", Path: "/test/panic", handler: func(w http.ResponseWriter, r *http.Request) error {
		panic("handler bug")
	}}))
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	req, _ := http.NewRequest("GET", srv.URL+"/test/panic", nil)
	req.Header.Set("X-Request-Id", "panic-1")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var p Problem
	err = json.NewDecoder(resp.Body).Decode(&p)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 500 || p.Code != cairn.EINTERNAL || p.Detail != "internal error" || p.RequestID != "panic-1" {
		t.Fatalf("panic answer = %d %+v, %v", resp.StatusCode, p, err)
	}
	if !strings.Contains(logs.String(), "handler bug") || !strings.Contains(logs.String(), `"request_id":"panic-1"`) {
		t.Fatalf("panic not logged with its request id:\n%s", logs.String())
	}
	resp, err = srv.Client().Get(srv.URL + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("after the panic: %v, %v", resp, err)
	}
	resp.Body.Close()
}

func TestErrorStatusMap(t *testing.T) {
	want := map[cairn.ErrorCode]int{
		cairn.EINVALID: 400, cairn.ENOTFOUND: 404, cairn.ECONFLICT: 409, cairn.EUNAUTHENTICATED: 401,
		cairn.EPERMISSION: 403, cairn.EFAILEDPRECONDITION: 409, cairn.ETOOLARGE: 413,
		cairn.EPENDINGAPPROVAL: 409, cairn.EINTERNAL: 500,
	}
	for _, code := range cairn.ErrorCodes {
		status, ok := want[code]
		if !ok {
			t.Errorf("code %s has no expected status in this test", code)
			continue
		}
		p := problemFor(cairn.Errorf(code, "boom %s", code), "rid")
		if p.Status != status || p.Code != code || p.RequestID != "rid" || p.Type != problemTypePrefix+string(code) {
			t.Errorf("%s → %+v, want status %d", code, p, status)
		}
		if code != cairn.EINTERNAL && p.Detail != "boom "+string(code) {
			t.Errorf("%s detail = %q", code, p.Detail)
		}
	}
	// Plain errors are internal and say nothing.
	p := problemFor(io.ErrUnexpectedEOF, "rid")
	if p.Status != 500 || p.Detail != "internal error" || p.Code != cairn.EINTERNAL {
		t.Errorf("plain error → %+v", p)
	}
	// An internal cairn error hides its message too.
	p = problemFor(cairn.Errorf(cairn.EINTERNAL, "secret path /var/lib/x"), "rid")
	if strings.Contains(p.Detail, "secret") {
		t.Errorf("internal detail leaked: %q", p.Detail)
	}
	// Nested client errors keep their messages; non-cairn causes do not show.
	p = problemFor(cairn.WrapError(cairn.EINVALID, cairn.Errorf(cairn.EINVALID, "inner reason"), "outer"), "rid")
	if p.Detail != "outer: inner reason" {
		t.Errorf("nested detail = %q", p.Detail)
	}
	p = problemFor(cairn.WrapError(cairn.EINVALID, io.ErrUnexpectedEOF, "outer"), "rid")
	if p.Detail != "outer" {
		t.Errorf("detail with a plain cause = %q", p.Detail)
	}
}
