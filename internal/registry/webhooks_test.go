package registry_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/internal/registry"
)

// TestWebhookChangesAreEventedWithoutTheSecret: creating, changing (the
// secret too) and deleting a subscription each append an audit entry and
// an event, and neither carries the secret.
func TestWebhookChangesAreEventedWithoutTheSecret(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	w, err := f.svc.CreateWebhook(f.ctx, registry.WebhookCreate{URL: "https://example.com/hook"})
	if err != nil {
		t.Fatal(err)
	}
	first := w.Secret
	second := cairn.NewWebhookSecret()
	if _, err := f.svc.UpdateWebhook(f.ctx, w.ID, registry.WebhookUpdate{Secret: &second}); err != nil {
		t.Fatal(err)
	}
	stored, err := f.store.GetWebhook(f.ctx, w.ID)
	if err != nil || stored.Secret != second {
		t.Fatalf("the rotated secret is not stored: %v", err)
	}
	got, err := f.svc.GetWebhook(f.ctx, w.ID)
	if err != nil || got.Secret != "" {
		t.Errorf("GetWebhook returns the secret (%v)", err)
	}
	bad := "not-a-secret"
	if _, err := f.svc.UpdateWebhook(f.ctx, w.ID, registry.WebhookUpdate{Secret: &bad}); !cairn.IsCode(err, cairn.EINVALID) {
		t.Errorf("update to a malformed secret: %v", err)
	}
	if err := f.svc.DeleteWebhook(f.ctx, w.ID); err != nil {
		t.Fatal(err)
	}
	evs, err := f.store.ListEvents(f.ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, ev := range evs {
		types = append(types, ev.Type)
		if ev.Actor != "alice" || ev.Model != "" {
			t.Errorf("%s: actor %q, model %q", ev.Type, ev.Actor, ev.Model)
		}
		for _, s := range []string{first, second} {
			if strings.Contains(string(ev.Payload), s) {
				t.Errorf("%s carries a secret: %s", ev.Type, ev.Payload)
			}
		}
	}
	if strings.Join(types, " ") != "webhook.created webhook.updated webhook.deleted" {
		t.Errorf("events %v", types)
	}
	audit, err := f.store.ListAudit(f.ctx, cairn.AuditQuery{})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range audit {
		b, _ := json.Marshal(a)
		if strings.Contains(string(b), first) || strings.Contains(string(b), second) {
			t.Errorf("audit entry %s carries a secret", a.Action)
		}
	}
	if len(audit) != 3 {
		t.Errorf("%d audit entries, want 3", len(audit))
	}
}

// TestRedeliverEveryDeadLetter queues all of them, beyond one page.
func TestRedeliverEveryDeadLetter(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	w, err := f.svc.CreateWebhook(f.ctx, registry.WebhookCreate{URL: "https://example.com/hook"})
	if err != nil {
		t.Fatal(err)
	}
	const n = registry.MaxPageSize + 234
	err = f.store.Update(f.ctx, func(tx cairn.Tx) error {
		for i := range n {
			status := cairn.DeadLetterDead
			if i%100 == 7 {
				status = cairn.DeadLetterDelivered // redelivered already: stays so
			}
			if err := tx.PutDeadLetter(f.ctx, &cairn.DeadLetter{
				WebhookID: w.ID, EventSeq: int64(i + 1), EventID: fmt.Sprint(i), EventType: "t", Status: status,
				Attempts: 1, DeadAt: f.clock, UpdatedAt: f.clock,
			}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	res, err := f.svc.Redeliver(f.ctx, w.ID, registry.RedeliverRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if want := n - (n/100 + 1); len(res.Queued) != want {
		t.Errorf("queued %d, want %d", len(res.Queued), want)
	}
	queued, err := f.svc.ListDeadLetters(f.ctx, w.ID, cairn.DeadLetterQueued, registry.MaxPageSize)
	if err != nil || len(queued) != registry.MaxPageSize {
		t.Errorf("first page of queued letters: %d, %v", len(queued), err)
	}
	dead, err := f.svc.ListDeadLetters(f.ctx, w.ID, cairn.DeadLetterDead, 0)
	if err != nil || len(dead) != 0 {
		t.Errorf("%d letters still dead (%v)", len(dead), err)
	}
	again, err := f.svc.Redeliver(f.ctx, w.ID, registry.RedeliverRequest{})
	if err != nil || len(again.Queued) != 0 {
		t.Errorf("a second Redeliver queued %v, %v", again, err)
	}
	if _, err := f.svc.Redeliver(f.ctx, "nope", registry.RedeliverRequest{}); !cairn.IsCode(err, cairn.ENOTFOUND) {
		t.Errorf("Redeliver of a missing subscription: %v", err)
	}
}

// TestFilterEvents reads past events the filter skips, also beyond one
// page and up to its scan bound.
func TestFilterEvents(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	const n = 14000
	err := f.store.Update(f.ctx, func(tx cairn.Tx) error {
		for i := range n {
			ev := &cairn.Event{ID: fmt.Sprint(i), Type: cairn.EventTagSet, Time: f.clock, Model: "noise", Payload: json.RawMessage(`{}`)}
			if i == 2500 || i == 2501 || i == n-1 {
				ev.Type, ev.Model, ev.Alias = cairn.EventAliasSet, "churn", "champion"
			}
			if err := tx.AppendEvent(f.ctx, ev); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	filter := cairn.EventFilter{Types: []string{"alias.*"}, Model: "ch*", Alias: "champion"}
	evs, next, err := f.svc.FilterEvents(f.ctx, 0, 1, filter)
	if err != nil || len(evs) != 1 || evs[0].Seq != 2501 || next != 2501 {
		t.Fatalf("first match: %v, next %d, %v", evs, next, err)
	}
	evs, next, err = f.svc.FilterEvents(f.ctx, next, 10, filter)
	if err != nil || len(evs) != 1 || evs[0].Seq != 2502 || next != 2501+10000 {
		t.Fatalf("second read: %d events, next %d, %v; want seq 2502 and a scan bounded at 10,000 events", len(evs), next, err)
	}
	evs, next, err = f.svc.FilterEvents(f.ctx, next, 10, filter)
	if err != nil || len(evs) != 1 || evs[0].Seq != n || next != n {
		t.Fatalf("third read: %v, next %d, %v", evs, next, err)
	}
	if _, _, err := f.svc.FilterEvents(f.ctx, 0, 10, cairn.EventFilter{Model: "["}); !cairn.IsCode(err, cairn.EINVALID) {
		t.Errorf("malformed glob: %v", err)
	}
}
