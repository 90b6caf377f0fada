package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/internal/sqlfilter"
)

// modelColumns are the columns scanModel reads, from models m. The aliases
// come along in the same statement, one index lookup per model.
const modelColumns = `m.name, m.kind, m.description, m.tags, m.latest_version, m.archived,
	m.created_by, m.created_at, m.updated_at, m.deleted_at,
	(SELECT COALESCE(jsonb_object_agg(a.name, a.version), '{}') FROM aliases a WHERE a.model_id = m.id)`

func scanModel(row pgx.Row) (*cairn.Model, error) {
	var (
		m                cairn.Model
		kind             string
		tags, aliases    []byte
		created, updated int64
		deleted          *int64
	)
	if err := row.Scan(&m.Name, &kind, &m.Description, &tags, &m.LatestVersion, &m.Archived,
		&m.CreatedBy, &created, &updated, &deleted, &aliases); err != nil {
		return nil, err
	}
	m.Kind = cairn.Kind(kind)
	m.CreatedAt, m.UpdatedAt, m.DeletedAt = fromMicros(created), fromMicros(updated), fromNullMicros(deleted)
	m.Tags, m.Aliases = map[string]string{}, map[string]int64{}
	if err := decodeJSON("models.tags", tags, &m.Tags); err != nil {
		return nil, err
	}
	if err := decodeJSON("aliases", aliases, &m.Aliases); err != nil {
		return nil, err
	}
	return &m, nil
}

// getModel returns a model by name, locking its row if lock is set.
func getModel(ctx context.Context, q querier, name string, lock bool) (*cairn.Model, error) {
	sql := `SELECT ` + modelColumns + ` FROM models m WHERE m.name = $1`
	if lock {
		sql += ` FOR UPDATE OF m`
	}
	m, err := scanModel(q.QueryRow(ctx, sql, name))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, cairn.Errorf(cairn.ENOTFOUND, "model %q not found", name)
	}
	if err != nil {
		return nil, translate(err, "get model %q", name)
	}
	return m, nil
}

// GetModel returns a model by name, deleted or not; ENOTFOUND if there is
// none.
func (r reader) GetModel(ctx context.Context, name string) (*cairn.Model, error) {
	return getModel(ctx, r.q, name, false)
}

// ListModels lists models matching q's filter in q's order, one page at a
// time. Page tokens are offsets (sqlfilter.EncodePageToken).
func (r reader) ListModels(ctx context.Context, q cairn.ModelQuery) (*cairn.ModelPage, error) {
	size, err := pageSize(q.Page.Size)
	if err != nil {
		return nil, err
	}
	offset := 0
	if q.Page.Token != "" {
		if offset, err = sqlfilter.DecodePageToken(q.Page.Token); err != nil {
			return nil, err
		}
	}
	if q.Scopes != nil && len(q.Scopes) == 0 {
		return &cairn.ModelPage{Items: []*cairn.Model{}}, nil // no readable scope: nothing to list
	}
	c, err := sqlfilter.Models(cairn.AndFilters(q.Filter, cairn.ScopeFilter(q.Scopes)), q.OrderBy, sqlfilter.Postgres, 1)
	if err != nil {
		return nil, err
	}
	sql := `SELECT ` + modelColumns + ` FROM models m WHERE TRUE`
	if !q.IncludeDeleted {
		sql += ` AND m.deleted_at IS NULL`
	}
	if c.Where != "" {
		sql += ` AND (` + c.Where + `)`
	}
	args := append([]any(nil), c.Args...)
	sql += ` ORDER BY ` + c.OrderBy + ` LIMIT ` + placeholder(len(args)+1) + ` OFFSET ` + placeholder(len(args)+2)
	args = append(args, size+1, offset)

	items, next, err := offsetPage(ctx, r.q, size, offset, "list models", sql, scanModel, args...)
	if err != nil {
		return nil, err
	}
	page := &cairn.ModelPage{Items: items, NextToken: next}
	if q.Latest {
		if page.Latest, err = r.latestOf(ctx, items); err != nil {
			return nil, err
		}
	}
	return page, nil
}

// latestOf returns LatestPerStage of the models, each model's together in
// their order. (A second statement: PostgreSQL's planner answers
// LatestPerStage from the versions_stage index, and the page's extra
// round trip costs less than SQLite's per-row work that
// ListModels's one statement saves there.)
func (r reader) latestOf(ctx context.Context, models []*cairn.Model) ([]*cairn.Version, error) {
	names := make([]string, len(models))
	for i, m := range models {
		names[i] = m.Name
	}
	vs, err := r.LatestPerStage(ctx, names)
	if err != nil {
		return nil, err
	}
	by := make(map[string][]*cairn.Version, len(models))
	for _, v := range vs {
		by[v.Model] = append(by[v.Model], v)
	}
	out := make([]*cairn.Version, 0, len(vs))
	for _, n := range names {
		out = append(out, by[n]...)
	}
	return out, nil
}

// LockModel returns the model and holds its row lock until the transaction
// ends, serializing writers to one model across every replica.
func (t *tx) LockModel(ctx context.Context, name string) (*cairn.Model, error) {
	return getModel(ctx, t.q, name, true)
}

// CreateModel inserts m; ECONFLICT if the name is taken, by a deleted model
// too. The conflict is detected with ON CONFLICT DO NOTHING, so the
// transaction stays usable.
func (t *tx) CreateModel(ctx context.Context, m *cairn.Model) error {
	tags, err := encodeJSON("tags", stringMap(m.Tags))
	if err != nil {
		return err
	}
	var id int64
	err = t.q.QueryRow(ctx, `INSERT INTO models
		(name, kind, description, tags, archived, created_by, created_at, updated_at, deleted_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
		ON CONFLICT (name) DO NOTHING
		RETURNING id`,
		m.Name, string(m.Kind), m.Description, tags, m.Archived, m.CreatedBy,
		micros(m.CreatedAt), micros(m.UpdatedAt), nullMicros(m.DeletedAt)).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return cairn.Errorf(cairn.ECONFLICT, "model %q already exists", m.Name)
	}
	return translate(err, "create model %q", m.Name)
}

// UpdateModel writes m's description, tags, archived, deleted_at and
// updated_at, by name; ENOTFOUND if there is no such model.
func (t *tx) UpdateModel(ctx context.Context, m *cairn.Model) error {
	tags, err := encodeJSON("tags", stringMap(m.Tags))
	if err != nil {
		return err
	}
	tag, err := t.q.Exec(ctx, `UPDATE models
		SET description = $2, tags = $3, archived = $4, deleted_at = $5, updated_at = $6
		WHERE name = $1`,
		m.Name, m.Description, tags, m.Archived, nullMicros(m.DeletedAt), micros(m.UpdatedAt))
	if err != nil {
		return translate(err, "update model %q", m.Name)
	}
	if tag.RowsAffected() == 0 {
		return cairn.Errorf(cairn.ENOTFOUND, "model %q not found", m.Name)
	}
	return nil
}

// RenameModel renames a model. Versions, aliases and history refer to the
// model by id, so they follow. ECONFLICT if newName is taken, ENOTFOUND if
// oldName does not exist.
func (t *tx) RenameModel(ctx context.Context, oldName, newName string, at time.Time) error {
	// Check first so that the common conflict does not abort the
	// transaction; the unique index still decides a race (as ECONFLICT).
	var taken bool
	if err := t.q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM models WHERE name = $1)`, newName).Scan(&taken); err != nil {
		return translate(err, "rename model %q", oldName)
	}
	if taken {
		return cairn.Errorf(cairn.ECONFLICT, "model %q already exists", newName)
	}
	tag, err := t.q.Exec(ctx, `UPDATE models SET name = $2, updated_at = $3 WHERE name = $1`,
		oldName, newName, micros(at))
	if err != nil {
		return translate(err, "rename model %q to %q", oldName, newName)
	}
	if tag.RowsAffected() == 0 {
		return cairn.Errorf(cairn.ENOTFOUND, "model %q not found", oldName)
	}
	return nil
}

// AllocateVersion returns the model's next version number. The UPDATE takes
// the model's row lock until the transaction ends, so concurrent allocations
// on any replica queue behind it and read the committed value: numbers are
// gap-free, and a rollback gives the number back.
func (t *tx) AllocateVersion(ctx context.Context, model string) (int64, error) {
	var n int64
	err := t.q.QueryRow(ctx,
		`UPDATE models SET latest_version = latest_version + 1 WHERE name = $1 RETURNING latest_version`,
		model).Scan(&n)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, cairn.Errorf(cairn.ENOTFOUND, "model %q not found", model)
	}
	if err != nil {
		return 0, translate(err, "allocate a version of %q", model)
	}
	return n, nil
}

// placeholder returns $n.
func placeholder(n int) string { return "$" + itoa(n) }
