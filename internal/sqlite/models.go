package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/cairn-registry/cairn"
)

// modelColumns is what scanModel reads, in order, from models m.
const modelColumns = `m.id, m.name, m.kind, m.description, m.tags, m.latest_version,
	m.archived, m.created_by, m.created_at, m.updated_at, m.deleted_at`

// The hot read paths, named so that plan_test.go can check their plans.
const getModelSQL = `SELECT ` + modelColumns + ` FROM models m WHERE m.name = ?`

// modelAliasesSQL selects the aliases of n models, by row id.
func modelAliasesSQL(n int) string {
	return `SELECT model_id, name, version FROM aliases WHERE model_id IN (` + placeholders(n) + `)`
}

// listModelsSQL selects a page of models; in the default order, by name,
// SQLite walks the name index and stops after a page.
func listModelsSQL(where []string, orderBy string) string {
	q := `SELECT ` + modelColumns + ` FROM models m`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	return q + ` ORDER BY ` + orderBy + ` LIMIT ? OFFSET ?`
}

// scanModel scans one row of modelColumns and returns the model's row id
// with it. Aliases is left empty for the caller to fill.
func scanModel(s scanner) (int64, *cairn.Model, error) {
	var (
		id                   int64
		m                    cairn.Model
		tags                 string
		archived             bool
		createdAt, updatedAt int64
		deletedAt            sql.NullInt64
	)
	if err := s.Scan(&id, &m.Name, &m.Kind, &m.Description, &tags, &m.LatestVersion,
		&archived, &m.CreatedBy, &createdAt, &updatedAt, &deletedAt); err != nil {
		return 0, nil, err
	}
	m.Tags = map[string]string{}
	if err := decodeJSON("models.tags", tags, &m.Tags); err != nil {
		return 0, nil, err
	}
	m.Archived = archived
	m.CreatedAt = fromMicros(createdAt)
	m.UpdatedAt = fromMicros(updatedAt)
	m.DeletedAt = fromNullMicros(deletedAt)
	m.Aliases = map[string]int64{}
	return id, &m, nil
}

// modelID returns the row id of a model, or ENOTFOUND.
func (t *tx) modelID(ctx context.Context, name string) (int64, error) {
	var id int64
	err := t.queryRow(ctx, `SELECT id FROM models WHERE name = ?`, name).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, cairn.Errorf(cairn.ENOTFOUND, "model %q not found", name)
	}
	if err != nil {
		return 0, translate(err, "look up model %q", name)
	}
	return id, nil
}

// GetModel returns a model with its aliases, deleted or not; ENOTFOUND if
// there is none of that name.
func (db *DB) GetModel(ctx context.Context, name string) (*cairn.Model, error) {
	return view(ctx, db, func(t *tx) (*cairn.Model, error) { return t.GetModel(ctx, name) })
}

func (t *tx) GetModel(ctx context.Context, name string) (*cairn.Model, error) {
	id, m, err := scanModel(t.queryRow(ctx, getModelSQL, name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, cairn.Errorf(cairn.ENOTFOUND, "model %q not found", name)
	}
	if err != nil {
		return nil, translate(err, "get model %q", name)
	}
	if err := t.fillModelAliases(ctx, map[int64]*cairn.Model{id: m}); err != nil {
		return nil, err
	}
	return m, nil
}

// LockModel returns the model. SQLite has no row locks; the write
// transaction it runs in already holds the database's write lock (BEGIN
// IMMEDIATE), which serializes every writer.
func (t *tx) LockModel(ctx context.Context, name string) (*cairn.Model, error) {
	return t.GetModel(ctx, name)
}

// fillModelAliases sets the Aliases of the given models, by row id, in one
// query.
func (t *tx) fillModelAliases(ctx context.Context, byID map[int64]*cairn.Model) error {
	if len(byID) == 0 {
		return nil
	}
	args := make([]any, 0, len(byID))
	for id := range byID {
		args = append(args, id)
	}
	rows, err := t.query(ctx, modelAliasesSQL(len(args)), args...)
	if err != nil {
		return translate(err, "list aliases")
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id      int64
			name    string
			version int64
		)
		if err := rows.Scan(&id, &name, &version); err != nil {
			return translate(err, "list aliases")
		}
		byID[id].Aliases[name] = version
	}
	return translate(rows.Err(), "list aliases")
}

// CreateModel inserts m. ECONFLICT if the name is taken, also by a deleted
// model; EINVALID if the kind is not one of cairn's kinds.
func (t *tx) CreateModel(ctx context.Context, m *cairn.Model) error {
	tags, err := encodeJSON(stringMap(m.Tags))
	if err != nil {
		return err
	}
	_, err = t.exec(ctx, `INSERT INTO models
		(name, kind, description, tags, latest_version, archived, created_by, created_at, updated_at, deleted_at)
		VALUES (?, ?, ?, ?, 0, ?, ?, ?, ?, ?)`,
		m.Name, string(m.Kind), m.Description, tags, boolInt(m.Archived), m.CreatedBy,
		micros(m.CreatedAt), micros(m.UpdatedAt), nullMicros(m.DeletedAt))
	if isUnique(err) {
		return cairn.WrapError(cairn.ECONFLICT, err, "model %q already exists", m.Name)
	}
	return translate(err, "create model %q", m.Name)
}

// UpdateModel writes m's description, tags, archived, deleted_at and
// updated_at; ENOTFOUND if there is no model of that name.
func (t *tx) UpdateModel(ctx context.Context, m *cairn.Model) error {
	tags, err := encodeJSON(stringMap(m.Tags))
	if err != nil {
		return err
	}
	res, err := t.exec(ctx, `UPDATE models
		SET description = ?, tags = ?, archived = ?, deleted_at = ?, updated_at = ?
		WHERE name = ?`,
		m.Description, tags, boolInt(m.Archived), nullMicros(m.DeletedAt), micros(m.UpdatedAt), m.Name)
	return expectOne(res, err, "model %q", m.Name)
}

// RenameModel renames a model. Versions, aliases and their history refer
// to the model's row id, so they follow. ECONFLICT if newName is taken,
// ENOTFOUND if oldName does not exist.
func (t *tx) RenameModel(ctx context.Context, oldName, newName string, at time.Time) error {
	res, err := t.exec(ctx, `UPDATE models SET name = ?, updated_at = ? WHERE name = ?`,
		newName, micros(at), oldName)
	if isUnique(err) {
		return cairn.WrapError(cairn.ECONFLICT, err, "cannot rename model %q: %q already exists", oldName, newName)
	}
	return expectOne(res, err, "model %q", oldName)
}

// expectOne checks that an UPDATE or DELETE hit a row: ENOTFOUND, naming
// what, if it hit none.
func expectOne(res sql.Result, err error, what string, args ...any) error {
	if err != nil {
		return translate(err, "update "+what, args...)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return translate(err, "update "+what, args...)
	}
	if n == 0 {
		return cairn.Errorf(cairn.ENOTFOUND, what+" not found", args...)
	}
	return nil
}

// AllocateVersion returns the model's next version number. The counter is
// the model row's latest_version, bumped inside the write transaction: a
// rollback undoes the bump, so numbers are gap-free, and the write lock
// makes them unique across processes. ENOTFOUND if the model does not
// exist.
func (t *tx) AllocateVersion(ctx context.Context, model string) (int64, error) {
	var n int64
	err := t.queryRow(ctx,
		`UPDATE models SET latest_version = latest_version + 1 WHERE name = ? RETURNING latest_version`,
		model).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, cairn.Errorf(cairn.ENOTFOUND, "model %q not found", model)
	}
	if err != nil {
		return 0, translate(err, "allocate a version of model %q", model)
	}
	return n, nil
}

// ListModels lists models in the query's order, one page at a time.
func (db *DB) ListModels(ctx context.Context, q cairn.ModelQuery) (*cairn.ModelPage, error) {
	return view(ctx, db, func(t *tx) (*cairn.ModelPage, error) { return t.ListModels(ctx, q) })
}

func (t *tx) ListModels(ctx context.Context, q cairn.ModelQuery) (*cairn.ModelPage, error) {
	size, err := pageSize(q.Page.Size)
	if err != nil {
		return nil, err
	}
	offset, err := decodeOffset(q.Page.Token)
	if err != nil {
		return nil, err
	}
	if q.Scopes != nil && len(q.Scopes) == 0 {
		return &cairn.ModelPage{Items: []*cairn.Model{}}, nil // no readable scope: nothing to list
	}
	c, err := compileModels(cairn.AndFilters(q.Filter, cairn.ScopeFilter(q.Scopes)), q.OrderBy)
	if err != nil {
		return nil, err
	}
	var where []string
	if !q.IncludeDeleted {
		where = append(where, `m.deleted_at IS NULL`)
	}
	if c.Where != "" {
		where = append(where, c.Where) // "safe to AND with others"
	}
	args := append(append([]any(nil), c.Args...), size+1, offset)
	rows, err := t.query(ctx, listModelsSQL(where, c.OrderBy), args...)
	if err != nil {
		return nil, translate(err, "list models")
	}
	defer rows.Close()
	page := &cairn.ModelPage{Items: []*cairn.Model{}}
	byID := map[int64]*cairn.Model{}
	for rows.Next() {
		id, m, err := scanModel(rows)
		if err != nil {
			return nil, translate(err, "list models")
		}
		if len(page.Items) == size {
			page.NextToken = encodeOffset(offset + size)
			break
		}
		page.Items = append(page.Items, m)
		byID[id] = m
	}
	if err := rows.Err(); err != nil {
		return nil, translate(err, "list models")
	}
	rows.Close()
	if err := t.fillModelAliases(ctx, byID); err != nil {
		return nil, err
	}
	return page, nil
}
