package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/client"
	"github.com/cairn-registry/cairn/internal/registry"
)

func TestRequestID(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	resp, _ := raw(t, e, "GET", "/healthz", "", "X-Request-Id: my-req.1")
	if got := resp.Header.Get("X-Request-Id"); got != "my-req.1" {
		t.Fatalf("echoed request id = %q", got)
	}
	// A missing or unusable id is replaced by a generated one.
	seen := map[string]bool{}
	for _, h := range []string{"", "X-Request-Id: has space", "X-Request-Id: " + strings.Repeat("x", 200)} {
		var hdrs []string
		if h != "" {
			hdrs = []string{h}
		}
		resp, _ := raw(t, e, "GET", "/healthz", "", hdrs...)
		id := resp.Header.Get("X-Request-Id")
		if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(id) || seen[id] {
			t.Fatalf("generated request id %q (header %q)", id, h)
		}
		seen[id] = true
	}
	// The id reaches the audit log of the mutation it caused.
	resp, body := raw(t, e, "POST", "/api/v1/models", `{"name":"traced"}`, "X-Request-Id: trace-42", "X-Cairn-User: alice")
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create = %d %s", resp.StatusCode, body)
	}
	page, err := e.Client.ListAudit(context.Background(), cairn.AuditQuery{Target: "traced"})
	if err != nil || len(page.Items) != 1 {
		t.Fatalf("audit = %+v, %v", page, err)
	}
	if a := page.Items[0]; a.RequestID != "trace-42" || a.Actor != "alice" || a.ActorVerified {
		t.Fatalf("audit entry = %+v; want request id trace-42, unverified actor alice", a)
	}
	// No X-Cairn-User: the anonymous actor.
	raw(t, e, "POST", "/api/v1/models", `{"name":"anon"}`)
	m := must[*cairn.Model](t)(e.Client.GetModel(context.Background(), "anon"))
	if m.CreatedBy != cairn.AnonymousActor.Name {
		t.Fatalf("created_by = %q, want %q", m.CreatedBy, cairn.AnonymousActor.Name)
	}
}

// TestRequestLog: one structured line per request, with the route
// pattern, not the raw path.
func TestRequestLog(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	raw(t, e, "GET", "/api/v1/models/some%20model", "", "X-Request-Id: log-1")
	var found bool
	for _, line := range strings.Split(e.Logs.String(), "\n") {
		if !strings.Contains(line, `"log-1"`) {
			continue
		}
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatal(err)
		}
		if rec["msg"] != "http request" {
			continue
		}
		found = true
		if rec["method"] != "GET" || rec["route"] != "/api/v1/models/{name}" || rec["status"] != float64(404) ||
			rec["path"] != "/api/v1/models/some model" || rec["duration"] == nil || rec["bytes_out"] == nil {
			t.Fatalf("log line = %v", rec)
		}
	}
	if !found {
		t.Fatalf("no request log line for log-1 in:\n%s", e.Logs.String())
	}
}

// TestInternalErrorHidden: a store failure is a 500 whose body says only
// "internal error" and the request id; the cause is logged once, with
// that id.
func TestInternalErrorHidden(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	must[*cairn.Model](t)(e.Client.CreateModel(context.Background(), registry.ModelCreate{Name: "m"}))
	if err := e.Store.Close(); err != nil {
		t.Fatal(err)
	}
	resp, body := raw(t, e, "GET", "/api/v1/models/m", "", "X-Request-Id: boom-1")
	p := wantProblem(t, resp, body, http.StatusInternalServerError, cairn.EINTERNAL)
	if p.Detail != "internal error" || p.RequestID != "boom-1" {
		t.Fatalf("problem = %+v", p)
	}
	if strings.Contains(string(body), "sql") || strings.Contains(string(body), "closed") {
		t.Fatalf("the body leaks the cause: %s", body)
	}
	var errorLines int
	for _, line := range strings.Split(e.Logs.String(), "\n") {
		if strings.Contains(line, `"msg":"internal error"`) && strings.Contains(line, `"request_id":"boom-1"`) {
			errorLines++
			if !strings.Contains(line, "closed") {
				t.Errorf("the log line lacks the cause: %s", line)
			}
		}
	}
	if errorLines != 1 {
		t.Fatalf("internal error logged %d times, want once:\n%s", errorLines, e.Logs.String())
	}
	// Through the client: code internal, message "internal error".
	_, err := e.Client.GetModel(context.Background(), "m")
	if cairn.ErrorCodeOf(err) != cairn.EINTERNAL || cairn.ErrorMessage(err) != "internal error" {
		t.Fatalf("client error = %v", err)
	}
	// Readiness fails with 503 when the store is gone; liveness does not.
	resp, body = raw(t, e, "GET", "/readyz", "")
	wantProblem(t, resp, body, http.StatusServiceUnavailable, cairn.EINTERNAL)
	if err := e.Client.Ready(context.Background()); err == nil {
		t.Fatal("Ready succeeded with a closed store")
	}
	if err := e.Client.Health(context.Background()); err != nil {
		t.Fatalf("Health: %v", err)
	}
}

func TestHealth(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	if err := e.Client.Health(ctx); err != nil {
		t.Fatal(err)
	}
	if err := e.Client.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	resp, body := raw(t, e, "GET", "/readyz", "")
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"ready"`) {
		t.Fatalf("readyz = %d %s", resp.StatusCode, body)
	}
}

func TestIdempotencyKey(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	body := `{"name":"idem","description":"x"}`
	resp1, b1 := raw(t, e, "POST", "/api/v1/models", body, "Idempotency-Key: key-1")
	if resp1.StatusCode != http.StatusCreated || resp1.Header.Get("Idempotent-Replayed") != "" {
		t.Fatalf("first = %d %s", resp1.StatusCode, b1)
	}
	before := takeSnapshot(t, e)
	// The same request again is answered from the store: same status and
	// body, nothing executed (no conflict for the existing name).
	resp2, b2 := raw(t, e, "POST", "/api/v1/models", body, "Idempotency-Key: key-1")
	if resp2.StatusCode != http.StatusCreated || string(b2) != string(b1) || resp2.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay = %d %s (replayed %q), want 201 %s", resp2.StatusCode, b2, resp2.Header.Get("Idempotent-Replayed"), b1)
	}
	// The key with another body, path or user is a conflict.
	for _, tc := range []struct{ path, body, user string }{
		{"/api/v1/models", `{"name":"other"}`, ""},
		{"/api/v1/models/idem/archive", ``, ""},
		{"/api/v1/models", body, "X-Cairn-User: mallory"},
	} {
		hdrs := []string{"Idempotency-Key: key-1"}
		if tc.user != "" {
			hdrs = append(hdrs, tc.user)
		}
		resp, b := raw(t, e, "POST", tc.path, tc.body, hdrs...)
		p := wantProblem(t, resp, b, http.StatusConflict, cairn.ECONFLICT)
		if !strings.Contains(p.Detail, "Idempotency-Key") {
			t.Fatalf("detail = %q", p.Detail)
		}
	}
	if diff := cmpSnap(before, takeSnapshot(t, e)); diff != "" {
		t.Fatalf("replays and conflicts changed state:\n%s", diff)
	}
	// Failed requests are not stored: a retry with the same key runs again.
	resp, b := raw(t, e, "POST", "/api/v1/models", `{"name":"idem"}`, "Idempotency-Key: key-2")
	wantProblem(t, resp, b, http.StatusConflict, cairn.ECONFLICT)
	must[*cairn.Model](t)(e.Client.RenameModel(ctx, "idem", "idem-renamed"))
	resp, b = raw(t, e, "POST", "/api/v1/models", `{"name":"idem"}`, "Idempotency-Key: key-2")
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("retry after a failure = %d %s, want 201", resp.StatusCode, b)
	}
	// A 204 answer replays as 204.
	run := must[*cairn.Run](t)(e.Client.CreateRun(ctx, registry.RunCreate{}))
	for i := range 2 {
		resp, b := raw(t, e, "POST", "/api/v1/runs/"+run.ID+"/log", `{"params":{"p":"`+strconv.Itoa(1)+`"}}`, "Idempotency-Key: key-3")
		if resp.StatusCode != http.StatusNoContent || len(b) != 0 || (i == 1) != (resp.Header.Get("Idempotent-Replayed") == "true") {
			t.Fatalf("log #%d = %d %q replayed=%q", i, resp.StatusCode, b, resp.Header.Get("Idempotent-Replayed"))
		}
	}
}

// TestClientRetriesPOSTOnce: the client sends every POST with an
// Idempotency-Key, so a retry after a lost answer cannot register twice.
func TestClientPOSTsCarryIdempotencyKeys(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	seen := map[string]int{}
	hc := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if r.Method == http.MethodPost {
			seen[r.Header.Get("Idempotency-Key")]++
		}
		return http.DefaultTransport.RoundTrip(r)
	})}
	c := client.New(e.Server.URL, client.WithHTTPClient(hc))
	ctx := context.Background()
	must[*cairn.Model](t)(c.CreateModel(ctx, registry.ModelCreate{Name: "a"}))
	must[*cairn.Model](t)(c.CreateModel(ctx, registry.ModelCreate{Name: "b"}))
	if len(seen) != 2 || seen[""] != 0 {
		t.Fatalf("idempotency keys sent: %v; want two distinct non-empty keys", seen)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestMetrics(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	must[*cairn.Model](t)(e.Client.CreateModel(ctx, registry.ModelCreate{Name: "m"}))
	_, _ = e.Client.GetModel(ctx, "nope")
	_, _ = e.Client.GetModel(ctx, "nope")
	data := strings.Repeat("z", 1000)
	if err := e.Client.PutBlob(ctx, cairn.DigestOf([]byte(data)), 1000, strings.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	text, err := e.Client.Metrics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`cairn_http_requests_total{route="/api/v1/models",method="POST",code="201"} 1`,
		`cairn_http_requests_total{route="/api/v1/models/{name}",method="GET",code="404"} 2`,
		`cairn_http_request_duration_seconds_count{route="/api/v1/models/{name}"} 2`,
		`cairn_http_request_duration_seconds_bucket{route="/api/v1/models/{name}",le="+Inf"} 2`,
		`cairn_http_bytes_in_total{route="/api/v1/blobs/{digest}"} 1000`,
		"# TYPE cairn_http_request_duration_seconds histogram",
		"# TYPE cairn_http_requests_total counter",
		"cairn_http_requests_in_flight 1",
	} {
		if !strings.Contains(text, want+"\n") {
			t.Errorf("metrics lack %q", want)
		}
	}
	// Every sample line is well-formed text exposition.
	sample := regexp.MustCompile(`^[a-z_]+(\{[a-z_]+="[^"\\]*"(,[a-z_]+="[^"\\]*")*\})? [0-9.e+-]+$`)
	for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
		if !strings.HasPrefix(line, "#") && !sample.MatchString(line) {
			t.Errorf("malformed sample line %q", line)
		}
	}
	if e.API.Metrics().BytesIn() < 1000 {
		t.Fatalf("BytesIn = %d", e.API.Metrics().BytesIn())
	}
}

func TestOpenAPIServed(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	doc, err := e.Client.OpenAPI(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		OpenAPI string                    `json:"openapi"`
		Paths   map[string]map[string]any `json:"paths"`
		Comps   map[string]map[string]any `json:"components"`
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		t.Fatal(err)
	}
	if d.OpenAPI != "3.1.0" || d.Paths["/api/v1/models/{name}/versions"]["post"] == nil || d.Comps["schemas"]["Version"] == nil {
		t.Fatalf("document = %.500s", doc)
	}
}
