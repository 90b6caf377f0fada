package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/cairn-registry/cairn"
)

// modelColumns is what scanModel reads, in order, from models m. The
// model's aliases come in the same row as "name:version" pairs separated by
// spaces (alias names have neither), so a model or a page of them is one
// statement.
const modelColumns = `m.name, m.kind, m.description, m.tags, m.latest_version,
	m.archived, m.created_by, m.created_at, m.updated_at, m.deleted_at,
	(SELECT group_concat(a.name || ':' || a.version, ' ') FROM aliases a WHERE a.model_id = m.id)`

// The hot read paths, named so that plan_test.go can check their plans.
const getModelSQL = `SELECT ` + modelColumns + ` FROM models m WHERE m.name = ?`

// listModelsSQL selects a page of models; in the default order, by name,
// SQLite walks the name index and stops after a page.
func listModelsSQL(where []string, orderBy string) string {
	q := `SELECT ` + modelColumns + ` FROM models m`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	return q + ` ORDER BY ` + orderBy + ` LIMIT ? OFFSET ?`
}

// scanModel scans one row of modelColumns.
func scanModel(s scanner) (*cairn.Model, error) {
	var r modelRow
	if err := s.Scan(r.dest()...); err != nil {
		return nil, err
	}
	return r.model()
}

// modelRow holds one row of modelColumns as scanned.
type modelRow struct {
	m                    cairn.Model
	tags                 string
	archived             bool
	createdAt, updatedAt int64
	deletedAt            sql.NullInt64
	aliases              sql.NullString
}

// dest returns the scan destinations of modelColumns, in order.
func (r *modelRow) dest() []any {
	return []any{&r.m.Name, &r.m.Kind, &r.m.Description, &r.tags, &r.m.LatestVersion,
		&r.archived, &r.m.CreatedBy, &r.createdAt, &r.updatedAt, &r.deletedAt, &r.aliases}
}

// model decodes the scanned row.
func (r *modelRow) model() (*cairn.Model, error) {
	m := r.m
	var err error
	if m.Tags, err = decodeTags("models.tags", r.tags); err != nil {
		return nil, err
	}
	m.Archived = r.archived
	m.CreatedAt = fromMicros(r.createdAt)
	m.UpdatedAt = fromMicros(r.updatedAt)
	m.DeletedAt = fromNullMicros(r.deletedAt)
	m.Aliases = map[string]int64{}
	for _, pair := range strings.Fields(r.aliases.String) {
		name, number, ok := strings.Cut(pair, ":")
		n, err := strconv.ParseInt(number, 10, 64)
		if !ok || err != nil {
			return nil, cairn.Errorf(cairn.EINTERNAL, "models: alias %q of model %q is not name:version", pair, m.Name)
		}
		m.Aliases[name] = n
	}
	return &m, nil
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
	m, err := scanModel(t.queryRow(ctx, getModelSQL, name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, cairn.Errorf(cairn.ENOTFOUND, "model %q not found", name)
	}
	if err != nil {
		return nil, translate(err, "get model %q", name)
	}
	return m, nil
}

// LockModel returns the model. SQLite has no row locks; the write
// transaction it runs in already holds the database's write lock (BEGIN
// IMMEDIATE), which serializes every writer.
func (t *tx) LockModel(ctx context.Context, name string) (*cairn.Model, error) {
	return t.GetModel(ctx, name)
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
	if q.Latest {
		return t.listModelsWithLatest(ctx, size, offset, listModelsWithLatestSQL(where, c.OrderBy), args...)
	}
	items, next, err := offsetPage(ctx, t, size, offset, "list models", listModelsSQL(where, c.OrderBy), scanModel, args...)
	if err != nil {
		return nil, err
	}
	return &cairn.ModelPage{Items: items, NextToken: next}, nil
}

// listModelsWithLatestSQL selects a page of models, as listModelsSQL
// does, each joined to its latest version per stage (stage_latest,
// migration 0020): a row per latest version, or one row of NULL version
// columns for a model without one. The page is the left side of a LEFT
// JOIN, which SQLite always loops over on the outside, so the rows come
// in the page's order, each model's together (TestQueryPlans holds the
// plan to it).
func listModelsWithLatestSQL(where []string, orderBy string) string {
	page := `SELECT m.* FROM models m`
	if len(where) > 0 {
		page += ` WHERE ` + strings.Join(where, " AND ")
	}
	page += ` ORDER BY ` + orderBy + ` LIMIT ? OFFSET ?`
	return `SELECT ` + modelColumns + `, ` + latestVersionColumns + ` FROM (` + page + `) m
		LEFT JOIN stage_latest s ON s.model_id = m.id
		LEFT JOIN versions v ON v.id = s.version_id`
}

// latestVersionColumns is latestColumns without the model's: what a
// model's row already has.
const latestVersionColumns = `v.number, v.status, v.status_message, v.source, v.run_id,
	v.tags, v.description, v.created_by, v.created_at, v.updated_at, v.stage`

// listModelsWithLatest reads a page of listModelsWithLatestSQL: up to
// size models, each with its latest versions.
func (t *tx) listModelsWithLatest(ctx context.Context, size, offset int, query string, args ...any) (*cairn.ModelPage, error) {
	const what = "list models with their latest versions"
	rows, err := t.query(ctx, query, args...)
	if err != nil {
		return nil, translate(err, "%s", what)
	}
	defer rows.Close()
	page := &cairn.ModelPage{Items: []*cairn.Model{}, Latest: []*cairn.Version{}}
	var (
		r    modelRow
		vcol [11]any
		last string
	)
	dest := append(r.dest(), make([]any, len(vcol))...)
	for i := range vcol {
		dest[len(dest)-len(vcol)+i] = &vcol[i]
	}
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return nil, translate(err, "%s", what)
		}
		if len(page.Items) == 0 || r.m.Name != last {
			if len(page.Items) == size {
				page.NextToken = encodeOffset(offset + size)
				break
			}
			m, err := r.model()
			if err != nil {
				return nil, err
			}
			page.Items = append(page.Items, m)
			last = m.Name
		}
		if vcol[0] == nil {
			continue // no ready version
		}
		v, err := latestFromRow(r.m.Name, r.m.Kind, vcol[:])
		if err != nil {
			return nil, translate(err, "%s", what)
		}
		page.Latest = append(page.Latest, v)
	}
	if err := rows.Err(); err != nil {
		return nil, translate(err, "%s", what)
	}
	return page, nil
}

// latestFromRow builds a version summary from the values of
// latestVersionColumns.
func latestFromRow(model string, kind cairn.Kind, c []any) (*cairn.Version, error) {
	v := &cairn.Version{Model: model, Kind: kind}
	var (
		ok                   [10]bool
		status, stage, tags  string
		createdAt, updatedAt int64
	)
	v.Number, ok[0] = c[0].(int64)
	status, ok[1] = c[1].(string)
	v.StatusMessage, ok[2] = c[2].(string)
	v.Source, ok[3] = c[3].(string)
	v.RunID, ok[4] = c[4].(string)
	tags, ok[5] = c[5].(string)
	v.Description, ok[6] = c[6].(string)
	v.CreatedBy, ok[7] = c[7].(string)
	createdAt, ok[8] = c[8].(int64)
	updatedAt, ok[9] = c[9].(int64)
	stage, okStage := c[10].(string)
	for i, good := range ok {
		if !good {
			return nil, cairn.Errorf(cairn.EINTERNAL, "latest version column %d of model %q is %T", i, model, c[i])
		}
	}
	if !okStage {
		return nil, cairn.Errorf(cairn.EINTERNAL, "latest version stage of model %q is %T", model, c[10])
	}
	var err error
	if v.Tags, err = decodeTags("versions.tags", tags); err != nil {
		return nil, err
	}
	v.Status, v.Stage = cairn.Status(status), cairn.Stage(stage)
	v.CreatedAt, v.UpdatedAt = fromMicros(createdAt), fromMicros(updatedAt)
	return v, nil
}
