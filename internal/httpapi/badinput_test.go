package httpapi_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/internal/httpapi"
	"github.com/cairn-registry/cairn/internal/httpapi/apitest"
	"github.com/cairn-registry/cairn/internal/registry"
)

// TestBadInputChangesNothing sends requests that must be refused, each
// with its precise status and code, and proves that none of them changed
// anything: the audit chain's head, the event feed's head, every model,
// version and alias listing and the set of blobs are compared before and
// after each request.
func TestBadInputChangesNothing(t *testing.T) {
	t.Parallel()
	e := apitest.New(t, apitest.Options{API: httpapi.Options{MaxJSONBody: 64 << 10}})
	ctx := context.Background()
	c := e.Client

	// State to break things against.
	pushBytes(t, e, "m", map[string]string{"a.txt": "A"}, cairn.VersionSpec{Aliases: []string{"champion"}})
	pushBytes(t, e, "arch", map[string]string{"a.txt": "A"}, cairn.VersionSpec{})
	must[*cairn.Model](t)(c.ArchiveModel(ctx, "arch"))
	pending := must[*registry.CreateVersionResult](t)(c.CreateVersion(ctx, "pend", cairn.VersionSpec{
		Files: []cairn.File{{Path: "w.bin", Size: 3, Digest: cairn.DigestOf([]byte("abc"))}},
	}))
	if len(pending.Missing) != 1 {
		t.Fatalf("setup: pending version misses %v", pending.Missing)
	}
	run := must[*cairn.Run](t)(c.CreateRun(ctx, registry.RunCreate{Name: "r"}))
	if err := c.LogRun(ctx, run.ID, registry.RunLog{Params: map[string]string{"lr": "1"}}); err != nil {
		t.Fatal(err)
	}

	hook := must[*registry.WebhookCreated](t)(c.CreateWebhook(ctx, registry.WebhookCreate{
		URL: "https://ci.example.com/hook", Headers: map[string]string{"X-Api-Key": "k"}}))
	hookPath := "/api/v1/webhooks/" + hook.ID
	hookWith := func(headers string) string {
		return `{"url":"https://ci.example.com/hook","headers":` + headers + `}`
	}

	d := cairn.DigestOf([]byte("hello"))
	file := func(p string) string {
		return `{"files":[{"path":` + jsonString(p) + `,"size":5,"digest":"` + string(d) + `"}]}`
	}
	big := `{"name":"big","description":"` + strings.Repeat("x", 70<<10) + `"}`

	for _, tc := range []struct {
		name         string
		method, path string
		body         string
		headers      []string
		status       int
		code         cairn.ErrorCode
		detail       string // a substring the detail must contain
	}{
		// Strict JSON.
		{"malformed JSON", "POST", "/api/v1/models", `{"name":`, nil, 400, cairn.EINVALID, "malformed JSON"},
		{"syntax error", "POST", "/api/v1/models", `{"name" "x"}`, nil, 400, cairn.EINVALID, "malformed JSON at byte"},
		{"unknown field", "POST", "/api/v1/models", `{"name":"x","colour":"red"}`, nil, 400, cairn.EINVALID, `unknown field "colour"`},
		{"two values", "POST", "/api/v1/models", `{"name":"x"}{"name":"y"}`, nil, 400, cairn.EINVALID, "single JSON value"},
		{"trailing garbage", "POST", "/api/v1/models", `{"name":"x"} xyz`, nil, 400, cairn.EINVALID, "malformed JSON"},
		{"wrong type", "POST", "/api/v1/models", `{"name":5}`, nil, 400, cairn.EINVALID, `field "name"`},
		{"array body", "POST", "/api/v1/models", `[{"name":"x"}]`, nil, 400, cairn.EINVALID, "want a JSON object"},
		{"empty body", "POST", "/api/v1/models", ``, nil, 400, cairn.EINVALID, "empty"},
		{"not JSON", "POST", "/api/v1/models", `name=x`, []string{"Content-Type: application/x-www-form-urlencoded"}, 400, cairn.EINVALID, "application/json"},
		{"oversize body", "POST", "/api/v1/models", big, nil, 413, cairn.ETOOLARGE, "limit"},
		{"oversize body, chunked", "POST", "/api/v1/models", big, []string{"X-Chunked: 1"}, 413, cairn.ETOOLARGE, "limit"},
		{"oversize body with idempotency key", "POST", "/api/v1/models", big, []string{"Idempotency-Key: k1"}, 413, cairn.ETOOLARGE, "limit"},

		// Names.
		{"empty name", "POST", "/api/v1/models", `{"name":""}`, nil, 400, cairn.EINVALID, "must not be empty"},
		{"name with colon", "POST", "/api/v1/models", `{"name":"a:b"}`, nil, 400, cairn.EINVALID, "must not contain"},
		{"name with at", "POST", "/api/v1/models", `{"name":"a@b"}`, nil, 400, cairn.EINVALID, "must not contain"},
		{"name with slash", "POST", "/api/v1/models", `{"name":"a/b"}`, nil, 400, cairn.EINVALID, "must not contain"},
		{"name with NUL", "POST", "/api/v1/models", `{"name":"a\u0000b"}`, nil, 400, cairn.EINVALID, "control characters"},
		{"name with space around", "POST", "/api/v1/models", `{"name":" a"}`, nil, 400, cairn.EINVALID, "white space"},
		{"name too long", "POST", "/api/v1/models", `{"name":"` + strings.Repeat("n", 257) + `"}`, nil, 400, cairn.EINVALID, "limit is 256"},
		{"bad kind", "POST", "/api/v1/models", `{"name":"k","kind":"weights"}`, nil, 400, cairn.EINVALID, "invalid kind"},
		{"bad name in path", "POST", "/api/v1/models/a:b/versions", file("x"), nil, 400, cairn.EINVALID, "must not contain"},
		{"rename to a bad name", "POST", "/api/v1/models/m/rename", `{"new_name":"x/y"}`, nil, 400, cairn.EINVALID, "must not contain"},
		{"rename onto a taken name", "POST", "/api/v1/models/m/rename", `{"new_name":"arch"}`, nil, 409, cairn.ECONFLICT, "already exists"},
		{"create a taken name", "POST", "/api/v1/models", `{"name":"m"}`, nil, 409, cairn.ECONFLICT, "already exists"},

		// Reserved and malformed aliases.
		{"alias latest", "PUT", "/api/v1/models/m/aliases/latest", `{"version":1}`, nil, 400, cairn.EINVALID, "reserved"},
		{"alias LATEST", "PUT", "/api/v1/models/m/aliases/LATEST", `{"version":1}`, nil, 400, cairn.EINVALID, "reserved"},
		{"alias v1", "PUT", "/api/v1/models/m/aliases/v1", `{"version":1}`, nil, 400, cairn.EINVALID, "reserved"},
		{"alias V2", "PUT", "/api/v1/models/m/aliases/V2", `{"version":1}`, nil, 400, cairn.EINVALID, "reserved"},
		{"alias with a dot", "PUT", "/api/v1/models/m/aliases/a.b", `{"version":1}`, nil, 400, cairn.EINVALID, "letters, digits"},
		{"alias at finalize", "POST", "/api/v1/models/m/versions/1/finalize", `{"aliases":["latest"]}`, nil, 400, cairn.EINVALID, "reserved"},
		{"alias in a push", "POST", "/api/v1/models/m/versions", `{"files":[],"aliases":["v7"]}`, nil, 400, cairn.EINVALID, "reserved"},
		{"alias version 0", "PUT", "/api/v1/models/m/aliases/x", `{"version":0}`, nil, 400, cairn.EINVALID, "version is required"},
		{"alias CAS lost", "PUT", "/api/v1/models/m/aliases/champion", `{"version":1,"if_current":2}`, nil, 409, cairn.ECONFLICT, "points at version 1"},
		{"alias CAS on a missing alias", "PUT", "/api/v1/models/m/aliases/new", `{"version":1,"if_current":1}`, nil, 409, cairn.ECONFLICT, "does not exist"},
		{"alias delete CAS lost", "DELETE", "/api/v1/models/m/aliases/champion?if_current=5", ``, nil, 409, cairn.ECONFLICT, "not 5"},
		// Origins of imported moves.
		{"origin without system", "PUT", "/api/v1/models/m/aliases/x", `{"version":1,"origin":{"ref":"m#prod#1","at":"2025-01-01T00:00:00Z"}}`, nil, 400, cairn.EINVALID, "origin.system"},
		{"origin system upper-case", "PUT", "/api/v1/models/m/aliases/x", `{"version":1,"origin":{"system":"GTO","at":"2025-01-01T00:00:00Z"}}`, nil, 400, cairn.EINVALID, "origin.system"},
		{"origin without time", "PUT", "/api/v1/models/m/aliases/x", `{"version":1,"origin":{"system":"gto","ref":"m#prod#1"}}`, nil, 400, cairn.EINVALID, "origin.at is missing"},
		{"origin ref with a newline", "PUT", "/api/v1/models/m/aliases/x", `{"version":1,"origin":{"system":"gto","ref":"a\nb","at":"2025-01-01T00:00:00Z"}}`, nil, 400, cairn.EINVALID, "origin.ref"},
		{"origin unknown member", "PUT", "/api/v1/models/m/aliases/x", `{"version":1,"origin":{"system":"gto","at":"2025-01-01T00:00:00Z","who":"x"}}`, nil, 400, cairn.EINVALID, `unknown field "who"`},
		{"delete origin_ref without system", "DELETE", "/api/v1/models/m/aliases/champion?origin_ref=m%23prod%211", ``, nil, 400, cairn.EINVALID, "needs origin_system"},
		{"delete origin_at malformed", "DELETE", "/api/v1/models/m/aliases/champion?origin_system=gto&origin_at=yesterday", ``, nil, 400, cairn.EINVALID, "origin_at"},
		{"delete origin without time", "DELETE", "/api/v1/models/m/aliases/champion?origin_system=gto", ``, nil, 400, cairn.EINVALID, "origin.at is missing"},

		// Unknown things.
		{"unknown model", "GET", "/api/v1/models/nope", ``, nil, 404, cairn.ENOTFOUND, `"nope"`},
		{"patch unknown model", "PATCH", "/api/v1/models/nope", `{"description":"x"}`, nil, 404, cairn.ENOTFOUND, `"nope"`},
		{"archive unknown model", "POST", "/api/v1/models/nope/archive", ``, nil, 404, cairn.ENOTFOUND, `"nope"`},
		{"versions of unknown model", "GET", "/api/v1/models/nope/versions", ``, nil, 404, cairn.ENOTFOUND, `"nope"`},
		{"unknown version", "GET", "/api/v1/models/m/versions/99", ``, nil, 404, cairn.ENOTFOUND, "m@v99"},
		{"patch unknown version", "PATCH", "/api/v1/models/m/versions/v99", `{"description":"x"}`, nil, 404, cairn.ENOTFOUND, "m@v99"},
		{"finalize unknown version", "POST", "/api/v1/models/m/versions/99/finalize", ``, nil, 404, cairn.ENOTFOUND, "m@v99"},
		{"alias to unknown version", "PUT", "/api/v1/models/m/aliases/x", `{"version":99}`, nil, 404, cairn.ENOTFOUND, "m@v99"},
		{"unknown alias", "GET", "/api/v1/models/m/aliases/nope", ``, nil, 404, cairn.ENOTFOUND, `"nope"`},
		{"delete unknown alias", "DELETE", "/api/v1/models/m/aliases/nope", ``, nil, 404, cairn.ENOTFOUND, `"nope"`},
		{"alias of unknown model", "PUT", "/api/v1/models/nope/aliases/x", `{"version":1}`, nil, 404, cairn.ENOTFOUND, `"nope"`},
		{"resolve unknown alias", "GET", "/api/v1/resolve/m@nope", ``, nil, 404, cairn.ENOTFOUND, `"nope"`},
		{"unknown run", "POST", "/api/v1/runs/feedface/log", `{"params":{"a":"b"}}`, nil, 404, cairn.ENOTFOUND, "feedface"},
		{"unknown upload", "POST", "/api/v1/uploads/feedface/complete", ``, nil, 404, cairn.ENOTFOUND, "feedface"},
		{"unknown route", "GET", "/api/v1/nothing-here", ``, nil, 404, cairn.ENOTFOUND, "no route"},

		// Manifests.
		{"path with ..", "POST", "/api/v1/models/m/versions", file("a/../b"), nil, 400, cairn.EINVALID, "'..'"},
		{"path is ..", "POST", "/api/v1/models/m/versions", file("../etc/passwd"), nil, 400, cairn.EINVALID, "'..'"},
		{"absolute path", "POST", "/api/v1/models/m/versions", file("/etc/passwd"), nil, 400, cairn.EINVALID, "absolute"},
		{"backslash", "POST", "/api/v1/models/m/versions", file(`a\b`), nil, 400, cairn.EINVALID, "backslash"},
		{"NUL in path", "POST", "/api/v1/models/m/versions", file("a\x00b"), nil, 400, cairn.EINVALID, "control"},
		{"drive letter", "POST", "/api/v1/models/m/versions", file("C:x"), nil, 400, cairn.EINVALID, "drive"},
		{"empty segment", "POST", "/api/v1/models/m/versions", file("a//b"), nil, 400, cairn.EINVALID, "empty path segment"},
		{"dot segment", "POST", "/api/v1/models/m/versions", file("./a"), nil, 400, cairn.EINVALID, "'.'"},
		{"duplicate paths", "POST", "/api/v1/models/m/versions",
			`{"files":[{"path":"a","size":5,"digest":"` + string(d) + `"},{"path":"a","size":5,"digest":"` + string(d) + `"}]}`, nil, 400, cairn.EINVALID, "twice"},
		{"file and directory", "POST", "/api/v1/models/m/versions",
			`{"files":[{"path":"a","size":5,"digest":"` + string(d) + `"},{"path":"a/b","size":5,"digest":"` + string(d) + `"}]}`, nil, 400, cairn.EINVALID, "both a file and a directory"},
		{"bad digest", "POST", "/api/v1/models/m/versions", `{"files":[{"path":"a","size":5,"digest":"sha256:XYZ"}]}`, nil, 400, cairn.EINVALID, "digest"},
		{"negative size", "POST", "/api/v1/models/m/versions", `{"files":[{"path":"a","size":-5,"digest":"` + string(d) + `"}]}`, nil, 400, cairn.EINVALID, "out of range"},
		{"bad code version", "POST", "/api/v1/models/m/versions", `{"files":[],"source_code_version":"main"}`, nil, 400, cairn.EINVALID, "source_code_version"},
		{"bad signature", "POST", "/api/v1/models/m/versions", `{"files":[],"signature":{"outputs":[]}}`, nil, 400, cairn.EINVALID, "signature"},
		{"unknown derived_from", "POST", "/api/v1/models/m/versions", `{"files":[],"derived_from":["nope@v1"]}`, nil, 404, cairn.ENOTFOUND, "nope"},
		{"kind mismatch", "POST", "/api/v1/models/m/versions", `{"files":[],"kind":"dataset"}`, nil, 409, cairn.EFAILEDPRECONDITION, "kind"},

		// State preconditions.
		{"push to an archived model", "POST", "/api/v1/models/arch/versions", file("x"), nil, 409, cairn.EFAILEDPRECONDITION, "archived"},
		{"finalize with missing blobs", "POST", "/api/v1/models/pend/versions/1/finalize", ``, nil, 409, cairn.EFAILEDPRECONDITION, "not uploaded"},
		{"alias to a pending version", "PUT", "/api/v1/models/pend/aliases/x", `{"version":1}`, nil, 409, cairn.EFAILEDPRECONDITION, "pending"},
		{"archive an aliased version", "POST", "/api/v1/models/m/versions/1/archive", `{}`, nil, 409, cairn.EFAILEDPRECONDITION, "champion"},
		{"delete an aliased version", "DELETE", "/api/v1/models/m/versions/1", ``, nil, 409, cairn.EFAILEDPRECONDITION, "champion"},
		{"delete a model with aliases", "DELETE", "/api/v1/models/m", ``, nil, 409, cairn.EFAILEDPRECONDITION, "aliases"},
		{"param logged again", "POST", "/api/v1/runs/" + run.ID + "/log", `{"params":{"lr":"2"}}`, nil, 409, cairn.ECONFLICT, "lr"},

		// Blobs.
		{"blob bytes not matching digest", "PUT", "/api/v1/blobs/" + string(d), "HELLO", []string{"Content-Type: application/octet-stream"}, 400, cairn.EINVALID, ""},
		{"blob bad digest", "PUT", "/api/v1/blobs/sha256:abc", "hello", nil, 400, cairn.EINVALID, "digest"},

		// Lists and queries.
		{"filter syntax error", "GET", "/api/v1/models?filter=" + url.QueryEscape("name LIKE"), ``, nil, 400, cairn.EINVALID, "invalid filter"},
		{"filter unknown field", "GET", "/api/v1/models?filter=" + url.QueryEscape("colour = 'red'"), ``, nil, 400, cairn.EINVALID, "colour"},
		{"version filter unknown field", "GET", "/api/v1/models/m/versions?filter=" + url.QueryEscape("colour = 'red'"), ``, nil, 400, cairn.EINVALID, "colour"},
		{"bad order_by", "GET", "/api/v1/models?order_by=" + url.QueryEscape("name sideways"), ``, nil, 400, cairn.EINVALID, "order_by"},
		{"page_size 0", "GET", "/api/v1/models?page_size=0", ``, nil, 400, cairn.EINVALID, "page_size"},
		{"page_size too big", "GET", "/api/v1/models?page_size=1001", ``, nil, 400, cairn.EINVALID, "page_size"},
		{"unknown query parameter", "GET", "/api/v1/models?colour=red", ``, nil, 400, cairn.EINVALID, `"colour"`},
		{"misspelt query parameter", "DELETE", "/api/v1/models/m/versions/1?remove_alias=true", ``, nil, 400, cairn.EINVALID, `"remove_alias"`},

		// Webhook custom headers: transport and signature headers, and
		// anything that could smuggle a header, are refused by name.
		{"webhook header Host", "POST", "/api/v1/webhooks", hookWith(`{"Host":"evil.example"}`), nil, 400, cairn.EINVALID, "webhook header Host cannot be set: the HTTP client sets it"},
		{"webhook header Content-Length", "POST", "/api/v1/webhooks", hookWith(`{"content-length":"5"}`), nil, 400, cairn.EINVALID, "webhook header content-length cannot be set"},
		{"webhook header Transfer-Encoding", "POST", "/api/v1/webhooks", hookWith(`{"Transfer-Encoding":"chunked"}`), nil, 400, cairn.EINVALID, "hop-by-hop"},
		{"webhook header Connection", "POST", "/api/v1/webhooks", hookWith(`{"Connection":"close"}`), nil, 400, cairn.EINVALID, "hop-by-hop"},
		{"webhook header webhook-signature", "POST", "/api/v1/webhooks", hookWith(`{"Webhook-Signature":"v1,x"}`), nil, 400, cairn.EINVALID, "Cairn signs each delivery with it"},
		{"webhook header webhook-id", "POST", "/api/v1/webhooks", hookWith(`{"webhook-id":"x"}`), nil, 400, cairn.EINVALID, "webhook header webhook-id cannot be set"},
		{"webhook header webhook-timestamp", "POST", "/api/v1/webhooks", hookWith(`{"webhook-timestamp":"1"}`), nil, 400, cairn.EINVALID, "webhook-timestamp cannot be set"},
		{"webhook header X-MLflow-Signature", "POST", "/api/v1/webhooks", hookWith(`{"X-MLflow-Signature":"x"}`), nil, 400, cairn.EINVALID, "X-MLflow-Signature cannot be set"},
		{"webhook header value with CRLF", "POST", "/api/v1/webhooks", hookWith(`{"X-A":"a\r\nHost: evil"}`), nil, 400, cairn.EINVALID, "control character"},
		{"webhook header empty value", "POST", "/api/v1/webhooks", hookWith(`{"X-A":""}`), nil, 400, cairn.EINVALID, "X-A has an empty value"},
		{"webhook header bad name", "POST", "/api/v1/webhooks", hookWith(`{"X A":"v"}`), nil, 400, cairn.EINVALID, "not an HTTP field name"},
		{"webhook header twice", "POST", "/api/v1/webhooks", hookWith(`{"x-a":"1","X-A":"2"}`), nil, 400, cairn.EINVALID, "given twice"},
		{"webhook header value too long", "POST", "/api/v1/webhooks", hookWith(`{"X-A":"` + strings.Repeat("v", 9000) + `"}`), nil, 400, cairn.EINVALID, "longer than 8192"},
		{"webhook update header Host", "PATCH", hookPath, `{"set_headers":{"Host":"x"}}`, nil, 400, cairn.EINVALID, "webhook header Host cannot be set"},
		{"webhook delete missing header", "PATCH", hookPath, `{"delete_headers":["Authorization"]}`, nil, 400, cairn.EINVALID, `no header "Authorization"`},
		{"webhook header set and deleted", "PATCH", hookPath, `{"set_headers":{"x-api-key":"2"},"delete_headers":["X-Api-Key"]}`, nil, 400, cairn.EINVALID, "both set and deleted"},

		// Headers and methods.
		{"user name too long", "POST", "/api/v1/models", `{"name":"u"}`, []string{"X-Cairn-User: " + strings.Repeat("u", 300)}, 400, cairn.EINVALID, "X-Cairn-User"},
		{"bad idempotency key", "POST", "/api/v1/models", `{"name":"u"}`, []string{"Idempotency-Key: " + strings.Repeat("k", 300)}, 400, cairn.EINVALID, "Idempotency-Key"},
		{"method not allowed", "PATCH", "/api/v1/audit", `{}`, nil, 405, cairn.EINVALID, "not allowed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := takeSnapshot(t, e)
			var resp *http.Response
			var body []byte
			if contains(strings.Join(tc.headers, "\n"), "X-Chunked") {
				resp, body = rawChunked(t, e, tc.method, tc.path, tc.body)
			} else {
				resp, body = raw(t, e, tc.method, tc.path, tc.body, tc.headers...)
			}
			p := wantProblem(t, resp, body, tc.status, tc.code)
			if !strings.Contains(p.Detail, tc.detail) {
				t.Errorf("detail %q does not mention %q", p.Detail, tc.detail)
			}
			if diff := cmpSnap(before, takeSnapshot(t, e)); diff != "" {
				t.Fatalf("a refused request changed state (-before +after):\n%s", diff)
			}
		})
	}
	if allow := mustAllow(t, e, "PATCH", "/api/v1/audit"); allow != "GET, HEAD" {
		t.Errorf("405 Allow = %q, want GET, HEAD", allow)
	}
}

func mustAllow(t *testing.T, e *apitest.Env, method, path string) string {
	t.Helper()
	resp, _ := raw(t, e, method, path, "")
	return resp.Header.Get("Allow")
}

func jsonString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20:
			b.WriteString(`\u00`)
			b.WriteByte("0123456789abcdef"[r>>4])
			b.WriteByte("0123456789abcdef"[r&15])
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
