package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"math"
	"time"

	"github.com/cairn-registry/cairn"
)

const webhookColumns = `id, url, secret, event_types, model, alias, description, active, created_by, created_at, updated_at, name, format, template, headers`

func scanWebhook(s scanner) (*cairn.Webhook, error) {
	var (
		w                  cairn.Webhook
		types, template    string
		headers            string
		active             int
		created, updatedAt int64
	)
	if err := s.Scan(&w.ID, &w.URL, &w.Secret, &types, &w.Model, &w.Alias, &w.Description, &active, &w.CreatedBy, &created, &updatedAt, &w.Name, &w.Format, &template, &headers); err != nil {
		return nil, err
	}
	if err := decodeJSON("webhooks.headers", headers, &w.Headers); err != nil {
		return nil, err
	}
	if len(w.Headers) == 0 {
		w.Headers = nil
	}
	if err := decodeJSON("event_types", types, &w.Types); err != nil {
		return nil, err
	}
	w.Types = strings0(w.Types)
	if template != "" {
		w.Template = json.RawMessage(template)
	}
	w.Active = active != 0
	w.CreatedAt, w.UpdatedAt = fromMicros(created), fromMicros(updatedAt)
	return &w, nil
}

// GetWebhook returns a subscription, its secret included; ENOTFOUND.
func (db *DB) GetWebhook(ctx context.Context, id string) (*cairn.Webhook, error) {
	return view(ctx, db, func(t *tx) (*cairn.Webhook, error) { return t.GetWebhook(ctx, id) })
}

func (t *tx) GetWebhook(ctx context.Context, id string) (*cairn.Webhook, error) {
	w, err := scanWebhook(t.queryRow(ctx, `SELECT `+webhookColumns+` FROM webhooks WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, cairn.Errorf(cairn.ENOTFOUND, "webhook %q not found", id)
	}
	if err != nil {
		return nil, translate(err, "get webhook %q", id)
	}
	return w, nil
}

// ListWebhooks returns every subscription, oldest first.
func (db *DB) ListWebhooks(ctx context.Context) ([]*cairn.Webhook, error) {
	return view(ctx, db, func(t *tx) ([]*cairn.Webhook, error) { return t.ListWebhooks(ctx) })
}

func (t *tx) ListWebhooks(ctx context.Context) ([]*cairn.Webhook, error) {
	rows, err := t.query(ctx, `SELECT `+webhookColumns+` FROM webhooks ORDER BY created_at, id`)
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

// CreateWebhook inserts w and its state, the cursor at the last event.
func (t *tx) CreateWebhook(ctx context.Context, w *cairn.Webhook) error {
	types, err := encodeJSON(strings0(w.Types))
	if err != nil {
		return err
	}
	headers, err := encodeJSON(headerMap(w.Headers))
	if err != nil {
		return err
	}
	_, err = t.exec(ctx, `INSERT INTO webhooks (`+webhookColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		w.ID, w.URL, w.Secret, types, w.Model, w.Alias, w.Description, boolInt(w.Active), w.CreatedBy, micros(w.CreatedAt), micros(w.UpdatedAt),
		w.Name, w.Format, string(w.Template), headers)
	if isUnique(err) {
		return cairn.WrapError(cairn.ECONFLICT, err, "webhook %q already exists", w.ID)
	}
	if err != nil {
		return translate(err, "create webhook")
	}
	_, err = t.exec(ctx, `INSERT INTO webhook_state (webhook_id, cursor)
		SELECT ?, value FROM counters WHERE name = 'event'`, w.ID)
	return translate(err, "create webhook state")
}

// UpdateWebhook writes w's mutable fields; ENOTFOUND.
func (t *tx) UpdateWebhook(ctx context.Context, w *cairn.Webhook) error {
	types, err := encodeJSON(strings0(w.Types))
	if err != nil {
		return err
	}
	headers, err := encodeJSON(headerMap(w.Headers))
	if err != nil {
		return err
	}
	res, err := t.exec(ctx, `UPDATE webhooks SET url = ?, secret = ?, event_types = ?, model = ?, alias = ?,
		description = ?, active = ?, updated_at = ?, name = ?, format = ?, template = ?, headers = ? WHERE id = ?`,
		w.URL, w.Secret, types, w.Model, w.Alias, w.Description, boolInt(w.Active), micros(w.UpdatedAt),
		w.Name, w.Format, string(w.Template), headers, w.ID)
	return t.webhookAffected(res, err, "webhook %q not found", w.ID)
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
	res, err := t.exec(ctx, `DELETE FROM webhooks WHERE id = ?`, id)
	return t.webhookAffected(res, err, "webhook %q not found", id)
}

// webhookAffected turns an UPDATE or DELETE that changed no row into ENOTFOUND.
func (t *tx) webhookAffected(res sql.Result, err error, format string, args ...any) error {
	if err != nil {
		return translate(err, format, args...)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return translate(err, format, args...)
	}
	if n == 0 {
		return cairn.Errorf(cairn.ENOTFOUND, format, args...)
	}
	return nil
}

// GetWebhookState returns a subscription's delivery state; ENOTFOUND.
func (db *DB) GetWebhookState(ctx context.Context, id string) (*cairn.WebhookState, error) {
	return view(ctx, db, func(t *tx) (*cairn.WebhookState, error) { return t.GetWebhookState(ctx, id) })
}

func (t *tx) GetWebhookState(ctx context.Context, id string) (*cairn.WebhookState, error) {
	st := cairn.WebhookState{WebhookID: id}
	var first, next int64
	err := t.queryRow(ctx, `SELECT cursor, head_seq, attempts, first_attempt, next_attempt
		FROM webhook_state WHERE webhook_id = ?`, id).Scan(&st.Cursor, &st.HeadSeq, &st.Attempts, &first, &next)
	if errors.Is(err, sql.ErrNoRows) {
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
	res, err := t.exec(ctx, `UPDATE webhook_state SET cursor = ?, head_seq = ?, attempts = ?,
		first_attempt = ?, next_attempt = ? WHERE webhook_id = ?`,
		st.Cursor, st.HeadSeq, st.Attempts, toZeroMicros(st.FirstAttempt), toZeroMicros(st.NextAttempt), st.WebhookID)
	return t.webhookAffected(res, err, "webhook %q not found", st.WebhookID)
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
	err := t.queryRow(ctx, `INSERT INTO webhook_deliveries (webhook_id, event_seq, event_id, event_type,
		attempt, redelivery, at, outcome, status_code, latency_ms, response, error)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		d.WebhookID, d.EventSeq, d.EventID, d.EventType, d.Attempt, boolInt(d.Redelivery), micros(d.Time),
		d.Outcome, d.StatusCode, d.LatencyMS, d.Response, d.Error).Scan(&d.ID)
	if isForeignKey(err) {
		return cairn.WrapError(cairn.ENOTFOUND, err, "webhook %q not found", d.WebhookID)
	}
	return translate(err, "record delivery")
}

// ListDeliveries lists attempts, newest first.
func (db *DB) ListDeliveries(ctx context.Context, q cairn.DeliveryQuery) ([]*cairn.Delivery, error) {
	return view(ctx, db, func(t *tx) ([]*cairn.Delivery, error) { return t.ListDeliveries(ctx, q) })
}

func (t *tx) ListDeliveries(ctx context.Context, q cairn.DeliveryQuery) ([]*cairn.Delivery, error) {
	before := q.Before
	if before <= 0 {
		before = math.MaxInt64
	}
	rows, err := t.query(ctx, `SELECT id, webhook_id, event_seq, event_id, event_type, attempt, redelivery,
		at, outcome, status_code, latency_ms, response, error
		FROM webhook_deliveries WHERE webhook_id = ? AND id < ? ORDER BY id DESC LIMIT ?`,
		q.WebhookID, before, limit(q.Limit))
	if err != nil {
		return nil, translate(err, "list deliveries")
	}
	defer rows.Close()
	out := []*cairn.Delivery{}
	for rows.Next() {
		var (
			d          cairn.Delivery
			redelivery int
			at         int64
		)
		if err := rows.Scan(&d.ID, &d.WebhookID, &d.EventSeq, &d.EventID, &d.EventType, &d.Attempt, &redelivery,
			&at, &d.Outcome, &d.StatusCode, &d.LatencyMS, &d.Response, &d.Error); err != nil {
			return nil, translate(err, "list deliveries")
		}
		d.Redelivery, d.Time = redelivery != 0, fromMicros(at)
		out = append(out, &d)
	}
	return out, translate(rows.Err(), "list deliveries")
}

// PutDeadLetter inserts or replaces a dead letter.
func (t *tx) PutDeadLetter(ctx context.Context, dl *cairn.DeadLetter) error {
	dl.DeadAt, dl.UpdatedAt = cairn.Timestamp(dl.DeadAt), cairn.Timestamp(dl.UpdatedAt)
	_, err := t.exec(ctx, `INSERT INTO webhook_dead_letters (webhook_id, event_seq, event_id, event_type,
		status, attempts, last_error, dead_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (webhook_id, event_seq) DO UPDATE SET event_id = excluded.event_id, event_type = excluded.event_type,
		status = excluded.status, attempts = excluded.attempts, last_error = excluded.last_error,
		dead_at = excluded.dead_at, updated_at = excluded.updated_at`,
		dl.WebhookID, dl.EventSeq, dl.EventID, dl.EventType, dl.Status, dl.Attempts, dl.LastError, micros(dl.DeadAt), micros(dl.UpdatedAt))
	if isForeignKey(err) {
		return cairn.WrapError(cairn.ENOTFOUND, err, "webhook %q not found", dl.WebhookID)
	}
	return translate(err, "put dead letter")
}

// SwapDeadLetter updates a dead letter if it is still as prev has it.
func (t *tx) SwapDeadLetter(ctx context.Context, dl, prev *cairn.DeadLetter) (bool, error) {
	dl.UpdatedAt = cairn.Timestamp(dl.UpdatedAt)
	res, err := t.exec(ctx, `UPDATE webhook_dead_letters SET status = ?, attempts = ?, last_error = ?, updated_at = ?
		WHERE webhook_id = ? AND event_seq = ? AND status = ? AND attempts = ? AND updated_at = ?`,
		dl.Status, dl.Attempts, dl.LastError, micros(dl.UpdatedAt),
		dl.WebhookID, dl.EventSeq, prev.Status, prev.Attempts, micros(prev.UpdatedAt))
	if err != nil {
		return false, translate(err, "swap dead letter")
	}
	n, err := res.RowsAffected()
	return n == 1, translate(err, "swap dead letter")
}

// ListDeadLetters lists dead letters in sequence order.
func (db *DB) ListDeadLetters(ctx context.Context, webhookID, status string, n int) ([]*cairn.DeadLetter, error) {
	return view(ctx, db, func(t *tx) ([]*cairn.DeadLetter, error) { return t.ListDeadLetters(ctx, webhookID, status, n) })
}

func (t *tx) ListDeadLetters(ctx context.Context, webhookID, status string, n int) ([]*cairn.DeadLetter, error) {
	rows, err := t.query(ctx, `SELECT webhook_id, event_seq, event_id, event_type, status, attempts, last_error,
		dead_at, updated_at FROM webhook_dead_letters WHERE webhook_id = ? AND (? = '' OR status = ?)
		ORDER BY event_seq LIMIT ?`, webhookID, status, status, limit(n))
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
