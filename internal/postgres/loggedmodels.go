package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/internal/sqlfilter"
)

const loggedModelColumns = `l.id, l.experiment_id, l.name, l.model_type, l.source_run_id, l.status, l.status_message,
	l.artifact_location, l.params, l.tags, l.metric_points, l.created_by, l.created_at, l.updated_at, l.deleted_at`

func scanLoggedModel(row pgx.Row) (*cairn.LoggedModel, error) {
	var (
		m                    cairn.LoggedModel
		status               string
		params, tags, points []byte
		created, updated     int64
		deleted              *int64
	)
	if err := row.Scan(&m.ID, &m.ExperimentID, &m.Name, &m.ModelType, &m.SourceRunID, &status, &m.StatusMessage,
		&m.ArtifactLocation, &params, &tags, &points, &m.CreatedBy, &created, &updated, &deleted); err != nil {
		return nil, err
	}
	m.Status = cairn.LoggedModelStatus(status)
	m.Params, m.Tags, m.Metrics = map[string]string{}, map[string]string{}, []cairn.LoggedModelMetric{}
	if err := decodeJSON("logged_models.params", params, &m.Params); err != nil {
		return nil, err
	}
	if err := decodeJSON("logged_models.tags", tags, &m.Tags); err != nil {
		return nil, err
	}
	if err := decodeJSON("logged_models.metric_points", points, &m.Metrics); err != nil {
		return nil, err
	}
	if m.Metrics == nil {
		m.Metrics = []cairn.LoggedModelMetric{}
	}
	m.CreatedAt, m.UpdatedAt, m.DeletedAt = fromMicros(created), fromMicros(updated), fromNullMicros(deleted)
	return &m, nil
}

// GetLoggedModel returns a logged model by id, deleted or not; ENOTFOUND
// if there is none.
func (r reader) GetLoggedModel(ctx context.Context, id string) (*cairn.LoggedModel, error) {
	m, err := scanLoggedModel(r.q.QueryRow(ctx, `SELECT `+loggedModelColumns+` FROM logged_models l WHERE l.id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, cairn.Errorf(cairn.ENOTFOUND, "logged model %q not found", id)
	}
	if err != nil {
		return nil, translate(err, "get logged model %q", id)
	}
	return m, nil
}

// loggedModelJSON encodes the JSON columns of m: params, tags, the metric
// points and the latest value of each metric.
func loggedModelJSON(m *cairn.LoggedModel) (params, tags, points, latest string, err error) {
	if params, err = encodeJSON("params", stringMap(m.Params)); err != nil {
		return
	}
	if tags, err = encodeJSON("tags", stringMap(m.Tags)); err != nil {
		return
	}
	pts := m.Metrics
	if pts == nil {
		pts = []cairn.LoggedModelMetric{}
	}
	if points, err = encodeJSON("metric_points", pts); err != nil {
		return
	}
	latest, err = encodeJSON("metrics", floatMap(m.LatestMetrics()))
	return
}

// CreateLoggedModel inserts m; ECONFLICT, without aborting the
// transaction, if its id exists.
func (t *tx) CreateLoggedModel(ctx context.Context, m *cairn.LoggedModel) error {
	params, tags, points, latest, err := loggedModelJSON(m)
	if err != nil {
		return err
	}
	var id string
	err = t.q.QueryRow(ctx, `INSERT INTO logged_models (id, experiment_id, name, model_type, source_run_id, status, status_message,
		artifact_location, params, tags, metrics, metric_points, created_by, created_at, updated_at, deleted_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) ON CONFLICT DO NOTHING RETURNING id`,
		m.ID, m.ExperimentID, m.Name, m.ModelType, m.SourceRunID, string(m.Status), m.StatusMessage,
		m.ArtifactLocation, params, tags, latest, points, m.CreatedBy, micros(m.CreatedAt), micros(m.UpdatedAt), nullMicros(m.DeletedAt)).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return cairn.Errorf(cairn.ECONFLICT, "logged model %q already exists", m.ID)
	}
	return translate(err, "create logged model %q", m.ID)
}

// UpdateLoggedModel writes m's status, status message, params, tags,
// metrics, updated_at and deleted_at.
func (t *tx) UpdateLoggedModel(ctx context.Context, m *cairn.LoggedModel) error {
	params, tags, points, latest, err := loggedModelJSON(m)
	if err != nil {
		return err
	}
	tag, err := t.q.Exec(ctx, `UPDATE logged_models SET status = $2, status_message = $3, params = $4, tags = $5, metrics = $6,
		metric_points = $7, updated_at = $8, deleted_at = $9 WHERE id = $1`,
		m.ID, string(m.Status), m.StatusMessage, params, tags, latest, points, micros(m.UpdatedAt), nullMicros(m.DeletedAt))
	if err != nil {
		return translate(err, "update logged model %q", m.ID)
	}
	if tag.RowsAffected() == 0 {
		return cairn.Errorf(cairn.ENOTFOUND, "logged model %q not found", m.ID)
	}
	return nil
}

// SearchLoggedModels lists the undeleted logged models of q.ExperimentIDs
// that match q.Filter, in q.OrderBy's order (offset page tokens).
func (r reader) SearchLoggedModels(ctx context.Context, q cairn.LoggedModelSearch) (*cairn.LoggedModelPage, error) {
	items, next, err := experimentSearch[*cairn.LoggedModel]{what: "search logged models", columns: loggedModelColumns,
		table: "logged_models l", alias: "l", where: `l.deleted_at IS NULL`, compile: sqlfilter.LoggedModels, scan: scanLoggedModel,
	}.page(ctx, r.q, q.ExperimentIDs, q.Filter, q.OrderBy, q.Page)
	if err != nil {
		return nil, err
	}
	return &cairn.LoggedModelPage{Items: items, NextToken: next}, nil
}

// ExportLoggedModels lists every logged model, deleted ones included, by
// id.
func (r reader) ExportLoggedModels(ctx context.Context, page cairn.Page) (*cairn.LoggedModelPage, error) {
	items, next, err := exportByID(ctx, r.q, page, "export logged models",
		`SELECT `+loggedModelColumns+` FROM logged_models l WHERE l.id > $1 ORDER BY l.id LIMIT $2`,
		scanLoggedModel, func(m *cairn.LoggedModel) string { return m.ID })
	if err != nil {
		return nil, err
	}
	return &cairn.LoggedModelPage{Items: items, NextToken: next}, nil
}

// ImportLoggedModel inserts m as it is; ECONFLICT, without aborting the
// transaction, if its id exists.
func (t *tx) ImportLoggedModel(ctx context.Context, m *cairn.LoggedModel) error {
	return t.CreateLoggedModel(ctx, m)
}
