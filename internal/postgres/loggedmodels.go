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
// points, the latest value of each metric, and the latest value of each
// metric on each dataset (sqlfilter.DatasetMetrics).
func loggedModelJSON(m *cairn.LoggedModel) (params, tags, points, latest, byDataset string, err error) {
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
	if latest, err = encodeJSON("metrics", floatMap(m.LatestMetrics())); err != nil {
		return
	}
	byDataset, err = encodeJSON("dataset_metrics", sqlfilter.DatasetMetrics(m))
	return
}

// CreateLoggedModel inserts m; ECONFLICT, without aborting the
// transaction, if its id exists.
func (t *tx) CreateLoggedModel(ctx context.Context, m *cairn.LoggedModel) error {
	params, tags, points, latest, byDataset, err := loggedModelJSON(m)
	if err != nil {
		return err
	}
	var id string
	err = t.q.QueryRow(ctx, `INSERT INTO logged_models (id, experiment_id, name, model_type, source_run_id, status, status_message,
		artifact_location, params, tags, metrics, metric_points, dataset_metrics, created_by, created_at, updated_at, deleted_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) ON CONFLICT DO NOTHING RETURNING id`,
		m.ID, m.ExperimentID, m.Name, m.ModelType, m.SourceRunID, string(m.Status), m.StatusMessage,
		m.ArtifactLocation, params, tags, latest, points, byDataset, m.CreatedBy, micros(m.CreatedAt), micros(m.UpdatedAt), nullMicros(m.DeletedAt)).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return cairn.Errorf(cairn.ECONFLICT, "logged model %q already exists", m.ID)
	}
	return translate(err, "create logged model %q", m.ID)
}

// UpdateLoggedModel writes m's status, status message, params, tags,
// metrics, updated_at and deleted_at.
func (t *tx) UpdateLoggedModel(ctx context.Context, m *cairn.LoggedModel) error {
	params, tags, points, latest, byDataset, err := loggedModelJSON(m)
	if err != nil {
		return err
	}
	tag, err := t.q.Exec(ctx, `UPDATE logged_models SET status = $2, status_message = $3, params = $4, tags = $5, metrics = $6,
		metric_points = $7, dataset_metrics = $8, updated_at = $9, deleted_at = $10 WHERE id = $1`,
		m.ID, string(m.Status), m.StatusMessage, params, tags, latest, points, byDataset, micros(m.UpdatedAt), nullMicros(m.DeletedAt))
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
		table: "logged_models l", alias: "l", where: `l.deleted_at IS NULL`, scan: scanLoggedModel,
		compile: func(d sqlfilter.Dialect, n int) (*sqlfilter.Compiled, error) { return sqlfilter.LoggedModels(&q, d, n) },
	}.page(ctx, r.q, q.ExperimentIDs, q.Page)
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

// backfillDatasetMetrics gives the logged models written before migration
// 0022 their dataset_metrics, derived from their metric points, a batch
// per transaction, and returns how many it wrote. It runs on every Open:
// once done, its first query finds nothing in the (then empty)
// logged_models_dataset_metrics_missing index. Replicas opening at once
// may derive the same models twice; both write the same value.
func (db *DB) backfillDatasetMetrics(ctx context.Context) (int, error) {
	total := 0
	for {
		n := 0
		err := db.Update(ctx, func(ct cairn.Tx) error {
			t := ct.(*tx)
			rows, err := t.q.Query(ctx, `SELECT id, metric_points FROM logged_models
				WHERE dataset_metrics IS NULL ORDER BY id LIMIT $1`, backfillBatch)
			if err != nil {
				return translate(err, "find logged models without dataset_metrics")
			}
			var ids, enc []string
			for rows.Next() {
				var (
					id     string
					points []byte
				)
				if err := rows.Scan(&id, &points); err != nil {
					rows.Close()
					return translate(err, "find logged models without dataset_metrics")
				}
				m := cairn.LoggedModel{ID: id}
				if err := decodeJSON("logged_models.metric_points", points, &m.Metrics); err != nil {
					rows.Close()
					return err
				}
				e, err := encodeJSON("dataset_metrics", sqlfilter.DatasetMetrics(&m))
				if err != nil {
					rows.Close()
					return err
				}
				ids, enc = append(ids, id), append(enc, e)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return translate(err, "find logged models without dataset_metrics")
			}
			if len(ids) > 0 {
				if _, err := t.q.Exec(ctx, `UPDATE logged_models SET dataset_metrics = u.metrics::jsonb
					FROM unnest($1::text[], $2::text[]) AS u(id, metrics)
					WHERE logged_models.id = u.id AND logged_models.dataset_metrics IS NULL`, ids, enc); err != nil {
					return translate(err, "store the dataset metrics of logged models")
				}
			}
			n = len(ids)
			return nil
		})
		total += n
		if err != nil || n < backfillBatch {
			return total, err
		}
	}
}
