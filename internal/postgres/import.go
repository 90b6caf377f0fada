package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/cairn-registry/cairn"
)

// This file implements cairn.Exporter and cairn.Importer: listing every
// record, and writing records with the numbers, sequence numbers and hashes
// another store gave them, for cairn migrate-store. Expected failures (a
// record already there) are detected without an SQL error, so that they do
// not abort the caller's transaction.

var (
	_ cairn.Exporter = (*DB)(nil)
	_ cairn.Importer = (*tx)(nil)
)

// ExportRuns lists every run, deleted ones included, by id. Pages are keyed
// by the last id.
func (r reader) ExportRuns(ctx context.Context, page cairn.Page) (*cairn.RunPage, error) {
	items, next, err := exportByID(ctx, r.q, page, "export runs",
		`SELECT `+runColumns+` FROM runs r WHERE r.id > $1 ORDER BY r.id LIMIT $2`,
		scanRun, func(run *cairn.Run) string { return run.ID })
	if err != nil {
		return nil, err
	}
	return &cairn.RunPage{Items: items, NextToken: next}, nil
}

// ExportEdges lists every lineage edge by row id, the order they were added
// in. Pages are keyed by the last row id.
func (r reader) ExportEdges(ctx context.Context, page cairn.Page) (*cairn.EdgePage, error) {
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
	rows, err := r.q.Query(ctx, `SELECT e.id, fm.name, fv.number, e.from_run_id,
			tm.name, tv.number, e.to_run_id, e.type, e.created_by, e.created_at
		FROM lineage_edges e
		LEFT JOIN versions fv ON fv.id = e.from_version_id
		LEFT JOIN models fm ON fm.id = fv.model_id
		LEFT JOIN versions tv ON tv.id = e.to_version_id
		LEFT JOIN models tm ON tm.id = tv.model_id
		WHERE e.id > $1 ORDER BY e.id LIMIT $2`, after, size+1)
	if err != nil {
		return nil, translate(err, "export lineage edges")
	}
	defer rows.Close()
	out := &cairn.EdgePage{Items: []cairn.Edge{}}
	var ids []int64
	for rows.Next() {
		var (
			id                 int64
			fromModel, toModel *string
			fromNum, toNum     *int64
			fromRun, toRun     *string
			typ, createdBy     string
			createdAt          int64
		)
		if err := rows.Scan(&id, &fromModel, &fromNum, &fromRun, &toModel, &toNum, &toRun,
			&typ, &createdBy, &createdAt); err != nil {
			return nil, translate(err, "export lineage edges")
		}
		ids = append(ids, id)
		out.Items = append(out.Items, cairn.Edge{
			From: node(fromModel, fromNum, fromRun), To: node(toModel, toNum, toRun),
			Type: cairn.EdgeType(typ), CreatedBy: createdBy, CreatedAt: fromMicros(createdAt),
		})
	}
	if err := rows.Err(); err != nil {
		return nil, translate(err, "export lineage edges")
	}
	if len(out.Items) > size {
		out.Items = out.Items[:size]
		out.NextToken = cursor{n: ids[size-1]}.encode()
	}
	return out, nil
}

// ImportModel inserts m with its version counter, m.LatestVersion.
// ECONFLICT if the name is taken.
func (t *tx) ImportModel(ctx context.Context, m *cairn.Model) error {
	if m.LatestVersion < 0 {
		return cairn.Errorf(cairn.EINVALID, "model %q: latest_version %d is negative", m.Name, m.LatestVersion)
	}
	tags, err := encodeJSON("tags", stringMap(m.Tags))
	if err != nil {
		return err
	}
	var id int64
	err = t.q.QueryRow(ctx, `INSERT INTO models
		(name, kind, description, tags, latest_version, archived, created_by, created_at, updated_at, deleted_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
		ON CONFLICT (name) DO NOTHING
		RETURNING id`,
		m.Name, string(m.Kind), m.Description, tags, m.LatestVersion, m.Archived, m.CreatedBy,
		micros(m.CreatedAt), micros(m.UpdatedAt), nullMicros(m.DeletedAt)).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return cairn.Errorf(cairn.ECONFLICT, "model %q already exists", m.Name)
	}
	return translate(err, "import model %q", m.Name)
}

// ImportAlias sets an alias without recording a move. ENOTFOUND if the
// version does not exist, ECONFLICT if the alias exists.
func (t *tx) ImportAlias(ctx context.Context, a *cairn.Alias) error {
	var modelID int64
	err := t.q.QueryRow(ctx, `SELECT v.model_id FROM versions v JOIN models m ON m.id = v.model_id
		WHERE m.name = $1 AND v.number = $2`, a.Model, a.Version).Scan(&modelID)
	if errors.Is(err, pgx.ErrNoRows) {
		return cairn.Errorf(cairn.ENOTFOUND, "cannot import alias %s@%s: version %s not found",
			a.Model, a.Name, cairn.VersionRef(a.Model, a.Version))
	}
	if err != nil {
		return translate(err, "import alias %s@%s", a.Model, a.Name)
	}
	var got int64
	err = t.q.QueryRow(ctx, `INSERT INTO aliases (model_id, name, version, updated_by, updated_at)
		VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (model_id, name) DO NOTHING
		RETURNING model_id`, modelID, a.Name, a.Version, a.UpdatedBy, micros(a.UpdatedAt)).Scan(&got)
	if errors.Is(err, pgx.ErrNoRows) {
		return cairn.Errorf(cairn.ECONFLICT, "alias %s@%s already exists", a.Model, a.Name)
	}
	return translate(err, "import alias %s@%s", a.Model, a.Name)
}

// ImportAliasMove appends m to the alias history with m.Seq, overriding the
// identity column, and moves the identity's sequence up to m.Seq if it is
// below, so that MoveAlias numbers after the highest imported move.
// ENOTFOUND if the model does not exist, ECONFLICT if m.Seq is taken.
func (t *tx) ImportAliasMove(ctx context.Context, m *cairn.AliasMove) error {
	if m.Seq < 1 {
		return cairn.Errorf(cairn.EINVALID, "alias move of %s@%s: seq %d is not positive", m.Model, m.Alias, m.Seq)
	}
	var modelID int64
	if err := t.q.QueryRow(ctx, `SELECT id FROM models WHERE name = $1`, m.Model).Scan(&modelID); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return cairn.Errorf(cairn.ENOTFOUND, "model %q not found", m.Model)
		}
		return translate(err, "import alias move %d", m.Seq)
	}
	origin, err := encodeOrigin(m.Origin)
	if err != nil {
		return err
	}
	var seq int64
	err = t.q.QueryRow(ctx, `INSERT INTO alias_history
		(seq, model_id, alias, from_version, to_version, actor, at, request_id, origin)
		OVERRIDING SYSTEM VALUE
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb)
		ON CONFLICT (seq) DO NOTHING
		RETURNING seq`,
		m.Seq, modelID, m.Alias, nullInt64(m.From), nullInt64(m.To), m.Actor, micros(m.At), m.RequestID, origin).Scan(&seq)
	if errors.Is(err, pgx.ErrNoRows) {
		return cairn.Errorf(cairn.ECONFLICT, "alias move %d already exists", m.Seq)
	}
	if err != nil {
		return translate(err, "import alias move %d", m.Seq)
	}
	// setval is not transactional: should this transaction roll back, the
	// sequence stays moved and later moves skip some numbers, which alias
	// history allows (it promises order, not gap-free numbers).
	_, err = t.q.Exec(ctx, `SELECT setval(s.seq, GREATEST($1::bigint, COALESCE(pg_sequence_last_value(s.seq), 0)))
		FROM (SELECT pg_get_serial_sequence('alias_history', 'seq')::regclass AS seq) s`, m.Seq)
	return translate(err, "move the alias history sequence to %d", m.Seq)
}

// ImportRun inserts r as it is and its metric history. ECONFLICT if the id
// is taken.
func (t *tx) ImportRun(ctx context.Context, r *cairn.Run, history []cairn.MetricPoint) error {
	if err := t.CreateRun(ctx, r); err != nil {
		return err
	}
	if len(history) == 0 {
		return nil
	}
	n := len(history)
	ks, vals, tss, steps := make([]string, n), make([]float64, n), make([]int64, n), make([]int64, n)
	for i, p := range history {
		ks[i], vals[i], tss[i], steps[i] = p.Key, p.Value, micros(p.Timestamp), p.Step
	}
	_, err := t.q.Exec(ctx, `INSERT INTO run_metrics (run_id, key, value, timestamp, step)
		SELECT $1, k, v, ts, s FROM unnest($2::text[], $3::float8[], $4::bigint[], $5::bigint[]) AS p(k, v, ts, s)`,
		r.ID, ks, vals, tss, steps)
	return translate(err, "import the metrics of run %q", r.ID)
}

// lockCounter returns the value of a row of the counters table and locks
// the row until the transaction ends, as AppendAudit's and AppendEvent's
// UPDATE does, so that imports and appends are serialized.
func lockCounter(ctx context.Context, q querier, name string) (int64, error) {
	var n int64
	if err := q.QueryRow(ctx, `SELECT value FROM counters WHERE name = $1 FOR UPDATE`, name).Scan(&n); err != nil {
		return 0, translate(err, "lock the %s counter", name)
	}
	return n, nil
}

// ImportAudit appends e as it is, if it extends the chain, and moves the
// audit counter to e.Seq. Two round trips: one locks the counter and reads
// the last entry's hash, one inserts the entry and moves the counter.
func (t *tx) ImportAudit(ctx context.Context, e *cairn.AuditEntry) error {
	var (
		last int64
		prev *string
	)
	if err := t.q.QueryRow(ctx, `SELECT c.value, a.hash FROM counters c
		LEFT JOIN audit_log a ON a.seq = c.value
		WHERE c.name = 'audit' FOR UPDATE OF c`).Scan(&last, &prev); err != nil {
		return translate(err, "lock the audit counter")
	}
	if last > 0 && prev == nil {
		return cairn.Errorf(cairn.EINTERNAL, "audit log: entry %d is missing; the chain is broken", last)
	}
	if e.Seq >= 1 && e.Seq <= last {
		var hash string
		if err := t.q.QueryRow(ctx, `SELECT hash FROM audit_log WHERE seq = $1`, e.Seq).Scan(&hash); err != nil {
			return translate(err, "read audit entry %d", e.Seq)
		}
		if hash != e.Hash {
			return cairn.Errorf(cairn.EFAILEDPRECONDITION,
				"audit entry %d exists with a different hash: this audit log is not a copy of the one imported", e.Seq)
		}
		return cairn.Errorf(cairn.ECONFLICT, "audit entry %d already exists", e.Seq)
	}
	prevHash := ""
	if prev != nil {
		prevHash = *prev
	}
	if err := e.Follows(last, prevHash); err != nil {
		return err
	}
	_, err := t.q.Exec(ctx, `WITH entry AS (
			INSERT INTO audit_log
			(seq, at, actor, actor_verified, action, target, before, after, request_id, prev_hash, hash)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
			RETURNING seq)
		UPDATE counters SET value = (SELECT seq FROM entry) WHERE name = 'audit'`,
		e.Seq, micros(e.Time), e.Actor, e.ActorVerified, e.Action, e.Target,
		rawText(e.Before), rawText(e.After), e.RequestID, e.PrevHash, e.Hash)
	return translate(err, "import audit entry %d", e.Seq)
}

// ImportEvent appends ev as it is, if it is the next in sequence, and moves
// the event counter to ev.Seq.
func (t *tx) ImportEvent(ctx context.Context, ev *cairn.Event) error {
	last, err := lockCounter(ctx, t.q, "event")
	if err != nil {
		return err
	}
	if ev.Seq >= 1 && ev.Seq <= last {
		return cairn.Errorf(cairn.ECONFLICT, "event %d already exists", ev.Seq)
	}
	if ev.Seq != last+1 {
		return cairn.Errorf(cairn.EFAILEDPRECONDITION, "event %d does not follow event %d", ev.Seq, last)
	}
	// The insert and the counter move in one statement; a taken id makes
	// the insert return no row and so the counter stay (RETURNING is
	// empty), without an error that would abort the transaction.
	var moved int64
	err = t.q.QueryRow(ctx, `WITH ev AS (
			INSERT INTO events (seq, id, type, at, actor, model, alias, payload)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
			ON CONFLICT (id) DO NOTHING
			RETURNING seq)
		UPDATE counters SET value = ev.seq FROM ev WHERE name = 'event'
		RETURNING value`,
		ev.Seq, ev.ID, ev.Type, micros(ev.Time), ev.Actor, ev.Model, ev.Alias, string(ev.Payload)).Scan(&moved)
	if errors.Is(err, pgx.ErrNoRows) {
		return cairn.Errorf(cairn.EFAILEDPRECONDITION, "event %d: an event with id %q exists under another sequence number", ev.Seq, ev.ID)
	}
	return translate(err, "import event %d", ev.Seq)
}
