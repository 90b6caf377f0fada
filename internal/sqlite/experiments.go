package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"strings"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/internal/sqlfilter"
)

const experimentColumns = `e.id, e.name, e.artifact_location, e.tags, e.created_by, e.created_at, e.updated_at, e.deleted_at`

func scanExperiment(s scanner) (*cairn.Experiment, error) {
	var (
		e                cairn.Experiment
		tags             string
		created, updated int64
		deleted          sql.NullInt64
	)
	if err := s.Scan(&e.ID, &e.Name, &e.ArtifactLocation, &tags, &e.CreatedBy, &created, &updated, &deleted); err != nil {
		return nil, err
	}
	e.Tags = map[string]string{}
	if err := decodeJSON("experiments.tags", tags, &e.Tags); err != nil {
		return nil, err
	}
	e.CreatedAt, e.UpdatedAt, e.DeletedAt = fromMicros(created), fromMicros(updated), fromNullMicros(deleted)
	return &e, nil
}

// GetExperiment returns an experiment by id, deleted or not; ENOTFOUND if
// there is none.
func (db *DB) GetExperiment(ctx context.Context, id string) (*cairn.Experiment, error) {
	return view(ctx, db, func(t *tx) (*cairn.Experiment, error) { return t.GetExperiment(ctx, id) })
}

func (t *tx) GetExperiment(ctx context.Context, id string) (*cairn.Experiment, error) {
	e, err := scanExperiment(t.queryRow(ctx, `SELECT `+experimentColumns+` FROM experiments e WHERE e.id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, cairn.Errorf(cairn.ENOTFOUND, "experiment %q not found", id)
	}
	return e, translate(err, "get experiment %q", id)
}

// GetExperimentByName returns an experiment by name, deleted or not;
// ENOTFOUND if there is none.
func (db *DB) GetExperimentByName(ctx context.Context, name string) (*cairn.Experiment, error) {
	return view(ctx, db, func(t *tx) (*cairn.Experiment, error) { return t.GetExperimentByName(ctx, name) })
}

func (t *tx) GetExperimentByName(ctx context.Context, name string) (*cairn.Experiment, error) {
	e, err := scanExperiment(t.queryRow(ctx, `SELECT `+experimentColumns+` FROM experiments e WHERE e.name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, cairn.Errorf(cairn.ENOTFOUND, "experiment %q not found", name)
	}
	return e, translate(err, "get experiment %q", name)
}

// ListExperiments lists experiments matching q.Filter in q.OrderBy's order
// (offset page tokens).
func (db *DB) ListExperiments(ctx context.Context, q cairn.ExperimentQuery) (*cairn.ExperimentPage, error) {
	return view(ctx, db, func(t *tx) (*cairn.ExperimentPage, error) { return t.ListExperiments(ctx, q) })
}

func (t *tx) ListExperiments(ctx context.Context, q cairn.ExperimentQuery) (*cairn.ExperimentPage, error) {
	size, err := pageSize(q.Page.Size)
	if err != nil {
		return nil, err
	}
	offset, err := decodeOffset(q.Page.Token)
	if err != nil {
		return nil, err
	}
	c, err := sqlfilter.Experiments(q.Filter, q.OrderBy, sqlfilter.SQLite, 1)
	if err != nil {
		return nil, err
	}
	where := []string{lifecycleWhere("e", q.Lifecycle)}
	if c.Where != "" {
		where = append(where, c.Where)
	}
	args := append(append([]any(nil), c.Args...), size+1, offset)
	items, next, err := offsetPage(ctx, t, size, offset, "list experiments",
		`SELECT `+experimentColumns+` FROM experiments e WHERE `+strings.Join(where, " AND ")+
			` ORDER BY `+c.OrderBy+` LIMIT ? OFFSET ?`, scanExperiment, args...)
	if err != nil {
		return nil, err
	}
	return &cairn.ExperimentPage{Items: items, NextToken: next}, nil
}

// CreateExperiment allocates e.ID from the experiment counter if it is
// empty and inserts e; ECONFLICT if the name is taken.
func (t *tx) CreateExperiment(ctx context.Context, e *cairn.Experiment) error {
	if e.ID == "" {
		var n int64
		if err := t.queryRow(ctx, `UPDATE counters SET value = value + 1 WHERE name = 'experiment' RETURNING value`).Scan(&n); err != nil {
			return translate(err, "allocate an experiment id")
		}
		e.ID = strconv.FormatInt(n, 10)
		if e.ArtifactLocation == "" {
			e.ArtifactLocation = "mlflow-artifacts:/" + e.ID
		}
	}
	return t.insertExperiment(ctx, e)
}

func (t *tx) insertExperiment(ctx context.Context, e *cairn.Experiment) error {
	tags, err := encodeJSON(stringMap(e.Tags))
	if err != nil {
		return err
	}
	_, err = t.exec(ctx, `INSERT INTO experiments (id, name, artifact_location, tags, created_by, created_at, updated_at, deleted_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		e.ID, e.Name, e.ArtifactLocation, tags, e.CreatedBy, micros(e.CreatedAt), micros(e.UpdatedAt), nullMicros(e.DeletedAt))
	if isUnique(err) {
		return cairn.WrapError(cairn.ECONFLICT, err, "experiment %q already exists", e.Name)
	}
	return translate(err, "create experiment %q", e.Name)
}

// UpdateExperiment writes e's name, tags, updated_at and deleted_at.
func (t *tx) UpdateExperiment(ctx context.Context, e *cairn.Experiment) error {
	tags, err := encodeJSON(stringMap(e.Tags))
	if err != nil {
		return err
	}
	res, err := t.exec(ctx, `UPDATE experiments SET name = ?, tags = ?, updated_at = ?, deleted_at = ? WHERE id = ?`,
		e.Name, tags, micros(e.UpdatedAt), nullMicros(e.DeletedAt), e.ID)
	if isUnique(err) {
		return cairn.WrapError(cairn.ECONFLICT, err, "experiment %q already exists", e.Name)
	}
	return expectOne(res, err, "experiment %q", e.ID)
}

// ExportExperiments lists every experiment, deleted ones included, by id.
func (db *DB) ExportExperiments(ctx context.Context, page cairn.Page) (*cairn.ExperimentPage, error) {
	items, next, err := exportByID(ctx, db, page, "export experiments",
		`SELECT `+experimentColumns+` FROM experiments e WHERE e.id > ? ORDER BY e.id LIMIT ?`,
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
		if _, err := t.exec(ctx, `DELETE FROM experiments WHERE id = ?`, e.ID); err != nil {
			return translate(err, "replace the default experiment")
		}
	}
	if err := t.insertExperiment(ctx, e); err != nil {
		return err
	}
	if n, err := strconv.ParseInt(e.ID, 10, 64); err == nil {
		if _, err := t.exec(ctx, `UPDATE counters SET value = MAX(value, ?) WHERE name = 'experiment'`, n); err != nil {
			return translate(err, "move the experiment counter")
		}
	}
	return nil
}
