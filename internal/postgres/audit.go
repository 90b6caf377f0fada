package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/cairn-registry/cairn"
)

// nextSeq takes the next number of a counter ('audit' or 'event'). The
// UPDATE holds the counter's row lock until the transaction ends: a
// concurrent appender on any replica waits here, then reads the committed
// value. So numbers are gap-free in commit order (a rollback gives its
// number back), and whoever holds the lock is the only one appending.
func nextSeq(ctx context.Context, q querier, counter string) (int64, error) {
	var n int64
	if err := q.QueryRow(ctx, `UPDATE counters SET value = value + 1 WHERE name = $1 RETURNING value`, counter).Scan(&n); err != nil {
		return 0, translate(err, "take the next %s sequence number", counter)
	}
	return n, nil
}

// AppendAudit fills e.Seq, e.PrevHash and e.Hash and appends e. The 'audit'
// counter's row lock serializes appends, so the entry before e is committed
// by the time e gets its number and the chain never forks. e.Time is
// truncated to the microsecond first, as stored, so that the hash verifies
// against what is read back.
func (t *tx) AppendAudit(ctx context.Context, e *cairn.AuditEntry) error {
	seq, err := nextSeq(ctx, t.q, "audit")
	if err != nil {
		return err
	}
	prev := ""
	if seq > 1 {
		if err := t.q.QueryRow(ctx, `SELECT hash FROM audit_log WHERE seq = $1`, seq-1).Scan(&prev); err != nil {
			if errors.Is(err, pgx.ErrNoRows) {
				return cairn.Errorf(cairn.EINTERNAL, "audit log: entry %d is missing; the chain is broken", seq-1)
			}
			return translate(err, "audit log: read entry %d", seq-1)
		}
	}
	e.Seq, e.Time, e.PrevHash = seq, cairn.Timestamp(e.Time), prev
	e.Hash = e.ComputeHash(prev)
	_, err = t.q.Exec(ctx, `INSERT INTO audit_log
		(seq, at, actor, actor_verified, action, target, before, after, request_id, prev_hash, hash)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		e.Seq, micros(e.Time), e.Actor, e.ActorVerified, e.Action, e.Target,
		rawText(e.Before), rawText(e.After), e.RequestID, e.PrevHash, e.Hash)
	return translate(err, "append audit entry")
}

// ListAudit lists audit entries in sequence order, after q.AfterSeq,
// matching q's target prefix, actor, action and time range [Since, Until).
func (r reader) ListAudit(ctx context.Context, q cairn.AuditQuery) ([]*cairn.AuditEntry, error) {
	var a args
	sql := `SELECT seq, at, actor, actor_verified, action, target,
			before, after, request_id, prev_hash, hash
		FROM audit_log WHERE seq > ` + a.add(q.AfterSeq)
	if q.Target != "" {
		prefix, exact := cairn.AuditTargetPrefix(q.Target)
		sql += ` AND (target = ` + a.add(exact) + ` OR starts_with(target, ` + a.add(prefix) + `))`
	}
	if q.Actor != "" {
		sql += ` AND actor = ` + a.add(q.Actor)
	}
	if q.Action != "" {
		sql += ` AND action = ` + a.add(q.Action)
	}
	if !q.Since.IsZero() {
		sql += ` AND at >= ` + a.add(micros(q.Since))
	}
	if !q.Until.IsZero() {
		sql += ` AND at < ` + a.add(micros(q.Until))
	}
	sql += ` ORDER BY seq LIMIT ` + a.add(limit(q.Limit))
	rows, err := r.q.Query(ctx, sql, a...)
	if err != nil {
		return nil, translate(err, "list audit entries")
	}
	defer rows.Close()
	entries := []*cairn.AuditEntry{}
	for rows.Next() {
		var (
			e             cairn.AuditEntry
			at            int64
			before, after *string
		)
		if err := rows.Scan(&e.Seq, &at, &e.Actor, &e.ActorVerified, &e.Action, &e.Target,
			&before, &after, &e.RequestID, &e.PrevHash, &e.Hash); err != nil {
			return nil, translate(err, "list audit entries")
		}
		e.Time, e.Before, e.After = fromMicros(at), fromRawText(before), fromRawText(after)
		entries = append(entries, &e)
	}
	if err := rows.Err(); err != nil {
		return nil, translate(err, "list audit entries")
	}
	return entries, nil
}

// AppendEvent fills ev.Seq and appends ev. The 'event' counter's row lock
// makes sequence numbers gap-free in commit order. ECONFLICT if an event
// with ev.ID exists; the number taken is then given back, so the
// transaction may go on.
func (t *tx) AppendEvent(ctx context.Context, ev *cairn.Event) error {
	seq, err := nextSeq(ctx, t.q, "event")
	if err != nil {
		return err
	}
	ev.Time = cairn.Timestamp(ev.Time)
	var got int64
	err = t.q.QueryRow(ctx, `INSERT INTO events (seq, id, type, at, actor, model, alias, payload)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		ON CONFLICT (id) DO NOTHING
		RETURNING seq`,
		seq, ev.ID, ev.Type, micros(ev.Time), ev.Actor, ev.Model, ev.Alias, string(ev.Payload)).Scan(&got)
	if errors.Is(err, pgx.ErrNoRows) {
		if _, err := t.q.Exec(ctx, `UPDATE counters SET value = value - 1 WHERE name = 'event'`); err != nil {
			return translate(err, "give back event sequence number %d", seq)
		}
		return cairn.Errorf(cairn.ECONFLICT, "event %q already exists", ev.ID)
	}
	if err != nil {
		return translate(err, "append event")
	}
	ev.Seq = seq
	return nil
}

// ListEvents returns up to n events with Seq > after, in order: a
// primary-key range scan.
func (r reader) ListEvents(ctx context.Context, after int64, n int) ([]*cairn.Event, error) {
	rows, err := r.q.Query(ctx, `SELECT seq, id, type, at, actor, model, alias, payload
		FROM events WHERE seq > $1 ORDER BY seq LIMIT $2`, after, limit(n))
	if err != nil {
		return nil, translate(err, "list events")
	}
	defer rows.Close()
	events := []*cairn.Event{}
	for rows.Next() {
		var (
			ev      cairn.Event
			at      int64
			payload string
		)
		if err := rows.Scan(&ev.Seq, &ev.ID, &ev.Type, &at, &ev.Actor, &ev.Model, &ev.Alias, &payload); err != nil {
			return nil, translate(err, "list events")
		}
		ev.Time = fromMicros(at)
		if payload != "" {
			ev.Payload = []byte(payload)
		}
		events = append(events, &ev)
	}
	if err := rows.Err(); err != nil {
		return nil, translate(err, "list events")
	}
	return events, nil
}
