package sqlite

import (
	"context"
	"database/sql"
	"errors"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/internal/sqlfilter"
)

const loggedModelColumns = `l.id, l.experiment_id, l.name, l.model_type, l.source_run_id, l.status, l.status_message,
	l.artifact_location, l.params, l.tags, l.metric_points, l.created_by, l.created_at, l.updated_at, l.deleted_at`

func scanLoggedModel(s scanner) (*cairn.LoggedModel, error) {
	var (
		m                    cairn.LoggedModel
		status               string
		params, tags, points string
		created, updated     int64
		deleted              sql.NullInt64
	)
	if err := s.Scan(&m.ID, &m.ExperimentID, &m.Name, &m.ModelType, &m.SourceRunID, &status, &m.StatusMessage,
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
func (db *DB) GetLoggedModel(ctx context.Context, id string) (*cairn.LoggedModel, error) {
	return view(ctx, db, func(t *tx) (*cairn.LoggedModel, error) { return t.GetLoggedModel(ctx, id) })
}

func (t *tx) GetLoggedModel(ctx context.Context, id string) (*cairn.LoggedModel, error) {
	m, err := scanLoggedModel(t.queryRow(ctx, `SELECT `+loggedModelColumns+` FROM logged_models l WHERE l.id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, cairn.Errorf(cairn.ENOTFOUND, "logged model %q not found", id)
	}
	return m, translate(err, "get logged model %q", id)
}

// loggedModelJSON encodes the JSON columns of m: params, tags, the metric
// points, the latest value of each metric, and the latest value of each
// metric on each dataset (sqlfilter.DatasetMetrics).
func loggedModelJSON(m *cairn.LoggedModel) (params, tags, points, latest, byDataset string, err error) {
	if params, err = encodeJSON(stringMap(m.Params)); err != nil {
		return
	}
	if tags, err = encodeJSON(stringMap(m.Tags)); err != nil {
		return
	}
	pts := m.Metrics
	if pts == nil {
		pts = []cairn.LoggedModelMetric{}
	}
	if points, err = encodeJSON(pts); err != nil {
		return
	}
	if latest, err = encodeJSON(floatMap(m.LatestMetrics())); err != nil {
		return
	}
	byDataset, err = encodeJSON(sqlfilter.DatasetMetrics(m))
	return
}

// CreateLoggedModel inserts m; ECONFLICT if its id exists.
func (t *tx) CreateLoggedModel(ctx context.Context, m *cairn.LoggedModel) error {
	params, tags, points, latest, byDataset, err := loggedModelJSON(m)
	if err != nil {
		return err
	}
	_, err = t.exec(ctx, `INSERT INTO logged_models (id, experiment_id, name, model_type, source_run_id, status, status_message,
		artifact_location, params, tags, metrics, metric_points, dataset_metrics, created_by, created_at, updated_at, deleted_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		m.ID, m.ExperimentID, m.Name, m.ModelType, m.SourceRunID, string(m.Status), m.StatusMessage,
		m.ArtifactLocation, params, tags, latest, points, byDataset, m.CreatedBy, micros(m.CreatedAt), micros(m.UpdatedAt), nullMicros(m.DeletedAt))
	if isUnique(err) {
		return cairn.WrapError(cairn.ECONFLICT, err, "logged model %q already exists", m.ID)
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
	res, err := t.exec(ctx, `UPDATE logged_models SET status = ?, status_message = ?, params = ?, tags = ?, metrics = ?,
		metric_points = ?, dataset_metrics = ?, updated_at = ?, deleted_at = ? WHERE id = ?`,
		string(m.Status), m.StatusMessage, params, tags, latest, points, byDataset, micros(m.UpdatedAt), nullMicros(m.DeletedAt), m.ID)
	return expectOne(res, err, "logged model %q", m.ID)
}

// SearchLoggedModels lists the undeleted logged models of q.ExperimentIDs
// that match q.Filter, in q.OrderBy's order (offset page tokens).
func (db *DB) SearchLoggedModels(ctx context.Context, q cairn.LoggedModelSearch) (*cairn.LoggedModelPage, error) {
	return view(ctx, db, func(t *tx) (*cairn.LoggedModelPage, error) { return t.SearchLoggedModels(ctx, q) })
}

func (t *tx) SearchLoggedModels(ctx context.Context, q cairn.LoggedModelSearch) (*cairn.LoggedModelPage, error) {
	items, next, err := experimentSearch[*cairn.LoggedModel]{what: "search logged models", columns: loggedModelColumns,
		table: "logged_models l", alias: "l", where: `l.deleted_at IS NULL`, scan: scanLoggedModel,
		compile: func(d sqlfilter.Dialect, n int) (*sqlfilter.Compiled, error) { return sqlfilter.LoggedModels(&q, d, n) },
	}.page(ctx, t, q.ExperimentIDs, q.Page)
	if err != nil {
		return nil, err
	}
	return &cairn.LoggedModelPage{Items: items, NextToken: next}, nil
}

// ExportLoggedModels lists every logged model, deleted ones included, by
// id.
func (db *DB) ExportLoggedModels(ctx context.Context, page cairn.Page) (*cairn.LoggedModelPage, error) {
	items, next, err := exportByID(ctx, db, page, "export logged models",
		`SELECT `+loggedModelColumns+` FROM logged_models l WHERE l.id > ? ORDER BY l.id LIMIT ?`,
		scanLoggedModel, func(m *cairn.LoggedModel) string { return m.ID })
	if err != nil {
		return nil, err
	}
	return &cairn.LoggedModelPage{Items: items, NextToken: next}, nil
}

// ImportLoggedModel inserts m as it is; ECONFLICT if its id exists.
func (t *tx) ImportLoggedModel(ctx context.Context, m *cairn.LoggedModel) error {
	return t.CreateLoggedModel(ctx, m)
}

// backfillDatasetMetrics gives the logged models written before migration
// 0022 their dataset_metrics, derived from their metric points, a batch
// per transaction, and returns how many it wrote. It runs on every Open:
// once done, its first query finds nothing in the (then empty)
// logged_models_dataset_metrics_missing index.
func (db *DB) backfillDatasetMetrics(ctx context.Context) (int, error) {
	total := 0
	for {
		n := 0
		err := db.Update(ctx, func(ct cairn.Tx) error {
			t := ct.(*tx)
			rows, err := t.query(ctx, `SELECT id, metric_points FROM logged_models
				WHERE dataset_metrics IS NULL ORDER BY id LIMIT ?`, backfillBatch)
			if err != nil {
				return translate(err, "find logged models without dataset_metrics")
			}
			type row struct{ id, points string }
			var rs []row
			for rows.Next() {
				var r row
				if err := rows.Scan(&r.id, &r.points); err != nil {
					rows.Close()
					return translate(err, "find logged models without dataset_metrics")
				}
				rs = append(rs, r)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return translate(err, "find logged models without dataset_metrics")
			}
			for _, r := range rs {
				m := cairn.LoggedModel{ID: r.id}
				if err := decodeJSON("logged_models.metric_points", r.points, &m.Metrics); err != nil {
					return err
				}
				enc, err := encodeJSON(sqlfilter.DatasetMetrics(&m))
				if err != nil {
					return err
				}
				if _, err := t.exec(ctx, `UPDATE logged_models SET dataset_metrics = ? WHERE id = ? AND dataset_metrics IS NULL`,
					enc, r.id); err != nil {
					return translate(err, "store the dataset metrics of logged model %q", r.id)
				}
			}
			n = len(rs)
			return nil
		})
		total += n
		if err != nil || n < backfillBatch {
			return total, err
		}
	}
}
