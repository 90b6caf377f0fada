package postgres

import (
	"context"
	"errors"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/internal/sqlfilter"
)

const runColumns = `r.id, r.experiment_id, r.name, r.status, r.start_time, r.end_time,
	r.params, r.metrics, r.tags, r.artifact_uri, r.created_by, r.created_at, r.updated_at, r.deleted_at,
	r.user_id, r.inputs, r.outputs`

func scanRun(row pgx.Row) (*cairn.Run, error) {
	var (
		r                       cairn.Run
		status                  string
		start, created, updated int64
		end, deleted            *int64
		params, metrics, tags   []byte
		inputs, outputs         []byte
	)
	if err := row.Scan(&r.ID, &r.ExperimentID, &r.Name, &status, &start, &end,
		&params, &metrics, &tags, &r.ArtifactURI, &r.CreatedBy, &created, &updated, &deleted,
		&r.UserID, &inputs, &outputs); err != nil {
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
	r.Status = cairn.RunStatus(status)
	r.StartTime, r.EndTime = fromMicros(start), fromNullMicros(end)
	r.CreatedAt, r.UpdatedAt, r.DeletedAt = fromMicros(created), fromMicros(updated), fromNullMicros(deleted)
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
	return &r, nil
}

// GetRun returns a run by id, deleted or not; ENOTFOUND if there is none.
func (r reader) GetRun(ctx context.Context, id string) (*cairn.Run, error) {
	run, err := scanRun(r.q.QueryRow(ctx, `SELECT `+runColumns+` FROM runs r WHERE r.id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, cairn.Errorf(cairn.ENOTFOUND, "run %q not found", id)
	}
	if err != nil {
		return nil, translate(err, "get run %q", id)
	}
	return run, nil
}

// ListRuns lists undeleted runs, of one experiment or of all, newest first
// (created_at descending, then id ascending). Page tokens are keyset
// cursors, so runs created while a client pages do not shift the pages.
func (r reader) ListRuns(ctx context.Context, q cairn.RunQuery) (*cairn.RunPage, error) {
	size, err := pageSize(q.Page.Size)
	if err != nil {
		return nil, err
	}
	var c cursor
	after := false
	if q.Page.Token != "" {
		if c, err = decodeCursor(q.Page.Token); err != nil {
			return nil, err
		}
		after = true
	}
	var a args
	sql := `SELECT ` + runColumns + ` FROM runs r WHERE r.deleted_at IS NULL`
	if q.ExperimentID != "" {
		sql += ` AND r.experiment_id = ` + a.add(q.ExperimentID)
	}
	if after {
		t, id := a.add(c.n), a.add(c.s)
		sql += ` AND (r.created_at < ` + t + ` OR (r.created_at = ` + t + ` AND r.id > ` + id + `))`
	}
	sql += ` ORDER BY r.created_at DESC, r.id LIMIT ` + a.add(size+1)
	rows, err := r.q.Query(ctx, sql, a...)
	if err != nil {
		return nil, translate(err, "list runs")
	}
	defer rows.Close()
	page := &cairn.RunPage{Items: []*cairn.Run{}}
	for rows.Next() {
		run, err := scanRun(rows)
		if err != nil {
			return nil, translate(err, "list runs")
		}
		page.Items = append(page.Items, run)
	}
	if err := rows.Err(); err != nil {
		return nil, translate(err, "list runs")
	}
	if len(page.Items) > size {
		page.Items = page.Items[:size]
		last := page.Items[size-1]
		page.NextToken = cursor{n: micros(last.CreatedAt), s: last.ID}.encode()
	}
	return page, nil
}

// MetricHistory returns every logged point of one metric of a run, by step
// and then time. ENOTFOUND if the run does not exist.
func (r reader) MetricHistory(ctx context.Context, runID, key string) ([]cairn.MetricPoint, error) {
	points := []cairn.MetricPoint{}
	err := r.view(ctx, func(q querier) error {
		var exists bool
		if err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM runs WHERE id = $1)`, runID).Scan(&exists); err != nil {
			return translate(err, "metric history of run %q", runID)
		}
		if !exists {
			return cairn.Errorf(cairn.ENOTFOUND, "run %q not found", runID)
		}
		rows, err := q.Query(ctx, `SELECT value, timestamp, step FROM run_metrics
			WHERE run_id = $1 AND key = $2
			ORDER BY step, timestamp`, runID, key)
		if err != nil {
			return translate(err, "metric history of run %q", runID)
		}
		defer rows.Close()
		for rows.Next() {
			p := cairn.MetricPoint{Key: key}
			var ts int64
			if err := rows.Scan(&p.Value, &ts, &p.Step); err != nil {
				return translate(err, "metric history of run %q", runID)
			}
			p.Timestamp = fromMicros(ts)
			points = append(points, p)
		}
		return translate(rows.Err(), "metric history of run %q", runID)
	})
	if err != nil {
		return nil, err
	}
	return points, nil
}

// CreateRun inserts r; ECONFLICT if the id is taken.
func (t *tx) CreateRun(ctx context.Context, r *cairn.Run) error {
	params, err := encodeJSON("params", stringMap(r.Params))
	if err != nil {
		return err
	}
	metrics, err := encodeJSON("metrics", floatMap(r.Metrics))
	if err != nil {
		return err
	}
	tags, err := encodeJSON("tags", stringMap(r.Tags))
	if err != nil {
		return err
	}
	exp := r.ExperimentID
	if exp == "" {
		exp = cairn.DefaultExperimentID
	}
	inputs, outputs, err := encodeRunIO(r)
	if err != nil {
		return err
	}
	var id string
	err = t.q.QueryRow(ctx, `INSERT INTO runs
		(id, experiment_id, name, status, start_time, end_time, params, metrics, tags,
		 artifact_uri, created_by, created_at, updated_at, deleted_at, user_id, inputs, outputs)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
		ON CONFLICT (id) DO NOTHING
		RETURNING id`,
		r.ID, exp, r.Name, string(r.Status), micros(r.StartTime), nullMicros(r.EndTime),
		params, metrics, tags, r.ArtifactURI, r.CreatedBy, micros(r.CreatedAt), micros(r.UpdatedAt),
		nullMicros(r.DeletedAt), r.UserID, inputs, outputs).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return cairn.Errorf(cairn.ECONFLICT, "run %q already exists", r.ID)
	}
	return translate(err, "create run %q", r.ID)
}

// DeleteExperimentRuns marks the active runs of an experiment deleted at
// at.
func (t *tx) DeleteExperimentRuns(ctx context.Context, experimentID string, at time.Time) (int64, error) {
	tag, err := t.q.Exec(ctx, `UPDATE runs SET deleted_at = $2, updated_at = $2 WHERE experiment_id = $1 AND deleted_at IS NULL`,
		experimentID, micros(at))
	if err != nil {
		return 0, translate(err, "delete the runs of experiment %q", experimentID)
	}
	return tag.RowsAffected(), nil
}

// RestoreExperimentRuns restores the runs of an experiment deleted at
// deletedAt.
func (t *tx) RestoreExperimentRuns(ctx context.Context, experimentID string, deletedAt, now time.Time) (int64, error) {
	tag, err := t.q.Exec(ctx, `UPDATE runs SET deleted_at = NULL, updated_at = $3 WHERE experiment_id = $1 AND deleted_at = $2`,
		experimentID, micros(deletedAt), micros(now))
	if err != nil {
		return 0, translate(err, "restore the runs of experiment %q", experimentID)
	}
	return tag.RowsAffected(), nil
}

// UpdateRun writes name, status, end_time, tags, inputs, outputs,
// deleted_at and updated_at;
// ENOTFOUND if the run does not exist.
func (t *tx) UpdateRun(ctx context.Context, r *cairn.Run) error {
	tags, err := encodeJSON("tags", stringMap(r.Tags))
	if err != nil {
		return err
	}
	inputs, outputs, err := encodeRunIO(r)
	if err != nil {
		return err
	}
	tag, err := t.q.Exec(ctx, `UPDATE runs
		SET name = $2, status = $3, end_time = $4, tags = $5, deleted_at = $6, updated_at = $7,
		    inputs = $8, outputs = $9
		WHERE id = $1`,
		r.ID, r.Name, string(r.Status), nullMicros(r.EndTime), tags, nullMicros(r.DeletedAt), micros(r.UpdatedAt),
		inputs, outputs)
	if err != nil {
		return translate(err, "update run %q", r.ID)
	}
	if tag.RowsAffected() == 0 {
		return cairn.Errorf(cairn.ENOTFOUND, "run %q not found", r.ID)
	}
	return nil
}

// LogRun records metric points and params of a run in one round of
// statements under the run's row lock. Each point joins the metric's
// history; runs.metrics keeps each metric's latest value, MLflow's way: the
// point with the highest step, then the latest timestamp, then the highest
// value, among all points ever logged. A param already set to a different
// value is ECONFLICT (and nothing is written); ENOTFOUND if the run does not
// exist.
func (t *tx) LogRun(ctx context.Context, runID string, metrics []cairn.MetricPoint, params map[string]string) error {
	var rawParams []byte
	err := t.q.QueryRow(ctx, `SELECT params FROM runs WHERE id = $1 FOR UPDATE`, runID).Scan(&rawParams)
	if errors.Is(err, pgx.ErrNoRows) {
		return cairn.Errorf(cairn.ENOTFOUND, "run %q not found", runID)
	}
	if err != nil {
		return translate(err, "log to run %q", runID)
	}
	current := map[string]string{}
	if err := decodeJSON("runs.params", rawParams, &current); err != nil {
		return err
	}
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys) // a deterministic error message
	newParams := false
	for _, k := range keys {
		old, ok := current[k]
		switch {
		case !ok:
			current[k] = params[k]
			newParams = true
		case old != params[k]:
			return cairn.Errorf(cairn.ECONFLICT, "run %q: param %q is already %q; params cannot change (tried %q)",
				runID, k, old, params[k])
		}
	}
	if newParams {
		enc, err := encodeJSON("params", current)
		if err != nil {
			return err
		}
		if _, err := t.q.Exec(ctx, `UPDATE runs SET params = $2 WHERE id = $1`, runID, enc); err != nil {
			return translate(err, "log params to run %q", runID)
		}
	}
	if len(metrics) == 0 {
		return nil
	}
	n := len(metrics)
	ks, vals, tss, steps := make([]string, n), make([]float64, n), make([]int64, n), make([]int64, n)
	for i, p := range metrics {
		ks[i], vals[i], tss[i], steps[i] = p.Key, p.Value, micros(p.Timestamp), p.Step
	}
	if _, err := t.q.Exec(ctx, `INSERT INTO run_metrics (run_id, key, value, timestamp, step)
		SELECT $1, k, v, ts, s FROM unnest($2::text[], $3::float8[], $4::bigint[], $5::bigint[]) AS p(k, v, ts, s)`,
		runID, ks, vals, tss, steps); err != nil {
		return translate(err, "log metrics to run %q", runID)
	}
	// Recompute the latest value of the metrics just logged, from the index
	// run_metrics_key.
	if _, err := t.q.Exec(ctx, `UPDATE runs r SET metrics = r.metrics || latest.m
		FROM (
			SELECT jsonb_object_agg(l.key, l.value) AS m FROM (
				SELECT DISTINCT ON (key) key, value FROM run_metrics
				WHERE run_id = $1 AND key = ANY($2::text[])
				ORDER BY key, step DESC, timestamp DESC, value DESC
			) l
		) latest
		WHERE r.id = $1`, runID, ks); err != nil {
		return translate(err, "log metrics to run %q", runID)
	}
	return nil
}

// runInputs is the JSON of runs.inputs.
type runInputs struct {
	Datasets []cairn.DatasetInput `json:"datasets,omitempty"`
	Models   []string             `json:"models,omitempty"`
}

func encodeRunIO(r *cairn.Run) (inputs, outputs string, err error) {
	if inputs, err = encodeJSON("inputs", runInputs{Datasets: r.Inputs, Models: r.ModelInputs}); err != nil {
		return "", "", err
	}
	out := r.Outputs
	if out == nil {
		out = []cairn.ModelOutput{}
	}
	if outputs, err = encodeJSON("outputs", out); err != nil {
		return "", "", err
	}
	return inputs, outputs, nil
}

// lifecycleWhere is the condition selecting records of a lifecycle, for a
// table aliased as alias with a deleted_at column.
func lifecycleWhere(alias string, l cairn.Lifecycle) string {
	switch l {
	case cairn.DeletedOnly:
		return alias + `.deleted_at IS NOT NULL`
	case cairn.AllLifecycles:
		return `TRUE`
	}
	return alias + `.deleted_at IS NULL`
}

// SearchRuns lists the runs of q.ExperimentIDs that match q.Filter, in
// q.OrderBy's order, a page at a time (offset tokens).
func (r reader) SearchRuns(ctx context.Context, q cairn.RunSearch) (*cairn.RunPage, error) {
	items, next, err := experimentSearch[*cairn.Run]{what: "search runs", columns: runColumns,
		table: "runs r", alias: "r", where: lifecycleWhere("r", q.Lifecycle), scan: scanRun,
		compile: func(d sqlfilter.Dialect, n int) (*sqlfilter.Compiled, error) {
			return sqlfilter.Runs(q.Filter, q.OrderBy, d, n)
		},
	}.page(ctx, r.q, q.ExperimentIDs, q.Page)
	if err != nil {
		return nil, err
	}
	return &cairn.RunPage{Items: items, NextToken: next}, nil
}

// LatestMetrics returns the latest point of each metric of each run.
func (r reader) LatestMetrics(ctx context.Context, runIDs []string) (map[string][]cairn.MetricPoint, error) {
	out := map[string][]cairn.MetricPoint{}
	if len(runIDs) == 0 {
		return out, nil
	}
	rows, err := r.q.Query(ctx, `SELECT DISTINCT ON (run_id, key) run_id, key, value, timestamp, step
		FROM run_metrics WHERE run_id = ANY($1::text[])
		ORDER BY run_id, key, step DESC, timestamp DESC, value DESC`, runIDs)
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
