package webhook_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/internal/registry"
	"github.com/cairn-registry/cairn/internal/webhook"
	"github.com/google/go-cmp/cmp"
)

// mlflowReceiver is a receiver written from MLflow 3's published delivery
// contract alone (MLflow's docs and mlflow/webhooks/delivery.py): the
// signed content is "<X-MLflow-Delivery-Id>.<X-MLflow-Timestamp>.<raw
// body>", the key is the secret's UTF-8 bytes, and X-MLflow-Signature is
// "v1," and the base64 of the HMAC-SHA256. It records each body it
// accepted.
type mlflowReceiver struct {
	t      testing.TB
	srv    *httptest.Server
	secret string
	mu     sync.Mutex
	got    []map[string]any
	ids    []string
}

var uuid4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func newMLflowReceiver(t testing.TB, secret string) *mlflowReceiver {
	rc := &mlflowReceiver{t: t, secret: secret}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		id, ts, sig := r.Header.Get("X-MLflow-Delivery-Id"), r.Header.Get("X-MLflow-Timestamp"), r.Header.Get("X-MLflow-Signature")
		if r.Header.Get("Content-Type") != "application/json" || !uuid4.MatchString(id) {
			t.Errorf("mlflow receiver: content type %q, delivery id %q", r.Header.Get("Content-Type"), id)
		}
		sec, err := strconv.ParseInt(ts, 10, 64)
		if err != nil || time.Since(time.Unix(sec, 0)).Abs() > 5*time.Minute {
			t.Errorf("mlflow receiver: timestamp %q", ts)
		}
		if rc.secret == "" {
			if sig != "" {
				t.Errorf("mlflow receiver: a signature %q without a secret", sig)
			}
		} else {
			mac := hmac.New(sha256.New, []byte(rc.secret))
			mac.Write([]byte(fmt.Sprintf("%s.%s.%s", id, ts, body)))
			if want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil)); !hmac.Equal([]byte(sig), []byte(want)) {
				t.Errorf("mlflow receiver: signature %q, want %q", sig, want)
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
		}
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil {
			t.Errorf("mlflow receiver: body %s: %v", body, err)
		}
		rc.mu.Lock()
		rc.got = append(rc.got, m)
		rc.ids = append(rc.ids, id)
		rc.mu.Unlock()
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *mlflowReceiver) bodies() []map[string]any {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.got)
}

func TestMLflowDeliveries(t *testing.T) {
	t.Parallel()
	for _, secret := range []string{"s3cr3t, any string", ""} {
		t.Run(fmt.Sprintf("secret=%q", secret), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			ctx := t.Context()
			rc := newMLflowReceiver(t, secret)
			w, err := e.svc.CreateWebhook(ctx, registry.WebhookCreate{
				Name: "deploy", URL: rc.srv.URL, Format: cairn.WebhookMLflow, Secret: secret,
				EventTypes: []string{"registered_model.created", "model_version.created", "model_version_tag.set",
					"model_version_tag.deleted", "model_version_alias.created", "model_version_alias.deleted"},
			})
			if err != nil {
				t.Fatal(err)
			}
			if w.Secret != secret {
				t.Errorf("created with secret %q, want %q as given", w.Secret, secret)
			}
			start(t, e.store, webhook.Options{})

			if _, err := e.svc.CreateModel(ctx, registry.ModelCreate{Name: "churn", Description: "churn model", Tags: map[string]string{"team": "fraud"}}); err != nil {
				t.Fatal(err)
			}
			if _, err := e.svc.UpdateModel(ctx, "churn", registry.ModelUpdate{SetTags: map[string]string{"model-tag": "x"}}); err != nil {
				t.Fatal(err) // a registered model's tag: no MLflow event
			}
			if _, err := e.svc.RegisterExternal(ctx, "churn", cairn.VersionSpec{Source: "s3://b/churn/1", RunID: "abcd1234", Tags: map[string]string{"k": "v"}}); err != nil {
				t.Fatal(err)
			}
			if _, err := e.svc.UpdateVersion(ctx, "churn", 1, registry.VersionUpdate{SetTags: map[string]string{"stage": "qa"}}); err != nil {
				t.Fatal(err)
			}
			if _, err := e.svc.UpdateVersion(ctx, "churn", 1, registry.VersionUpdate{DeleteTags: []string{"stage"}}); err != nil {
				t.Fatal(err)
			}
			if _, err := e.svc.SetAlias(ctx, "churn", "champion", 1, nil); err != nil {
				t.Fatal(err)
			}
			if err := e.svc.DeleteAlias(ctx, "churn", "champion", nil); err != nil {
				t.Fatal(err)
			}
			want := []map[string]any{
				{"entity": "registered_model", "action": "created", "data": map[string]any{"name": "churn", "tags": map[string]any{"team": "fraud"}, "description": "churn model"}},
				{"entity": "model_version", "action": "created", "data": map[string]any{"name": "churn", "version": "1", "source": "s3://b/churn/1", "run_id": "abcd1234", "tags": map[string]any{"k": "v"}, "description": nil}},
				{"entity": "model_version_tag", "action": "set", "data": map[string]any{"name": "churn", "version": "1", "key": "stage", "value": "qa"}},
				{"entity": "model_version_tag", "action": "deleted", "data": map[string]any{"name": "churn", "version": "1", "key": "stage"}},
				{"entity": "model_version_alias", "action": "created", "data": map[string]any{"name": "churn", "alias": "champion", "version": "1"}},
				{"entity": "model_version_alias", "action": "deleted", "data": map[string]any{"name": "churn", "alias": "champion"}},
			}
			waitFor(t, "six MLflow deliveries", func() bool { return len(rc.bodies()) >= len(want) })
			got := rc.bodies()
			tsFormat := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$`)
			for i := range got {
				if ts, _ := got[i]["timestamp"].(string); !tsFormat.MatchString(ts) {
					t.Errorf("delivery %d: timestamp %q, want Python's isoformat", i, ts)
				}
				delete(got[i], "timestamp")
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("MLflow deliveries (-want +got):\n%s", diff)
			}
		})
	}
}

// TestMLflowTest: the test ping of an MLflow-style subscription is
// MLflow's example payload of the event asked for, signed the same way.
func TestMLflowTest(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	rc := newMLflowReceiver(t, "k")
	w, err := e.svc.CreateWebhook(t.Context(), registry.WebhookCreate{
		Name: "n", URL: rc.srv.URL, Format: cairn.WebhookMLflow, Secret: "k",
		EventTypes: []string{"model_version_alias.created", "registered_model.created"},
	})
	if err != nil {
		t.Fatal(err)
	}
	d := webhook.New(e.store, webhook.Options{AllowCIDRs: loopback})
	for _, tc := range []struct{ event, entity string }{{"", "model_version_alias"}, {"registered_model.created", "registered_model"}} {
		del, err := d.TestEvent(t.Context(), w.ID, tc.event)
		if err != nil || del.Outcome != cairn.DeliveryTest || del.StatusCode != 200 {
			t.Fatalf("TestEvent(%q) = %+v, %v", tc.event, del, err)
		}
		got := rc.bodies()
		if last := got[len(got)-1]; last["entity"] != tc.entity || last["data"] == nil {
			t.Errorf("TestEvent(%q) sent %v", tc.event, last)
		}
	}
	if _, err := d.TestEvent(t.Context(), w.ID, "model.created"); !cairn.IsCode(err, cairn.EINVALID) {
		t.Errorf("TestEvent of a non-MLflow event = %v, want invalid", err)
	}
}

// TestTemplateDeliveries: a subscription with a template posts the
// rendered document, signed like any standard delivery; one whose
// rendering is too large is dead-lettered at once instead of retried for
// a day.
func TestTemplateDeliveries(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	var mu sync.Mutex
	var bodies []string
	var secret string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		if err := verify(secret, r.Header, body); err != nil {
			t.Errorf("template delivery: %v", err)
		}
		bodies = append(bodies, string(body))
	}))
	t.Cleanup(srv.Close)
	created, err := e.svc.CreateWebhook(ctx, registry.WebhookCreate{
		URL: srv.URL, EventTypes: []string{"model.created"},
		Template: json.RawMessage(`{"event_type": "cairn-{{type}}", "client_payload": {"model": "{{model}}", "description": "{{payload.description}}", "all": "{{payload}}"}}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	secret = created.Secret
	mu.Unlock()
	// Renders each payload twenty times: more than 64 KiB for a model
	// with a 4,000-byte description.
	huge, err := e.svc.CreateWebhook(ctx, registry.WebhookCreate{
		URL: srv.URL, EventTypes: []string{"model.created"}, Model: "huge",
		Template: json.RawMessage(`{"x": "` + strings.Repeat("{{payload}}", 20) + `"}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	start(t, e.store, webhook.Options{})
	if _, err := e.svc.CreateModel(ctx, registry.ModelCreate{Name: "small", Description: `say "hi", }`}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.CreateModel(ctx, registry.ModelCreate{Name: "huge", Description: longText(4000)}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the first model's delivery", func() bool { mu.Lock(); defer mu.Unlock(); return len(bodies) >= 1 })
	mu.Lock()
	first := bodies[0]
	mu.Unlock()
	var got struct {
		EventType     string `json:"event_type"`
		ClientPayload struct {
			Model, Description string
			All                cairn.Model
		} `json:"client_payload"`
	}
	if err := json.Unmarshal([]byte(first), &got); err != nil || got.EventType != "cairn-model.created" ||
		got.ClientPayload.Model != "small" || got.ClientPayload.Description != `say "hi", }` || got.ClientPayload.All.Name != "small" {
		t.Errorf("delivered %s (%v)", first, err)
	}
	waitFor(t, "the oversized rendering dead-lettered", func() bool {
		dls, err := e.svc.ListDeadLetters(ctx, huge.ID, "", 10)
		return err == nil && len(dls) == 1
	})
	dls, _ := e.svc.ListDeadLetters(ctx, huge.ID, "", 10)
	if dls[0].Attempts != 1 || !strings.Contains(dls[0].LastError, "rendered template") {
		t.Errorf("dead letter %+v; want one attempt, the rendering's error", dls[0])
	}
}

func longText(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = 'a' + byte(i%26)
	}
	return string(b)
}
