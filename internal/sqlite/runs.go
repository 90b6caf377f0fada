package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/internal/sqlfilter"
)

const runColumns = `id, experiment_id, name, status, start_time, end_time, params, metrics,
	tags, artifact_uri, created_by, created_at, updated_at, deleted_at, user_id, inputs, outputs`

func scanRun(s scanner) (*cairn.Run, error) {
	var (
		r                               cairn.Run
		params, metrics, tags           string
		inputs, outputs                 string
		startTime, createdAt, updatedAt int64
		endTime, deletedAt              sql.NullInt64
	)
	if err := s.Scan(&r.ID, &r.ExperimentID, &r.Name, &r.Status, &startTime, &endTime, &params, &metrics,
		&tags, &r.ArtifactURI, &r.CreatedBy, &createdAt, &updatedAt, &deletedAt, &r.UserID, &inputs, &outputs); err != nil {
		return nil, err
	}
	r.Params, r.Metrics, r.Tags = map[string]string{}, map[string]float64{}, map[string]string{}
	if err := decodeJSON("runs.params", params, &r.Params); err != nil {
		return nil, err
	}
	if err := decodeJSON("runs.metrics", metrics, &r.Metrics); err != nil {
		return nil, err
	}
	if err := decodeJSON("runs.tags", tags, &r.Tags); err != nil {
		return nil, err
	}
	var in runInputs
	if err := decodeJSON("runs.inputs", inputs, &in); err != nil {
		return nil, err
	}
	r.Inputs, r.ModelInputs = in.Datasets, in.Models
	if r.Inputs == nil {
		r.Inputs = []cairn.DatasetInput{}
	}
	if r.ModelInputs == nil {
		r.ModelInputs = []string{}
	}
	if err := decodeJSON("runs.outputs", outputs, &r.Outputs); err != nil {
		return nil, err
	}
	if r.Outputs == nil {
		r.Outputs = []cairn.ModelOutput{}
	}
	r.StartTime = fromMicros(startTime)
	r.EndTime = fromNullMicros(endTime)
	r.CreatedAt = fromMicros(createdAt)
	r.UpdatedAt = fromMicros(updatedAt)
	r.DeletedAt = fromNullMicros(deletedAt)
	return &r, nil
}

// GetRun returns a run, deleted or not; ENOTFOUND if there is none.
func (db *DB) GetRun(ctx context.Context, id string) (*cairn.Run, error) {
	return view(ctx, db, func(t *tx) (*cairn.Run, error) { return t.GetRun(ctx, id) })
}

func (t *tx) GetRun(ctx context.Context, id string) (*cairn.Run, error) {
	r, err := scanRun(t.queryRow(ctx, `SELECT `+runColumns+` FROM runs WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, cairn.Errorf(cairn.ENOTFOUND, "run %q not found", id)
	}
	return r, translate(err, "get run %q", id)
}

// ListRuns lists the undeleted runs of an experiment, or of all
// experiments, newest first (by creation time, then id). Pages are keyed
// by the last run's creation time and id.
func (db *DB) ListRuns(ctx context.Context, q cairn.RunQuery) (*cairn.RunPage, error) {
	return view(ctx, db, func(t *tx) (*cairn.RunPage, error) { return t.ListRuns(ctx, q) })
}

func (t *tx) ListRuns(ctx context.Context, q cairn.RunQuery) (*cairn.RunPage, error) {
	size, err := pageSize(q.Page.Size)
	if err != nil {
		return nil, err
	}
	query := `SELECT ` + runColumns + ` FROM runs WHERE deleted_at IS NULL`
	var args []any
	if q.ExperimentID != "" {
		query += ` AND experiment_id = ?`
		args = append(args, q.ExperimentID)
	}
	if q.Page.Token != "" {
		c, err := decodeCursor(q.Page.Token)
		if err != nil {
			return nil, err
		}
		query += ` AND (created_at < ? OR (created_at = ? AND id > ?))`
		args = append(args, c.n, c.n, c.s)
	}
	query += ` ORDER BY created_at DESC, id LIMIT ?`
	args = append(args, size+1)
	rows, err := t.query(ctx, query, args...)
	if err != nil {
		return nil, translate(err, "list runs")
	}
	defer rows.Close()
	page := &cairn.RunPage{Items: []*cairn.Run{}}
	for rows.Next() {
		if len(page.Items) == size {
			last := page.Items[size-1]
			page.NextToken = cursor{n: micros(last.CreatedAt), s: last.ID}.encode()
			break
		}
		r, err := scanRun(rows)
		if err != nil {
			return nil, translate(err, "list runs")
		}
		page.Items = append(page.Items, r)
	}
	if err := rows.Err(); err != nil {
		return nil, translate(err, "list runs")
	}
	return page, nil
}

// CreateRun inserts r; ECONFLICT if a run with its id exists.
func (t *tx) CreateRun(ctx context.Context, r *cairn.Run) error {
	params, err := encodeJSON(stringMap(r.Params))
	if err != nil {
		return err
	}
	metrics, err := encodeJSON(floatMap(r.Metrics))
	if err != nil {
		return err
	}
	tags, err := encodeJSON(stringMap(r.Tags))
	if err != nil {
		return err
	}
	inputs, outputs, err := encodeRunIO(r)
	if err != nil {
		return err
	}
	_, err = t.exec(ctx, `INSERT INTO runs (`+runColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		r.ID, r.ExperimentID, r.Name, string(r.Status), micros(r.StartTime), nullMicros(r.EndTime),
		params, metrics, tags, r.ArtifactURI, r.CreatedBy, micros(r.CreatedAt), micros(r.UpdatedAt),
		nullMicros(r.DeletedAt), r.UserID, inputs, outputs)
	if isUnique(err) {
		return cairn.WrapError(cairn.ECONFLICT, err, "run %q already exists", r.ID)
	}
	return translate(err, "create run %q", r.ID)
}

// UpdateRun writes r's name, status, end_time, tags, inputs, outputs,
// deleted_at and updated_at; ENOTFOUND if the run does not exist.
func (t *tx) UpdateRun(ctx context.Context, r *cairn.Run) error {
	tags, err := encodeJSON(stringMap(r.Tags))
	if err != nil {
		return err
	}
	inputs, outputs, err := encodeRunIO(r)
	if err != nil {
		return err
	}
	res, err := t.exec(ctx, `UPDATE runs
		SET name = ?, status = ?, end_time = ?, tags = ?, inputs = ?, outputs = ?, deleted_at = ?, updated_at = ?
		WHERE id = ?`,
		r.Name, string(r.Status), nullMicros(r.EndTime), tags, inputs, outputs, nullMicros(r.DeletedAt), micros(r.UpdatedAt), r.ID)
	return expectOne(res, err, "run %q", r.ID)
}

// DeleteExperimentRuns marks the active runs of an experiment deleted at
// at.
func (t *tx) DeleteExperimentRuns(ctx context.Context, experimentID string, at time.Time) (int64, error) {
	res, err := t.exec(ctx, `UPDATE runs SET deleted_at = ?, updated_at = ? WHERE experiment_id = ? AND deleted_at IS NULL`,
		micros(at), micros(at), experimentID)
	if err != nil {
		return 0, translate(err, "delete the runs of experiment %q", experimentID)
	}
	return res.RowsAffected()
}

// RestoreExperimentRuns restores the runs of an experiment deleted at
// deletedAt.
func (t *tx) RestoreExperimentRuns(ctx context.Context, experimentID string, deletedAt, now time.Time) (int64, error) {
	res, err := t.exec(ctx, `UPDATE runs SET deleted_at = NULL, updated_at = ? WHERE experiment_id = ? AND deleted_at = ?`,
		micros(now), experimentID, micros(deletedAt))
	if err != nil {
		return 0, translate(err, "restore the runs of experiment %q", experimentID)
	}
	return res.RowsAffected()
}

// LogRun appends metric points to the run's history and sets params. The
// run's latest value of a metric is the point with the highest step, then
// the latest timestamp, then the highest value (MLflow's rule), so points
// logged out of order leave the right one on top. A param already set to a
// different value is ECONFLICT; the same value again is accepted.
// ENOTFOUND if the run does not exist.
func (t *tx) LogRun(ctx context.Context, runID string, metrics []cairn.MetricPoint, params map[string]string) error {
	var paramsText, metricsText string
	err := t.queryRow(ctx, `SELECT params, metrics FROM runs WHERE id = ?`, runID).
		Scan(&paramsText, &metricsText)
	if errors.Is(err, sql.ErrNoRows) {
		return cairn.Errorf(cairn.ENOTFOUND, "run %q not found", runID)
	}
	if err != nil {
		return translate(err, "log to run %q", runID)
	}
	cur := map[string]string{}
	if err := decodeJSON("runs.params", paramsText, &cur); err != nil {
		return err
	}
	latest := map[string]float64{}
	if err := decodeJSON("runs.metrics", metricsText, &latest); err != nil {
		return err
	}
	for k, v := range params {
		if old, ok := cur[k]; ok && old != v {
			return cairn.Errorf(cairn.ECONFLICT, "run %q: param %q is already %q; params cannot change", runID, k, old)
		}
		cur[k] = v
	}
	keys := map[string]bool{}
	for _, p := range metrics {
		if _, err := t.exec(ctx,
			`INSERT INTO run_metrics (run_id, key, value, timestamp, step) VALUES (?, ?, ?, ?, ?)`,
			runID, p.Key, p.Value, micros(p.Timestamp), p.Step); err != nil {
			return translate(err, "log metric %q to run %q", p.Key, runID)
		}
		keys[p.Key] = true
	}
	for k := range keys {
		var v float64
		if err := t.queryRow(ctx, `SELECT value FROM run_metrics WHERE run_id = ? AND key = ?
			ORDER BY step DESC, timestamp DESC, value DESC LIMIT 1`, runID, k).Scan(&v); err != nil {
			return translate(err, "read latest metric %q of run %q", k, runID)
		}
		latest[k] = v
	}
	if paramsText, err = encodeJSON(cur); err != nil {
		return err
	}
	if metricsText, err = encodeJSON(latest); err != nil {
		return err
	}
	_, err = t.exec(ctx, `UPDATE runs SET params = ?, metrics = ? WHERE id = ?`,
		paramsText, metricsText, runID)
	return translate(err, "log to run %q", runID)
}

// MetricHistory returns every logged point of one metric of a run, by step
// then timestamp; ENOTFOUND if the run does not exist.
func (db *DB) MetricHistory(ctx context.Context, runID, key string) ([]cairn.MetricPoint, error) {
	return view(ctx, db, func(t *tx) ([]cairn.MetricPoint, error) { return t.MetricHistory(ctx, runID, key) })
}

func (t *tx) MetricHistory(ctx context.Context, runID, key string) ([]cairn.MetricPoint, error) {
	var one int
	err := t.queryRow(ctx, `SELECT 1 FROM runs WHERE id = ?`, runID).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, cairn.Errorf(cairn.ENOTFOUND, "run %q not found", runID)
	}
	if err != nil {
		return nil, translate(err, "metric history of run %q", runID)
	}
	rows, err := t.query(ctx, `SELECT value, timestamp, step FROM run_metrics
		WHERE run_id = ? AND key = ? ORDER BY step, timestamp, rowid`, runID, key)
	if err != nil {
		return nil, translate(err, "metric history of run %q", runID)
	}
	defer rows.Close()
	out := []cairn.MetricPoint{}
	for rows.Next() {
		p := cairn.MetricPoint{Key: key}
		var ts int64
		if err := rows.Scan(&p.Value, &ts, &p.Step); err != nil {
			return nil, translate(err, "metric history of run %q", runID)
		}
		p.Timestamp = fromMicros(ts)
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, translate(err, "metric history of run %q", runID)
	}
	return out, nil
}

// runInputs is the JSON of runs.inputs.
type runInputs struct {
	Datasets []cairn.DatasetInput `json:"datasets,omitempty"`
	Models   []string             `json:"models,omitempty"`
}

func encodeRunIO(r *cairn.Run) (inputs, outputs string, err error) {
	if inputs, err = encodeJSON(runInputs{Datasets: r.Inputs, Models: r.ModelInputs}); err != nil {
		return "", "", err
	}
	out := r.Outputs
	if out == nil {
		out = []cairn.ModelOutput{}
	}
	if outputs, err = encodeJSON(out); err != nil {
		return "", "", err
	}
	return inputs, outputs, nil
}

// SearchRuns lists the runs of q.ExperimentIDs that match q.Filter, in
// q.OrderBy's order, a page at a time (offset tokens).
func (db *DB) SearchRuns(ctx context.Context, q cairn.RunSearch) (*cairn.RunPage, error) {
	return view(ctx, db, func(t *tx) (*cairn.RunPage, error) { return t.SearchRuns(ctx, q) })
}

func (t *tx) SearchRuns(ctx context.Context, q cairn.RunSearch) (*cairn.RunPage, error) {
	items, next, err := experimentSearch[*cairn.Run]{what: "search runs", columns: runColumns,
		table: "runs r", alias: "r", where: lifecycleWhere("r", q.Lifecycle), scan: scanRun,
		compile: func(d sqlfilter.Dialect, n int) (*sqlfilter.Compiled, error) {
			return sqlfilter.Runs(q.Filter, q.OrderBy, d, n)
		},
	}.page(ctx, t, q.ExperimentIDs, q.Page)
	if err != nil {
		return nil, err
	}
	return &cairn.RunPage{Items: items, NextToken: next}, nil
}

// lifecycleWhere is the condition selecting records of a lifecycle, for a
// table aliased as alias with a deleted_at column.
func lifecycleWhere(alias string, l cairn.Lifecycle) string {
	switch l {
	case cairn.DeletedOnly:
		return alias + `.deleted_at IS NOT NULL`
	case cairn.AllLifecycles:
		return `1 = 1`
	}
	return alias + `.deleted_at IS NULL`
}

// LatestMetrics returns the latest point of each metric of each run.
func (db *DB) LatestMetrics(ctx context.Context, runIDs []string) (map[string][]cairn.MetricPoint, error) {
	return view(ctx, db, func(t *tx) (map[string][]cairn.MetricPoint, error) { return t.LatestMetrics(ctx, runIDs) })
}

func (t *tx) LatestMetrics(ctx context.Context, runIDs []string) (map[string][]cairn.MetricPoint, error) {
	out := map[string][]cairn.MetricPoint{}
	if len(runIDs) == 0 {
		return out, nil
	}
	args := make([]any, len(runIDs))
	for i, id := range runIDs {
		args[i] = id
	}
	rows, err := t.query(ctx, `SELECT run_id, key, value, timestamp, step FROM (
		SELECT run_id, key, value, timestamp, step, ROW_NUMBER() OVER (
			PARTITION BY run_id, key ORDER BY step DESC, timestamp DESC, value DESC) AS rn
		FROM run_metrics WHERE run_id IN (`+placeholders(len(runIDs))+`)) WHERE rn = 1
		ORDER BY run_id, key`, args...)
	if err != nil {
		return nil, translate(err, "latest metrics")
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id string
			p  cairn.MetricPoint
			ts int64
		)
		if err := rows.Scan(&id, &p.Key, &p.Value, &ts, &p.Step); err != nil {
			return nil, translate(err, "latest metrics")
		}
		p.Timestamp = fromMicros(ts)
		out[id] = append(out[id], p)
	}
	return out, translate(rows.Err(), "latest metrics")
}
