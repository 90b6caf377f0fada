package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/cairn-registry/cairn"
)

const approvalColumns = `a.id, m.name, a.version, a.alias, a.stage, a.archive_existing, a.from_version,
	a.status, a.status_message, a.requested_by, a.required, a.policies, a.evidence_hash,
	a.approvals, a.rejection, a.created_at, a.updated_at, a.expires_at, a.from_stage`

const approvalFrom = ` FROM approval_requests a JOIN models m ON m.id = a.model_id`

func scanApproval(s scanner) (*cairn.ApprovalRequest, error) {
	var (
		a                           cairn.ApprovalRequest
		stage, policies, approvals  string
		fromStage                   string
		rejection                   sql.NullString
		archive                     bool
		created, updated, expiresAt int64
	)
	if err := s.Scan(&a.ID, &a.Model, &a.Version, &a.Alias, &stage, &archive, &a.FromVersion,
		&a.Status, &a.StatusMessage, &a.RequestedBy, &a.Required, &policies, &a.EvidenceHash,
		&approvals, &rejection, &created, &updated, &expiresAt, &fromStage); err != nil {
		return nil, err
	}
	a.Stage, a.FromStage, a.ArchiveExisting = cairn.Stage(stage), cairn.Stage(fromStage), archive
	if err := decodeJSON("approval_requests.policies", policies, &a.Policies); err != nil {
		return nil, err
	}
	if err := decodeJSON("approval_requests.approvals", approvals, &a.Approvals); err != nil {
		return nil, err
	}
	if rejection.Valid {
		a.Rejection = &cairn.ApprovalDecision{}
		if err := decodeJSON("approval_requests.rejection", rejection.String, a.Rejection); err != nil {
			return nil, err
		}
	}
	a.Policies, a.Approvals = strings0(a.Policies), decisions0(a.Approvals)
	a.CreatedAt, a.UpdatedAt, a.ExpiresAt = fromMicros(created), fromMicros(updated), fromMicros(expiresAt)
	return &a, nil
}

func decisions0(d []cairn.ApprovalDecision) []cairn.ApprovalDecision {
	if d == nil {
		return []cairn.ApprovalDecision{}
	}
	return d
}

// GetApproval returns a request; ENOTFOUND.
func (db *DB) GetApproval(ctx context.Context, id string) (*cairn.ApprovalRequest, error) {
	return view(ctx, db, func(t *tx) (*cairn.ApprovalRequest, error) { return t.GetApproval(ctx, id) })
}

func (t *tx) GetApproval(ctx context.Context, id string) (*cairn.ApprovalRequest, error) {
	a, err := scanApproval(t.queryRow(ctx, `SELECT `+approvalColumns+approvalFrom+` WHERE a.id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, cairn.Errorf(cairn.ENOTFOUND, "approval request %q not found", id)
	}
	return a, translate(err, "get approval request %q", id)
}

// ListApprovals lists requests newest first.
func (db *DB) ListApprovals(ctx context.Context, q cairn.ApprovalQuery) (*cairn.ApprovalPage, error) {
	return view(ctx, db, func(t *tx) (*cairn.ApprovalPage, error) { return t.ListApprovals(ctx, q) })
}

func (t *tx) ListApprovals(ctx context.Context, q cairn.ApprovalQuery) (*cairn.ApprovalPage, error) {
	size, err := pageSize(q.Page.Size)
	if err != nil {
		return nil, err
	}
	page := &cairn.ApprovalPage{Items: []*cairn.ApprovalRequest{}}
	if q.Scopes != nil && len(q.Scopes) == 0 {
		return page, nil
	}
	var where []string
	var args []any
	if q.Model != "" {
		where, args = append(where, "m.name = ?"), append(args, q.Model)
	}
	if q.Version != 0 {
		where, args = append(where, "a.version = ?"), append(args, q.Version)
	}
	if q.Status != "" {
		where, args = append(where, "a.status = ?"), append(args, q.Status)
	}
	if q.Scopes != nil {
		var ors []string
		for _, s := range q.Scopes {
			if s == cairn.ScopeAll {
				ors = nil
				break
			}
			ors, args = append(ors, `m.name LIKE ? ESCAPE '\'`), append(args, cairn.ScopeLikePattern(s))
		}
		if len(ors) > 0 {
			where = append(where, "("+strings.Join(ors, " OR ")+")")
		}
	}
	if q.Page.Token != "" {
		c, err := decodeCursor(q.Page.Token)
		if err != nil {
			return nil, err
		}
		where = append(where, "(a.created_at < ? OR (a.created_at = ? AND a.id < ?))")
		args = append(args, c.n, c.n, c.s)
	}
	sqlq := `SELECT ` + approvalColumns + approvalFrom
	if len(where) > 0 {
		sqlq += ` WHERE ` + strings.Join(where, " AND ")
	}
	sqlq += ` ORDER BY a.created_at DESC, a.id DESC LIMIT ?`
	args = append(args, size+1)
	items, err := t.queryApprovals(ctx, sqlq, args...)
	if err != nil {
		return nil, err
	}
	if len(items) > size {
		items = items[:size]
		last := items[size-1]
		page.NextToken = cursor{n: micros(last.CreatedAt), s: last.ID}.encode()
	}
	page.Items = items
	return page, nil
}

// ExpiredApprovals returns pending requests whose time ran out by now.
func (db *DB) ExpiredApprovals(ctx context.Context, now time.Time, n int) ([]*cairn.ApprovalRequest, error) {
	return view(ctx, db, func(t *tx) ([]*cairn.ApprovalRequest, error) { return t.ExpiredApprovals(ctx, now, n) })
}

func (t *tx) ExpiredApprovals(ctx context.Context, now time.Time, n int) ([]*cairn.ApprovalRequest, error) {
	return t.queryApprovals(ctx, `SELECT `+approvalColumns+approvalFrom+`
		WHERE a.status = 'pending' AND a.expires_at <= ? ORDER BY a.expires_at LIMIT ?`, micros(now), limit(n))
}

func (t *tx) queryApprovals(ctx context.Context, q string, args ...any) ([]*cairn.ApprovalRequest, error) {
	rows, err := t.query(ctx, q, args...)
	if err != nil {
		return nil, translate(err, "list approval requests")
	}
	defer rows.Close()
	out := []*cairn.ApprovalRequest{}
	for rows.Next() {
		a, err := scanApproval(rows)
		if err != nil {
			return nil, translate(err, "list approval requests")
		}
		out = append(out, a)
	}
	return out, translate(rows.Err(), "list approval requests")
}

func encodeDecisions(a *cairn.ApprovalRequest) (approvals string, rejection sql.NullString, err error) {
	if approvals, err = encodeJSON(decisions0(a.Approvals)); err != nil {
		return "", rejection, err
	}
	if a.Rejection != nil {
		s, err := encodeJSON(a.Rejection)
		if err != nil {
			return "", rejection, err
		}
		rejection = sql.NullString{String: s, Valid: true}
	}
	return approvals, rejection, nil
}

// CreateApproval inserts a request.
func (t *tx) CreateApproval(ctx context.Context, a *cairn.ApprovalRequest) error {
	policies, err := encodeJSON(strings0(a.Policies))
	if err != nil {
		return err
	}
	approvals, rejection, err := encodeDecisions(a)
	if err != nil {
		return err
	}
	res, err := t.exec(ctx, `INSERT INTO approval_requests (id, model_id, version, alias, stage, archive_existing,
		from_version, status, status_message, requested_by, required, policies, evidence_hash, approvals,
		rejection, created_at, updated_at, expires_at, from_stage)
		SELECT ?, m.id, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? FROM models m WHERE m.name = ?`,
		a.ID, a.Version, a.Alias, string(a.Stage), boolInt(a.ArchiveExisting), a.FromVersion, a.Status, a.StatusMessage,
		a.RequestedBy, a.Required, policies, a.EvidenceHash, approvals, rejection,
		micros(a.CreatedAt), micros(a.UpdatedAt), micros(a.ExpiresAt), string(a.FromStage), a.Model)
	if isUnique(err) {
		return cairn.WrapError(cairn.ECONFLICT, err, "approval request %q exists", a.ID)
	}
	return expectOne(res, err, "model %q", a.Model)
}

// UpdateApproval writes a request's mutable fields.
func (t *tx) UpdateApproval(ctx context.Context, a *cairn.ApprovalRequest) error {
	approvals, rejection, err := encodeDecisions(a)
	if err != nil {
		return err
	}
	res, err := t.exec(ctx, `UPDATE approval_requests SET status = ?, status_message = ?, approvals = ?,
		rejection = ?, updated_at = ? WHERE id = ?`,
		a.Status, a.StatusMessage, approvals, rejection, micros(a.UpdatedAt), a.ID)
	return expectOne(res, err, "approval request %q", a.ID)
}

// ImportApproval inserts a request as it is. ENOTFOUND if its model does
// not exist, ECONFLICT if the id is taken.
func (t *tx) ImportApproval(ctx context.Context, a *cairn.ApprovalRequest) error {
	if a.ID == "" {
		return cairn.Errorf(cairn.EINVALID, "an approval request without an id")
	}
	if _, err := t.modelID(ctx, a.Model); err != nil {
		return err
	}
	return t.CreateApproval(ctx, a)
}
