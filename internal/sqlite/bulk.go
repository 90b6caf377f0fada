package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/cairn-registry/cairn"
)

// Bulk writes for the benchmark seeder (internal/bench.Seed): the records
// the registry service writes for many versions, in a few multi-row
// statements instead of about a dozen statements per version. Nothing else
// uses them; the service writes through AllocateVersion, CreateVersion,
// AppendAudit and AppendEvent.

// AllocateVersions reserves the next n version numbers of model, as n calls
// of AllocateVersion would, and returns the first. ENOTFOUND if the model
// does not exist.
func (t *tx) AllocateVersions(ctx context.Context, model string, n int64) (int64, error) {
	if n <= 0 {
		return 0, cairn.Errorf(cairn.EINVALID, "allocate %d versions: want at least one", n)
	}
	var last int64
	err := t.queryRow(ctx,
		`UPDATE models SET latest_version = latest_version + ? WHERE name = ? RETURNING latest_version`,
		n, model).Scan(&last)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, cairn.Errorf(cairn.ENOTFOUND, "model %q not found", model)
	}
	if err != nil {
		return 0, translate(err, "allocate versions of model %q", model)
	}
	return last - n + 1, nil
}

// Rows per multi-row INSERT: well under SQLite's 32,766 bound parameters,
// and fixed, so that every full chunk is the same statement, prepared once.
const (
	bulkVersionRows = 100
	bulkLogRows     = 200
)

// CreateVersionsBulk writes what CreateVersion, AppendAudit and AppendEvent
// would for each of vs, audit and events, in that order: every version
// ready, its number from AllocateVersions, its record as a read returns it
// (so that its fixed_json, encoded here, is what a read would render);
// audit entries and events get their sequence numbers, and entries their
// place in the hash chain, filled in as AppendAudit and AppendEvent fill
// them, from one bump of each counter.
func (t *tx) CreateVersionsBulk(ctx context.Context, vs []*cairn.Version, audit []*cairn.AuditEntry, events []*cairn.Event) error {
	ids := map[string]int64{}
	rows := make([][]any, 0, len(vs))
	for _, v := range vs {
		if v.Status != cairn.StatusReady {
			return cairn.Errorf(cairn.EINVALID, "bulk create %s: status %q, want ready", v.Ref(), v.Status)
		}
		id, ok := ids[v.Model]
		if !ok {
			var err error
			if id, err = t.modelID(ctx, v.Model); err != nil {
				return err
			}
			ids[v.Model] = id
		}
		enc, flag, err := versionJSON(v)
		if err != nil {
			return err
		}
		fixed, err := v.EncodeFixed()
		if err != nil {
			return err
		}
		rows = append(rows, []any{id, v.Number, string(v.Status), v.StatusMessage,
			string(v.Digest), v.Size, enc[0], v.RunID, v.Source, v.SourceCodeVersion,
			v.TrainingDataset, v.ValidationDataset, enc[1], enc[2], nullBytes(v.Signature),
			v.Dependencies, v.Framework, v.TrainedBy, enc[3], enc[4],
			enc[5], v.Description, v.CreatedBy, boolInt(v.CreatedByVerified), micros(v.CreatedAt),
			micros(v.UpdatedAt), boolInt(v.Archived), string(v.Stage), nullMicros(v.DeletedAt),
			enc[6], v.RetrainedFrom, flag, approvalStatus(v), string(fixed)})
	}
	if err := t.insertRows(ctx, "create versions", `INSERT INTO versions (model_id, number, status, status_message,
		digest, size, files, run_id, source, source_code_version,
		training_dataset, validation_dataset, metrics, params, signature,
		dependencies, framework, trained_by, derived_from, inputs,
		tags, description, created_by, created_by_verified, created_at,
		updated_at, archived, stage, deleted_at, evaluates, retrained_from, flag, approval_status, fixed_json) VALUES `,
		rows, bulkVersionRows); err != nil {
		if isUnique(err) {
			return cairn.WrapError(cairn.ECONFLICT, err, "bulk create versions: a number is taken")
		}
		return err
	}

	if len(audit) > 0 {
		first, err := t.bumpSeq(ctx, "audit", len(audit))
		if err != nil {
			return err
		}
		prev := ""
		if first > 1 {
			err := t.queryRow(ctx, `SELECT hash FROM audit_log WHERE seq = ?`, first-1).Scan(&prev)
			if errors.Is(err, sql.ErrNoRows) {
				return cairn.Errorf(cairn.EINTERNAL, "audit log: entry %d is missing; the chain is broken", first-1)
			}
			if err != nil {
				return translate(err, "read audit entry %d", first-1)
			}
		}
		rows = rows[:0]
		for i, e := range audit {
			e.Seq = first + int64(i)
			e.Time = cairn.Timestamp(e.Time)
			e.PrevHash = prev
			e.Hash = e.ComputeHash(prev)
			prev = e.Hash
			rows = append(rows, []any{e.Seq, micros(e.Time), e.Actor, boolInt(e.ActorVerified), e.Action, e.Target,
				nullBytes(e.Before), nullBytes(e.After), e.RequestID, e.PrevHash, e.Hash})
		}
		if err := t.insertRows(ctx, "append audit entries", `INSERT INTO audit_log
			(seq, at, actor, actor_verified, action, target, before, after, request_id, prev_hash, hash) VALUES `,
			rows, bulkLogRows); err != nil {
			return err
		}
	}

	if len(events) > 0 {
		first, err := t.bumpSeq(ctx, "event", len(events))
		if err != nil {
			return err
		}
		rows = rows[:0]
		for i, ev := range events {
			ev.Seq = first + int64(i)
			ev.Time = cairn.Timestamp(ev.Time)
			rows = append(rows, []any{ev.Seq, ev.ID, ev.Type, micros(ev.Time), ev.Actor, ev.Model, ev.Alias, string(ev.Payload)})
		}
		if err := t.insertRows(ctx, "append events", `INSERT INTO events (seq, id, type, at, actor, model, alias, payload) VALUES `,
			rows, bulkLogRows); err != nil {
			if isUnique(err) {
				return cairn.WrapError(cairn.ECONFLICT, err, "append events: an event id exists")
			}
			return err
		}
	}
	return nil
}

// bumpSeq takes the next n numbers of a counter at once and returns the
// first; like nextSeq, inside the write transaction, so gap-free.
func (t *tx) bumpSeq(ctx context.Context, name string, n int) (int64, error) {
	var last int64
	err := t.queryRow(ctx,
		`UPDATE counters SET value = value + ? WHERE name = ? RETURNING value`, n, name).Scan(&last)
	if err != nil {
		return 0, translate(err, "next %s sequence numbers", name)
	}
	return last - int64(n) + 1, nil
}

// insertRows runs head (an INSERT … VALUES ) with rows, chunk rows per
// statement. It returns the driver's error for the caller to classify.
func (t *tx) insertRows(ctx context.Context, what, head string, rows [][]any, chunk int) error {
	for len(rows) > 0 {
		n := min(chunk, len(rows))
		width := len(rows[0])
		tuple := "(" + strings.Repeat("?,", width-1) + "?)"
		var b strings.Builder
		b.Grow(len(head) + n*(len(tuple)+1))
		b.WriteString(head)
		args := make([]any, 0, n*width)
		for i, r := range rows[:n] {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(tuple)
			args = append(args, r...)
		}
		if _, err := t.exec(ctx, b.String(), args...); err != nil {
			if isUnique(err) {
				return err
			}
			return translate(err, "%s", what)
		}
		rows = rows[n:]
	}
	return nil
}

// BulkMode readies the write connection for a bulk load such as a seed: a
// page cache of 64 MiB instead of SQLite's 2 MiB, so that a transaction
// of thousands of versions is not spilled to the WAL while it runs, and
// statement journals (which every multi-row INSERT keeps) in memory
// instead of temporary files. Durability is unchanged: every commit is
// still synced (synchronous=FULL). The returned function sets both pragmas
// back to what they were; call it when the load is done.
func (db *DB) BulkMode(ctx context.Context) (restore func(context.Context) error, err error) {
	var cacheSize, tempStore int64
	if err := db.write.QueryRowContext(ctx, `PRAGMA cache_size`).Scan(&cacheSize); err != nil {
		return nil, translate(err, "read cache_size")
	}
	if err := db.write.QueryRowContext(ctx, `PRAGMA temp_store`).Scan(&tempStore); err != nil {
		return nil, translate(err, "read temp_store")
	}
	set := func(ctx context.Context, cache, temp int64) error {
		// PRAGMA takes no bound parameters; both values are integers.
		if _, err := db.write.ExecContext(ctx, fmt.Sprintf(`PRAGMA cache_size = %d`, cache)); err != nil {
			return translate(err, "set cache_size")
		}
		if _, err := db.write.ExecContext(ctx, fmt.Sprintf(`PRAGMA temp_store = %d`, temp)); err != nil {
			return translate(err, "set temp_store")
		}
		return nil
	}
	if err := set(ctx, -64*1024, 2); err != nil {
		_ = set(context.WithoutCancel(ctx), cacheSize, tempStore)
		return nil, err
	}
	return func(ctx context.Context) error { return set(ctx, cacheSize, tempStore) }, nil
}
