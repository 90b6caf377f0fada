package migrate

import (
	"context"
	"slices"

	"github.com/cairn-registry/cairn"
)

// Webhook subscriptions are copied with their secrets, their delivery
// cursor and their undelivered dead letters, after everything else. Events
// keep their sequence numbers in a copy, so a cursor means the same on the
// target: servers started on the target deliver from where the source's
// stopped, nothing sent twice in the normal case and nothing skipped. An
// event being retried when the source stopped is tried again from its
// first attempt (its retry count and window restart).
//
// Left behind, deliberately: the delivery log (it records the source's
// attempts; `cairn webhooks deliveries` on the target starts empty) and
// dead letters already redelivered (done with).
//
// A subscription's secret signs its deliveries, so it travels too, and
// so do its custom headers' values (tokens, often): an archive with
// subscriptions holds their secrets; keep it like the database it came
// from.

// KindWebhooks counts subscriptions in a Report; KindDeadLetters their
// dead letters.
const (
	KindWebhooks    = "webhooks"
	KindDeadLetters = "dead_letters"
)

// webhookRecord is one subscription with its secret and its custom
// headers' values (which cairn.Webhook never serializes), its cursor and
// its pending dead letters.
type webhookRecord struct {
	Webhook     *cairn.Webhook      `json:"webhook"`
	Secret      string              `json:"secret"`
	Headers     map[string]string   `json:"headers,omitempty"`
	Cursor      int64               `json:"cursor"`
	DeadLetters []*cairn.DeadLetter `json:"dead_letters"`
}

// deadLetterPage is the largest page of dead letters a store returns;
// a status with that many cannot be read whole.
const deadLetterPage = 1000

// walkWebhooks reads every subscription.
func (w *walker) walkWebhooks(ctx context.Context, fn func(context.Context, []webhookRecord) error) error {
	ws, err := w.src.Meta.ListWebhooks(ctx)
	if err != nil {
		return err
	}
	for batch := range slices.Chunk(ws, max(w.batch, 1)) {
		rs := make([]webhookRecord, 0, len(batch))
		for _, wh := range batch {
			st, err := w.src.Meta.GetWebhookState(ctx, wh.ID)
			if err != nil {
				return err
			}
			r := webhookRecord{Webhook: wh, Secret: wh.Secret, Headers: wh.Headers, Cursor: st.Cursor, DeadLetters: []*cairn.DeadLetter{}}
			for _, status := range []string{cairn.DeadLetterDead, cairn.DeadLetterQueued} {
				dls, err := w.src.Meta.ListDeadLetters(ctx, wh.ID, status, deadLetterPage)
				if err != nil {
					return err
				}
				if len(dls) >= deadLetterPage {
					return cairn.Errorf(cairn.EFAILEDPRECONDITION,
						"webhook %s has %d or more dead letters in status %s, more than a copy carries: redeliver them (cairn webhooks redeliver) or delete the subscription first",
						wh.ID, deadLetterPage, status)
				}
				r.DeadLetters = append(r.DeadLetters, dls...)
			}
			rs = append(rs, r)
		}
		if err := fn(ctx, rs); err != nil {
			return err
		}
	}
	return nil
}

// importWebhooks writes subscriptions, their cursors and dead letters. A
// subscription the target has already is skipped if it is the same, and
// is an error if it differs; its cursor and dead letters are then left as
// the target has them (its dispatchers may have moved on).
func (c *copier) importWebhooks(ctx context.Context, rs []webhookRecord) error {
	return c.importBatch(ctx, func(tx cairn.Tx, _ cairn.Importer) error {
		for _, r := range rs {
			if r.Webhook == nil {
				return cairn.Errorf(cairn.EINVALID, "a webhook record without a subscription")
			}
			w := *r.Webhook
			w.Secret, w.Headers, w.HeaderNames = r.Secret, r.Headers, nil
			if w.Format == "" {
				w.Format = cairn.WebhookStandard
			}
			// Look first: on PostgreSQL a refused insert would abort the
			// transaction.
			got, err := tx.GetWebhook(ctx, w.ID)
			switch {
			case err == nil:
				if err := sameWebhook(got, &w); err != nil {
					return err
				}
				c.batch.Skipped[KindWebhooks]++
				continue
			case !cairn.IsCode(err, cairn.ENOTFOUND):
				return err
			}
			if err := c.count(KindWebhooks, tx.CreateWebhook(ctx, &w)); err != nil {
				return err
			}
			if err := tx.PutWebhookState(ctx, &cairn.WebhookState{WebhookID: w.ID, Cursor: r.Cursor}); err != nil {
				return err
			}
			for _, dl := range r.DeadLetters {
				if dl.WebhookID != w.ID {
					return cairn.Errorf(cairn.EINVALID, "webhook %s: a dead letter of %s", w.ID, dl.WebhookID)
				}
				if err := c.count(KindDeadLetters, tx.PutDeadLetter(ctx, dl)); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

func sameWebhook(got, w *cairn.Webhook) error {
	if got.URL != w.URL || got.Secret != w.Secret || got.Format != w.Format || got.Name != w.Name ||
		!slices.Equal(got.Types, w.Types) || got.Model != w.Model || got.Alias != w.Alias ||
		string(got.Template) != string(w.Template) || !sameHeaders(got.Headers, w.Headers) || !got.CreatedAt.Equal(w.CreatedAt) {
		return cairn.Errorf(cairn.EFAILEDPRECONDITION, "the target has a different webhook %s", w.ID)
	}
	return nil
}

func sameHeaders(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
