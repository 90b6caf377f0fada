package cairn

import (
	"context"
	"time"
)

// Approval request statuses. A request is pending until enough approvers
// approve it (then it applies itself: applied), an approver rejects it
// (rejected), its time runs out (expired), or the version or its evidence
// changes under it (invalidated).
const (
	RequestPending     = "pending"
	RequestApplied     = "applied"
	RequestRejected    = "rejected"
	RequestExpired     = "expired"
	RequestInvalidated = "invalidated"
)

// A version's derived approval status, like SageMaker's: the outcome of
// its latest request that was not expired or invalidated.
const (
	ApprovalNone     = "none"
	ApprovalPending  = "pending"
	ApprovalApproved = "approved"
	ApprovalRejected = "rejected"
)

// ApprovalRequest is a move of a protected alias (or an MLflow stage
// transition into or out of a protected stage) waiting for approvals.
// Exactly one of Alias and Stage is set.
type ApprovalRequest struct {
	ID      string `json:"id"`
	Model   string `json:"model"`
	Version int64  `json:"version"`
	Alias   string `json:"alias,omitempty"`
	// Stage is the stage a stage transition moves the version to.
	Stage Stage `json:"stage,omitempty"`
	// FromStage is the stage the version was in when a stage transition's
	// request was opened ("" on requests opened before Cairn recorded it).
	// A request is invalidated if the version leaves it meanwhile.
	FromStage Stage `json:"from_stage,omitempty"`
	// ArchiveExisting is MLflow's archive_existing_versions of a stage
	// transition, applied with it.
	ArchiveExisting bool `json:"archive_existing,omitempty"`
	// FromVersion is where the alias pointed when the request was opened
	// (0: nowhere).
	FromVersion   int64  `json:"from_version,omitempty"`
	Status        string `json:"status"`
	StatusMessage string `json:"status_message,omitempty"`
	RequestedBy   string `json:"requested_by"`
	// Required is how many approvals the gate asked for when the request
	// was opened.
	Required int `json:"required"`
	// Policies names the policies whose gates apply, as NAME@vN.
	Policies []string `json:"policies"`
	// EvidenceHash is the SHA-256 of the version's evidence (metrics,
	// params, tags, status, linked evaluations) when the request was
	// opened; a change invalidates the request. It is "" when no version
	// moves in through a gate: deleting an alias (Version 0), or a stage
	// transition gated only because the version (or, with
	// ArchiveExisting, another version) leaves a protected stage.
	EvidenceHash string             `json:"evidence_hash"`
	Approvals    []ApprovalDecision `json:"approvals"`
	Rejection    *ApprovalDecision  `json:"rejection,omitempty"`
	CreatedAt    time.Time          `json:"created_at"`
	UpdatedAt    time.Time          `json:"updated_at"`
	ExpiresAt    time.Time          `json:"expires_at"`
}

// Target is what the request moves: "churn@production" or "churn stage
// Production" (for a transition out of a protected stage, the stage it
// leaves).
func (a *ApprovalRequest) Target() string {
	if a.Stage != "" {
		if a.LeavesStage() {
			return a.Model + " stage " + string(a.FromStage)
		}
		return a.Model + " stage " + string(a.Stage)
	}
	return a.Model + "@" + a.Alias
}

// LeavesStage reports whether a is a stage transition gated only because
// a version leaves the protected stage FromStage: the version itself
// (FromStage is not Stage), or, with ArchiveExisting, the other versions
// in it (FromStage is Stage). No version moves in through a gate, so
// EvidenceHash is "".
func (a *ApprovalRequest) LeavesStage() bool {
	return a.Stage != "" && a.FromStage != "" && a.EvidenceHash == ""
}

// ApprovalDecision is one approver's approval or rejection.
type ApprovalDecision struct {
	Actor    string    `json:"actor"`
	Verified bool      `json:"verified"`
	Comment  string    `json:"comment,omitempty"`
	At       time.Time `json:"at"`
}

// MaxApprovalComment bounds a decision's comment.
const MaxApprovalComment = 4096

// PendingApprovalError is the cause of an EPENDINGAPPROVAL error: the
// request that was opened (or was already open) instead of the move.
type PendingApprovalError struct {
	Request *ApprovalRequest
}

func (e *PendingApprovalError) Error() string { return "approval request " + e.Request.ID }

// ApprovalQuery lists approval requests, newest first.
type ApprovalQuery struct {
	Model   string // "" for every model
	Version int64  // 0 for every version
	Status  string // "" for every status
	Page    Page
	// Scopes restricts the list by model name as in ModelQuery.
	Scopes []string
}

// ApprovalPage is one page of approval requests.
type ApprovalPage struct {
	Items     []*ApprovalRequest `json:"items"`
	NextToken string             `json:"next_page_token"`
}

type approvalReader interface {
	// GetApproval returns a request; ENOTFOUND.
	GetApproval(ctx context.Context, id string) (*ApprovalRequest, error)
	// ListApprovals lists requests newest first.
	ListApprovals(ctx context.Context, q ApprovalQuery) (*ApprovalPage, error)
	// ExpiredApprovals returns up to limit pending requests whose
	// ExpiresAt is not after now.
	ExpiredApprovals(ctx context.Context, now time.Time, limit int) ([]*ApprovalRequest, error)
}

type approvalWriter interface {
	// CreateApproval inserts a; ENOTFOUND if its model does not exist.
	CreateApproval(ctx context.Context, a *ApprovalRequest) error
	// UpdateApproval writes a's status, status message, approvals,
	// rejection and updated_at, by ID; ENOTFOUND.
	UpdateApproval(ctx context.Context, a *ApprovalRequest) error
}
