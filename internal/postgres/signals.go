package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/cairn-registry/cairn"
)

const signalColumns = `s.id, m.name, v.number, s.kind, s.value, s.detail, s.threshold, s.flagged, s.created_by, s.created_at`

const signalFrom = ` FROM signals s JOIN versions v ON v.id = s.version_id JOIN models m ON m.id = v.model_id`

func scanSignal(row pgx.Row) (*cairn.Signal, error) {
	var (
		s       cairn.Signal
		created int64
	)
	if err := row.Scan(&s.ID, &s.Model, &s.Version, &s.Kind, &s.Value, &s.Detail, &s.Threshold, &s.Flagged, &s.CreatedBy, &created); err != nil {
		return nil, err
	}
	s.CreatedAt = fromMicros(created)
	return &s, nil
}

// versionRowID returns the row id of a version, or ENOTFOUND.
func versionRowID(ctx context.Context, q querier, model string, number int64) (int64, error) {
	var id int64
	err := q.QueryRow(ctx, `SELECT v.id FROM versions v JOIN models m ON m.id = v.model_id
		WHERE m.name = $1 AND v.number = $2`, model, number).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, cairn.Errorf(cairn.ENOTFOUND, "version %s not found", cairn.VersionRef(model, number))
	}
	if err != nil {
		return 0, translate(err, "look up version %s", cairn.VersionRef(model, number))
	}
	return id, nil
}

// CreateSignal inserts s and fills s.ID; ENOTFOUND if its version does not
// exist.
func (t *tx) CreateSignal(ctx context.Context, s *cairn.Signal) error {
	vid, err := versionRowID(ctx, t.q, s.Model, s.Version)
	if err != nil {
		return err
	}
	err = t.q.QueryRow(ctx, `INSERT INTO signals (version_id, kind, value, detail, threshold, flagged, created_by, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
		vid, s.Kind, s.Value, s.Detail, s.Threshold, s.Flagged, s.CreatedBy, micros(s.CreatedAt)).Scan(&s.ID)
	return translate(err, "record a signal on %s", s.Ref())
}

// ImportSignal inserts s keeping its ID, and moves the identity's sequence
// up to it so that CreateSignal numbers after the highest imported.
// ECONFLICT if the ID is taken.
func (t *tx) ImportSignal(ctx context.Context, s *cairn.Signal) error {
	if s.ID < 1 {
		return cairn.Errorf(cairn.EINVALID, "signal of %s: id %d is not positive", s.Ref(), s.ID)
	}
	vid, err := versionRowID(ctx, t.q, s.Model, s.Version)
	if err != nil {
		return err
	}
	var id int64
	err = t.q.QueryRow(ctx, `INSERT INTO signals (id, version_id, kind, value, detail, threshold, flagged, created_by, created_at)
		OVERRIDING SYSTEM VALUE
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
		ON CONFLICT (id) DO NOTHING
		RETURNING id`,
		s.ID, vid, s.Kind, s.Value, s.Detail, s.Threshold, s.Flagged, s.CreatedBy, micros(s.CreatedAt)).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return cairn.Errorf(cairn.ECONFLICT, "signal %d already exists", s.ID)
	}
	if err != nil {
		return translate(err, "import signal %d", s.ID)
	}
	// setval is not transactional: a rollback leaves the sequence moved,
	// and later signals skip some numbers, which signals allow (their ids
	// promise order, not gap-free numbers).
	_, err = t.q.Exec(ctx, `SELECT setval(s.seq, GREATEST($1::bigint, COALESCE(pg_sequence_last_value(s.seq), 0)))
		FROM (SELECT pg_get_serial_sequence('signals', 'id')::regclass AS seq) s`, s.ID)
	return translate(err, "move the signal sequence to %d", s.ID)
}

// ListSignals lists signals newest first: of one version, one model or
// all, optionally of one kind.
func (r reader) ListSignals(ctx context.Context, q cairn.SignalQuery) (*cairn.SignalPage, error) {
	size, err := pageSize(q.Page.Size)
	if err != nil {
		return nil, err
	}
	page := &cairn.SignalPage{Items: []*cairn.Signal{}}
	err = r.view(ctx, func(db querier) error {
		var a args
		sql := `SELECT ` + signalColumns + signalFrom + ` WHERE TRUE`
		switch {
		case q.Model != "" && q.Version > 0:
			vid, err := versionRowID(ctx, db, q.Model, q.Version)
			if err != nil {
				return err
			}
			sql += ` AND s.version_id = ` + a.add(vid)
		case q.Model != "":
			m, err := getModel(ctx, db, q.Model, false)
			if err != nil {
				return err
			}
			sql += ` AND m.name = ` + a.add(m.Name)
		}
		if q.Kind != "" {
			sql += ` AND s.kind = ` + a.add(q.Kind)
		}
		if q.Page.Token != "" {
			c, err := decodeCursor(q.Page.Token)
			if err != nil {
				return err
			}
			sql += ` AND s.id < ` + a.add(c.n)
		}
		sql += ` ORDER BY s.id DESC LIMIT ` + a.add(size+1)
		rows, err := db.Query(ctx, sql, a...)
		if err != nil {
			return translate(err, "list signals")
		}
		defer rows.Close()
		for rows.Next() {
			s, err := scanSignal(rows)
			if err != nil {
				return translate(err, "list signals")
			}
			if len(page.Items) == size {
				page.NextToken = cursor{n: page.Items[size-1].ID}.encode()
				break
			}
			page.Items = append(page.Items, s)
		}
		return translate(rows.Err(), "list signals")
	})
	if err != nil {
		return nil, err
	}
	return page, nil
}
