package storetest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/cairn-registry/cairn"
	"github.com/google/go-cmp/cmp"
)

var webhookTests = []test{
	{"CreateGetList", testWebhookCreateGetList},
	{"UpdateDelete", testWebhookUpdateDelete},
	{"State", testWebhookState},
	{"Deliveries", testWebhookDeliveries},
	{"DeadLetters", testWebhookDeadLetters},
}

func newWebhook(id string, i int) *cairn.Webhook {
	return &cairn.Webhook{
		ID: id, URL: "https://hooks.example.com/" + id, Secret: "whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0",
		EventFilter: cairn.EventFilter{Types: []string{"alias.*", "version.ready"}, Model: "churn*", Alias: "champion"},
		Description: "deploys " + id, Active: true, CreatedBy: "alice", CreatedAt: at(i), UpdatedAt: at(i),
	}
}

func createWebhook(t testing.TB, s cairn.Store, w *cairn.Webhook) {
	t.Helper()
	update(t, s, func(tx cairn.Tx) error { return tx.CreateWebhook(t.Context(), w) })
}

func testWebhookCreateGetList(t *testing.T, s cairn.Store) {
	ctx := t.Context()
	if _, err := s.GetWebhook(ctx, "nope"); err == nil {
		t.Fatal("GetWebhook of a missing subscription succeeded")
	} else {
		wantCode(t, err, cairn.ENOTFOUND)
	}
	ws, err := s.ListWebhooks(ctx)
	if err != nil || ws == nil || len(ws) != 0 {
		t.Fatalf("ListWebhooks of an empty store = %v, %v; want an empty, non-nil list", ws, err)
	}
	// Two events exist when the first subscription is created: its cursor
	// starts after them.
	update(t, s, func(tx cairn.Tx) error {
		for _, id := range []string{"e1", "e2"} {
			if err := tx.AppendEvent(ctx, &cairn.Event{ID: id, Type: cairn.EventModelCreated, Time: at(0), Payload: json.RawMessage(`{}`)}); err != nil {
				return err
			}
		}
		return nil
	})
	b := newWebhook("b", 1)
	b.Headers = map[string]string{"Authorization": "Bearer ghp_secret", "Accept": "application/vnd.github+json"}
	createWebhook(t, s, b)
	a := newWebhook("a", 2)
	a.EventFilter = cairn.EventFilter{Types: []string{}}
	a.Active = false
	createWebhook(t, s, a)
	err = s.Update(ctx, func(tx cairn.Tx) error { return tx.CreateWebhook(ctx, newWebhook("b", 3)) })
	wantCode(t, err, cairn.ECONFLICT)

	got, err := s.GetWebhook(ctx, "b")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(b, got); diff != "" || got.Secret != b.Secret {
		t.Errorf("GetWebhook (-want +got):\n%s", diff)
	}
	ws, err = s.ListWebhooks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]*cairn.Webhook{b, a}, ws); diff != "" {
		t.Errorf("ListWebhooks, oldest first (-want +got):\n%s", diff)
	}
	st, err := s.GetWebhookState(ctx, "b")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(&cairn.WebhookState{WebhookID: "b", Cursor: 2}, st); diff != "" {
		t.Errorf("initial state (-want +got):\n%s", diff)
	}
}

func testWebhookUpdateDelete(t *testing.T, s cairn.Store) {
	ctx := t.Context()
	w := newWebhook("w", 0)
	createWebhook(t, s, w)
	w.URL, w.Secret, w.Description, w.Active = "http://other.example/x", "whsec_b3RoZXItb3RoZXItb3RoZXItb3RoZXI=", "", false
	w.EventFilter = cairn.EventFilter{Types: []string{"*"}}
	w.Headers = map[string]string{"X-Api-Key": "k1"}
	w.UpdatedAt = at(5)
	update(t, s, func(tx cairn.Tx) error { return tx.UpdateWebhook(ctx, w) })
	got, err := s.GetWebhook(ctx, "w")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(w, got); diff != "" || got.Secret != w.Secret {
		t.Errorf("after UpdateWebhook (-want +got):\n%s", diff)
	}
	// Headers removed: none (nil) again.
	w.Headers = nil
	update(t, s, func(tx cairn.Tx) error { return tx.UpdateWebhook(ctx, w) })
	if got, err = s.GetWebhook(ctx, "w"); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(w, got); diff != "" {
		t.Errorf("after removing the headers (-want +got):\n%s", diff)
	}
	missing := newWebhook("missing", 0)
	wantCode(t, s.Update(ctx, func(tx cairn.Tx) error { return tx.UpdateWebhook(ctx, missing) }), cairn.ENOTFOUND)

	update(t, s, func(tx cairn.Tx) error {
		if err := tx.AppendDelivery(ctx, &cairn.Delivery{WebhookID: "w", EventSeq: 1, EventID: "e", EventType: "t", Attempt: 1, Time: at(1), Outcome: cairn.DeliveryRetry}); err != nil {
			return err
		}
		return tx.PutDeadLetter(ctx, &cairn.DeadLetter{WebhookID: "w", EventSeq: 1, EventID: "e", EventType: "t", Status: cairn.DeadLetterDead, Attempts: 1, DeadAt: at(1), UpdatedAt: at(1)})
	})
	update(t, s, func(tx cairn.Tx) error { return tx.DeleteWebhook(ctx, "w") })
	if _, err := s.GetWebhook(ctx, "w"); !cairn.IsCode(err, cairn.ENOTFOUND) {
		t.Errorf("GetWebhook after delete: %v", err)
	}
	if _, err := s.GetWebhookState(ctx, "w"); !cairn.IsCode(err, cairn.ENOTFOUND) {
		t.Errorf("GetWebhookState after delete: %v", err)
	}
	if ds, err := s.ListDeliveries(ctx, cairn.DeliveryQuery{WebhookID: "w"}); err != nil || len(ds) != 0 {
		t.Errorf("deliveries after delete: %v, %v", ds, err)
	}
	if dls, err := s.ListDeadLetters(ctx, "w", "", 0); err != nil || len(dls) != 0 {
		t.Errorf("dead letters after delete: %v, %v", dls, err)
	}
	wantCode(t, s.Update(ctx, func(tx cairn.Tx) error { return tx.DeleteWebhook(ctx, "w") }), cairn.ENOTFOUND)
}

func testWebhookState(t *testing.T, s cairn.Store) {
	ctx := t.Context()
	createWebhook(t, s, newWebhook("w", 0))
	want := &cairn.WebhookState{WebhookID: "w", Cursor: 7, HeadSeq: 9, Attempts: 3, FirstAttempt: at(1), NextAttempt: at(2).Add(time.Microsecond)}
	update(t, s, func(tx cairn.Tx) error { return tx.PutWebhookState(ctx, want) })
	got, err := s.GetWebhookState(ctx, "w")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("state (-want +got):\n%s", diff)
	}
	reset := &cairn.WebhookState{WebhookID: "w", Cursor: 9}
	update(t, s, func(tx cairn.Tx) error { return tx.PutWebhookState(ctx, reset) })
	if got, err := s.GetWebhookState(ctx, "w"); err != nil || !cmp.Equal(reset, got) {
		t.Errorf("reset state = %+v, %v; want %+v (zero times)", got, err, reset)
	}
	wantCode(t, s.Update(ctx, func(tx cairn.Tx) error {
		return tx.PutWebhookState(ctx, &cairn.WebhookState{WebhookID: "missing"})
	}), cairn.ENOTFOUND)
}

func testWebhookDeliveries(t *testing.T, s cairn.Store) {
	ctx := t.Context()
	createWebhook(t, s, newWebhook("w", 0))
	createWebhook(t, s, newWebhook("other", 0))
	var all []*cairn.Delivery
	update(t, s, func(tx cairn.Tx) error {
		for i := range 5 {
			d := &cairn.Delivery{
				WebhookID: "w", EventSeq: int64(i + 1), EventID: "e", EventType: cairn.EventAliasSet, Attempt: i + 1,
				Redelivery: i == 4, Time: at(i), Outcome: cairn.DeliveryRetry, StatusCode: 503, LatencyMS: int64(10 * i),
				Response: "busy", Error: "",
			}
			if i == 2 {
				d.StatusCode, d.Error, d.Response, d.Outcome = 0, "connection refused", "", cairn.DeliveryDead
			}
			if err := tx.AppendDelivery(ctx, d); err != nil {
				return err
			}
			if len(all) > 0 && d.ID <= all[0].ID {
				t.Errorf("delivery IDs do not increase: %d after %d", d.ID, all[0].ID)
			}
			all = append([]*cairn.Delivery{d}, all...)
			if err := tx.AppendDelivery(ctx, &cairn.Delivery{WebhookID: "other", Time: at(i), Outcome: cairn.DeliveryTest}); err != nil {
				return err
			}
		}
		return nil
	})
	got, err := s.ListDeliveries(ctx, cairn.DeliveryQuery{WebhookID: "w"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(all, got); diff != "" {
		t.Errorf("ListDeliveries, newest first (-want +got):\n%s", diff)
	}
	page, err := s.ListDeliveries(ctx, cairn.DeliveryQuery{WebhookID: "w", Before: all[1].ID, Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(all[2:4], page); diff != "" {
		t.Errorf("ListDeliveries before %d, limit 2 (-want +got):\n%s", all[1].ID, diff)
	}
	err = s.Update(ctx, func(tx cairn.Tx) error {
		return tx.AppendDelivery(ctx, &cairn.Delivery{WebhookID: "missing", Time: at(0), Outcome: cairn.DeliveryTest})
	})
	wantCode(t, err, cairn.ENOTFOUND)
}

func testWebhookDeadLetters(t *testing.T, s cairn.Store) {
	ctx := t.Context()
	createWebhook(t, s, newWebhook("w", 0))
	dl := func(seq int64, status string) *cairn.DeadLetter {
		return &cairn.DeadLetter{
			WebhookID: "w", EventSeq: seq, EventID: "e", EventType: cairn.EventVersionReady, Status: status,
			Attempts: 4, LastError: "HTTP 500", DeadAt: at(int(seq)), UpdatedAt: at(int(seq)),
		}
	}
	d9, d3, d5 := dl(9, cairn.DeadLetterDead), dl(3, cairn.DeadLetterDead), dl(5, cairn.DeadLetterQueued)
	update(t, s, func(tx cairn.Tx) error {
		for _, d := range []*cairn.DeadLetter{d9, d3, d5} {
			if err := tx.PutDeadLetter(ctx, d); err != nil {
				return err
			}
		}
		return nil
	})
	got, err := s.ListDeadLetters(ctx, "w", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]*cairn.DeadLetter{d3, d5, d9}, got); diff != "" {
		t.Errorf("ListDeadLetters, in sequence order (-want +got):\n%s", diff)
	}
	got, err = s.ListDeadLetters(ctx, "w", cairn.DeadLetterDead, 1)
	if err != nil || !cmp.Equal([]*cairn.DeadLetter{d3}, got) {
		t.Errorf("ListDeadLetters(dead, 1) = %v, %v", got, err)
	}
	// Putting the same letter again replaces it.
	d3.Status, d3.Attempts, d3.UpdatedAt = cairn.DeadLetterDelivered, 5, at(20)
	update(t, s, func(tx cairn.Tx) error { return tx.PutDeadLetter(ctx, d3) })
	got, err = s.ListDeadLetters(ctx, "w", cairn.DeadLetterDelivered, 0)
	if err != nil || !cmp.Equal([]*cairn.DeadLetter{d3}, got) {
		t.Errorf("after replacing: %v, %v", got, err)
	}
	err = s.Update(ctx, func(tx cairn.Tx) error {
		d := dl(1, cairn.DeadLetterDead)
		d.WebhookID = "missing"
		return tx.PutDeadLetter(ctx, d)
	})
	wantCode(t, err, cairn.ENOTFOUND)

	// SwapDeadLetter writes only over the letter as it was read: a second
	// swap from the same read, a letter that is gone, and a read with an
	// older updated_at write nothing.
	read := *d5
	next := *d5
	next.Status, next.Attempts, next.LastError, next.UpdatedAt = cairn.DeadLetterDelivered, 5, "", at(30)
	stale := *d5
	stale.Status, stale.Attempts, stale.LastError, stale.UpdatedAt = cairn.DeadLetterDead, 5, "HTTP 502", at(31)
	gone := *d5
	gone.EventSeq = 99
	older := next
	older.UpdatedAt = at(29)
	for _, c := range []struct {
		name     string
		dl, prev *cairn.DeadLetter
		want     bool
	}{
		{"first", &next, &read, true},
		{"stale", &stale, &read, false},
		{"gone", &gone, &read, false},
		{"older", &stale, &older, false},
	} {
		var ok bool
		update(t, s, func(tx cairn.Tx) error {
			var err error
			ok, err = tx.SwapDeadLetter(ctx, c.dl, c.prev)
			return err
		})
		if ok != c.want {
			t.Errorf("SwapDeadLetter %s = %v, want %v", c.name, ok, c.want)
		}
	}
	got, err = s.ListDeadLetters(ctx, "w", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]*cairn.DeadLetter{d3, &next, d9}, got); diff != "" {
		t.Errorf("after the swaps (-want +got):\n%s", diff)
	}
}
