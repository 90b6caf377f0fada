package httpapi_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/client"
)

func TestWebhookRoutes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	c := e.Client

	created, err := c.CreateWebhook(ctx, client.WebhookCreate{
		URL: "https://hooks.example.com/cairn", EventTypes: []string{"alias.*"}, Model: "churn*", Description: "deploys",
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cairn.WebhookKey(created.Secret); err != nil {
		t.Errorf("generated secret %q: %v", created.Secret, err)
	}
	if !created.Active || created.CreatedBy != "tester" || created.Model != "churn*" || len(created.Types) != 1 {
		t.Errorf("created %+v", created.Webhook)
	}
	// The secret is shown once: never by a read, the audit log or the feed.
	for _, path := range []string{"/api/v1/webhooks", "/api/v1/webhooks/" + created.ID, "/api/v1/audit", "/api/v1/events"} {
		resp, body := raw(t, e, "GET", path, "")
		if resp.StatusCode != http.StatusOK || strings.Contains(string(body), created.Secret) || strings.Contains(string(body), `"secret"`) {
			t.Errorf("GET %s: %d, body shows the secret: %s", path, resp.StatusCode, body)
		}
	}

	own := "whsec_" + strings.Repeat("QUJD", 8)
	other, err := c.CreateWebhook(ctx, client.WebhookCreate{URL: "http://example.org/x", Secret: own, Active: new(false)})
	if err != nil || other.Secret != own || other.Active {
		t.Fatalf("create with a secret, inactive: %+v, %v", other, err)
	}
	list, err := c.ListWebhooks(ctx)
	if err != nil || len(list) != 2 || list[0].ID != created.ID || list[1].ID != other.ID {
		t.Fatalf("ListWebhooks = %v, %v", list, err)
	}

	for name, in := range map[string]client.WebhookCreate{
		"relative URL":      {URL: "/hook"},
		"ftp URL":           {URL: "ftp://example.com/"},
		"credentials":       {URL: "https://user:pw@example.com/"},
		"short secret":      {URL: "https://example.com/", Secret: "whsec_c2hvcnQ="},
		"secret w/o prefix": {URL: "https://example.com/", Secret: strings.Repeat("x", 40)},
		"bad glob":          {URL: "https://example.com/", EventTypes: []string{"alias.["}},
	} {
		if _, err := c.CreateWebhook(ctx, in); !cairn.IsCode(err, cairn.EINVALID) {
			t.Errorf("%s: %v, want invalid", name, err)
		}
	}

	url := "https://hooks.example.com/v2"
	types := []string{"version.*", "alias.set"}
	up, err := c.UpdateWebhook(ctx, created.ID, client.WebhookUpdate{URL: &url, EventTypes: &types, Active: new(false)})
	if err != nil || up.URL != url || up.Active || len(up.Types) != 2 || up.Model != "churn*" {
		t.Fatalf("UpdateWebhook = %+v, %v", up, err)
	}
	if _, err := c.UpdateWebhook(ctx, "nope", client.WebhookUpdate{URL: &url}); !cairn.IsCode(err, cairn.ENOTFOUND) {
		t.Errorf("update of a missing subscription: %v", err)
	}

	// The feed, filtered: webhook events only, then none about a model.
	page, err := c.FilterEvents(ctx, client.EventQuery{EventFilter: cairn.EventFilter{Types: []string{"webhook.*"}}})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ev := range page.Items {
		got = append(got, ev.Type)
	}
	if strings.Join(got, " ") != "webhook.created webhook.created webhook.updated" {
		t.Errorf("webhook events: %v", got)
	}
	if _, err := c.CreateModel(ctx, client.ModelCreate{Name: "fraud"}); err != nil {
		t.Fatal(err)
	}
	page, err = c.FilterEvents(ctx, client.EventQuery{EventFilter: cairn.EventFilter{Model: "churn*"}})
	if err != nil || len(page.Items) != 0 || page.NextAfter != 4 {
		t.Errorf("no churn events: %+v, %v; want none, next_after past the 4 skipped", page, err)
	}
	page, err = c.FilterEvents(ctx, client.EventQuery{After: 1, EventFilter: cairn.EventFilter{Model: "fr*", Types: []string{"model.created"}}})
	if err != nil || len(page.Items) != 1 || page.Items[0].Model != "fraud" || page.NextAfter != 4 {
		t.Errorf("fraud events: %+v, %v", page, err)
	}
	if resp, _ := raw(t, e, "GET", "/api/v1/events?type=%5B", ""); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("malformed type glob: %d", resp.StatusCode)
	}

	ds, err := c.ListDeliveries(ctx, created.ID, 0, 0)
	if err != nil || len(ds.Items) != 0 || ds.NextBefore != 0 {
		t.Errorf("ListDeliveries = %+v, %v", ds, err)
	}
	dls, err := c.ListDeadLetters(ctx, created.ID, "", 0)
	if err != nil || len(dls) != 0 {
		t.Errorf("ListDeadLetters = %+v, %v", dls, err)
	}
	if _, err := c.ListDeadLetters(ctx, created.ID, "lost", 0); !cairn.IsCode(err, cairn.EINVALID) {
		t.Errorf("dead letters of an unknown status: %v", err)
	}
	res, err := c.Redeliver(ctx, created.ID, client.RedeliverRequest{})
	if err != nil || len(res.Queued) != 0 {
		t.Errorf("Redeliver with no dead letters = %+v, %v", res, err)
	}
	if _, err := c.Redeliver(ctx, created.ID, client.RedeliverRequest{Seqs: []int64{1}}); !cairn.IsCode(err, cairn.ENOTFOUND) {
		t.Errorf("Redeliver of an event that is no dead letter: %v", err)
	}
	// This server runs no dispatcher.
	if _, err := c.TestWebhook(ctx, created.ID); !cairn.IsCode(err, cairn.EFAILEDPRECONDITION) {
		t.Errorf("TestWebhook without a dispatcher: %v", err)
	}

	if err := c.DeleteWebhook(ctx, created.ID); err != nil {
		t.Fatal(err)
	}
	for _, err := range []error{
		func() error { _, err := c.GetWebhook(ctx, created.ID); return err }(),
		c.DeleteWebhook(ctx, created.ID),
		func() error { _, err := c.ListDeliveries(ctx, created.ID, 0, 0); return err }(),
	} {
		if !cairn.IsCode(err, cairn.ENOTFOUND) {
			t.Errorf("after delete: %v, want not_found", err)
		}
	}
	// Each change is audited, without the secret.
	audit, err := c.ListAudit(ctx, cairn.AuditQuery{Target: "webhook:" + created.ID})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, a := range audit.Items {
		actions = append(actions, a.Action)
		if b, _ := json.Marshal(a); strings.Contains(string(b), created.Secret) {
			t.Errorf("audit entry %s carries the secret", a.Action)
		}
	}
	if strings.Join(actions, " ") != "webhook.created webhook.updated webhook.deleted" {
		t.Errorf("audit actions: %v", actions)
	}
}
