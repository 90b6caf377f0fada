package sqlite

import (
	"context"
	"database/sql"
	"errors"

	"github.com/cairn-registry/cairn"
)

// getAliasSQL is a hot read path; plan_test.go checks its plan.
const getAliasSQL = `SELECT m.name, a.name, a.version, a.updated_by, a.updated_at
	FROM aliases a JOIN models m ON m.id = a.model_id
	WHERE m.name = ? AND a.name = ?`

// GetAlias returns an alias; ENOTFOUND if the model or the alias does not
// exist.
func (db *DB) GetAlias(ctx context.Context, model, alias string) (*cairn.Alias, error) {
	return single(ctx, db, func(t *tx) (*cairn.Alias, error) { return t.GetAlias(ctx, model, alias) })
}

func (t *tx) GetAlias(ctx context.Context, model, alias string) (*cairn.Alias, error) {
	a := cairn.Alias{}
	var at int64
	err := t.queryRow(ctx, getAliasSQL, model, alias).
		Scan(&a.Model, &a.Name, &a.Version, &a.UpdatedBy, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, cairn.Errorf(cairn.ENOTFOUND, "alias %s@%s not found", model, alias)
	}
	if err != nil {
		return nil, translate(err, "get alias %s@%s", model, alias)
	}
	a.UpdatedAt = fromMicros(at)
	return &a, nil
}

// MoveAlias points m.Alias at m.To, or deletes it if m.To is 0, and
// appends m to the history, filling m.Seq. It records m.From as given: the
// caller read the alias in the same transaction. ENOTFOUND if the model or
// the target version does not exist, or if a deleted alias was not set.
func (t *tx) MoveAlias(ctx context.Context, m *cairn.AliasMove) error {
	modelID, err := t.modelID(ctx, m.Model)
	if err != nil {
		return err
	}
	if m.To == 0 {
		res, err := t.exec(ctx, `DELETE FROM aliases WHERE model_id = ? AND name = ?`, modelID, m.Alias)
		if err := expectOne(res, err, "alias %s@%s", m.Model, m.Alias); err != nil {
			return err
		}
	} else {
		var one int
		err := t.queryRow(ctx, `SELECT 1 FROM versions WHERE model_id = ? AND number = ?`,
			modelID, m.To).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return cairn.Errorf(cairn.ENOTFOUND, "version %s not found", cairn.VersionRef(m.Model, m.To))
		}
		if err != nil {
			return translate(err, "move alias %s@%s", m.Model, m.Alias)
		}
		_, err = t.exec(ctx, `INSERT INTO aliases (model_id, name, version, updated_by, updated_at)
			VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (model_id, name) DO UPDATE
			SET version = excluded.version, updated_by = excluded.updated_by, updated_at = excluded.updated_at`,
			modelID, m.Alias, m.To, m.Actor, micros(m.At))
		if err != nil {
			return translate(err, "move alias %s@%s", m.Model, m.Alias)
		}
	}
	origin, err := encodeOrigin(m.Origin)
	if err != nil {
		return err
	}
	err = t.queryRow(ctx, `INSERT INTO alias_history
		(model_id, alias, from_version, to_version, actor, at, request_id, origin)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING seq`,
		modelID, m.Alias, nullInt64(m.From), nullInt64(m.To), m.Actor, micros(m.At), m.RequestID, origin).Scan(&m.Seq)
	return translate(err, "record move of alias %s@%s", m.Model, m.Alias)
}

// AliasHistory lists the moves of one alias of a model, or of all its
// aliases if alias is "", newest first. Pages are keyed by sequence
// number, so moves made while a client pages through do not shift the
// pages. ENOTFOUND if the model does not exist.
func (db *DB) AliasHistory(ctx context.Context, model, alias string, page cairn.Page) (*cairn.AliasMovePage, error) {
	return view(ctx, db, func(t *tx) (*cairn.AliasMovePage, error) { return t.AliasHistory(ctx, model, alias, page) })
}

func (t *tx) AliasHistory(ctx context.Context, model, alias string, page cairn.Page) (*cairn.AliasMovePage, error) {
	size, err := pageSize(page.Size)
	if err != nil {
		return nil, err
	}
	modelID, err := t.modelID(ctx, model)
	if err != nil {
		return nil, err
	}
	// The model's current name, not a stored one: history follows renames.
	query := `SELECT seq, alias, from_version, to_version, actor, at, request_id, origin
		FROM alias_history WHERE model_id = ?`
	args := []any{modelID}
	if alias != "" {
		query += ` AND alias = ?`
		args = append(args, alias)
	}
	if page.Token != "" {
		c, err := decodeCursor(page.Token)
		if err != nil {
			return nil, err
		}
		query += ` AND seq < ?`
		args = append(args, c.n)
	}
	query += ` ORDER BY seq DESC LIMIT ?`
	args = append(args, size+1)
	rows, err := t.query(ctx, query, args...)
	if err != nil {
		return nil, translate(err, "list alias history of %q", model)
	}
	defer rows.Close()
	out := &cairn.AliasMovePage{Items: []*cairn.AliasMove{}}
	for rows.Next() {
		if len(out.Items) == size {
			out.NextToken = cursor{n: out.Items[size-1].Seq}.encode()
			break
		}
		m := &cairn.AliasMove{Model: model}
		var (
			from, to sql.NullInt64
			at       int64
			origin   sql.NullString
		)
		if err := rows.Scan(&m.Seq, &m.Alias, &from, &to, &m.Actor, &at, &m.RequestID, &origin); err != nil {
			return nil, translate(err, "list alias history of %q", model)
		}
		m.From, m.To, m.At = from.Int64, to.Int64, fromMicros(at)
		if m.Origin, err = decodeOrigin(origin); err != nil {
			return nil, err
		}
		out.Items = append(out.Items, m)
	}
	if err := rows.Err(); err != nil {
		return nil, translate(err, "list alias history of %q", model)
	}
	return out, nil
}

// encodeOrigin encodes a move's origin for the origin column, NULL if none.
func encodeOrigin(o *cairn.MoveOrigin) (any, error) {
	if o == nil {
		return nil, nil
	}
	return encodeJSON(o)
}

func decodeOrigin(s sql.NullString) (*cairn.MoveOrigin, error) {
	if !s.Valid {
		return nil, nil
	}
	o := new(cairn.MoveOrigin)
	if err := decodeJSON("alias_history.origin", s.String, o); err != nil {
		return nil, err
	}
	return o, nil
}
