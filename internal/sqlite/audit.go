package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"strings"

	"github.com/cairn-registry/cairn"
)

// nextSeq bumps a row of the counters table and returns its new value. The
// bump happens inside the write transaction, so a rollback gives the number
// back and sequences stay gap-free in commit order.
func (t *tx) nextSeq(ctx context.Context, name string) (int64, error) {
	var n int64
	err := t.queryRow(ctx,
		`UPDATE counters SET value = value + 1 WHERE name = ? RETURNING value`, name).Scan(&n)
	if err != nil {
		return 0, translate(err, "next %s sequence number", name)
	}
	return n, nil
}

// AppendAudit fills e.Seq, e.PrevHash and e.Hash and appends e. e.Time is
// truncated to the microsecond first, the precision stored, so that the
// hash can be verified from what is read back. Before and After are stored
// byte for byte.
func (t *tx) AppendAudit(ctx context.Context, e *cairn.AuditEntry) error {
	seq, err := t.nextSeq(ctx, "audit")
	if err != nil {
		return err
	}
	prev := ""
	if seq > 1 {
		err := t.queryRow(ctx, `SELECT hash FROM audit_log WHERE seq = ?`, seq-1).Scan(&prev)
		if errors.Is(err, sql.ErrNoRows) {
			return cairn.Errorf(cairn.EINTERNAL, "audit log: entry %d is missing; the chain is broken", seq-1)
		}
		if err != nil {
			return translate(err, "read audit entry %d", seq-1)
		}
	}
	e.Seq = seq
	e.Time = cairn.Timestamp(e.Time)
	e.PrevHash = prev
	e.Hash = e.ComputeHash(prev)
	_, err = t.exec(ctx, `INSERT INTO audit_log
		(seq, at, actor, actor_verified, action, target, before, after, request_id, prev_hash, hash)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		e.Seq, micros(e.Time), e.Actor, boolInt(e.ActorVerified), e.Action, e.Target,
		nullBytes(e.Before), nullBytes(e.After), e.RequestID, e.PrevHash, e.Hash)
	return translate(err, "append audit entry")
}

// ListAudit returns audit entries in sequence order after q.AfterSeq,
// filtered by target prefix, actor, action and the time range [Since,
// Until), at most q.Limit (default 100, at most 1000).
func (db *DB) ListAudit(ctx context.Context, q cairn.AuditQuery) ([]*cairn.AuditEntry, error) {
	return view(ctx, db, func(t *tx) ([]*cairn.AuditEntry, error) { return t.ListAudit(ctx, q) })
}

func (t *tx) ListAudit(ctx context.Context, q cairn.AuditQuery) ([]*cairn.AuditEntry, error) {
	where := []string{`seq > ?`}
	args := []any{q.AfterSeq}
	if q.Target != "" {
		// A range rather than LIKE: no wildcard escaping, and the
		// audit_log_target index applies. 0xFF never occurs in UTF-8, so
		// every string with the prefix sorts below prefix+"\xff".
		prefix, exact := cairn.AuditTargetPrefix(q.Target)
		where = append(where, `(target = ? OR (target >= ? AND target < ?))`)
		args = append(args, exact, prefix, prefix+"\xff")
	}
	if q.Actor != "" {
		where = append(where, `actor = ?`)
		args = append(args, q.Actor)
	}
	if q.Action != "" {
		where = append(where, `action = ?`)
		args = append(args, q.Action)
	}
	if !q.Since.IsZero() {
		where = append(where, `at >= ?`)
		args = append(args, micros(q.Since))
	}
	if !q.Until.IsZero() {
		where = append(where, `at < ?`)
		args = append(args, micros(q.Until))
	}
	args = append(args, limit(q.Limit))
	rows, err := t.query(ctx, `SELECT seq, at, actor, actor_verified, action, target,
		before, after, request_id, prev_hash, hash
		FROM audit_log WHERE `+strings.Join(where, " AND ")+` ORDER BY seq LIMIT ?`, args...)
	if err != nil {
		return nil, translate(err, "list audit log")
	}
	defer rows.Close()
	out := []*cairn.AuditEntry{}
	for rows.Next() {
		var (
			e             cairn.AuditEntry
			at            int64
			before, after sql.NullString
		)
		if err := rows.Scan(&e.Seq, &at, &e.Actor, &e.ActorVerified, &e.Action, &e.Target,
			&before, &after, &e.RequestID, &e.PrevHash, &e.Hash); err != nil {
			return nil, translate(err, "list audit log")
		}
		e.Time = fromMicros(at)
		e.Before, e.After = rawOrNil(before), rawOrNil(after)
		out = append(out, &e)
	}
	if err := rows.Err(); err != nil {
		return nil, translate(err, "list audit log")
	}
	return out, nil
}

// AppendEvent fills ev.Seq, gap-free in commit order, and appends ev; ev.Time
// is truncated to the microsecond. ECONFLICT if an event with ev.ID exists.
func (t *tx) AppendEvent(ctx context.Context, ev *cairn.Event) error {
	seq, err := t.nextSeq(ctx, "event")
	if err != nil {
		return err
	}
	ev.Seq = seq
	ev.Time = cairn.Timestamp(ev.Time)
	_, err = t.exec(ctx, `INSERT INTO events (seq, id, type, at, actor, model, alias, payload)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		ev.Seq, ev.ID, ev.Type, micros(ev.Time), ev.Actor, ev.Model, ev.Alias, string(ev.Payload))
	if isUnique(err) {
		return cairn.WrapError(cairn.ECONFLICT, err, "event %q already exists", ev.ID)
	}
	return translate(err, "append event")
}

// ListEvents returns up to limit events (default 100, at most 1000) with
// Seq > after, in order.
func (db *DB) ListEvents(ctx context.Context, after int64, n int) ([]*cairn.Event, error) {
	return view(ctx, db, func(t *tx) ([]*cairn.Event, error) { return t.ListEvents(ctx, after, n) })
}

func (t *tx) ListEvents(ctx context.Context, after int64, n int) ([]*cairn.Event, error) {
	rows, err := t.query(ctx, `SELECT seq, id, type, at, actor, model, alias, payload
		FROM events WHERE seq > ? ORDER BY seq LIMIT ?`, after, limit(n))
	if err != nil {
		return nil, translate(err, "list events")
	}
	defer rows.Close()
	out := []*cairn.Event{}
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
		out = append(out, &ev)
	}
	if err := rows.Err(); err != nil {
		return nil, translate(err, "list events")
	}
	return out, nil
}
