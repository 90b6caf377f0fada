package postgres

import (
	"context"
	"errors"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/internal/sqlfilter"
)

const experimentColumns = `e.id, e.name, e.artifact_location, e.tags, e.created_by, e.created_at, e.updated_at, e.deleted_at`

func scanExperiment(row pgx.Row) (*cairn.Experiment, error) {
	var (
		e                cairn.Experiment
		tags             []byte
		created, updated int64
		deleted          *int64
	)
	if err := row.Scan(&e.ID, &e.Name, &e.ArtifactLocation, &tags, &e.CreatedBy, &created, &updated, &deleted); err != nil {
		return nil, err
	}
	e.Tags = map[string]string{}
	if err := decodeJSON("experiments.tags", tags, &e.Tags); err != nil {
		return nil, err
	}
	e.CreatedAt, e.UpdatedAt, e.DeletedAt = fromMicros(created), fromMicros(updated), fromNullMicros(deleted)
	return &e, nil
}

func (r reader) getExperiment(ctx context.Context, where, arg string) (*cairn.Experiment, error) {
	e, err := scanExperiment(r.q.QueryRow(ctx, `SELECT `+experimentColumns+` FROM experiments e WHERE `+where+` = $1`, arg))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, cairn.Errorf(cairn.ENOTFOUND, "experiment %q not found", arg)
	}
	if err != nil {
		return nil, translate(err, "get experiment %q", arg)
	}
	return e, nil
}

// GetExperiment returns an experiment by id, deleted or not; ENOTFOUND if
// there is none.
func (r reader) GetExperiment(ctx context.Context, id string) (*cairn.Experiment, error) {
	return r.getExperiment(ctx, "e.id", id)
}

// GetExperimentByName returns an experiment by name, deleted or not;
// ENOTFOUND if there is none.
func (r reader) GetExperimentByName(ctx context.Context, name string) (*cairn.Experiment, error) {
	return r.getExperiment(ctx, "e.name", name)
}

// ListExperiments lists experiments matching q.Filter in q.OrderBy's order
// (offset page tokens).
func (r reader) ListExperiments(ctx context.Context, q cairn.ExperimentQuery) (*cairn.ExperimentPage, error) {
	size, err := pageSize(q.Page.Size)
	if err != nil {
		return nil, err
	}
	offset, err := sqlfilter.DecodePageToken(q.Page.Token)
	if err != nil {
		return nil, err
	}
	c, err := sqlfilter.Experiments(q.Filter, q.OrderBy, sqlfilter.Postgres, 1)
	if err != nil {
		return nil, err
	}
	a := args(append([]any(nil), c.Args...))
	query := `SELECT ` + experimentColumns + ` FROM experiments e WHERE ` + lifecycleWhere("e", q.Lifecycle)
	if c.Where != "" {
		query += ` AND (` + c.Where + `)`
	}
	query += ` ORDER BY ` + c.OrderBy + ` LIMIT ` + a.add(size+1) + ` OFFSET ` + a.add(offset)
	items, next, err := offsetPage(ctx, r.q, size, offset, "list experiments", query, scanExperiment, a...)
	if err != nil {
		return nil, err
	}
	return &cairn.ExperimentPage{Items: items, NextToken: next}, nil
}

// CreateExperiment allocates e.ID from the experiment counter (whose row
// lock serializes allocations) if it is empty and inserts e; ECONFLICT if
// the name is taken.
func (t *tx) CreateExperiment(ctx context.Context, e *cairn.Experiment) error {
	if e.ID == "" {
		var n int64
		if err := t.q.QueryRow(ctx, `UPDATE counters SET value = value + 1 WHERE name = 'experiment' RETURNING value`).Scan(&n); err != nil {
			return translate(err, "allocate an experiment id")
		}
		e.ID = strconv.FormatInt(n, 10)
		if e.ArtifactLocation == "" {
			e.ArtifactLocation = "mlflow-artifacts:/" + e.ID
		}
	}
	return t.insertExperiment(ctx, e)
}

// insertExperiment inserts e; ECONFLICT, without an SQL error, if its id
// or name is taken.
func (t *tx) insertExperiment(ctx context.Context, e *cairn.Experiment) error {
	tags, err := encodeJSON("tags", stringMap(e.Tags))
	if err != nil {
		return err
	}
	var id string
	err = t.q.QueryRow(ctx, `INSERT INTO experiments (id, name, artifact_location, tags, created_by, created_at, updated_at, deleted_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING RETURNING id`,
		e.ID, e.Name, e.ArtifactLocation, tags, e.CreatedBy, micros(e.CreatedAt), micros(e.UpdatedAt), nullMicros(e.DeletedAt)).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return cairn.Errorf(cairn.ECONFLICT, "experiment %q already exists", e.Name)
	}
	return translate(err, "create experiment %q", e.Name)
}

// UpdateExperiment writes e's name, tags, updated_at and deleted_at.
func (t *tx) UpdateExperiment(ctx context.Context, e *cairn.Experiment) error {
	tags, err := encodeJSON("tags", stringMap(e.Tags))
	if err != nil {
		return err
	}
	var taken bool
	if err := t.q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM experiments WHERE name = $1 AND id <> $2)`, e.Name, e.ID).Scan(&taken); err != nil {
		return translate(err, "update experiment %q", e.ID)
	}
	if taken {
		return cairn.Errorf(cairn.ECONFLICT, "experiment %q already exists", e.Name)
	}
	tag, err := t.q.Exec(ctx, `UPDATE experiments SET name = $2, tags = $3, updated_at = $4, deleted_at = $5 WHERE id = $1`,
		e.ID, e.Name, tags, micros(e.UpdatedAt), nullMicros(e.DeletedAt))
	if err != nil {
		return translate(err, "update experiment %q", e.ID)
	}
	if tag.RowsAffected() == 0 {
		return cairn.Errorf(cairn.ENOTFOUND, "experiment %q not found", e.ID)
	}
	return nil
}

// ExportExperiments lists every experiment, deleted ones included, by id.
func (r reader) ExportExperiments(ctx context.Context, page cairn.Page) (*cairn.ExperimentPage, error) {
	items, next, err := exportByID(ctx, r.q, page, "export experiments",
		`SELECT `+experimentColumns+` FROM experiments e WHERE e.id > $1 ORDER BY e.id LIMIT $2`,
		scanExperiment, func(e *cairn.Experiment) string { return e.ID })
	if err != nil {
		return nil, err
	}
	return &cairn.ExperimentPage{Items: items, NextToken: next}, nil
}

// ImportExperiment inserts e as it is and moves the experiment counter past
// its id. The default experiment is overwritten unless equal already.
func (t *tx) ImportExperiment(ctx context.Context, e *cairn.Experiment) error {
	if e.ID == cairn.DefaultExperimentID {
		cur, err := t.GetExperiment(ctx, e.ID)
		if err != nil {
			return err
		}
		if cur.Equal(e) {
			return cairn.Errorf(cairn.ECONFLICT, "experiment %q already exists", e.ID)
		}
		if _, err := t.q.Exec(ctx, `DELETE FROM experiments WHERE id = $1`, e.ID); err != nil {
			return translate(err, "replace the default experiment")
		}
	}
	if err := t.insertExperiment(ctx, e); err != nil {
		return err
	}
	if n, err := strconv.ParseInt(e.ID, 10, 64); err == nil {
		if _, err := t.q.Exec(ctx, `UPDATE counters SET value = GREATEST(value, $1) WHERE name = 'experiment'`, n); err != nil {
			return translate(err, "move the experiment counter")
		}
	}
	return nil
}
