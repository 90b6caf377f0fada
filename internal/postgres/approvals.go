package postgres

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/cairn-registry/cairn"
	"github.com/jackc/pgx/v5"
)

const approvalColumns = `a.id, m.name, a.version, a.alias, a.stage, a.archive_existing, a.from_version,
	a.status, a.status_message, a.requested_by, a.required, a.policies, a.evidence_hash,
	a.approvals, a.rejection, a.created_at, a.updated_at, a.expires_at, a.from_stage`

const approvalFrom = ` FROM approval_requests a JOIN models m ON m.id = a.model_id`

func scanApproval(row pgx.Row) (*cairn.ApprovalRequest, error) {
	var (
		a                           cairn.ApprovalRequest
		stage, policies, approvals  string
		fromStage                   string
		rejection                   *string
		created, updated, expiresAt int64
	)
	if err := row.Scan(&a.ID, &a.Model, &a.Version, &a.Alias, &stage, &a.ArchiveExisting, &a.FromVersion,
		&a.Status, &a.StatusMessage, &a.RequestedBy, &a.Required, &policies, &a.EvidenceHash,
		&approvals, &rejection, &created, &updated, &expiresAt, &fromStage); err != nil {
		return nil, err
	}
	a.Stage, a.FromStage = cairn.Stage(stage), cairn.Stage(fromStage)
	if err := decodeJSON("approval_requests.policies", []byte(policies), &a.Policies); err != nil {
		return nil, err
	}
	if err := decodeJSON("approval_requests.approvals", []byte(approvals), &a.Approvals); err != nil {
		return nil, err
	}
	if rejection != nil {
		a.Rejection = &cairn.ApprovalDecision{}
		if err := decodeJSON("approval_requests.rejection", []byte(*rejection), a.Rejection); err != nil {
			return nil, err
		}
	}
	a.Policies = strings0(a.Policies)
	if a.Approvals == nil {
		a.Approvals = []cairn.ApprovalDecision{}
	}
	a.CreatedAt, a.UpdatedAt, a.ExpiresAt = fromMicros(created), fromMicros(updated), fromMicros(expiresAt)
	return &a, nil
}

// GetApproval returns a request; ENOTFOUND.
func (r reader) GetApproval(ctx context.Context, id string) (*cairn.ApprovalRequest, error) {
	a, err := scanApproval(r.q.QueryRow(ctx, `SELECT `+approvalColumns+approvalFrom+` WHERE a.id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, cairn.Errorf(cairn.ENOTFOUND, "approval request %q not found", id)
	}
	if err != nil {
		return nil, translate(err, "get approval request %q", id)
	}
	return a, nil
}

// ListApprovals lists requests newest first.
func (r reader) ListApprovals(ctx context.Context, q cairn.ApprovalQuery) (*cairn.ApprovalPage, error) {
	size, err := pageSize(q.Page.Size)
	if err != nil {
		return nil, err
	}
	page := &cairn.ApprovalPage{Items: []*cairn.ApprovalRequest{}}
	if q.Scopes != nil && len(q.Scopes) == 0 {
		return page, nil
	}
	var where []string
	var a args
	if q.Model != "" {
		where = append(where, "m.name = "+a.add(q.Model))
	}
	if q.Version != 0 {
		where = append(where, "a.version = "+a.add(q.Version))
	}
	if q.Status != "" {
		where = append(where, "a.status = "+a.add(q.Status))
	}
	if q.Scopes != nil {
		var ors []string
		for _, s := range q.Scopes {
			if s == cairn.ScopeAll {
				ors = nil
				break
			}
			ors = append(ors, `m.name LIKE `+a.add(cairn.ScopeLikePattern(s))+` ESCAPE '\'`)
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
		n := a.add(c.n)
		where = append(where, "(a.created_at < "+n+" OR (a.created_at = "+n+" AND a.id < "+a.add(c.s)+"))")
	}
	sqlq := `SELECT ` + approvalColumns + approvalFrom
	if len(where) > 0 {
		sqlq += ` WHERE ` + strings.Join(where, " AND ")
	}
	sqlq += ` ORDER BY a.created_at DESC, a.id DESC LIMIT ` + a.add(size+1)
	items, err := r.queryApprovals(ctx, sqlq, a...)
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
func (r reader) ExpiredApprovals(ctx context.Context, now time.Time, n int) ([]*cairn.ApprovalRequest, error) {
	return r.queryApprovals(ctx, `SELECT `+approvalColumns+approvalFrom+`
		WHERE a.status = 'pending' AND a.expires_at <= $1 ORDER BY a.expires_at LIMIT $2`, micros(now), limit(n))
}

func (r reader) queryApprovals(ctx context.Context, q string, args ...any) ([]*cairn.ApprovalRequest, error) {
	rows, err := r.q.Query(ctx, q, args...)
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

func encodeDecisions(a *cairn.ApprovalRequest) (approvals string, rejection *string, err error) {
	ds := a.Approvals
	if ds == nil {
		ds = []cairn.ApprovalDecision{}
	}
	if approvals, err = encodeJSON("approvals", ds); err != nil {
		return "", nil, err
	}
	if a.Rejection != nil {
		s, err := encodeJSON("rejection", a.Rejection)
		if err != nil {
			return "", nil, err
		}
		rejection = &s
	}
	return approvals, rejection, nil
}

// insertApproval inserts a request, with the id of the model the last
// argument names (no row if there is none); approvalArgs gives the
// arguments. CreateApproval and ImportApproval share it.
const insertApproval = `INSERT INTO approval_requests (id, model_id, version, alias, stage, archive_existing,
		from_version, status, status_message, requested_by, required, policies, evidence_hash, approvals,
		rejection, created_at, updated_at, expires_at, from_stage)
		SELECT $1, m.id, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18 FROM models m WHERE m.name = $19`

// approvalArgs returns insertApproval's arguments for a.
func approvalArgs(a *cairn.ApprovalRequest) ([]any, error) {
	policies, err := encodeJSON("policies", strings0(a.Policies))
	if err != nil {
		return nil, err
	}
	approvals, rejection, err := encodeDecisions(a)
	if err != nil {
		return nil, err
	}
	return []any{a.ID, a.Version, a.Alias, string(a.Stage), a.ArchiveExisting, a.FromVersion, a.Status, a.StatusMessage,
		a.RequestedBy, a.Required, policies, a.EvidenceHash, approvals, rejection,
		micros(a.CreatedAt), micros(a.UpdatedAt), micros(a.ExpiresAt), string(a.FromStage), a.Model}, nil
}

// CreateApproval inserts a request.
func (t *tx) CreateApproval(ctx context.Context, a *cairn.ApprovalRequest) error {
	args, err := approvalArgs(a)
	if err != nil {
		return err
	}
	tag, err := t.q.Exec(ctx, insertApproval, args...)
	return webhookAffected(tag, err, "model %q not found", a.Model)
}

// UpdateApproval writes a request's mutable fields.
func (t *tx) UpdateApproval(ctx context.Context, a *cairn.ApprovalRequest) error {
	approvals, rejection, err := encodeDecisions(a)
	if err != nil {
		return err
	}
	tag, err := t.q.Exec(ctx, `UPDATE approval_requests SET status = $1, status_message = $2, approvals = $3,
		rejection = $4, updated_at = $5 WHERE id = $6`,
		a.Status, a.StatusMessage, approvals, rejection, micros(a.UpdatedAt), a.ID)
	return webhookAffected(tag, err, "approval request %q not found", a.ID)
}

// ImportApproval inserts a request as it is. ENOTFOUND if its model does
// not exist, ECONFLICT if the id is taken (the transaction goes on).
func (t *tx) ImportApproval(ctx context.Context, a *cairn.ApprovalRequest) error {
	if a.ID == "" {
		return cairn.Errorf(cairn.EINVALID, "an approval request without an id")
	}
	var modelID int64
	if err := t.q.QueryRow(ctx, `SELECT id FROM models WHERE name = $1`, a.Model).Scan(&modelID); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return cairn.Errorf(cairn.ENOTFOUND, "cannot import approval request %s: model %q not found", a.ID, a.Model)
		}
		return translate(err, "import approval request %s", a.ID)
	}
	args, err := approvalArgs(a)
	if err != nil {
		return err
	}
	// The model is there: no row inserted means the id is taken.
	tag, err := t.q.Exec(ctx, insertApproval+` ON CONFLICT (id) DO NOTHING`, args...)
	if err != nil {
		return translate(err, "import approval request %s", a.ID)
	}
	if tag.RowsAffected() == 0 {
		return cairn.Errorf(cairn.ECONFLICT, "approval request %s already exists", a.ID)
	}
	return nil
}
