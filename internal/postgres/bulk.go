package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/cairn-registry/cairn"
)

// Bulk writes for the benchmark seeder (internal/bench.Seed): the records
// the registry service writes for many versions, by COPY instead of about a
// dozen statements per version. Nothing else uses them; the service writes
// through AllocateVersion, CreateVersion, AppendAudit and AppendEvent.

// AllocateVersions reserves the next n version numbers of model, as n calls
// of AllocateVersion would, and returns the first. The UPDATE's row lock
// keeps the numbers gap-free across replicas. ENOTFOUND if the model does
// not exist.
func (t *tx) AllocateVersions(ctx context.Context, model string, n int64) (int64, error) {
	if n <= 0 {
		return 0, cairn.Errorf(cairn.EINVALID, "allocate %d versions: want at least one", n)
	}
	var last int64
	err := t.q.QueryRow(ctx,
		`UPDATE models SET latest_version = latest_version + $1 WHERE name = $2 RETURNING latest_version`,
		n, model).Scan(&last)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, cairn.Errorf(cairn.ENOTFOUND, "model %q not found", model)
	}
	if err != nil {
		return 0, translate(err, "allocate versions of model %q", model)
	}
	return last - n + 1, nil
}

// copier is what a pgx transaction offers for COPY FROM.
type copier interface {
	CopyFrom(ctx context.Context, table pgx.Identifier, columns []string, src pgx.CopyFromSource) (int64, error)
}

// CreateVersionsBulk writes what CreateVersion, AppendAudit and AppendEvent
// would for each of vs, audit and events, in that order: every version
// ready, its number from AllocateVersions, its record as a read returns it
// (so that its fixed_json, encoded here, is what a read would render);
// audit entries and events get their sequence numbers, and entries their
// place in the hash chain, filled in as AppendAudit and AppendEvent fill
// them, from one bump of each counter, whose row lock serializes appenders
// as theirs does. A failure aborts the transaction (COPY raises an SQL
// error), unlike the single-row methods.
func (t *tx) CreateVersionsBulk(ctx context.Context, vs []*cairn.Version, audit []*cairn.AuditEntry, events []*cairn.Event) error {
	cp, ok := t.q.(copier)
	if !ok {
		return cairn.Errorf(cairn.EINTERNAL, "bulk create versions: the transaction cannot COPY")
	}
	ids := map[string]int64{}
	rows := make([][]any, 0, len(vs))
	for _, v := range vs {
		if v.Status != cairn.StatusReady {
			return cairn.Errorf(cairn.EINVALID, "bulk create %s: status %q, want ready", v.Ref(), v.Status)
		}
		id, ok := ids[v.Model]
		if !ok {
			if err := t.q.QueryRow(ctx, `SELECT id FROM models WHERE name = $1`, v.Model).Scan(&id); err != nil {
				if errors.Is(err, pgx.ErrNoRows) {
					return cairn.Errorf(cairn.ENOTFOUND, "model %q not found", v.Model)
				}
				return translate(err, "bulk create versions of %q", v.Model)
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
		stage := v.Stage
		if stage == "" {
			stage = cairn.StageNone
		}
		rows = append(rows, []any{id, v.Number, string(v.Status), v.StatusMessage, string(v.Digest), v.Size, enc[0],
			v.RunID, v.Source, v.SourceCodeVersion, v.TrainingDataset, v.ValidationDataset,
			enc[1], enc[2], rawText(v.Signature), v.Dependencies, v.Framework, v.TrainedBy, enc[3], enc[4],
			enc[5], v.Description, v.CreatedBy, v.CreatedByVerified, micros(v.CreatedAt), micros(v.UpdatedAt),
			v.Archived, string(stage), nullMicros(v.DeletedAt), enc[6], v.RetrainedFrom, flag, approvalStatus(v), string(fixed)})
	}
	if len(rows) > 0 {
		if _, err := cp.CopyFrom(ctx, pgx.Identifier{"versions"}, []string{"model_id", "number", "status", "status_message",
			"digest", "size", "files", "run_id", "source", "source_code_version", "training_dataset", "validation_dataset",
			"metrics", "params", "signature", "dependencies", "framework", "trained_by", "derived_from", "inputs",
			"tags", "description", "created_by", "created_by_verified", "created_at", "updated_at",
			"archived", "stage", "deleted_at", "evaluates", "retrained_from", "flag", "approval_status", "fixed_json"},
			pgx.CopyFromRows(rows)); err != nil {
			return translate(err, "bulk create versions")
		}
	}

	if len(audit) > 0 {
		first, err := bumpSeq(ctx, t.q, "audit", len(audit))
		if err != nil {
			return err
		}
		prev := ""
		if first > 1 {
			if err := t.q.QueryRow(ctx, `SELECT hash FROM audit_log WHERE seq = $1`, first-1).Scan(&prev); err != nil {
				if errors.Is(err, pgx.ErrNoRows) {
					return cairn.Errorf(cairn.EINTERNAL, "audit log: entry %d is missing; the chain is broken", first-1)
				}
				return translate(err, "audit log: read entry %d", first-1)
			}
		}
		rows = rows[:0]
		for i, e := range audit {
			e.Seq, e.Time, e.PrevHash = first+int64(i), cairn.Timestamp(e.Time), prev
			e.Hash = e.ComputeHash(prev)
			prev = e.Hash
			rows = append(rows, []any{e.Seq, micros(e.Time), e.Actor, e.ActorVerified, e.Action, e.Target,
				rawText(e.Before), rawText(e.After), e.RequestID, e.PrevHash, e.Hash})
		}
		if _, err := cp.CopyFrom(ctx, pgx.Identifier{"audit_log"}, []string{"seq", "at", "actor", "actor_verified",
			"action", "target", "before", "after", "request_id", "prev_hash", "hash"}, pgx.CopyFromRows(rows)); err != nil {
			return translate(err, "append audit entries")
		}
	}

	if len(events) > 0 {
		first, err := bumpSeq(ctx, t.q, "event", len(events))
		if err != nil {
			return err
		}
		rows = rows[:0]
		for i, ev := range events {
			ev.Seq, ev.Time = first+int64(i), cairn.Timestamp(ev.Time)
			rows = append(rows, []any{ev.Seq, ev.ID, ev.Type, micros(ev.Time), ev.Actor, ev.Model, ev.Alias, string(ev.Payload)})
		}
		if _, err := cp.CopyFrom(ctx, pgx.Identifier{"events"}, []string{"seq", "id", "type", "at", "actor", "model", "alias", "payload"},
			pgx.CopyFromRows(rows)); err != nil {
			return translate(err, "append events")
		}
	}
	return nil
}

// bumpSeq takes the next n numbers of a counter at once and returns the
// first; like nextSeq, the row lock is held until commit.
func bumpSeq(ctx context.Context, q querier, counter string, n int) (int64, error) {
	var last int64
	if err := q.QueryRow(ctx, `UPDATE counters SET value = value + $1 WHERE name = $2 RETURNING value`, n, counter).Scan(&last); err != nil {
		return 0, translate(err, "take the next %s sequence numbers", counter)
	}
	return last - int64(n) + 1, nil
}
