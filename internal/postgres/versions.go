package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/internal/sqlfilter"
)

// versionColumns are the columns scanVersion reads, from versions v JOIN
// models m. The version's aliases come along in the same statement, one
// index lookup (aliases_version) per row, so a page of versions is one
// query. The last column is fixed_json in renderColumns, NULL here.
const versionColumns = `m.name, v.number, m.kind, v.files, v.digest, v.size,
	v.run_id, v.source, v.source_code_version, v.training_dataset, v.validation_dataset,
	v.metrics, v.params, v.signature, v.dependencies, v.framework, v.trained_by,
	v.derived_from, v.inputs, v.created_by, v.created_by_verified, v.created_at, v.updated_at,
	v.tags, v.description, v.status, v.status_message, v.archived, v.stage, v.deleted_at,
	v.evaluates, v.retrained_from, v.flag, v.approval_status,
	ARRAY(SELECT a.name FROM aliases a WHERE a.model_id = v.model_id AND a.version = v.number ORDER BY a.name),
	NULL::text`

// renderColumns is versionColumns for reads that only render versions
// (cairn.NewContextWithFixedJSON): a ready version's fixed fields come
// pre-encoded in fixed_json, and its JSON columns are neither sent nor
// decoded.
const renderColumns = `m.name, v.number, m.kind,
	CASE WHEN v.fixed_json IS NULL THEN v.files ELSE '[]' END, v.digest, v.size,
	v.run_id, v.source, v.source_code_version, v.training_dataset, v.validation_dataset,
	CASE WHEN v.fixed_json IS NULL THEN v.metrics ELSE '{}' END,
	CASE WHEN v.fixed_json IS NULL THEN v.params ELSE '{}' END,
	CASE WHEN v.fixed_json IS NULL THEN v.signature END,
	v.dependencies, v.framework, v.trained_by,
	CASE WHEN v.fixed_json IS NULL THEN v.derived_from ELSE '[]' END,
	CASE WHEN v.fixed_json IS NULL THEN v.inputs ELSE '[]' END,
	v.created_by, v.created_by_verified, v.created_at, v.updated_at,
	v.tags, v.description, v.status, v.status_message, v.archived, v.stage, v.deleted_at,
	CASE WHEN v.fixed_json IS NULL THEN v.evaluates ELSE '[]' END,
	v.retrained_from, v.flag, v.approval_status,
	ARRAY(SELECT a.name FROM aliases a WHERE a.model_id = v.model_id AND a.version = v.number ORDER BY a.name),
	v.fixed_json`

// latestColumns is what scanSummary reads for LatestPerStage, from
// versions v JOIN models m: the fields of a version summary (see
// cairn.Reader.LatestPerStage), what MLflow's ModelVersion shows, less the
// aliases, which a page of models has.
const latestColumns = `m.name, m.kind, v.number, v.status, v.status_message, v.source, v.run_id,
	v.tags, v.description, v.created_by, v.created_at, v.updated_at, v.stage`

// summaryColumns is latestColumns with the version's aliases and
// deleted_at: a point read of a summary (cairn.NewContextWithSummary).
const summaryColumns = latestColumns + `,
	ARRAY(SELECT a.name FROM aliases a WHERE a.model_id = v.model_id AND a.version = v.number ORDER BY a.name),
	v.deleted_at`

// scanSummary scans one row of summaryColumns, or of latestColumns if
// not point.
func scanSummary(row pgx.Row, point bool) (*cairn.Version, error) {
	var (
		v                    cairn.Version
		kind, status, stage  string
		tags                 []byte
		createdAt, updatedAt int64
		aliases              []string
		deleted              *int64
	)
	dest := [15]any{&v.Model, &kind, &v.Number, &status, &v.StatusMessage, &v.Source, &v.RunID,
		&tags, &v.Description, &v.CreatedBy, &createdAt, &updatedAt, &stage, &aliases, &deleted}
	n := len(dest)
	if !point {
		n -= 2
	}
	if err := row.Scan(dest[:n]...); err != nil {
		return nil, err
	}
	v.Kind, v.Status, v.Stage = cairn.Kind(kind), cairn.Status(status), cairn.Stage(stage)
	v.Tags = map[string]string{}
	if err := decodeJSON("versions.tags", tags, &v.Tags); err != nil {
		return nil, err
	}
	v.CreatedAt, v.UpdatedAt = fromMicros(createdAt), fromMicros(updatedAt)
	if point {
		v.DeletedAt = fromNullMicros(deleted)
		v.Aliases = strings0(aliases)
	}
	return &v, nil
}

// readColumns returns what a read of versions selects and how it scans a
// row: a summary (summaryColumns) for a context from
// cairn.NewContextWithSummary, else columns(ctx) and scanVersion. The
// reads that heed the summary flag use it: GetVersion, AliasedVersion and
// ListVersions.
func readColumns(ctx context.Context) (string, func(pgx.Row) (*cairn.Version, error)) {
	if cairn.SummaryFromContext(ctx) {
		return summaryColumns, func(row pgx.Row) (*cairn.Version, error) { return scanSummary(row, true) }
	}
	return columns(ctx), scanVersion
}

// readVersion reads one version by the FROM and WHERE of a query, with
// readColumns.
func (r reader) readVersion(ctx context.Context, from string, args ...any) (*cairn.Version, error) {
	cols, scan := readColumns(ctx)
	return scan(r.q.QueryRow(ctx, `SELECT `+cols+from, args...))
}

// columns is renderColumns for a context from
// cairn.NewContextWithFixedJSON, else versionColumns.
func columns(ctx context.Context) string {
	if cairn.FixedJSONFromContext(ctx) {
		return renderColumns
	}
	return versionColumns
}

// approvalStatus is v's approval status, none if unset.
func approvalStatus(v *cairn.Version) string {
	if v.ApprovalStatus == "" {
		return cairn.ApprovalNone
	}
	return v.ApprovalStatus
}

func scanVersion(row pgx.Row) (*cairn.Version, error) {
	var (
		v                                                  cairn.Version
		kind, digest, status, stage                        string
		files, metrics, params, derived, inputs, tags, sig []byte
		evaluates, flag                                    []byte
		created, updated                                   int64
		deleted                                            *int64
		aliases                                            []string
		fixed                                              *string
	)
	if err := row.Scan(&v.Model, &v.Number, &kind, &files, &digest, &v.Size,
		&v.RunID, &v.Source, &v.SourceCodeVersion, &v.TrainingDataset, &v.ValidationDataset,
		&metrics, &params, &sig, &v.Dependencies, &v.Framework, &v.TrainedBy,
		&derived, &inputs, &v.CreatedBy, &v.CreatedByVerified, &created, &updated,
		&tags, &v.Description, &status, &v.StatusMessage, &v.Archived, &stage, &deleted,
		&evaluates, &v.RetrainedFrom, &flag, &v.ApprovalStatus,
		&aliases, &fixed); err != nil {
		return nil, err
	}
	if fixed != nil {
		// For rendering: the mutable fields, and the fixed ones as encoded.
		r := &cairn.Version{Model: v.Model, Number: v.Number, UpdatedAt: fromMicros(updated),
			Tags: map[string]string{}, Description: v.Description, Aliases: strings0(aliases),
			Status: cairn.Status(status), StatusMessage: v.StatusMessage, Archived: v.Archived,
			Stage: cairn.Stage(stage), DeletedAt: fromNullMicros(deleted), ApprovalStatus: v.ApprovalStatus,
			FixedJSON: json.RawMessage(*fixed)}
		if string(tags) != "{}" {
			if err := decodeJSON("versions.tags", tags, &r.Tags); err != nil {
				return nil, err
			}
		}
		if len(flag) > 0 {
			r.Flag = new(cairn.Flag)
			if err := decodeJSON("versions.flag", flag, r.Flag); err != nil {
				return nil, err
			}
			r.Flagged = true
		}
		return r, nil
	}
	v.Kind, v.Digest, v.Status, v.Stage = cairn.Kind(kind), cairn.Digest(digest), cairn.Status(status), cairn.Stage(stage)
	v.CreatedAt, v.UpdatedAt, v.DeletedAt = fromMicros(created), fromMicros(updated), fromNullMicros(deleted)
	if len(sig) > 0 {
		v.Signature = append([]byte(nil), sig...)
	}
	v.Metrics, v.Params, v.Tags = map[string]float64{}, map[string]string{}, map[string]string{}
	for _, c := range []struct {
		name string
		b    []byte
		dst  any
	}{
		{"versions.files", files, &v.Files},
		{"versions.metrics", metrics, &v.Metrics},
		{"versions.params", params, &v.Params},
		{"versions.derived_from", derived, &v.DerivedFrom},
		{"versions.inputs", inputs, &v.Inputs},
		{"versions.tags", tags, &v.Tags},
		{"versions.evaluates", evaluates, &v.Evaluates},
	} {
		if string(c.b) == "[]" || string(c.b) == "{}" {
			continue // dst is empty already; most versions have no inputs or derivations
		}
		if err := decodeJSON(c.name, c.b, c.dst); err != nil {
			return nil, err
		}
	}
	if len(flag) > 0 {
		v.Flag = new(cairn.Flag)
		if err := decodeJSON("versions.flag", flag, v.Flag); err != nil {
			return nil, err
		}
		v.Flagged = true
	}
	v.Files, v.DerivedFrom, v.Inputs, v.Aliases = files0(v.Files), strings0(v.DerivedFrom), strings0(v.Inputs), strings0(aliases)
	v.Evaluates = strings0(v.Evaluates)
	return &v, nil
}

func collectVersions(rows pgx.Rows) ([]*cairn.Version, error) {
	return collectWith(rows, scanVersion)
}

// collectWith scans every row with scan.
func collectWith(rows pgx.Rows, scan func(pgx.Row) (*cairn.Version, error)) ([]*cairn.Version, error) {
	defer rows.Close()
	vs := []*cairn.Version{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		vs = append(vs, v)
	}
	return vs, rows.Err()
}

// GetVersion returns version number of model, deleted or not; ENOTFOUND if
// there is none.
func (r reader) GetVersion(ctx context.Context, model string, number int64) (*cairn.Version, error) {
	v, err := r.readVersion(ctx, `
		FROM versions v JOIN models m ON m.id = v.model_id
		WHERE m.name = $1 AND v.number = $2`, model, number)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, cairn.Errorf(cairn.ENOTFOUND, "version %s not found", cairn.VersionRef(model, number))
	}
	if err != nil {
		return nil, translate(err, "get version %s", cairn.VersionRef(model, number))
	}
	return v, nil
}

// VersionsWithDatasetDigest returns the undeleted versions of model whose
// cairn.DatasetDigestTag tag is digest, in number order, at most 100, from
// the versions_dataset_digest index (migration 0018), whose expression the
// query spells exactly.
func (r reader) VersionsWithDatasetDigest(ctx context.Context, model, digest string) ([]*cairn.Version, error) {
	var id int64
	if err := r.q.QueryRow(ctx, `SELECT id FROM models WHERE name = $1`, model).Scan(&id); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, cairn.Errorf(cairn.ENOTFOUND, "model %q not found", model)
		}
		return nil, translate(err, "find versions of %q by dataset digest", model)
	}
	rows, err := r.q.Query(ctx, `SELECT `+versionColumns+`
		FROM versions v JOIN models m ON m.id = v.model_id
		WHERE v.model_id = $1 AND (v.tags ->> 'mlflow.dataset.digest') = $2
		AND (v.tags ->> 'mlflow.dataset.digest') IS NOT NULL
		AND v.deleted_at IS NULL
		ORDER BY v.number LIMIT 100`, id, digest)
	if err != nil {
		return nil, translate(err, "find versions of %q by dataset digest", model)
	}
	vs, err := collectVersions(rows)
	if err != nil {
		return nil, translate(err, "find versions of %q by dataset digest", model)
	}
	return vs, nil
}

// LatestPerStage returns the newest ready, undeleted version in each stage
// of each named model, ordered by model name then number: per model and
// stage, one descent of the versions_stage index, and per version found
// one of the (model_id, number) key. The versions are summaries (see
// latestColumns).
func (r reader) LatestPerStage(ctx context.Context, models []string) ([]*cairn.Version, error) {
	if len(models) == 0 {
		return []*cairn.Version{}, nil
	}
	// The LATERAL subquery finds the number alone, so that the planner
	// answers it from versions_stage without the table (index only);
	// selecting the row there, it walked versions_list and filtered on
	// the stage instead, all of a model's versions for a stage none is
	// in: 274 ms against 8.5 ms for a page of 100 models at 1M versions.
	rows, err := r.q.Query(ctx, `SELECT `+latestColumns+`
		FROM models m
		CROSS JOIN unnest($2::text[]) AS st(stage)
		CROSS JOIN LATERAL (
			SELECT l.number FROM versions l
			WHERE l.model_id = m.id AND l.stage = st.stage AND l.status = 'ready' AND l.deleted_at IS NULL
			ORDER BY l.number DESC
			LIMIT 1
		) l
		JOIN versions v ON v.model_id = m.id AND v.number = l.number
		WHERE m.name = ANY($1)
		ORDER BY m.name, v.number`, models, stageNames)
	if err != nil {
		return nil, translate(err, "get the latest version per stage")
	}
	defer rows.Close()
	vs := []*cairn.Version{}
	for rows.Next() {
		v, err := scanSummary(rows, false)
		if err != nil {
			return nil, translate(err, "get the latest version per stage")
		}
		vs = append(vs, v)
	}
	if err := rows.Err(); err != nil {
		return nil, translate(err, "get the latest version per stage")
	}
	return vs, nil
}

// stageNames are the legacy stages as query parameters.
var stageNames = func() []string {
	out := make([]string, len(cairn.Stages))
	for i, st := range cairn.Stages {
		out[i] = string(st)
	}
	return out
}()

// AliasedVersion returns the version alias points at, in one statement;
// ENOTFOUND if the model or the alias does not exist.
func (r reader) AliasedVersion(ctx context.Context, model, alias string) (*cairn.Version, error) {
	v, err := r.readVersion(ctx, `
		FROM models m
		JOIN aliases al ON al.model_id = m.id
		JOIN versions v ON v.model_id = al.model_id AND v.number = al.version
		WHERE m.name = $1 AND al.name = $2`, model, alias)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, cairn.Errorf(cairn.ENOTFOUND, "alias %s@%s not found", model, alias)
	}
	if err != nil {
		return nil, translate(err, "get version of alias %s@%s", model, alias)
	}
	return v, nil
}

// LatestVersion returns the highest-numbered ready, unarchived, undeleted
// version of model: one descent of the versions_latest index.
func (r reader) LatestVersion(ctx context.Context, model string) (*cairn.Version, error) {
	// The LATERAL subquery makes the plan one descent of versions_latest
	// that stops at the first row; a plain join sorts every ready version
	// of the model.
	v, err := scanVersion(r.q.QueryRow(ctx, `SELECT `+columns(ctx)+`
		FROM models m CROSS JOIN LATERAL (
			SELECT * FROM versions v
			WHERE v.model_id = m.id AND v.status = 'ready' AND NOT v.archived AND v.deleted_at IS NULL
			ORDER BY v.number DESC
			LIMIT 1
		) v
		WHERE m.name = $1`, model))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, cairn.Errorf(cairn.ENOTFOUND, "model %q has no ready version", model)
	}
	if err != nil {
		return nil, translate(err, "get latest version of %q", model)
	}
	return v, nil
}

// ListVersions lists versions of one model, or of every model, matching q's
// filter in q's order, one page at a time. Unless q.IncludeDeleted, deleted
// versions and the versions of deleted models are left out. ENOTFOUND if
// q.Model does not exist. Page tokens are offsets
// (sqlfilter.EncodePageToken).
func (r reader) ListVersions(ctx context.Context, q cairn.VersionQuery) (*cairn.VersionPage, error) {
	size, err := pageSize(q.Page.Size)
	if err != nil {
		return nil, err
	}
	offset := 0
	if q.Page.Token != "" {
		if offset, err = sqlfilter.DecodePageToken(q.Page.Token); err != nil {
			return nil, err
		}
	}
	if q.Scopes != nil && len(q.Scopes) == 0 {
		return &cairn.VersionPage{Items: []*cairn.Version{}}, nil // no readable scope: nothing to list
	}
	var args []any
	if q.Model != "" {
		args = append(args, q.Model)
	}
	c, err := sqlfilter.Versions(cairn.AndFilters(q.Filter, cairn.ScopeFilter(q.Scopes)), q.OrderBy, sqlfilter.Postgres, len(args)+1)
	if err != nil {
		return nil, err
	}
	args = append(args, c.Args...)
	lim, off := placeholder(len(args)+1), placeholder(len(args)+2)
	args = append(args, size+1, offset)

	cols, scan := readColumns(ctx)
	var sql string
	if q.Model == "" {
		sql = `SELECT ` + cols + ` FROM versions v JOIN models m ON m.id = v.model_id WHERE TRUE`
		if !q.IncludeDeleted {
			sql += ` AND v.deleted_at IS NULL AND m.deleted_at IS NULL`
		}
		if c.Where != "" {
			sql += ` AND (` + c.Where + `)`
		}
		sql += ` ORDER BY ` + c.OrderBy + ` LIMIT ` + lim + ` OFFSET ` + off
	} else {
		// One model: the page is cut inside a LATERAL subquery that sees
		// the model as a single outer row. There the planner knows the
		// model's columns are constants and can walk versions_list in
		// order, stopping after the page; a plain join sorts every version
		// of the model first, which the planner cannot foresee for a model
		// with far more versions than the average. The outer ORDER BY
		// repeats the order (SQL guarantees none otherwise) over one page.
		sql = `SELECT ` + cols + ` FROM models m CROSS JOIN LATERAL (
			SELECT v.* FROM versions v WHERE v.model_id = m.id`
		if !q.IncludeDeleted {
			sql += ` AND v.deleted_at IS NULL`
		}
		if c.Where != "" {
			sql += ` AND (` + c.Where + `)`
		}
		sql += ` ORDER BY ` + c.OrderBy + ` LIMIT ` + lim + ` OFFSET ` + off + `
		) v
		WHERE m.name = $1`
		if !q.IncludeDeleted {
			sql += ` AND m.deleted_at IS NULL`
		}
		sql += ` ORDER BY ` + c.OrderBy
	}

	rows, err := r.q.Query(ctx, sql, args...)
	if err != nil {
		return nil, translate(err, "list versions")
	}
	vs, err := collectWith(rows, scan)
	if err != nil {
		return nil, translate(err, "list versions")
	}
	if len(vs) == 0 && q.Model != "" {
		// Nothing listed: tell a model without (visible) versions from a
		// model that does not exist.
		if _, err := getModel(ctx, r.q, q.Model, false); err != nil {
			return nil, err
		}
	}
	page := &cairn.VersionPage{Items: vs}
	if len(vs) > size {
		page.Items = vs[:size]
		page.NextToken = sqlfilter.EncodePageToken(offset + size)
	}
	return page, nil
}

// StalePendingVersions returns up to n versions still pending that were
// created before t, oldest first (index versions_pending).
func (r reader) StalePendingVersions(ctx context.Context, t time.Time, n int) ([]*cairn.Version, error) {
	rows, err := r.q.Query(ctx, `SELECT `+versionColumns+`
		FROM versions v JOIN models m ON m.id = v.model_id
		WHERE v.status = 'pending' AND v.created_at < $1
		ORDER BY v.created_at, v.id
		LIMIT $2`, micros(t), limit(n))
	if err != nil {
		return nil, translate(err, "list stale pending versions")
	}
	vs, err := collectVersions(rows)
	if err != nil {
		return nil, translate(err, "list stale pending versions")
	}
	return vs, nil
}

// ReferencedDigests calls fn for every blob digest that a version (deleted
// ones included: its manifest and its files), an upload session or an
// artifact refers to, each once. The rows stream
// from the server, so memory stays flat however many versions there are;
// fn must therefore not use the store's transaction it was called on (the
// connection is busy), though it may use the DB.
func (r reader) ReferencedDigests(ctx context.Context, fn func(cairn.Digest) error) error {
	rows, err := r.q.Query(ctx, `SELECT digest FROM versions
		UNION
		SELECT f.digest FROM versions v, jsonb_to_recordset(v.files) AS f(digest TEXT)
		UNION
		SELECT digest FROM uploads
		UNION
		SELECT digest FROM artifacts`)
	if err != nil {
		return translate(err, "list referenced digests")
	}
	defer rows.Close()
	for rows.Next() {
		var d string
		if err := rows.Scan(&d); err != nil {
			return translate(err, "list referenced digests")
		}
		if err := fn(cairn.Digest(d)); err != nil {
			return err
		}
	}
	return translate(rows.Err(), "list referenced digests")
}

// CreateVersion inserts v, whose number AllocateVersion returned. ENOTFOUND
// if the model does not exist, ECONFLICT if the number is taken,
// EFAILEDPRECONDITION if it was never allocated (it would leave a gap);
// none of them aborts the transaction.
func (t *tx) CreateVersion(ctx context.Context, v *cairn.Version) error {
	enc, flag, err := versionJSON(v)
	if err != nil {
		return err
	}
	stage := v.Stage
	if stage == "" {
		stage = cairn.StageNone
	}
	var id int64
	err = t.q.QueryRow(ctx, `INSERT INTO versions
		(model_id, number, status, status_message, digest, size, files,
		 run_id, source, source_code_version, training_dataset, validation_dataset,
		 metrics, params, signature, dependencies, framework, trained_by, derived_from, inputs,
		 tags, description, created_by, created_by_verified, created_at, updated_at,
		 archived, stage, deleted_at, evaluates, retrained_from, flag, approval_status)
		SELECT m.id, $2, $3, $4, $5, $6, $7::jsonb,
		       $8, $9, $10, $11, $12,
		       $13::jsonb, $14::jsonb, $15::json, $16, $17, $18, $19::jsonb, $20::jsonb,
		       $21::jsonb, $22, $23, $24, $25, $26,
		       $27, $28, $29::bigint, $30::jsonb, $31, $32::jsonb, $33
		FROM models m WHERE m.name = $1 AND m.latest_version >= $2
		ON CONFLICT (model_id, number) DO NOTHING
		RETURNING id`,
		v.Model, v.Number, string(v.Status), v.StatusMessage, string(v.Digest), v.Size, enc[0],
		v.RunID, v.Source, v.SourceCodeVersion, v.TrainingDataset, v.ValidationDataset,
		enc[1], enc[2], rawText(v.Signature), v.Dependencies, v.Framework, v.TrainedBy, enc[3], enc[4],
		enc[5], v.Description, v.CreatedBy, v.CreatedByVerified, micros(v.CreatedAt), micros(v.UpdatedAt),
		v.Archived, string(stage), nullMicros(v.DeletedAt), enc[6], v.RetrainedFrom, flag, approvalStatus(v)).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		m, err := getModel(ctx, t.q, v.Model, false)
		if err != nil {
			return err
		}
		if v.Number > m.LatestVersion {
			return cairn.Errorf(cairn.EFAILEDPRECONDITION,
				"version %s was not allocated (the latest allocated is %d): numbers come from AllocateVersion", v.Ref(), m.LatestVersion)
		}
		return cairn.Errorf(cairn.ECONFLICT, "version %s already exists", v.Ref())
	}
	if err != nil {
		return translate(err, "create version %s", v.Ref())
	}
	if v.Status == cairn.StatusReady {
		return t.writeFixedJSON(ctx, id)
	}
	return nil
}

// UpdateVersion writes only v's mutable fields: tags, description, status,
// status_message, archived, stage, deleted_at, flag and updated_at.
// ENOTFOUND if the version does not exist.
func (t *tx) UpdateVersion(ctx context.Context, v *cairn.Version) error {
	tags, err := encodeJSON("tags", stringMap(v.Tags))
	if err != nil {
		return err
	}
	flag, err := encodeFlag(v.Flag)
	if err != nil {
		return err
	}
	stage := v.Stage
	if stage == "" {
		stage = cairn.StageNone
	}
	// RETURNING says whether the version still lacks its fixed_json: it
	// gets it in the update that makes it ready.
	var (
		id      int64
		missing bool
	)
	err = t.q.QueryRow(ctx, `UPDATE versions v
		SET tags = $3, description = $4, status = $5, status_message = $6,
		    archived = $7, stage = $8, deleted_at = $9, updated_at = $10, flag = $11::jsonb, approval_status = $12
		FROM models m
		WHERE m.id = v.model_id AND m.name = $1 AND v.number = $2
		RETURNING v.id, v.fixed_json IS NULL`,
		v.Model, v.Number, tags, v.Description, string(v.Status), v.StatusMessage,
		v.Archived, string(stage), nullMicros(v.DeletedAt), micros(v.UpdatedAt), flag, approvalStatus(v)).Scan(&id, &missing)
	if errors.Is(err, pgx.ErrNoRows) {
		return cairn.Errorf(cairn.ENOTFOUND, "version %s not found", v.Ref())
	}
	if err != nil {
		return translate(err, "update version %s", v.Ref())
	}
	if missing && v.Status == cairn.StatusReady {
		return t.writeFixedJSON(ctx, id)
	}
	return nil
}

// writeFixedJSON stores the fixed fields of the ready version with row id
// id, encoded as a read renders them (cairn.Version.EncodeFixed), in its
// fixed_json column. The version is read back first, so that the bytes
// are exactly what a decoding read gives (JSONB, for one, writes numbers
// and objects its own way).
func (t *tx) writeFixedJSON(ctx context.Context, id int64) error {
	_, err := t.storeFixedJSON(ctx, `SELECT v.id, `+versionColumns+`
		FROM versions v JOIN models m ON m.id = v.model_id WHERE v.id = $1`, id)
	return err
}

// storeFixedJSON reads the versions query selects (v.id, then
// versionColumns), encodes their fixed fields and stores them in one
// statement. It returns how many versions it wrote.
func (t *tx) storeFixedJSON(ctx context.Context, query string, args ...any) (int, error) {
	rows, err := t.q.Query(ctx, query, args...)
	if err != nil {
		return 0, translate(err, "read versions to encode")
	}
	var (
		ids   []int64
		fixed []string
	)
	for rows.Next() {
		var id int64
		v, err := scanVersion(withID{rows, &id})
		if err != nil {
			rows.Close()
			return 0, translate(err, "read versions to encode")
		}
		f, err := v.EncodeFixed()
		if err != nil {
			rows.Close()
			return 0, err
		}
		ids, fixed = append(ids, id), append(fixed, string(f))
	}
	if err := rows.Err(); err != nil {
		return 0, translate(err, "read versions to encode")
	}
	if len(ids) == 0 {
		return 0, nil
	}
	_, err = t.q.Exec(ctx, `UPDATE versions SET fixed_json = u.fixed
		FROM unnest($1::bigint[], $2::text[]) AS u(id, fixed) WHERE versions.id = u.id`, ids, fixed)
	return len(ids), translate(err, "store the fixed fields of versions")
}

// withID scans a row of an id followed by versionColumns.
type withID struct {
	pgx.Row
	id *int64
}

func (w withID) Scan(dest ...any) error { return w.Row.Scan(append([]any{w.id}, dest...)...) }

// backfillBatch is how many versions backfillFixedJSON writes per
// transaction.
const backfillBatch = 1000

// backfillFixedJSON gives the ready versions made before migration 0016
// their fixed_json, a batch per transaction, and returns how many it
// wrote. It runs on every Open: once done, its first query finds nothing
// in the (then empty) versions_fixed_json_missing index. Replicas opening
// at once may encode the same versions twice; both write the same bytes.
func (db *DB) backfillFixedJSON(ctx context.Context) (int, error) {
	total := 0
	for {
		n := 0
		err := db.Update(ctx, func(ct cairn.Tx) error {
			var err error
			n, err = ct.(*tx).storeFixedJSON(ctx, `SELECT v.id, `+versionColumns+`
				FROM versions v JOIN models m ON m.id = v.model_id
				WHERE v.status = 'ready' AND v.fixed_json IS NULL ORDER BY v.id LIMIT $1`, backfillBatch)
			return err
		})
		total += n
		if err != nil || n < backfillBatch {
			return total, err
		}
	}
}

// encodeFlag encodes a version's flag for the flag column, NULL if none.
// versionJSON encodes v's JSON columns as a new row holds them: files,
// metrics, params, derived_from, inputs, tags and evaluates, in that
// order, and the flag.
func versionJSON(v *cairn.Version) (enc [7]string, flag *string, err error) {
	if flag, err = encodeFlag(v.Flag); err != nil {
		return enc, nil, err
	}
	for i, c := range []struct {
		name string
		v    any
	}{
		{"files", files0(v.Files)}, {"metrics", floatMap(v.Metrics)}, {"params", stringMap(v.Params)},
		{"derived_from", strings0(v.DerivedFrom)}, {"inputs", strings0(v.Inputs)}, {"tags", stringMap(v.Tags)},
		{"evaluates", strings0(v.Evaluates)},
	} {
		if enc[i], err = encodeJSON(c.name, c.v); err != nil {
			return enc, nil, err
		}
	}
	return enc, flag, nil
}

func encodeFlag(f *cairn.Flag) (*string, error) {
	if f == nil {
		return nil, nil
	}
	s, err := encodeJSON("flag", f)
	return &s, err
}
