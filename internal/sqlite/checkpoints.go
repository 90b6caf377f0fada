package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/cairn-registry/cairn"
)

// AuditHead returns the audit counter: the seq of the last entry appended.
func (db *DB) AuditHead(ctx context.Context) (int64, error) {
	return view(ctx, db, func(t *tx) (int64, error) { return t.AuditHead(ctx) })
}

func (t *tx) AuditHead(ctx context.Context) (int64, error) {
	var n int64
	err := t.queryRow(ctx, `SELECT value FROM counters WHERE name = 'audit'`).Scan(&n)
	return n, translate(err, "read the audit counter")
}

// PutAuditCheckpoint stores c; ECONFLICT if a checkpoint with c.Seq exists.
func (t *tx) PutAuditCheckpoint(ctx context.Context, c *cairn.AuditCheckpoint) error {
	res, err := t.exec(ctx, `INSERT INTO audit_checkpoints (seq, hash, at, key_id, signature)
		VALUES (?, ?, ?, ?, ?) ON CONFLICT (seq) DO NOTHING`,
		c.Seq, c.Hash, micros(c.Time), c.KeyID, c.Signature)
	if err != nil {
		return translate(err, "store audit checkpoint %d", c.Seq)
	}
	if n, err := res.RowsAffected(); err != nil {
		return translate(err, "store audit checkpoint %d", c.Seq)
	} else if n == 0 {
		return cairn.Errorf(cairn.ECONFLICT, "audit checkpoint %d exists", c.Seq)
	}
	return nil
}

// ListAuditCheckpoints returns up to n checkpoints after seq after, in order.
func (db *DB) ListAuditCheckpoints(ctx context.Context, after int64, n int) ([]*cairn.AuditCheckpoint, error) {
	return view(ctx, db, func(t *tx) ([]*cairn.AuditCheckpoint, error) { return t.ListAuditCheckpoints(ctx, after, n) })
}

func (t *tx) ListAuditCheckpoints(ctx context.Context, after int64, n int) ([]*cairn.AuditCheckpoint, error) {
	rows, err := t.query(ctx, `SELECT seq, hash, at, key_id, signature FROM audit_checkpoints
		WHERE seq > ? ORDER BY seq LIMIT ?`, after, limit(n))
	if err != nil {
		return nil, translate(err, "list audit checkpoints")
	}
	defer rows.Close()
	out := []*cairn.AuditCheckpoint{}
	for rows.Next() {
		var (
			c  cairn.AuditCheckpoint
			at int64
		)
		if err := rows.Scan(&c.Seq, &c.Hash, &at, &c.KeyID, &c.Signature); err != nil {
			return nil, translate(err, "list audit checkpoints")
		}
		c.Time = fromMicros(at)
		out = append(out, &c)
	}
	if err := rows.Err(); err != nil {
		return nil, translate(err, "list audit checkpoints")
	}
	return out, nil
}

// AliasAt returns the last move of an alias at or before at. ENOTFOUND if
// the model does not exist or the alias had not been set by then.
func (db *DB) AliasAt(ctx context.Context, model, alias string, at time.Time) (*cairn.AliasMove, error) {
	return view(ctx, db, func(t *tx) (*cairn.AliasMove, error) { return t.AliasAt(ctx, model, alias, at) })
}

func (t *tx) AliasAt(ctx context.Context, model, alias string, at time.Time) (*cairn.AliasMove, error) {
	modelID, err := t.modelID(ctx, model)
	if err != nil {
		return nil, err
	}
	m := &cairn.AliasMove{Model: model, Alias: alias}
	var (
		from, to sql.NullInt64
		us       int64
		origin   sql.NullString
	)
	err = t.queryRow(ctx, `SELECT seq, from_version, to_version, actor, at, request_id, origin
		FROM alias_history WHERE model_id = ? AND alias = ? AND at <= ?
		ORDER BY at DESC, seq DESC LIMIT 1`, modelID, alias, micros(at)).
		Scan(&m.Seq, &from, &to, &m.Actor, &us, &m.RequestID, &origin)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, cairn.Errorf(cairn.ENOTFOUND, "alias %s@%s was not set at %s", model, alias, at.UTC().Format(time.RFC3339Nano))
	}
	if err != nil {
		return nil, translate(err, "read the history of alias %s@%s", model, alias)
	}
	m.From, m.To, m.At = from.Int64, to.Int64, fromMicros(us)
	if m.Origin, err = decodeOrigin(origin); err != nil {
		return nil, err
	}
	return m, nil
}
