package sqlite

import (
	"context"
	"database/sql"
	"errors"

	"github.com/cairn-registry/cairn"
)

// This file implements cairn.Exporter and cairn.Importer: listing every
// record, and writing records with the numbers, sequence numbers and hashes
// another store gave them, for cairn migrate-store.

var (
	_ cairn.Exporter = (*DB)(nil)
	_ cairn.Importer = (*tx)(nil)
)

// ExportRuns lists every run, deleted ones included, by id. Pages are keyed
// by the last id.
func (db *DB) ExportRuns(ctx context.Context, page cairn.Page) (*cairn.RunPage, error) {
	items, next, err := exportByID(ctx, db, page, "export runs",
		`SELECT `+runColumns+` FROM runs WHERE id > ? ORDER BY id LIMIT ?`,
		scanRun, func(r *cairn.Run) string { return r.ID })
	if err != nil {
		return nil, err
	}
	return &cairn.RunPage{Items: items, NextToken: next}, nil
}

// ExportEdges lists every lineage edge by row id, the order they were added
// in. Pages are keyed by the last row id.
func (db *DB) ExportEdges(ctx context.Context, page cairn.Page) (*cairn.EdgePage, error) {
	size, err := pageSize(page.Size)
	if err != nil {
		return nil, err
	}
	var after int64
	if page.Token != "" {
		c, err := decodeCursor(page.Token)
		if err != nil {
			return nil, err
		}
		after = c.n
	}
	return view(ctx, db, func(t *tx) (*cairn.EdgePage, error) {
		rows, err := t.query(ctx, `SELECT e.id, fm.name, fv.number, e.from_run_id,
			tm.name, tv.number, e.to_run_id, e.type, e.created_by, e.created_at
			FROM lineage_edges e
			LEFT JOIN versions fv ON fv.id = e.from_version_id
			LEFT JOIN models fm ON fm.id = fv.model_id
			LEFT JOIN versions tv ON tv.id = e.to_version_id
			LEFT JOIN models tm ON tm.id = tv.model_id
			WHERE e.id > ? ORDER BY e.id LIMIT ?`, after, size+1)
		if err != nil {
			return nil, translate(err, "export lineage edges")
		}
		defer rows.Close()
		out := &cairn.EdgePage{Items: []cairn.Edge{}}
		var lastID int64
		for rows.Next() {
			if len(out.Items) == size {
				out.NextToken = cursor{n: lastID}.encode()
				break
			}
			var (
				fromModel, fromRun, toModel, toRun sql.NullString
				fromNum, toNum                     sql.NullInt64
				e                                  cairn.Edge
				at                                 int64
			)
			if err := rows.Scan(&lastID, &fromModel, &fromNum, &fromRun, &toModel, &toNum, &toRun,
				&e.Type, &e.CreatedBy, &at); err != nil {
				return nil, translate(err, "export lineage edges")
			}
			e.From = edgeNode(fromModel, fromNum, fromRun)
			e.To = edgeNode(toModel, toNum, toRun)
			e.CreatedAt = fromMicros(at)
			out.Items = append(out.Items, e)
		}
		return out, translate(rows.Err(), "export lineage edges")
	})
}

// ImportModel inserts m with its version counter, m.LatestVersion.
// ECONFLICT if the name is taken.
func (t *tx) ImportModel(ctx context.Context, m *cairn.Model) error {
	if m.LatestVersion < 0 {
		return cairn.Errorf(cairn.EINVALID, "model %q: latest_version %d is negative", m.Name, m.LatestVersion)
	}
	tags, err := encodeJSON(stringMap(m.Tags))
	if err != nil {
		return err
	}
	_, err = t.exec(ctx, `INSERT INTO models
		(name, kind, description, tags, latest_version, archived, created_by, created_at, updated_at, deleted_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		m.Name, string(m.Kind), m.Description, tags, m.LatestVersion, boolInt(m.Archived), m.CreatedBy,
		micros(m.CreatedAt), micros(m.UpdatedAt), nullMicros(m.DeletedAt))
	if isUnique(err) {
		return cairn.WrapError(cairn.ECONFLICT, err, "model %q already exists", m.Name)
	}
	return translate(err, "import model %q", m.Name)
}

// ImportAlias sets an alias without recording a move. ENOTFOUND if the
// version does not exist, ECONFLICT if the alias exists.
func (t *tx) ImportAlias(ctx context.Context, a *cairn.Alias) error {
	var modelID int64
	err := t.queryRow(ctx, `SELECT v.model_id`+versionFrom+` WHERE m.name = ? AND v.number = ?`,
		a.Model, a.Version).Scan(&modelID)
	if errors.Is(err, sql.ErrNoRows) {
		return cairn.Errorf(cairn.ENOTFOUND, "cannot import alias %s@%s: version %s not found",
			a.Model, a.Name, cairn.VersionRef(a.Model, a.Version))
	}
	if err != nil {
		return translate(err, "import alias %s@%s", a.Model, a.Name)
	}
	_, err = t.exec(ctx, `INSERT INTO aliases (model_id, name, version, updated_by, updated_at)
		VALUES (?, ?, ?, ?, ?)`, modelID, a.Name, a.Version, a.UpdatedBy, micros(a.UpdatedAt))
	if isUnique(err) {
		return cairn.WrapError(cairn.ECONFLICT, err, "alias %s@%s already exists", a.Model, a.Name)
	}
	return translate(err, "import alias %s@%s", a.Model, a.Name)
}

// ImportAliasMove appends m to the alias history with m.Seq. seq is the
// table's INTEGER PRIMARY KEY, so MoveAlias's next move numbers after the
// highest. ENOTFOUND if the model does not exist, ECONFLICT if m.Seq is
// taken.
func (t *tx) ImportAliasMove(ctx context.Context, m *cairn.AliasMove) error {
	if m.Seq < 1 {
		return cairn.Errorf(cairn.EINVALID, "alias move of %s@%s: seq %d is not positive", m.Model, m.Alias, m.Seq)
	}
	modelID, err := t.modelID(ctx, m.Model)
	if err != nil {
		return err
	}
	origin, err := encodeOrigin(m.Origin)
	if err != nil {
		return err
	}
	_, err = t.exec(ctx, `INSERT INTO alias_history
		(seq, model_id, alias, from_version, to_version, actor, at, request_id, origin)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		m.Seq, modelID, m.Alias, nullInt64(m.From), nullInt64(m.To), m.Actor, micros(m.At), m.RequestID, origin)
	if isUnique(err) {
		return cairn.WrapError(cairn.ECONFLICT, err, "alias move %d already exists", m.Seq)
	}
	return translate(err, "import alias move %d", m.Seq)
}

// ImportRun inserts r as it is and its metric history in the order given.
// ECONFLICT if the id is taken.
func (t *tx) ImportRun(ctx context.Context, r *cairn.Run, history []cairn.MetricPoint) error {
	if err := t.CreateRun(ctx, r); err != nil {
		return err
	}
	for _, p := range history {
		if _, err := t.exec(ctx,
			`INSERT INTO run_metrics (run_id, key, value, timestamp, step) VALUES (?, ?, ?, ?, ?)`,
			r.ID, p.Key, p.Value, micros(p.Timestamp), p.Step); err != nil {
			return translate(err, "import metric %q of run %q", p.Key, r.ID)
		}
	}
	return nil
}

// counter returns the current value of a row of the counters table.
func (t *tx) counter(ctx context.Context, name string) (int64, error) {
	var n int64
	if err := t.queryRow(ctx, `SELECT value FROM counters WHERE name = ?`, name).Scan(&n); err != nil {
		return 0, translate(err, "read the %s counter", name)
	}
	return n, nil
}

// ImportAudit appends e as it is, if it extends the chain, and moves the
// audit counter to e.Seq. The write lock every write transaction holds
// keeps the chain from forking meanwhile.
func (t *tx) ImportAudit(ctx context.Context, e *cairn.AuditEntry) error {
	last, err := t.counter(ctx, "audit")
	if err != nil {
		return err
	}
	if e.Seq >= 1 && e.Seq <= last {
		var hash string
		if err := t.queryRow(ctx, `SELECT hash FROM audit_log WHERE seq = ?`, e.Seq).Scan(&hash); err != nil {
			return translate(err, "read audit entry %d", e.Seq)
		}
		if hash != e.Hash {
			return cairn.Errorf(cairn.EFAILEDPRECONDITION,
				"audit entry %d exists with a different hash: this audit log is not a copy of the one imported", e.Seq)
		}
		return cairn.Errorf(cairn.ECONFLICT, "audit entry %d already exists", e.Seq)
	}
	prev := ""
	if last > 0 {
		err := t.queryRow(ctx, `SELECT hash FROM audit_log WHERE seq = ?`, last).Scan(&prev)
		if errors.Is(err, sql.ErrNoRows) {
			return cairn.Errorf(cairn.EINTERNAL, "audit log: entry %d is missing; the chain is broken", last)
		}
		if err != nil {
			return translate(err, "read audit entry %d", last)
		}
	}
	if err := e.Follows(last, prev); err != nil {
		return err
	}
	if _, err := t.exec(ctx, `INSERT INTO audit_log
		(seq, at, actor, actor_verified, action, target, before, after, request_id, prev_hash, hash)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		e.Seq, micros(e.Time), e.Actor, boolInt(e.ActorVerified), e.Action, e.Target,
		nullBytes(e.Before), nullBytes(e.After), e.RequestID, e.PrevHash, e.Hash); err != nil {
		return translate(err, "import audit entry %d", e.Seq)
	}
	_, err = t.exec(ctx, `UPDATE counters SET value = ? WHERE name = 'audit'`, e.Seq)
	return translate(err, "move the audit counter to %d", e.Seq)
}

// ImportEvent appends ev as it is, if it is the next in sequence, and moves
// the event counter to ev.Seq.
func (t *tx) ImportEvent(ctx context.Context, ev *cairn.Event) error {
	last, err := t.counter(ctx, "event")
	if err != nil {
		return err
	}
	if ev.Seq >= 1 && ev.Seq <= last {
		return cairn.Errorf(cairn.ECONFLICT, "event %d already exists", ev.Seq)
	}
	if ev.Seq != last+1 {
		return cairn.Errorf(cairn.EFAILEDPRECONDITION, "event %d does not follow event %d", ev.Seq, last)
	}
	_, err = t.exec(ctx, `INSERT INTO events (seq, id, type, at, actor, model, alias, payload)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		ev.Seq, ev.ID, ev.Type, micros(ev.Time), ev.Actor, ev.Model, ev.Alias, string(ev.Payload))
	if isUnique(err) {
		return cairn.WrapError(cairn.EFAILEDPRECONDITION, err, "event %d: an event with id %q exists under another sequence number", ev.Seq, ev.ID)
	}
	if err != nil {
		return translate(err, "import event %d", ev.Seq)
	}
	_, err = t.exec(ctx, `UPDATE counters SET value = ? WHERE name = 'event'`, ev.Seq)
	return translate(err, "move the event counter to %d", ev.Seq)
}
