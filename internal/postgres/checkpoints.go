package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cairn-registry/cairn"
)

// AuditHead returns the audit counter: the seq of the last entry appended.
func (r reader) AuditHead(ctx context.Context) (int64, error) {
	var n int64
	err := r.q.QueryRow(ctx, `SELECT value FROM counters WHERE name = 'audit'`).Scan(&n)
	return n, translate(err, "read the audit counter")
}

// PutAuditCheckpoint stores c; ECONFLICT, without aborting the
// transaction, if a checkpoint with c.Seq exists.
func (t *tx) PutAuditCheckpoint(ctx context.Context, c *cairn.AuditCheckpoint) error {
	tag, err := t.q.Exec(ctx, `INSERT INTO audit_checkpoints (seq, hash, at, key_id, signature)
		VALUES ($1, $2, $3, $4, $5) ON CONFLICT (seq) DO NOTHING`,
		c.Seq, c.Hash, micros(c.Time), c.KeyID, c.Signature)
	if err != nil {
		return translate(err, "store audit checkpoint %d", c.Seq)
	}
	if tag.RowsAffected() == 0 {
		return cairn.Errorf(cairn.ECONFLICT, "audit checkpoint %d exists", c.Seq)
	}
	return nil
}

// ListAuditCheckpoints returns up to n checkpoints after seq after, in order.
func (r reader) ListAuditCheckpoints(ctx context.Context, after int64, n int) ([]*cairn.AuditCheckpoint, error) {
	rows, err := r.q.Query(ctx, `SELECT seq, hash, at, key_id, signature FROM audit_checkpoints
		WHERE seq > $1 ORDER BY seq LIMIT $2`, after, limit(n))
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

// AliasAt returns the last move of an alias at or before at, in one
// query (the model's row, and the move through alias_history_at).
// ENOTFOUND if the model does not exist or the alias had not been set by
// then.
func (r reader) AliasAt(ctx context.Context, model, alias string, at time.Time) (*cairn.AliasMove, error) {
	var (
		seq, from, to, us *int64
		actor, reqID      *string
		origin            []byte
	)
	err := r.q.QueryRow(ctx, `SELECT h.seq, h.from_version, h.to_version, h.actor, h.at, h.request_id, h.origin
		FROM models m LEFT JOIN LATERAL (
			SELECT seq, from_version, to_version, actor, at, request_id, origin FROM alias_history
			WHERE model_id = m.id AND alias = $2 AND at <= $3
			ORDER BY at DESC, seq DESC LIMIT 1) h ON true
		WHERE m.name = $1`, model, alias, micros(at)).Scan(&seq, &from, &to, &actor, &us, &reqID, &origin)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, cairn.Errorf(cairn.ENOTFOUND, "model %q not found", model)
	}
	if err != nil {
		return nil, translate(err, "read the history of alias %s@%s", model, alias)
	}
	if seq == nil {
		return nil, cairn.Errorf(cairn.ENOTFOUND, "alias %s@%s was not set at %s", model, alias, at.UTC().Format(time.RFC3339Nano))
	}
	m := &cairn.AliasMove{Seq: *seq, Model: model, Alias: alias, Actor: *actor, At: fromMicros(*us), RequestID: *reqID}
	if from != nil {
		m.From = *from
	}
	if to != nil {
		m.To = *to
	}
	if m.Origin, err = decodeOrigin(origin); err != nil {
		return nil, err
	}
	return m, nil
}
