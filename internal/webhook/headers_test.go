package webhook_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/internal/registry"
	"github.com/cairn-registry/cairn/internal/webhook"
)

// TestGitHubRepositoryDispatch: a subscription with a payload template
// and custom headers posts straight to GitHub's repository_dispatch
// endpoint, no relay between: the request a stand-in for
// api.github.com receives has GitHub's path, method, headers (the
// token, Accept, the API version) and body shape, and Cairn's own
// signature headers besides. The token appears in no answer, audit
// entry or event.
func TestGitHubRepositoryDispatch(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	const token = "ghp_0123456789abcdefTOKEN"

	type request struct {
		method, path string
		header       http.Header
		body         []byte
	}
	var mu sync.Mutex
	var got []request
	github := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, request{r.Method, r.URL.Path, r.Header.Clone(), body})
		mu.Unlock()
		if r.Header.Get("Authorization") != "Bearer "+token {
			http.Error(w, `{"message": "Bad credentials"}`, http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusNoContent) // what GitHub answers a dispatch
	}))
	t.Cleanup(github.Close)

	created, err := e.svc.CreateWebhook(ctx, registry.WebhookCreate{
		URL: github.URL + "/repos/acme/ml/dispatches", EventTypes: []string{"alias.set"}, Model: "churn",
		Template: json.RawMessage(`{"event_type": "cairn-{{type}}", "client_payload": {"model": "{{model}}", "alias": "{{alias}}", "version": "{{payload.version}}", "seq": "{{seq}}"}}`),
		Headers: map[string]string{
			"authorization":        "Bearer " + token, // any case; kept canonical
			"Accept":               "application/vnd.github+json",
			"X-GitHub-Api-Version": "2022-11-28",
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"Accept", "Authorization", "X-Github-Api-Version"}; strings.Join(created.HeaderNames, ",") != strings.Join(want, ",") || created.Headers != nil {
		t.Errorf("created: header names %v, values %v; want the names %v and no values", created.HeaderNames, created.Headers, want)
	}

	start(t, e.store, webhook.Options{})
	if _, err := e.svc.CreateModel(ctx, registry.ModelCreate{Name: "churn"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.RegisterExternal(ctx, "churn", cairn.VersionSpec{Source: "s3://b/churn/1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.SetAlias(ctx, "churn", "staging", 1, nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the dispatch", func() bool { mu.Lock(); defer mu.Unlock(); return len(got) >= 1 })
	mu.Lock()
	req := got[0]
	mu.Unlock()
	if req.method != http.MethodPost || req.path != "/repos/acme/ml/dispatches" {
		t.Errorf("request %s %s", req.method, req.path)
	}
	for name, want := range map[string]string{
		"Authorization": "Bearer " + token, "Accept": "application/vnd.github+json", "X-Github-Api-Version": "2022-11-28",
		"Content-Type": "application/json", "User-Agent": "Cairn-Webhooks/1",
	} {
		if v := req.header.Values(name); len(v) != 1 || v[0] != want {
			t.Errorf("header %s = %q, want %q", name, v, want)
		}
	}
	if err := verify(created.Secret, req.header, req.body); err != nil {
		t.Errorf("the dispatch is not signed: %v", err)
	}
	var body struct {
		EventType     string `json:"event_type"`
		ClientPayload struct {
			Model   string `json:"model"`
			Alias   string `json:"alias"`
			Version int64  `json:"version"`
			Seq     int64  `json:"seq"`
		} `json:"client_payload"`
	}
	dec := json.NewDecoder(strings.NewReader(string(req.body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil || body.EventType != "cairn-alias.set" || body.ClientPayload.Model != "churn" ||
		body.ClientPayload.Alias != "staging" || body.ClientPayload.Version != 1 || body.ClientPayload.Seq == 0 {
		t.Errorf("dispatch body %s (%v)", req.body, err)
	}
	waitFor(t, "the delivery recorded", func() bool {
		ds, err := e.svc.ListDeliveries(ctx, cairn.DeliveryQuery{WebhookID: created.ID})
		return err == nil && len(ds) == 1 && ds[0].Outcome == cairn.DeliveryDelivered
	})

	// The token is in none of what the registry answers or records.
	w, err := e.svc.GetWebhook(ctx, created.ID)
	if err != nil {
		t.Fatal(err)
	}
	list, err := e.svc.ListWebhooks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	updated, err := e.svc.UpdateWebhook(ctx, created.ID, registry.WebhookUpdate{SetHeaders: map[string]string{"Authorization": "Bearer " + token + "2"}})
	if err != nil {
		t.Fatal(err)
	}
	audit, err := e.store.ListAudit(ctx, cairn.AuditQuery{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	events, err := e.store.ListEvents(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	for what, v := range map[string]any{"created": created, "get": w, "list": list, "update": updated, "audit": audit, "events": events} {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), token) {
			t.Errorf("%s carries the token: %s", what, b)
		}
		if what != "audit" && what != "events" && !strings.Contains(string(b), `"header_names":["Accept","Authorization","X-Github-Api-Version"]`) {
			t.Errorf("%s does not name the headers: %s", what, b)
		}
	}
	// The store keeps the new value.
	stored, err := e.store.GetWebhook(ctx, created.ID)
	if err != nil {
		t.Fatal(err)
	}
	if stored.Headers["Authorization"] != "Bearer "+token+"2" || len(stored.Headers) != 3 {
		t.Errorf("stored headers after the update: %d, Authorization rotated %v", len(stored.Headers), stored.Headers["Authorization"] == "Bearer "+token+"2")
	}
}

// TestTestPingCarriesHeaders: the test ping of an MLflow-style
// subscription carries its custom headers too.
func TestTestPingCarriesHeaders(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var mu sync.Mutex
	var h http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		h = r.Header.Clone()
		mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	created, err := e.svc.CreateWebhook(t.Context(), registry.WebhookCreate{
		Name: "mlflow", URL: srv.URL, Format: cairn.WebhookMLflow, Secret: "s",
		EventTypes: []string{"model_version.created"}, Headers: map[string]string{"X-Api-Key": "k-123"},
	})
	if err != nil {
		t.Fatal(err)
	}
	d := webhook.New(e.store, webhook.Options{AllowCIDRs: loopback})
	del, err := d.Test(t.Context(), created.ID)
	if err != nil || del.Outcome != cairn.DeliveryTest || del.StatusCode != 200 {
		t.Fatalf("Test = %+v, %v", del, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if h.Get("X-Api-Key") != "k-123" || h.Get(webhook.MLflowSignatureHeader) == "" {
		t.Errorf("ping headers %v", h)
	}
}
