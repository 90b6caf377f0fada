package mlflowapi_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/client"
	"github.com/cairn-registry/cairn/internal/httpapi/apitest"
	"github.com/cairn-registry/cairn/internal/mlflowapi"
	"github.com/cairn-registry/cairn/internal/webhook"
)

// newWebhookEnv is newEnv with a dispatcher behind the test endpoint,
// allowed to reach loopback receivers.
func newWebhookEnv(t *testing.T) *env {
	t.Helper()
	e := apitest.New(t, apitest.Options{})
	log := slog.New(slog.NewJSONHandler(e.Logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	d := webhook.New(e.Store, webhook.Options{AllowCIDRs: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}})
	mlflowapi.New(e.Service, mlflowapi.Options{Logger: log, Webhooks: d}).Register(e.API.Mount)
	return &env{Env: e, t: t}
}

func TestMLflowWebhookCRUD(t *testing.T) {
	t.Parallel()
	e := newWebhookEnv(t)
	var hits atomic.Int64
	var lastSig atomic.Value
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		_, _ = io.Copy(io.Discard, r.Body)
		lastSig.Store(r.Header.Get("X-MLflow-Signature"))
		w.WriteHeader(http.StatusAccepted)
		_, _ = io.WriteString(w, "thanks")
	}))
	t.Cleanup(recv.Close)

	created := e.ok("POST", "webhooks", jsonBody(t, map[string]any{
		"name": "deploy", "url": recv.URL, "description": "to CD", "secret": "shh",
		"events": []map[string]any{{"entity": "MODEL_VERSION", "action": "CREATED"}, {"entity": "model_version_alias", "action": 1}},
	}), "")
	wantHook := map[string]any{"webhook": map[string]any{
		"webhook_id": anyString, "name": "deploy", "description": "to CD", "url": recv.URL, "status": "ACTIVE",
		"events": []any{
			map[string]any{"entity": "MODEL_VERSION", "action": "CREATED"},
			map[string]any{"entity": "MODEL_VERSION_ALIAS", "action": "CREATED"},
		},
		"creation_timestamp": anyMillis, "last_updated_timestamp": anyMillis, "secret": absent,
	}}
	if d := match("", wantHook, created.Body); len(d) > 0 {
		t.Fatalf("create answered %s:\n%s", created.Raw, strings.Join(d, "\n"))
	}
	id := created.Body["webhook"].(map[string]any)["webhook_id"].(string)

	// The same subscription through the native API: format mlflow, MLflow
	// event names, the secret never shown.
	native, err := client.New(e.Server.URL, client.WithHTTPClient(e.Server.Client())).GetWebhook(t.Context(), id)
	if err != nil || native.Format != cairn.WebhookMLflow || strings.Join(native.Types, ",") != "model_version.created,model_version_alias.created" {
		t.Errorf("native view: %+v, %v", native, err)
	}

	// A native subscription is not an MLflow webhook.
	nativeHook, err := client.New(e.Server.URL, client.WithHTTPClient(e.Server.Client())).CreateWebhook(t.Context(), client.WebhookCreate{URL: "https://example.com/x"})
	if err != nil {
		t.Fatal(err)
	}
	if r := e.do("GET", "webhooks/"+nativeHook.ID, "", ""); r.Status != 404 || r.Body["error_code"] != "RESOURCE_DOES_NOT_EXIST" {
		t.Errorf("get of a native subscription: %d %s", r.Status, r.Raw)
	}

	got := e.ok("GET", "webhooks/"+id, "", "")
	if d := match("", wantHook, got.Body); len(d) > 0 {
		t.Errorf("get answered %s:\n%s", got.Raw, strings.Join(d, "\n"))
	}

	// PATCH: empty strings and an empty events list change nothing, as
	// in MLflow; status and events replace.
	up := e.ok("PATCH", "webhooks/"+id, `{"name": "", "status": "DISABLED", "events": ["registered_model.created"]}`, "")
	if d := match("", map[string]any{"webhook": map[string]any{"name": "deploy", "status": "DISABLED",
		"events": []any{map[string]any{"entity": "REGISTERED_MODEL", "action": "CREATED"}}}}, up.Body); len(d) > 0 {
		t.Errorf("patch answered %s:\n%s", up.Raw, strings.Join(d, "\n"))
	}

	// Test: the receiver's answer comes back; the attempt is recorded.
	res := e.ok("POST", "webhooks/"+id+"/test", `{"event": {"entity": "MODEL_VERSION", "action": "CREATED"}}`, "")
	if d := match("", map[string]any{"result": map[string]any{"success": true, "response_status": 202, "response_body": "thanks", "error_message": absent}}, res.Body); len(d) > 0 {
		t.Errorf("test answered %s:\n%s", res.Raw, strings.Join(d, "\n"))
	}
	if hits.Load() != 1 || !strings.HasPrefix(lastSig.Load().(string), "v1,") {
		t.Errorf("receiver hit %d times, signature %v", hits.Load(), lastSig.Load())
	}
	recv.Close()
	res = e.ok("POST", "webhooks/"+id+"/test", `{}`, "")
	if d := match("", map[string]any{"result": map[string]any{"success": false, "error_message": anyString}}, res.Body); len(d) > 0 {
		t.Errorf("test of a receiver that is down answered %s:\n%s", res.Raw, strings.Join(d, "\n"))
	}

	// List, paged.
	for i := range 2 {
		e.ok("POST", "webhooks", jsonBody(t, map[string]any{"name": "more" + string(rune('a'+i)), "url": "https://example.com/h",
			"events": []string{"model_version_tag.set"}}), "")
	}
	var names []string
	token := ""
	for pages := 0; ; pages++ {
		qs := q("max_results", "2")
		if token != "" {
			qs = q("max_results", "2", "page_token", token)
		}
		page := e.ok("GET", "webhooks", "", qs)
		for _, w := range page.Body["webhooks"].([]any) {
			names = append(names, w.(map[string]any)["name"].(string))
		}
		tok, _ := page.Body["next_page_token"].(string)
		if tok == "" {
			break
		}
		token = tok
		if pages > 3 {
			t.Fatal("paging does not end")
		}
	}
	if strings.Join(names, ",") != "deploy,morea,moreb" {
		t.Errorf("listed %v, want the three MLflow webhooks in creation order", names)
	}

	e.ok("DELETE", "webhooks/"+id, "", "")
	if r := e.do("GET", "webhooks/"+id, "", ""); r.Status != 404 || r.Body["error_code"] != "RESOURCE_DOES_NOT_EXIST" ||
		r.Body["message"] != "Webhook with ID "+id+" not found." {
		t.Errorf("get after delete: %d %s", r.Status, r.Raw)
	}
	if r := e.do("DELETE", "webhooks/"+id, "", ""); r.Status != 404 {
		t.Errorf("second delete: %d %s", r.Status, r.Raw)
	}
}

func TestMLflowWebhookValidation(t *testing.T) {
	t.Parallel()
	e := newWebhookEnv(t)
	good := map[string]any{"name": "n", "url": "https://example.com/h", "events": []string{"model_version.created"}}
	with := func(k string, v any) string {
		m := map[string]any{}
		for kk, vv := range good {
			m[kk] = vv
		}
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
		return jsonBody(t, m)
	}
	for _, tc := range []struct{ name, body, msg string }{
		{"no name", with("name", nil), "Missing value for required parameter 'name'"},
		{"no url", with("url", nil), "Missing value for required parameter 'url'"},
		{"no events", with("events", nil), "Missing value for required parameter 'events'"},
		{"empty events", with("events", []string{}), "Missing value for required parameter 'events'"},
		{"unknown event", with("events", []string{"model_version.deleted"}), "Invalid webhook event"},
		{"unknown entity", with("events", []map[string]string{{"entity": "RUN", "action": "CREATED"}}), "Invalid webhook event"},
		{"half an event", with("events", []map[string]string{{"entity": "MODEL_VERSION"}}), "events.action"},
		{"events not a list", with("events", "model_version.created"), "Invalid value"},
		{"ftp url", with("url", "ftp://example.com/h"), "http"},
		{"credentials in url", with("url", "https://u:p@example.com/h"), "credentials"},
		{"bad status", with("status", "DELETED"), "Invalid webhook status"},
		{"name not a string", with("name", 3), "Invalid value 3 for parameter 'name'"},
		{"long secret", with("secret", strings.Repeat("s", 2000)), "secret"},
	} {
		r := e.do("POST", "webhooks", tc.body, "")
		if r.Status != 400 || r.Body["error_code"] != "INVALID_PARAMETER_VALUE" || !strings.Contains(r.Raw2(), tc.msg) {
			t.Errorf("%s: %d %s; want 400 INVALID_PARAMETER_VALUE mentioning %q", tc.name, r.Status, r.Raw, tc.msg)
		}
	}
	if r := e.do("GET", "webhooks", "", q("max_results", "0")); r.Status != 400 {
		t.Errorf("max_results=0: %d %s", r.Status, r.Raw)
	}
	if r := e.do("GET", "webhooks", "", q("page_token", "garbage!")); r.Status != 400 {
		t.Errorf("bad page token: %d %s", r.Status, r.Raw)
	}
	// Nothing was created by the refused requests.
	if r := e.ok("GET", "webhooks", "", ""); len(r.Body["webhooks"].([]any)) != 0 {
		t.Errorf("refused creates left %s", r.Raw)
	}
	ae := e.ok("POST", "webhooks", with("name", "x"), "")
	id := ae.Body["webhook"].(map[string]any)["webhook_id"].(string)
	if r := e.do("PATCH", "webhooks/"+id, `{"events": ["nope.created"]}`, ""); r.Status != 400 {
		t.Errorf("patch with a bad event: %d %s", r.Status, r.Raw)
	}
	if r := e.do("POST", "webhooks/"+id+"/test", `{"event": {"entity": "PROMPT", "action": "SET"}}`, ""); r.Status != 400 {
		t.Errorf("test with an invalid event: %d %s", r.Status, r.Raw)
	}
	if r := e.do("PATCH", "webhooks/nope", `{}`, ""); r.Status != 404 || r.Body["error_code"] != "RESOURCE_DOES_NOT_EXIST" {
		t.Errorf("patch of an unknown id: %d %s", r.Status, r.Raw)
	}
	// The UI's prefix serves the same endpoints.
	if r := e.do("GET", "/ajax-api/2.0/mlflow/webhooks/"+id, "", ""); r.Status != 200 {
		t.Errorf("ajax-api get: %d %s", r.Status, r.Raw)
	}
}

func (r *response) Raw2() string { return string(r.Raw) }
