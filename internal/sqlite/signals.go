package sqlite

import (
	"context"
	"database/sql"
	"strings"

	"github.com/cairn-registry/cairn"
)

const signalColumns = `s.id, m.name, v.number, s.kind, s.value, s.detail, s.threshold, s.flagged, s.created_by, s.created_at`

const signalFrom = ` FROM signals s JOIN versions v ON v.id = s.version_id JOIN models m ON m.id = v.model_id`

func scanSignal(sc scanner) (*cairn.Signal, error) {
	var (
		s         cairn.Signal
		threshold sql.NullFloat64
		created   int64
	)
	if err := sc.Scan(&s.ID, &s.Model, &s.Version, &s.Kind, &s.Value, &s.Detail, &threshold, &s.Flagged, &s.CreatedBy, &created); err != nil {
		return nil, err
	}
	if threshold.Valid {
		s.Threshold = &threshold.Float64
	}
	s.CreatedAt = fromMicros(created)
	return &s, nil
}

// CreateSignal inserts s and fills s.ID; ENOTFOUND if its version does not
// exist.
func (t *tx) CreateSignal(ctx context.Context, s *cairn.Signal) error {
	return t.insertSignal(ctx, s, false)
}

// ImportSignal inserts s keeping its ID. ECONFLICT if the ID is taken.
func (t *tx) ImportSignal(ctx context.Context, s *cairn.Signal) error {
	if s.ID < 1 {
		return cairn.Errorf(cairn.EINVALID, "signal of %s: id %d is not positive", s.Ref(), s.ID)
	}
	return t.insertSignal(ctx, s, true)
}

func (t *tx) insertSignal(ctx context.Context, s *cairn.Signal, keepID bool) error {
	vid, err := t.versionID(ctx, s.Model, s.Version)
	if err != nil {
		return err
	}
	var threshold sql.NullFloat64
	if s.Threshold != nil {
		threshold = sql.NullFloat64{Float64: *s.Threshold, Valid: true}
	}
	var id sql.NullInt64
	if keepID {
		id = sql.NullInt64{Int64: s.ID, Valid: true}
	}
	err = t.queryRow(ctx, `INSERT INTO signals (id, version_id, kind, value, detail, threshold, flagged, created_by, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		id, vid, s.Kind, s.Value, s.Detail, threshold, boolInt(s.Flagged), s.CreatedBy, micros(s.CreatedAt)).Scan(&s.ID)
	if isUnique(err) {
		return cairn.WrapError(cairn.ECONFLICT, err, "signal %d already exists", s.ID)
	}
	return translate(err, "record a signal on %s", s.Ref())
}

// ListSignals lists signals newest first: of one version, one model or
// all, optionally of one kind.
func (db *DB) ListSignals(ctx context.Context, q cairn.SignalQuery) (*cairn.SignalPage, error) {
	return view(ctx, db, func(t *tx) (*cairn.SignalPage, error) { return t.ListSignals(ctx, q) })
}

func (t *tx) ListSignals(ctx context.Context, q cairn.SignalQuery) (*cairn.SignalPage, error) {
	size, err := pageSize(q.Page.Size)
	if err != nil {
		return nil, err
	}
	var (
		where []string
		args  []any
	)
	switch {
	case q.Model != "" && q.Version > 0:
		vid, err := t.versionID(ctx, q.Model, q.Version)
		if err != nil {
			return nil, err
		}
		where, args = append(where, `s.version_id = ?`), append(args, vid)
	case q.Model != "":
		mid, err := t.modelID(ctx, q.Model)
		if err != nil {
			return nil, err
		}
		where, args = append(where, `v.model_id = ?`), append(args, mid)
	}
	if q.Kind != "" {
		where, args = append(where, `s.kind = ?`), append(args, q.Kind)
	}
	if q.Page.Token != "" {
		c, err := decodeCursor(q.Page.Token)
		if err != nil {
			return nil, err
		}
		where, args = append(where, `s.id < ?`), append(args, c.n)
	}
	query := `SELECT ` + signalColumns + signalFrom
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, " AND ")
	}
	query += ` ORDER BY s.id DESC LIMIT ?`
	args = append(args, size+1)
	rows, err := t.query(ctx, query, args...)
	if err != nil {
		return nil, translate(err, "list signals")
	}
	defer rows.Close()
	page := &cairn.SignalPage{Items: []*cairn.Signal{}}
	for rows.Next() {
		s, err := scanSignal(rows)
		if err != nil {
			return nil, translate(err, "list signals")
		}
		if len(page.Items) == size {
			page.NextToken = cursor{n: page.Items[size-1].ID}.encode()
			break
		}
		page.Items = append(page.Items, s)
	}
	return page, translate(rows.Err(), "list signals")
}
