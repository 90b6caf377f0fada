package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/cairn-registry/cairn"
)

// versionColumns is what scanVersion reads, in order, from
// versions v JOIN models m ON m.id = v.model_id.
const versionColumns = `v.model_id, m.name, m.kind, v.number, v.status, v.status_message,
	v.digest, v.size, v.files, v.run_id, v.source, v.source_code_version,
	v.training_dataset, v.validation_dataset, v.metrics, v.params, v.signature,
	v.dependencies, v.framework, v.trained_by, v.derived_from, v.inputs,
	v.tags, v.description, v.created_by, v.created_by_verified, v.created_at,
	v.updated_at, v.archived, v.stage, v.deleted_at, v.evaluates, v.retrained_from, v.flag, v.approval_status,
	(SELECT group_concat(a.name, ' ') FROM aliases a WHERE a.model_id = v.model_id AND a.version = v.number)`

// latestColumns is what scanSummary reads for LatestPerStage, from
// versions v JOIN models m: the fields of a version summary (see
// cairn.Reader.LatestPerStage), what MLflow's ModelVersion shows, less the
// aliases, which a page of models has. Every column fetched costs, so it
// fetches nothing else.
const latestColumns = `m.name, m.kind, v.number, v.status, v.status_message, v.source, v.run_id,
	v.tags, v.description, v.created_by, v.created_at, v.updated_at, v.stage`

// summaryColumns is latestColumns with the version's aliases and
// deleted_at: a point read of a summary (cairn.NewContextWithSummary).
const summaryColumns = latestColumns + `,
	(SELECT group_concat(a.name, ' ') FROM aliases a WHERE a.model_id = v.model_id AND a.version = v.number),
	v.deleted_at`

// renderColumns is what scanRendered reads, for reads that only render
// versions (cairn.NewContextWithFixedJSON): the mutable fields and
// fixed_json, which holds the fixed ones pre-encoded, so that neither the
// JSON columns nor the fixed text columns are read or decoded. A version
// without fixed_json (pending or failed) is read again with
// versionColumns.
const renderColumns = `v.model_id, m.name, v.number, v.status, v.status_message,
	v.tags, v.description, v.updated_at, v.archived, v.stage, v.deleted_at, v.flag, v.approval_status,
	(SELECT group_concat(a.name, ' ') FROM aliases a WHERE a.model_id = v.model_id AND a.version = v.number),
	v.fixed_json`

const versionFrom = ` FROM versions v JOIN models m ON m.id = v.model_id`

// The hot read paths, named so that plan_test.go can check that SQLite
// answers them from indexes; each in two forms, for decoding and for
// rendering (see readVersions), and the point reads in a third, for
// summaries.
const (
	getVersionWhere      = versionFrom + ` WHERE m.name = ? AND v.number = ?`
	getVersionSQL        = `SELECT ` + versionColumns + getVersionWhere
	getVersionRenderSQL  = `SELECT ` + renderColumns + getVersionWhere
	getVersionSummarySQL = `SELECT ` + summaryColumns + getVersionWhere
	latestVersionWhere   = versionFrom + `
		WHERE m.name = ? AND v.status = 'ready' AND v.archived = 0 AND v.deleted_at IS NULL
		ORDER BY v.number DESC LIMIT 1`
	latestVersionSQL       = `SELECT ` + versionColumns + latestVersionWhere
	latestVersionRenderSQL = `SELECT ` + renderColumns + latestVersionWhere
	aliasedVersionWhere    = ` FROM models m
		JOIN aliases al ON al.model_id = m.id
		JOIN versions v ON v.model_id = al.model_id AND v.number = al.version
		WHERE m.name = ? AND al.name = ?`
	aliasedVersionSQL        = `SELECT ` + versionColumns + aliasedVersionWhere
	aliasedVersionRenderSQL  = `SELECT ` + renderColumns + aliasedVersionWhere
	aliasedVersionSummarySQL = `SELECT ` + summaryColumns + aliasedVersionWhere
)

// versionReads is one read of versions in its forms: decode selects
// versionColumns, render renderColumns and summary, if not "",
// summaryColumns; the rest of the statement is the same.
type versionReads struct{ decode, render, summary string }

// readVersions runs q.summary for a context from
// cairn.NewContextWithSummary, q.render for one from
// cairn.NewContextWithFixedJSON, and q.decode otherwise (or when the form
// asked for is missing). Summary rows carry no model row id.
func (t *tx) readVersions(ctx context.Context, what string, q versionReads, args ...any) ([]versionRow, error) {
	switch {
	case q.summary != "" && cairn.SummaryFromContext(ctx):
		return t.querySummaries(ctx, what, q.summary, args...)
	case q.render != "" && cairn.FixedJSONFromContext(ctx):
		return t.queryRendered(ctx, what, q.render, args...)
	}
	return t.queryVersions(ctx, what, q.decode, args...)
}

// querySummaries runs a query selecting summaryColumns.
func (t *tx) querySummaries(ctx context.Context, what, query string, args ...any) ([]versionRow, error) {
	return queryRows(ctx, t, what, query, func(s scanner) (int64, *cairn.Version, error) {
		v, err := scanSummary(s, true)
		return 0, v, err
	}, args...)
}

// listVersionsSQL selects a page of versions. CROSS JOIN makes SQLite loop
// over models on the outside: in the default order (model name, then
// number descending) it then walks the models' name index and each
// model's (model_id, number) index backwards and stops after a page,
// instead of sorting every version of every model. With timeWalk, for an
// order that starts with a version's time, versions go outside instead:
// SQLite walks versions_updated or versions_created (migration 0023) and
// sorts only the versions that tie on it. (Without statistics its planner
// does not see that a partly ordered walk saves the sort, hence INDEXED
// BY.) The caller asks for it only where the walk is the cheaper plan:
// across all models, with no comparison on the model's name (see
// walkTime). sqlfilter's expressions use the same aliases, m and v.
func listVersionsSQL(cols string, where []string, orderBy string, timeWalk bool) string {
	join := ` FROM models m CROSS JOIN versions v ON v.model_id = m.id`
	switch {
	case !timeWalk:
	case strings.HasPrefix(orderBy, "v.updated_at "):
		join = ` FROM versions v INDEXED BY versions_updated JOIN models m ON m.id = v.model_id`
	case strings.HasPrefix(orderBy, "v.created_at "):
		join = ` FROM versions v INDEXED BY versions_created JOIN models m ON m.id = v.model_id`
	}
	q := `SELECT ` + cols + join
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	return q + ` ORDER BY ` + orderBy + ` LIMIT ? OFFSET ?`
}

// walkTime reports whether a list of versions in time order should walk
// the time index (listVersionsSQL): only when it spans every model and
// its filter (scopes included) compares nothing with the model's name.
// A search of one model, or of the few a name selects, sorts their
// versions in less time than a walk of every version in the registry
// takes to pass over the others: MLflow's usual
// search_model_versions("name='churn'") orders by update time.
func walkTime(q cairn.VersionQuery, f *cairn.Filter) bool {
	return q.Model == "" && (f == nil || !mentionsModelName(f.Root))
}

// mentionsModelName reports whether an expression compares the model's
// name (name or model) anywhere in it.
func mentionsModelName(e cairn.Expr) bool {
	switch x := e.(type) {
	case *cairn.AndExpr:
		return mentionsModelName(x.L) || mentionsModelName(x.R)
	case *cairn.OrExpr:
		return mentionsModelName(x.L) || mentionsModelName(x.R)
	case *cairn.NotExpr:
		return mentionsModelName(x.X)
	case *cairn.CmpExpr:
		return x.Field.Namespace == cairn.FieldAttr && (x.Field.Name == "name" || x.Field.Name == "model")
	}
	return false
}

// scanVersion scans one row of versionColumns and returns the model's row
// id with it. The version's aliases come in the same row, space-separated
// (alias names have no spaces), one aliases_version lookup per row, so a
// version or a page of them is one statement.
func scanVersion(s scanner) (int64, *cairn.Version, error) {
	var (
		modelID                                      int64
		v                                            cairn.Version
		files, metrics, params, derived, inputs, tag string
		evaluates                                    string
		signature, flag                              sql.NullString
		verified, archived                           bool
		createdAt, updatedAt                         int64
		deletedAt                                    sql.NullInt64
		aliases                                      sql.NullString
	)
	if err := s.Scan(&modelID, &v.Model, &v.Kind, &v.Number, &v.Status, &v.StatusMessage,
		&v.Digest, &v.Size, &files, &v.RunID, &v.Source, &v.SourceCodeVersion,
		&v.TrainingDataset, &v.ValidationDataset, &metrics, &params, &signature,
		&v.Dependencies, &v.Framework, &v.TrainedBy, &derived, &inputs,
		&tag, &v.Description, &v.CreatedBy, &verified, &createdAt,
		&updatedAt, &archived, &v.Stage, &deletedAt, &evaluates, &v.RetrainedFrom, &flag, &v.ApprovalStatus, &aliases); err != nil {
		return 0, nil, err
	}
	if err := finishMutable(&v, tag, flag, archived, updatedAt, deletedAt, aliases); err != nil {
		return 0, nil, err
	}
	v.Files, v.Metrics, v.Params = []cairn.File{}, map[string]float64{}, map[string]string{}
	v.DerivedFrom, v.Inputs, v.Evaluates = []string{}, []string{}, []string{}
	for _, c := range []struct {
		name, text string
		dst        any
	}{
		{"versions.files", files, &v.Files},
		{"versions.metrics", metrics, &v.Metrics},
		{"versions.params", params, &v.Params},
		{"versions.derived_from", derived, &v.DerivedFrom},
		{"versions.inputs", inputs, &v.Inputs},
		{"versions.evaluates", evaluates, &v.Evaluates},
	} {
		if c.text == "[]" || c.text == "{}" {
			continue // dst is empty already; most versions have no inputs or derivations
		}
		if err := decodeJSON(c.name, c.text, c.dst); err != nil {
			return 0, nil, err
		}
	}
	v.Signature = rawOrNil(signature)
	v.CreatedByVerified = verified
	v.CreatedAt = fromMicros(createdAt)
	return modelID, &v, nil
}

// scanRendered scans one row of renderColumns: a version for rendering,
// with FixedJSON set and the fixed fields zero, or, if the row has no
// fixed_json, only its model's row id and number (FixedJSON nil), to be
// read again whole.
func scanRendered(s scanner) (int64, *cairn.Version, error) {
	var (
		modelID     int64
		v           cairn.Version
		tag         string
		flag, fixed sql.NullString
		archived    bool
		updatedAt   int64
		deletedAt   sql.NullInt64
		aliases     sql.NullString
	)
	if err := s.Scan(&modelID, &v.Model, &v.Number, &v.Status, &v.StatusMessage,
		&tag, &v.Description, &updatedAt, &archived, &v.Stage, &deletedAt, &flag, &v.ApprovalStatus,
		&aliases, &fixed); err != nil {
		return 0, nil, err
	}
	if !fixed.Valid {
		return modelID, &cairn.Version{Model: v.Model, Number: v.Number}, nil
	}
	if err := finishMutable(&v, tag, flag, archived, updatedAt, deletedAt, aliases); err != nil {
		return 0, nil, err
	}
	v.FixedJSON = json.RawMessage(fixed.String)
	return modelID, &v, nil
}

// scanSummary scans one row of summaryColumns, or of latestColumns if
// not point.
func scanSummary(s scanner, point bool) (*cairn.Version, error) {
	var (
		v                    cairn.Version
		tags                 string
		createdAt, updatedAt int64
		aliases              sql.NullString
		deletedAt            sql.NullInt64
	)
	dest := [15]any{&v.Model, &v.Kind, &v.Number, &v.Status, &v.StatusMessage, &v.Source, &v.RunID,
		&tags, &v.Description, &v.CreatedBy, &createdAt, &updatedAt, &v.Stage, &aliases, &deletedAt}
	n := len(dest)
	if !point {
		n -= 2
	}
	if err := s.Scan(dest[:n]...); err != nil {
		return nil, err
	}
	var err error
	if v.Tags, err = decodeTags("versions.tags", tags); err != nil {
		return nil, err
	}
	v.CreatedAt, v.UpdatedAt = fromMicros(createdAt), fromMicros(updatedAt)
	if point {
		v.DeletedAt = fromNullMicros(deletedAt)
		v.Aliases = strings.Fields(aliases.String)
		slices.Sort(v.Aliases)
	}
	return &v, nil
}

// finishMutable sets a scanned version's mutable fields from their columns.
func finishMutable(v *cairn.Version, tags string, flag sql.NullString, archived bool, updatedAt int64,
	deletedAt sql.NullInt64, aliases sql.NullString) error {
	var err error
	if v.Tags, err = decodeTags("versions.tags", tags); err != nil {
		return err
	}
	if flag.Valid {
		v.Flag = new(cairn.Flag)
		if err := decodeJSON("versions.flag", flag.String, v.Flag); err != nil {
			return err
		}
		v.Flagged = true
	}
	v.Archived = archived
	v.UpdatedAt = fromMicros(updatedAt)
	v.DeletedAt = fromNullMicros(deletedAt)
	v.Aliases = strings.Fields(aliases.String)
	slices.Sort(v.Aliases)
	return nil
}

// versionRow is a scanned version with its model's row id, the key of the
// aliases table.
type versionRow struct {
	modelID int64
	v       *cairn.Version
}

// queryVersions runs a query selecting versionColumns.
func (t *tx) queryVersions(ctx context.Context, what, query string, args ...any) ([]versionRow, error) {
	return queryRows(ctx, t, what, query, scanVersion, args...)
}

// queryRows runs a query and scans every row with scan.
func queryRows(ctx context.Context, t *tx, what, query string,
	scan func(scanner) (int64, *cairn.Version, error), args ...any) ([]versionRow, error) {
	rows, err := t.query(ctx, query, args...)
	if err != nil {
		return nil, translate(err, "%s", what)
	}
	defer rows.Close()
	var out []versionRow
	for rows.Next() {
		id, v, err := scan(rows)
		if err != nil {
			return nil, translate(err, "%s", what)
		}
		out = append(out, versionRow{id, v})
	}
	if err := rows.Err(); err != nil {
		return nil, translate(err, "%s", what)
	}
	return out, nil
}

// queryRendered runs a query selecting renderColumns. Versions without
// fixed_json are read again whole, by model row id and number, in the same
// transaction if there is one; one gone meanwhile (purged) is left out.
func (t *tx) queryRendered(ctx context.Context, what, query string, args ...any) ([]versionRow, error) {
	rows, err := t.query(ctx, query, args...)
	if err != nil {
		return nil, translate(err, "%s", what)
	}
	var (
		out   []versionRow
		whole int
	)
	for rows.Next() {
		id, v, err := scanRendered(rows)
		if err != nil {
			rows.Close()
			return nil, translate(err, "%s", what)
		}
		if v.FixedJSON == nil {
			whole++
		}
		out = append(out, versionRow{id, v})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, translate(err, "%s", what)
	}
	if whole == 0 {
		return out, nil
	}
	kept := out[:0]
	for _, r := range out {
		if r.v.FixedJSON == nil {
			rs, err := t.queryVersions(ctx, what, `SELECT `+versionColumns+versionFrom+` WHERE v.model_id = ? AND v.number = ?`,
				r.modelID, r.v.Number)
			if err != nil {
				return nil, err
			}
			if len(rs) == 0 {
				continue
			}
			r = rs[0]
		}
		kept = append(kept, r)
	}
	return kept, nil
}

// GetVersion returns a version with its aliases, deleted or not; ENOTFOUND
// if the model or the version does not exist.
func (db *DB) GetVersion(ctx context.Context, model string, number int64) (*cairn.Version, error) {
	return single(ctx, db, func(t *tx) (*cairn.Version, error) { return t.GetVersion(ctx, model, number) })
}

func (t *tx) GetVersion(ctx context.Context, model string, number int64) (*cairn.Version, error) {
	rs, err := t.readVersions(ctx, "get version", versionReads{getVersionSQL, getVersionRenderSQL, getVersionSummarySQL}, model, number)
	if err != nil {
		return nil, err
	}
	if len(rs) == 0 {
		return nil, cairn.Errorf(cairn.ENOTFOUND, "version %s not found", cairn.VersionRef(model, number))
	}
	return rs[0].v, nil
}

// versionsWithDatasetDigestSQL finds a model's versions by their dataset
// digest tag through the versions_dataset_digest index (migration 0018):
// its expression is spelled exactly as the index's, or SQLite would not
// use it.
const versionsWithDatasetDigestSQL = `SELECT ` + versionColumns + versionFrom + `
	WHERE v.model_id = ? AND json_extract(v.tags, '$."mlflow.dataset.digest"') = ?
	AND json_extract(v.tags, '$."mlflow.dataset.digest"') IS NOT NULL
	AND v.deleted_at IS NULL
	ORDER BY v.number LIMIT 100`

// VersionsWithDatasetDigest returns the undeleted versions of model whose
// cairn.DatasetDigestTag tag is digest, in number order, at most 100.
func (db *DB) VersionsWithDatasetDigest(ctx context.Context, model, digest string) ([]*cairn.Version, error) {
	return view(ctx, db, func(t *tx) ([]*cairn.Version, error) { return t.VersionsWithDatasetDigest(ctx, model, digest) })
}

func (t *tx) VersionsWithDatasetDigest(ctx context.Context, model, digest string) ([]*cairn.Version, error) {
	id, err := t.modelID(ctx, model)
	if err != nil {
		return nil, err
	}
	rs, err := t.queryVersions(ctx, "find versions by dataset digest", versionsWithDatasetDigestSQL, id, digest)
	if err != nil {
		return nil, err
	}
	out := make([]*cairn.Version, len(rs))
	for i, r := range rs {
		out[i] = r.v
	}
	return out, nil
}

// LatestPerStage returns the newest ready, undeleted version in each stage
// of each named model, ordered by model name then number: per model, one
// range of stage_latest (migration 0020, kept by triggers) and one row-id
// lookup per version found. The versions are summaries (see
// latestColumns).
func (db *DB) LatestPerStage(ctx context.Context, models []string) ([]*cairn.Version, error) {
	return single(ctx, db, func(t *tx) ([]*cairn.Version, error) { return t.LatestPerStage(ctx, models) })
}

func (t *tx) LatestPerStage(ctx context.Context, models []string) ([]*cairn.Version, error) {
	const what = "get the latest version per stage"
	out := []*cairn.Version{}
	if len(models) == 0 {
		return out, nil
	}
	args := make([]any, len(models))
	for i, m := range models {
		args[i] = m
	}
	rows, err := t.query(ctx, latestPerStageSQL(len(models)), args...)
	if err != nil {
		return nil, translate(err, "%s", what)
	}
	defer rows.Close()
	for rows.Next() {
		v, err := scanSummary(rows, false)
		if err != nil {
			return nil, translate(err, "%s", what)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, translate(err, "%s", what)
	}
	// Sorted here rather than by SQLite, which would copy every row
	// through a sorter: stage_latest is in stage order within a model.
	slices.SortFunc(out, func(a, b *cairn.Version) int {
		if c := strings.Compare(a.Model, b.Model); c != 0 {
			return c
		}
		return cmp.Compare(a.Number, b.Number)
	})
	return out, nil
}

// latestPerStageSQL selects the latest version per stage of n models.
func latestPerStageSQL(n int) string {
	return `SELECT ` + latestColumns + ` FROM models m
		CROSS JOIN stage_latest s ON s.model_id = m.id
		CROSS JOIN versions v ON v.id = s.version_id
		WHERE m.name IN (` + strings.TrimSuffix(strings.Repeat("?, ", n), ", ") + `)`
}

// AliasedVersion returns the version alias points at, in one statement;
// ENOTFOUND if the model or the alias does not exist.
func (db *DB) AliasedVersion(ctx context.Context, model, alias string) (*cairn.Version, error) {
	return single(ctx, db, func(t *tx) (*cairn.Version, error) { return t.AliasedVersion(ctx, model, alias) })
}

func (t *tx) AliasedVersion(ctx context.Context, model, alias string) (*cairn.Version, error) {
	rs, err := t.readVersions(ctx, "get aliased version", versionReads{aliasedVersionSQL, aliasedVersionRenderSQL, aliasedVersionSummarySQL}, model, alias)
	if err != nil {
		return nil, err
	}
	if len(rs) == 0 {
		return nil, cairn.Errorf(cairn.ENOTFOUND, "alias %s@%s not found", model, alias)
	}
	return rs[0].v, nil
}

// LatestVersion returns the highest-numbered ready, unarchived, undeleted
// version of the model (the versions_latest index answers it); ENOTFOUND if
// there is none or no such model.
func (db *DB) LatestVersion(ctx context.Context, model string) (*cairn.Version, error) {
	return single(ctx, db, func(t *tx) (*cairn.Version, error) { return t.LatestVersion(ctx, model) })
}

func (t *tx) LatestVersion(ctx context.Context, model string) (*cairn.Version, error) {
	rs, err := t.readVersions(ctx, "get latest version", versionReads{latestVersionSQL, latestVersionRenderSQL, ""}, model)
	if err != nil {
		return nil, err
	}
	if len(rs) == 0 {
		return nil, cairn.Errorf(cairn.ENOTFOUND, "model %q has no ready version", model)
	}
	return rs[0].v, nil
}

// ListVersions lists the versions of one model, or of all models, in the
// query's order, one page at a time. Without IncludeDeleted it leaves out
// deleted versions and the versions of deleted models. ENOTFOUND if
// q.Model names no model.
func (db *DB) ListVersions(ctx context.Context, q cairn.VersionQuery) (*cairn.VersionPage, error) {
	return view(ctx, db, func(t *tx) (*cairn.VersionPage, error) { return t.ListVersions(ctx, q) })
}

func (t *tx) ListVersions(ctx context.Context, q cairn.VersionQuery) (*cairn.VersionPage, error) {
	size, err := pageSize(q.Page.Size)
	if err != nil {
		return nil, err
	}
	offset, err := decodeOffset(q.Page.Token)
	if err != nil {
		return nil, err
	}
	if q.Scopes != nil && len(q.Scopes) == 0 {
		return &cairn.VersionPage{Items: []*cairn.Version{}}, nil // no readable scope: nothing to list
	}
	f := cairn.AndFilters(q.Filter, cairn.ScopeFilter(q.Scopes))
	c, err := compileVersions(f, q.OrderBy)
	if err != nil {
		return nil, err
	}
	walk := walkTime(q, f)
	var (
		where []string
		args  []any
	)
	if q.Model != "" {
		id, err := t.modelID(ctx, q.Model)
		if err != nil {
			return nil, err
		}
		where = append(where, `m.id = ?`)
		args = append(args, id)
	}
	if !q.IncludeDeleted {
		where = append(where, `v.deleted_at IS NULL`, `m.deleted_at IS NULL`)
	}
	if c.Where != "" {
		where = append(where, c.Where)
	}
	// c.Args binds the filter's placeholders, then the order's (a metric
	// key), which follow it in the SQL.
	args = append(args, c.Args...)
	args = append(args, size+1, offset)
	rs, err := t.readVersions(ctx, "list versions", versionReads{
		listVersionsSQL(versionColumns, where, c.OrderBy, walk),
		listVersionsSQL(renderColumns, where, c.OrderBy, walk),
		listVersionsSQL(summaryColumns, where, c.OrderBy, walk),
	}, args...)
	if err != nil {
		return nil, err
	}
	page := &cairn.VersionPage{Items: make([]*cairn.Version, 0, min(len(rs), size))}
	for i, r := range rs {
		if i == size {
			page.NextToken = encodeOffset(offset + size)
			break
		}
		page.Items = append(page.Items, r.v)
	}
	return page, nil
}

// StalePendingVersions returns up to limit versions still pending that were
// created before before, oldest first (the versions_pending index).
func (db *DB) StalePendingVersions(ctx context.Context, before time.Time, limit int) ([]*cairn.Version, error) {
	return view(ctx, db, func(t *tx) ([]*cairn.Version, error) { return t.StalePendingVersions(ctx, before, limit) })
}

func (t *tx) StalePendingVersions(ctx context.Context, before time.Time, n int) ([]*cairn.Version, error) {
	rs, err := t.queryVersions(ctx, "list stale pending versions", `SELECT `+versionColumns+versionFrom+`
		WHERE v.status = 'pending' AND v.created_at < ?
		ORDER BY v.created_at, v.id LIMIT ?`, micros(before), limit(n))
	if err != nil {
		return nil, err
	}
	out := make([]*cairn.Version, len(rs))
	for i, r := range rs {
		out[i] = r.v
	}
	return out, nil
}

// CreateVersion inserts v, whose number AllocateVersion returned; v.Kind
// and v.Aliases are ignored (the kind is the model's, aliases live in
// their own table). ENOTFOUND if the model does not exist, ECONFLICT if
// the number is taken, EFAILEDPRECONDITION if it was never allocated.
func (t *tx) CreateVersion(ctx context.Context, v *cairn.Version) error {
	enc, flag, err := versionJSON(v)
	if err != nil {
		return err
	}
	res, err := t.exec(ctx, `INSERT INTO versions (model_id, number, status, status_message,
		digest, size, files, run_id, source, source_code_version,
		training_dataset, validation_dataset, metrics, params, signature,
		dependencies, framework, trained_by, derived_from, inputs,
		tags, description, created_by, created_by_verified, created_at,
		updated_at, archived, stage, deleted_at, evaluates, retrained_from, flag, approval_status)
		SELECT m.id, ?, ?, ?,
		?, ?, ?, ?, ?, ?,
		?, ?, ?, ?, ?,
		?, ?, ?, ?, ?,
		?, ?, ?, ?, ?,
		?, ?, ?, ?, ?, ?, ?, ?
		FROM models m WHERE m.name = ? AND m.latest_version >= ?`,
		v.Number, string(v.Status), v.StatusMessage,
		string(v.Digest), v.Size, enc[0], v.RunID, v.Source, v.SourceCodeVersion,
		v.TrainingDataset, v.ValidationDataset, enc[1], enc[2], nullBytes(v.Signature),
		v.Dependencies, v.Framework, v.TrainedBy, enc[3], enc[4],
		enc[5], v.Description, v.CreatedBy, boolInt(v.CreatedByVerified), micros(v.CreatedAt),
		micros(v.UpdatedAt), boolInt(v.Archived), string(v.Stage), nullMicros(v.DeletedAt),
		enc[6], v.RetrainedFrom, flag, approvalStatus(v),
		v.Model, v.Number)
	if isUnique(err) {
		return cairn.WrapError(cairn.ECONFLICT, err, "version %s already exists", v.Ref())
	}
	if err != nil {
		return translate(err, "create version %s", v.Ref())
	}
	if n, err := res.RowsAffected(); err != nil {
		return translate(err, "create version %s", v.Ref())
	} else if n == 0 {
		if _, err := t.modelID(ctx, v.Model); err != nil {
			return err
		}
		return cairn.Errorf(cairn.EFAILEDPRECONDITION, "version %s was not allocated", v.Ref())
	}
	if v.Status == cairn.StatusReady {
		return t.writeFixedJSON(ctx, v.Model, v.Number)
	}
	return nil
}

// UpdateVersion writes v's mutable fields: tags, description, status,
// status_message, archived, stage, deleted_at, flag and updated_at.
// ENOTFOUND if the version does not exist.
func (t *tx) UpdateVersion(ctx context.Context, v *cairn.Version) error {
	tags, err := encodeJSON(stringMap(v.Tags))
	if err != nil {
		return err
	}
	flag, err := encodeFlag(v.Flag)
	if err != nil {
		return err
	}
	// RETURNING says whether the version still lacks its fixed_json: it
	// gets it in the update that makes it ready.
	var missing bool
	err = t.queryRow(ctx, `UPDATE versions
		SET tags = ?, description = ?, status = ?, status_message = ?, archived = ?,
		    stage = ?, deleted_at = ?, updated_at = ?, flag = ?, approval_status = ?
		WHERE model_id = (SELECT id FROM models WHERE name = ?) AND number = ?
		RETURNING fixed_json IS NULL`,
		tags, v.Description, string(v.Status), v.StatusMessage, boolInt(v.Archived),
		string(v.Stage), nullMicros(v.DeletedAt), micros(v.UpdatedAt), flag, approvalStatus(v), v.Model, v.Number).Scan(&missing)
	if errors.Is(err, sql.ErrNoRows) {
		return cairn.Errorf(cairn.ENOTFOUND, "version %s not found", v.Ref())
	}
	if err != nil {
		return translate(err, "update version %s", v.Ref())
	}
	if missing && v.Status == cairn.StatusReady {
		return t.writeFixedJSON(ctx, v.Model, v.Number)
	}
	return nil
}

// writeFixedJSON stores the fixed fields of a ready version, encoded as a
// read renders them (cairn.Version.EncodeFixed), in its fixed_json column.
// The version is read back first, so that the bytes are exactly what a
// decoding read gives.
func (t *tx) writeFixedJSON(ctx context.Context, model string, number int64) error {
	rs, err := t.queryVersions(ctx, "read back version", getVersionSQL, model, number)
	if err != nil {
		return err
	}
	if len(rs) == 0 {
		return cairn.Errorf(cairn.ENOTFOUND, "version %s not found", cairn.VersionRef(model, number))
	}
	return t.storeFixedJSON(ctx, rs[0])
}

func (t *tx) storeFixedJSON(ctx context.Context, r versionRow) error {
	fixed, err := r.v.EncodeFixed()
	if err != nil {
		return err
	}
	_, err = t.exec(ctx, `UPDATE versions SET fixed_json = ? WHERE model_id = ? AND number = ?`,
		string(fixed), r.modelID, r.v.Number)
	return translate(err, "store the fixed fields of %s", r.v.Ref())
}

// backfillBatch is how many versions backfillFixedJSON writes per
// transaction.
const backfillBatch = 1000

// backfillFixedJSON gives the ready versions made before migration 0016
// their fixed_json, a batch per transaction, and returns how many it
// wrote. It runs on every Open: once done, its first query finds nothing
// in the (then empty) versions_fixed_json_missing index.
func (db *DB) backfillFixedJSON(ctx context.Context) (int, error) {
	total := 0
	for {
		n := 0
		err := db.Update(ctx, func(ct cairn.Tx) error {
			t := ct.(*tx)
			rs, err := t.queryVersions(ctx, "find versions without fixed_json", `SELECT `+versionColumns+versionFrom+`
				WHERE v.status = 'ready' AND v.fixed_json IS NULL ORDER BY v.id LIMIT ?`, backfillBatch)
			if err != nil {
				return err
			}
			for _, r := range rs {
				if err := t.storeFixedJSON(ctx, r); err != nil {
					return err
				}
			}
			n = len(rs)
			return nil
		})
		total += n
		if err != nil || n < backfillBatch {
			return total, err
		}
	}
}

// approvalStatus is v's approval status, none if unset.
func approvalStatus(v *cairn.Version) string {
	if v.ApprovalStatus == "" {
		return cairn.ApprovalNone
	}
	return v.ApprovalStatus
}

// versionID returns the row id of a version, or ENOTFOUND.
func (t *tx) versionID(ctx context.Context, model string, number int64) (int64, error) {
	var id int64
	err := t.queryRow(ctx,
		`SELECT v.id`+versionFrom+` WHERE m.name = ? AND v.number = ?`, model, number).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, cairn.Errorf(cairn.ENOTFOUND, "version %s not found", cairn.VersionRef(model, number))
	}
	if err != nil {
		return 0, translate(err, "look up version %s", cairn.VersionRef(model, number))
	}
	return id, nil
}

// encodeFlag encodes a version's flag for the flag column, NULL if none.
// versionJSON encodes v's JSON columns as a new row holds them: files,
// metrics, params, derived_from, inputs, tags and evaluates, in that
// order, and the flag.
func versionJSON(v *cairn.Version) (enc [7]string, flag any, err error) {
	if flag, err = encodeFlag(v.Flag); err != nil {
		return enc, nil, err
	}
	for i, val := range []any{files0(v.Files), floatMap(v.Metrics), stringMap(v.Params),
		strings0(v.DerivedFrom), strings0(v.Inputs), stringMap(v.Tags), strings0(v.Evaluates)} {
		if enc[i], err = encodeJSON(val); err != nil {
			return enc, nil, err
		}
	}
	return enc, flag, nil
}

func encodeFlag(f *cairn.Flag) (any, error) {
	if f == nil {
		return nil, nil
	}
	return encodeJSON(f)
}
