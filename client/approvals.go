package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/internal/registry"
)

// Approval types, as the API has them.
type (
	Decision        = registry.Decision
	GateExplanation = registry.GateExplanation
)

// ApprovalList asks for a page of approval requests.
type ApprovalList struct {
	Status    string // pending, applied, rejected, expired, invalidated; "" for all
	Model     string
	Version   int64
	PageSize  int
	PageToken string
}

// ListApprovals lists approval requests, newest first.
func (c *Client) ListApprovals(ctx context.Context, in ApprovalList) (*cairn.ApprovalPage, error) {
	q := url.Values{}
	for k, v := range map[string]string{"status": in.Status, "model": in.Model, "page_token": in.PageToken} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if in.Version > 0 {
		q.Set("version", strconv.FormatInt(in.Version, 10))
	}
	if in.PageSize > 0 {
		q.Set("page_size", strconv.Itoa(in.PageSize))
	}
	var page cairn.ApprovalPage
	_, err := c.do(ctx, request{method: http.MethodGet, path: apiPath("approvals"), query: q, out: &page})
	return &page, err
}

// GetApproval returns an approval request.
func (c *Client) GetApproval(ctx context.Context, id string) (*cairn.ApprovalRequest, error) {
	var a cairn.ApprovalRequest
	_, err := c.do(ctx, request{method: http.MethodGet, path: apiPath("approvals", id), out: &a})
	return &a, err
}

// Approve approves a pending request; it applies itself once it has enough
// approvals.
func (c *Client) Approve(ctx context.Context, id string, in Decision) (*cairn.ApprovalRequest, error) {
	var a cairn.ApprovalRequest
	_, err := c.do(ctx, request{method: http.MethodPost, path: apiPath("approvals", id, "approve"), in: in, out: &a})
	return &a, err
}

// Reject rejects a pending request.
func (c *Client) Reject(ctx context.Context, id string, in Decision) (*cairn.ApprovalRequest, error) {
	var a cairn.ApprovalRequest
	_, err := c.do(ctx, request{method: http.MethodPost, path: apiPath("approvals", id, "reject"), in: in, out: &a})
	return &a, err
}

// ExplainGate dry-runs the gate on moving alias (or stage, if alias is
// "") to the version ref names.
func (c *Client) ExplainGate(ctx context.Context, ref, alias, stage string) (*GateExplanation, error) {
	q := url.Values{}
	if alias != "" {
		q.Set("alias", alias)
	} else {
		q.Set("stage", stage)
	}
	var ex GateExplanation
	_, err := c.do(ctx, request{method: http.MethodGet, path: apiPath("explain", ref), query: q, out: &ex})
	return &ex, err
}
