package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"time"

	"github.com/cairn-registry/cairn"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

const webhookColumns = `id, url, secret, event_types, model, alias, description, active, created_by, created_at, updated_at, name, format, template, headers`

func scanWebhook(row pgx.Row) (*cairn.Webhook, error) {
	var (
		w                  cairn.Webhook
		types, template    string
		headers            []byte
		created, updatedAt int64
	)
	if err := row.Scan(&w.ID, &w.URL, &w.Secret, &types, &w.Model, &w.Alias, &w.Description, &w.Active, &w.CreatedBy, &created, &updatedAt, &w.Name, &w.Format, &template, &headers); err != nil {
		return nil, err
	}
	if err := decodeJSON("webhooks.headers", headers, &w.Headers); err != nil {
		return nil, err
	}
	if len(w.Headers) == 0 {
		w.Headers = nil
	}
	if err := decodeJSON("event_types", []byte(types), &w.Types); err != nil {
		return nil, err
	}
	w.Types = strings0(w.Types)
	if template != "" {
		w.Template = json.RawMessage(template)
	}
	w.CreatedAt, w.UpdatedAt = fromMicros(created), fromMicros(updatedAt)
	return &w, nil
}

// GetWebhook returns a subscription, its secret included; ENOTFOUND.
func (r reader) GetWebhook(ctx context.Context, id string) (*cairn.Webhook, error) {
	w, err := scanWebhook(r.q.QueryRow(ctx, `SELECT `+webhookColumns+` FROM webhooks WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, cairn.Errorf(cairn.ENOTFOUND, "webhook %q not found", id)
	}
	if err != nil {
		return nil, translate(err, "get webhook %q", id)
	}
	return w, nil
}

// ListWebhooks returns every subscription, oldest first.
func (r reader) ListWebhooks(ctx context.Context) ([]*cairn.Webhook, error) {
	rows, err := r.q.Query(ctx, `SELECT `+webhookColumns+` FROM webhooks ORDER BY created_at, id`)
	if err != nil {
		return nil, translate(err, "list webhooks")
	}
	defer rows.Close()
	out := []*cairn.Webhook{}
	for rows.Next() {
		w, err := scanWebhook(rows)
		if err != nil {
			return nil, translate(err, "list webhooks")
		}
		out = append(out, w)
	}
	return out, translate(rows.Err(), "list webhooks")
}

// CreateWebhook inserts w and its state, the cursor at the last event
// appended so far.
func (t *tx) CreateWebhook(ctx context.Context, w *cairn.Webhook) error {
	types, err := encodeJSON("event_types", strings0(w.Types))
	if err != nil {
		return err
	}
	headers, err := encodeJSON("headers", headerMap(w.Headers))
	if err != nil {
		return err
	}
	_, err = t.q.Exec(ctx, `INSERT INTO webhooks (`+webhookColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15::jsonb)`,
		w.ID, w.URL, w.Secret, types, w.Model, w.Alias, w.Description, w.Active, w.CreatedBy, micros(w.CreatedAt), micros(w.UpdatedAt),
		w.Name, w.Format, string(w.Template), headers)
	if err != nil {
		return translate(err, "create webhook %q", w.ID)
	}
	_, err = t.q.Exec(ctx, `INSERT INTO webhook_state (webhook_id, cursor)
		SELECT $1, value FROM counters WHERE name = 'event'`, w.ID)
	return translate(err, "create webhook state")
}

// UpdateWebhook writes w's mutable fields; ENOTFOUND.
func (t *tx) UpdateWebhook(ctx context.Context, w *cairn.Webhook) error {
	types, err := encodeJSON("event_types", strings0(w.Types))
	if err != nil {
		return err
	}
	headers, err := encodeJSON("headers", headerMap(w.Headers))
	if err != nil {
		return err
	}
	tag, err := t.q.Exec(ctx, `UPDATE webhooks SET url = $1, secret = $2, event_types = $3, model = $4, alias = $5,
		description = $6, active = $7, updated_at = $8, name = $9, format = $10, template = $11, headers = $12::jsonb WHERE id = $13`,
		w.URL, w.Secret, types, w.Model, w.Alias, w.Description, w.Active, micros(w.UpdatedAt),
		w.Name, w.Format, string(w.Template), headers, w.ID)
	return webhookAffected(tag, err, "webhook %q not found", w.ID)
}

// headerMap is h, or an empty map for the headers column.
func headerMap(h map[string]string) map[string]string {
	if h == nil {
		return map[string]string{}
	}
	return h
}

// DeleteWebhook deletes a subscription and everything about its delivery.
func (t *tx) DeleteWebhook(ctx context.Context, id string) error {
	tag, err := t.q.Exec(ctx, `DELETE FROM webhooks WHERE id = $1`, id)
	return webhookAffected(tag, err, "webhook %q not found", id)
}

// webhookAffected turns an UPDATE or DELETE that changed no row into
// ENOTFOUND.
func webhookAffected(tag pgconn.CommandTag, err error, format string, args ...any) error {
	if err != nil {
		return translate(err, format, args...)
	}
	if tag.RowsAffected() == 0 {
		return cairn.Errorf(cairn.ENOTFOUND, format, args...)
	}
	return nil
}

// GetWebhookState returns a subscription's delivery state; ENOTFOUND.
func (r reader) GetWebhookState(ctx context.Context, id string) (*cairn.WebhookState, error) {
	st := cairn.WebhookState{WebhookID: id}
	var first, next int64
	err := r.q.QueryRow(ctx, `SELECT cursor, head_seq, attempts, first_attempt, next_attempt
		FROM webhook_state WHERE webhook_id = $1`, id).Scan(&st.Cursor, &st.HeadSeq, &st.Attempts, &first, &next)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, cairn.Errorf(cairn.ENOTFOUND, "webhook %q not found", id)
	}
	if err != nil {
		return nil, translate(err, "get webhook state %q", id)
	}
	st.FirstAttempt, st.NextAttempt = zeroMicros(first), zeroMicros(next)
	return &st, nil
}

// PutWebhookState writes a subscription's delivery state; ENOTFOUND.
func (t *tx) PutWebhookState(ctx context.Context, st *cairn.WebhookState) error {
	tag, err := t.q.Exec(ctx, `UPDATE webhook_state SET cursor = $1, head_seq = $2, attempts = $3,
		first_attempt = $4, next_attempt = $5 WHERE webhook_id = $6`,
		st.Cursor, st.HeadSeq, st.Attempts, toZeroMicros(st.FirstAttempt), toZeroMicros(st.NextAttempt), st.WebhookID)
	return webhookAffected(tag, err, "webhook %q not found", st.WebhookID)
}

// zeroMicros maps the column value 0 to the zero time.
func zeroMicros(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return fromMicros(us)
}

func toZeroMicros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return micros(t)
}

// AppendDelivery records an attempt and fills d.ID.
func (t *tx) AppendDelivery(ctx context.Context, d *cairn.Delivery) error {
	d.Time = cairn.Timestamp(d.Time)
	err := t.q.QueryRow(ctx, `INSERT INTO webhook_deliveries (webhook_id, event_seq, event_id, event_type,
		attempt, redelivery, at, outcome, status_code, latency_ms, response, error)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id`,
		d.WebhookID, d.EventSeq, d.EventID, d.EventType, d.Attempt, d.Redelivery, micros(d.Time),
		d.Outcome, d.StatusCode, d.LatencyMS, d.Response, d.Error).Scan(&d.ID)
	return translate(err, "record delivery to webhook %q", d.WebhookID)
}

// ListDeliveries lists attempts, newest first.
func (r reader) ListDeliveries(ctx context.Context, q cairn.DeliveryQuery) ([]*cairn.Delivery, error) {
	before := q.Before
	if before <= 0 {
		before = math.MaxInt64
	}
	rows, err := r.q.Query(ctx, `SELECT id, webhook_id, event_seq, event_id, event_type, attempt, redelivery,
		at, outcome, status_code, latency_ms, response, error
		FROM webhook_deliveries WHERE webhook_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3`,
		q.WebhookID, before, limit(q.Limit))
	if err != nil {
		return nil, translate(err, "list deliveries")
	}
	defer rows.Close()
	out := []*cairn.Delivery{}
	for rows.Next() {
		var (
			d  cairn.Delivery
			at int64
		)
		if err := rows.Scan(&d.ID, &d.WebhookID, &d.EventSeq, &d.EventID, &d.EventType, &d.Attempt, &d.Redelivery,
			&at, &d.Outcome, &d.StatusCode, &d.LatencyMS, &d.Response, &d.Error); err != nil {
			return nil, translate(err, "list deliveries")
		}
		d.Time = fromMicros(at)
		out = append(out, &d)
	}
	return out, translate(rows.Err(), "list deliveries")
}

// PutDeadLetter inserts or replaces a dead letter.
func (t *tx) PutDeadLetter(ctx context.Context, dl *cairn.DeadLetter) error {
	dl.DeadAt, dl.UpdatedAt = cairn.Timestamp(dl.DeadAt), cairn.Timestamp(dl.UpdatedAt)
	_, err := t.q.Exec(ctx, `INSERT INTO webhook_dead_letters (webhook_id, event_seq, event_id, event_type,
		status, attempts, last_error, dead_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
		ON CONFLICT (webhook_id, event_seq) DO UPDATE SET event_id = excluded.event_id, event_type = excluded.event_type,
		status = excluded.status, attempts = excluded.attempts, last_error = excluded.last_error,
		dead_at = excluded.dead_at, updated_at = excluded.updated_at`,
		dl.WebhookID, dl.EventSeq, dl.EventID, dl.EventType, dl.Status, dl.Attempts, dl.LastError, micros(dl.DeadAt), micros(dl.UpdatedAt))
	return translate(err, "put dead letter for webhook %q", dl.WebhookID)
}

// SwapDeadLetter updates a dead letter if it is still as prev has it.
// Under read committed the UPDATE re-checks its WHERE on the row it
// waited for, so two swaps from the same prev cannot both win.
func (t *tx) SwapDeadLetter(ctx context.Context, dl, prev *cairn.DeadLetter) (bool, error) {
	dl.UpdatedAt = cairn.Timestamp(dl.UpdatedAt)
	tag, err := t.q.Exec(ctx, `UPDATE webhook_dead_letters SET status = $1, attempts = $2, last_error = $3, updated_at = $4
		WHERE webhook_id = $5 AND event_seq = $6 AND status = $7 AND attempts = $8 AND updated_at = $9`,
		dl.Status, dl.Attempts, dl.LastError, micros(dl.UpdatedAt),
		dl.WebhookID, dl.EventSeq, prev.Status, prev.Attempts, micros(prev.UpdatedAt))
	if err != nil {
		return false, translate(err, "swap dead letter for webhook %q", dl.WebhookID)
	}
	return tag.RowsAffected() == 1, nil
}

// ListDeadLetters lists dead letters in sequence order.
func (r reader) ListDeadLetters(ctx context.Context, webhookID, status string, n int) ([]*cairn.DeadLetter, error) {
	rows, err := r.q.Query(ctx, `SELECT webhook_id, event_seq, event_id, event_type, status, attempts, last_error,
		dead_at, updated_at FROM webhook_dead_letters WHERE webhook_id = $1 AND ($2 = '' OR status = $2)
		ORDER BY event_seq LIMIT $3`, webhookID, status, limit(n))
	if err != nil {
		return nil, translate(err, "list dead letters")
	}
	defer rows.Close()
	out := []*cairn.DeadLetter{}
	for rows.Next() {
		var (
			dl           cairn.DeadLetter
			dead, update int64
		)
		if err := rows.Scan(&dl.WebhookID, &dl.EventSeq, &dl.EventID, &dl.EventType, &dl.Status, &dl.Attempts,
			&dl.LastError, &dead, &update); err != nil {
			return nil, translate(err, "list dead letters")
		}
		dl.DeadAt, dl.UpdatedAt = fromMicros(dead), fromMicros(update)
		out = append(out, &dl)
	}
	return out, translate(rows.Err(), "list dead letters")
}
