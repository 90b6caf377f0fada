package mlflowapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/internal/registry"
)

// WebhookTester sends a test delivery of an MLflow event's example payload
// to a subscription and records it (webhook.Dispatcher.TestEvent).
type WebhookTester interface {
	TestEvent(ctx context.Context, id, mlflowEvent string) (*cairn.Delivery, error)
}

// MLflow 3's webhook endpoints (mlflow/protos/webhooks.proto) map onto the
// registry's subscriptions with format "mlflow": the same dispatcher
// delivers them, in order, retried, dead-lettered and visible through
// /api/v1/webhooks and `cairn webhooks`. This door sees MLflow-style
// subscriptions only; a native subscription's id is not found here.

// webhookEvent is MLflow's WebhookEvent in protobuf JSON: enum names.
type webhookEvent struct {
	Entity string `json:"entity"`
	Action string `json:"action"`
}

// mlflowWebhook is MLflow's Webhook entity. The secret is never returned.
type mlflowWebhook struct {
	WebhookID            string         `json:"webhook_id"`
	Name                 string         `json:"name"`
	Description          string         `json:"description,omitempty"`
	URL                  string         `json:"url"`
	Events               []webhookEvent `json:"events"`
	Status               string         `json:"status"`
	CreationTimestamp    int64          `json:"creation_timestamp"`
	LastUpdatedTimestamp int64          `json:"last_updated_timestamp"`
}

func toMLflowWebhook(w *cairn.Webhook) mlflowWebhook {
	out := mlflowWebhook{
		WebhookID: w.ID, Name: w.Name, Description: w.Description, URL: w.URL, Events: []webhookEvent{},
		Status: "ACTIVE", CreationTimestamp: w.CreatedAt.UnixMilli(), LastUpdatedTimestamp: w.UpdatedAt.UnixMilli(),
	}
	if !w.Active {
		out.Status = "DISABLED"
	}
	for _, t := range w.Types {
		entity, action, _ := strings.Cut(t, ".")
		out.Events = append(out.Events, webhookEvent{Entity: strings.ToUpper(entity), Action: strings.ToUpper(action)})
	}
	return out
}

// Enum numbers of webhooks.proto, which protobuf JSON also accepts.
var (
	entityNumbers = []string{"", "registered_model", "model_version", "model_version_tag", "model_version_alias",
		"prompt", "prompt_version", "prompt_tag", "prompt_version_tag", "prompt_alias"}
	actionNumbers = []string{"", "created", "updated", "deleted", "set"}
)

// enumName reads a protobuf enum value: its name in any case, or its number.
func enumName(field string, raw json.RawMessage, numbers []string) (string, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return strings.ToLower(s), nil
	}
	var n int
	if err := json.Unmarshal(raw, &n); err == nil && n > 0 && n < len(numbers) {
		return numbers[n], nil
	}
	return "", invalidParam("Invalid value %s for parameter '%s' supplied.", truncate(string(raw), 60), field)
}

// events reads the events parameter: WebhookEvent objects {entity, action}
// (MLflow 3.3 and later), or "entity.action" strings (earlier 3.x). nil
// if absent.
func (p *params) events() ([]string, error) {
	raw, ok := p.body["events"]
	if !ok || string(raw) == "null" {
		return nil, nil
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, badType("events", raw)
	}
	out := []string{}
	for _, it := range items {
		var name string
		if err := json.Unmarshal(it, &name); err != nil {
			var ev map[string]json.RawMessage
			if err := json.Unmarshal(it, &ev); err != nil || ev == nil {
				return nil, invalidParam("Invalid value %s in parameter 'events': want {\"entity\": …, \"action\": …}.", truncate(string(it), 60))
			}
			if ev["entity"] == nil || ev["action"] == nil {
				return nil, invalidParam("Missing value for required parameter 'events.entity' or 'events.action'.")
			}
			entity, err := enumName("events.entity", ev["entity"], entityNumbers)
			if err != nil {
				return nil, err
			}
			action, err := enumName("events.action", ev["action"], actionNumbers)
			if err != nil {
				return nil, err
			}
			name = entity + "." + action
		}
		if !slices.Contains(cairn.MLflowWebhookEvents, name) {
			return nil, invalidParam("Invalid webhook event %q. Valid events are: %s.", truncate(name, 60), strings.Join(cairn.MLflowWebhookEvents, ", "))
		}
		if !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	return out, nil
}

// status reads the status parameter: nil if absent.
func (p *params) status() (*bool, error) {
	raw, ok := p.body["status"]
	if !ok || string(raw) == "null" {
		return nil, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		var n int
		if json.Unmarshal(raw, &n) != nil {
			return nil, badType("status", raw)
		}
		s = map[int]string{1: "ACTIVE", 2: "DISABLED", 3: "DELETED"}[n]
	}
	switch strings.ToUpper(s) {
	case "ACTIVE":
		return new(true), nil
	case "DISABLED":
		return new(false), nil
	}
	return nil, invalidParam("Invalid webhook status %q. Valid statuses are: ACTIVE, DISABLED.", truncate(s, 60))
}

func webhookNotFound(id string) error {
	return &apiError{status: http.StatusNotFound, code: codeDoesNotExist, msg: "Webhook with ID " + id + " not found."}
}

// mlflowWebhookByID returns an MLflow-style subscription; the registry
// checks the caller's role first, so a denied caller learns nothing.
func (s *Server) mlflowWebhookByID(ctx context.Context, id string) (*cairn.Webhook, error) {
	wh, err := s.svc.GetWebhook(ctx, id)
	if cairn.IsCode(err, cairn.ENOTFOUND) || (err == nil && wh.Format != cairn.WebhookMLflow) {
		return nil, webhookNotFound(id)
	}
	return wh, err
}

func (s *Server) createWebhook(w http.ResponseWriter, r *http.Request) error {
	p, err := s.readParams(w, r)
	if err != nil {
		return err
	}
	name, err := p.required("name")
	if err != nil {
		return err
	}
	url, err := p.required("url")
	if err != nil {
		return err
	}
	events, err := p.events()
	if err != nil {
		return err
	}
	if len(events) == 0 {
		return missing("events")
	}
	desc, err := p.str("description")
	if err != nil {
		return err
	}
	secret, err := p.str("secret")
	if err != nil {
		return err
	}
	active, err := p.status()
	if err != nil {
		return err
	}
	created, err := s.svc.CreateWebhook(r.Context(), registry.WebhookCreate{
		Name: name, URL: url, Format: cairn.WebhookMLflow, EventTypes: events, Description: desc, Secret: secret, Active: active,
	})
	if err != nil {
		return err
	}
	return writeJSON(w, map[string]mlflowWebhook{"webhook": toMLflowWebhook(&created.Webhook)})
}

// webhookPageToken is the opaque page token of listWebhooks: the offset.
func webhookPageToken(offset int) string {
	return base64.RawURLEncoding.EncodeToString([]byte(`{"offset":` + strconv.Itoa(offset) + `}`))
}

func parseWebhookPageToken(tok string) (int, error) {
	bad := invalidParam("Invalid page token: %q.", truncate(tok, 60))
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return 0, bad
	}
	var t struct {
		Offset *int `json:"offset"`
	}
	if json.Unmarshal(raw, &t) != nil || t.Offset == nil || *t.Offset < 0 {
		return 0, bad
	}
	return *t.Offset, nil
}

func (s *Server) listWebhooks(w http.ResponseWriter, r *http.Request) error {
	p, err := s.readParams(w, r)
	if err != nil {
		return err
	}
	max, err := p.integer("max_results", 100)
	if err != nil {
		return err
	}
	if max < 1 || max > 1000 {
		return invalidParam("Invalid value for request parameter max_results. It must be between 1 and 1000, but got value %d", max)
	}
	tok, err := p.str("page_token")
	if err != nil {
		return err
	}
	offset := 0
	if tok != "" {
		if offset, err = parseWebhookPageToken(tok); err != nil {
			return err
		}
	}
	all, err := s.svc.ListWebhooks(r.Context())
	if err != nil {
		return err
	}
	var mine []*cairn.Webhook
	for _, wh := range all {
		if wh.Format == cairn.WebhookMLflow {
			mine = append(mine, wh)
		}
	}
	resp := struct {
		Webhooks      []mlflowWebhook `json:"webhooks"`
		NextPageToken string          `json:"next_page_token,omitempty"`
	}{Webhooks: []mlflowWebhook{}}
	for i := offset; i < len(mine) && i < offset+int(max); i++ {
		resp.Webhooks = append(resp.Webhooks, toMLflowWebhook(mine[i]))
	}
	if offset+int(max) < len(mine) {
		resp.NextPageToken = webhookPageToken(offset + int(max))
	}
	return writeJSON(w, resp)
}

func (s *Server) getWebhook(w http.ResponseWriter, r *http.Request) error {
	wh, err := s.mlflowWebhookByID(r.Context(), r.PathValue("webhook_id"))
	if err != nil {
		return err
	}
	return writeJSON(w, map[string]mlflowWebhook{"webhook": toMLflowWebhook(wh)})
}

// updateWebhook changes the fields given. As in MLflow, an empty string
// or an empty events list leaves the field as it is.
func (s *Server) updateWebhook(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("webhook_id")
	p, err := s.readParams(w, r)
	if err != nil {
		return err
	}
	if _, err := s.mlflowWebhookByID(r.Context(), id); err != nil {
		return err
	}
	var up registry.WebhookUpdate
	for _, f := range []struct {
		name string
		dst  **string
	}{{"name", &up.Name}, {"description", &up.Description}, {"url", &up.URL}, {"secret", &up.Secret}} {
		v, err := p.str(f.name)
		if err != nil {
			return err
		}
		if v != "" {
			*f.dst = &v
		}
	}
	events, err := p.events()
	if err != nil {
		return err
	}
	if len(events) > 0 {
		up.EventTypes = &events
	}
	if up.Active, err = p.status(); err != nil {
		return err
	}
	wh, err := s.svc.UpdateWebhook(r.Context(), id, up)
	if cairn.IsCode(err, cairn.ENOTFOUND) {
		return webhookNotFound(id)
	}
	if err != nil {
		return err
	}
	return writeJSON(w, map[string]mlflowWebhook{"webhook": toMLflowWebhook(wh)})
}

func (s *Server) deleteWebhook(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("webhook_id")
	if _, err := s.mlflowWebhookByID(r.Context(), id); err != nil {
		return err
	}
	if err := s.svc.DeleteWebhook(r.Context(), id); cairn.IsCode(err, cairn.ENOTFOUND) {
		return webhookNotFound(id)
	} else if err != nil {
		return err
	}
	return writeJSON(w, empty)
}

// testResult is MLflow's WebhookTestResult.
type testResult struct {
	Success        bool   `json:"success"`
	ResponseStatus int    `json:"response_status,omitempty"`
	ResponseBody   string `json:"response_body,omitempty"`
	ErrorMessage   string `json:"error_message,omitempty"`
}

// testWebhook sends the example payload of an event (the request's
// "event", or the subscription's first) now and answers with what the
// receiver said. The attempt is recorded in the subscription's delivery
// log with outcome "test". A test_payload (the field of early MLflow 3
// protos) is accepted and ignored: the example payload is what MLflow
// sends.
func (s *Server) testWebhook(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("webhook_id")
	p, err := s.readParams(w, r)
	if err != nil {
		return err
	}
	var event string
	if raw, ok := p.body["event"]; ok && string(raw) != "null" {
		tmp := &params{body: map[string]json.RawMessage{"events": json.RawMessage("[" + string(raw) + "]")}}
		evs, err := tmp.events()
		if err != nil {
			return err
		}
		event = evs[0]
	}
	if _, err := p.str("test_payload"); err != nil {
		return err
	}
	if _, err := s.mlflowWebhookByID(r.Context(), id); err != nil {
		return err
	}
	if s.webhooks == nil {
		return &apiError{status: http.StatusNotImplemented, code: codeNotImplemented, msg: "This server does not deliver webhooks."}
	}
	d, err := s.webhooks.TestEvent(r.Context(), id, event)
	if cairn.IsCode(err, cairn.ENOTFOUND) {
		return webhookNotFound(id)
	}
	if err != nil {
		return err
	}
	res := testResult{Success: d.StatusCode >= 200 && d.StatusCode < 300 && d.Error == "", ResponseStatus: d.StatusCode, ResponseBody: d.Response}
	if !res.Success {
		res.ErrorMessage = d.Error
		if res.ErrorMessage == "" {
			res.ErrorMessage = "HTTP " + strconv.Itoa(d.StatusCode)
		}
	}
	return writeJSON(w, map[string]testResult{"result": res})
}
