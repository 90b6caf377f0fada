package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/cairn-registry/cairn"
)

// GetAlias returns one alias of a model; ENOTFOUND if the model or the alias
// does not exist.
func (r reader) GetAlias(ctx context.Context, model, alias string) (*cairn.Alias, error) {
	a := cairn.Alias{Model: model, Name: alias}
	var at int64
	err := r.q.QueryRow(ctx, `SELECT a.version, a.updated_by, a.updated_at
		FROM aliases a JOIN models m ON m.id = a.model_id
		WHERE m.name = $1 AND a.name = $2`, model, alias).Scan(&a.Version, &a.UpdatedBy, &at)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, cairn.Errorf(cairn.ENOTFOUND, "alias %s@%s not found", model, alias)
	}
	if err != nil {
		return nil, translate(err, "get alias %s@%s", model, alias)
	}
	a.UpdatedAt = fromMicros(at)
	return &a, nil
}

// AliasHistory lists the moves of one alias, or of every alias of the model
// if alias is "", newest first. Page tokens are keyset cursors on seq, so
// moves made while a client pages do not shift the pages. ENOTFOUND if the
// model does not exist.
func (r reader) AliasHistory(ctx context.Context, model, alias string, page cairn.Page) (*cairn.AliasMovePage, error) {
	size, err := pageSize(page.Size)
	if err != nil {
		return nil, err
	}
	var before int64 // 0: from the newest
	if page.Token != "" {
		c, err := decodeCursor(page.Token)
		if err != nil {
			return nil, err
		}
		before = c.n
	}
	out := &cairn.AliasMovePage{Items: []*cairn.AliasMove{}}
	err = r.view(ctx, func(q querier) error {
		var modelID int64
		if err := q.QueryRow(ctx, `SELECT id FROM models WHERE name = $1`, model).Scan(&modelID); err != nil {
			if errors.Is(err, pgx.ErrNoRows) {
				return cairn.Errorf(cairn.ENOTFOUND, "model %q not found", model)
			}
			return translate(err, "alias history of %q", model)
		}
		var a args
		sql := `SELECT seq, alias, from_version, to_version, actor, at, request_id, origin
			FROM alias_history WHERE model_id = ` + a.add(modelID)
		if alias != "" {
			sql += ` AND alias = ` + a.add(alias)
		}
		if before > 0 {
			sql += ` AND seq < ` + a.add(before)
		}
		sql += ` ORDER BY seq DESC LIMIT ` + a.add(size+1)
		rows, err := q.Query(ctx, sql, a...)
		if err != nil {
			return translate(err, "alias history of %q", model)
		}
		defer rows.Close()
		for rows.Next() {
			m := cairn.AliasMove{Model: model}
			var from, to *int64
			var at int64
			var origin []byte
			if err := rows.Scan(&m.Seq, &m.Alias, &from, &to, &m.Actor, &at, &m.RequestID, &origin); err != nil {
				return translate(err, "alias history of %q", model)
			}
			m.From, m.To, m.At = fromNullInt64(from), fromNullInt64(to), fromMicros(at)
			if m.Origin, err = decodeOrigin(origin); err != nil {
				return err
			}
			out.Items = append(out.Items, &m)
		}
		return translate(rows.Err(), "alias history of %q", model)
	})
	if err != nil {
		return nil, err
	}
	if len(out.Items) > size {
		out.Items = out.Items[:size]
		out.NextToken = cursor{n: out.Items[size-1].Seq}.encode()
	}
	return out, nil
}

// MoveAlias points m.Alias at version m.To, or deletes it if m.To is 0, and
// appends m to the alias's history, filling m.Seq. ENOTFOUND if the model or
// the target version does not exist, or if m deletes an alias that does not
// exist; neither aborts the transaction. The caller holds the model's lock
// (LockModel), which is what makes m.From the alias's current version.
func (t *tx) MoveAlias(ctx context.Context, m *cairn.AliasMove) error {
	ref := m.Model + "@" + m.Alias
	var modelID int64
	if m.To == 0 {
		err := t.q.QueryRow(ctx, `DELETE FROM aliases a USING models m
			WHERE m.id = a.model_id AND m.name = $1 AND a.name = $2
			RETURNING a.model_id`, m.Model, m.Alias).Scan(&modelID)
		if errors.Is(err, pgx.ErrNoRows) {
			return cairn.Errorf(cairn.ENOTFOUND, "alias %s not found", ref)
		}
		if err != nil {
			return translate(err, "delete alias %s", ref)
		}
	} else {
		// INSERT … SELECT finds the version first, so a missing one is no
		// row rather than a foreign-key error that would abort the
		// transaction.
		err := t.q.QueryRow(ctx, `INSERT INTO aliases (model_id, name, version, updated_by, updated_at)
			SELECT v.model_id, $2, v.number, $4, $5
			FROM versions v JOIN models m ON m.id = v.model_id
			WHERE m.name = $1 AND v.number = $3
			ON CONFLICT (model_id, name) DO UPDATE
			SET version = excluded.version, updated_by = excluded.updated_by, updated_at = excluded.updated_at
			RETURNING model_id`,
			m.Model, m.Alias, m.To, m.Actor, micros(m.At)).Scan(&modelID)
		if errors.Is(err, pgx.ErrNoRows) {
			return cairn.Errorf(cairn.ENOTFOUND, "cannot point %s at version %d: %s not found",
				ref, m.To, cairn.VersionRef(m.Model, m.To))
		}
		if err != nil {
			return translate(err, "set alias %s", ref)
		}
	}
	origin, err := encodeOrigin(m.Origin)
	if err != nil {
		return err
	}
	err = t.q.QueryRow(ctx, `INSERT INTO alias_history
		(model_id, alias, from_version, to_version, actor, at, request_id, origin)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb)
		RETURNING seq`,
		modelID, m.Alias, nullInt64(m.From), nullInt64(m.To), m.Actor, micros(m.At), m.RequestID, origin).Scan(&m.Seq)
	return translate(err, "record the move of alias %s", ref)
}

// encodeOrigin encodes a move's origin for the origin column, NULL if none.
func encodeOrigin(o *cairn.MoveOrigin) (*string, error) {
	if o == nil {
		return nil, nil
	}
	s, err := encodeJSON("origin", o)
	return &s, err
}

func decodeOrigin(b []byte) (*cairn.MoveOrigin, error) {
	if len(b) == 0 {
		return nil, nil
	}
	o := new(cairn.MoveOrigin)
	if err := decodeJSON("alias_history.origin", b, o); err != nil {
		return nil, err
	}
	return o, nil
}
