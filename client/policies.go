package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/internal/registry"
)

// PolicyCreate is the input of CreatePolicy: a name and the document.
type PolicyCreate = registry.PolicyCreate

type policyList struct {
	Items []*cairn.Policy `json:"items"`
}

// CreatePolicy creates a policy (admin).
func (c *Client) CreatePolicy(ctx context.Context, in PolicyCreate) (*cairn.Policy, error) {
	var p cairn.Policy
	_, err := c.do(ctx, request{method: http.MethodPost, path: apiPath("policies"), in: in, out: &p})
	return &p, err
}

// ListPolicies lists the policies at their current versions, by name;
// deleted ones too with includeDeleted.
func (c *Client) ListPolicies(ctx context.Context, includeDeleted bool) ([]*cairn.Policy, error) {
	var page policyList
	var q url.Values
	if includeDeleted {
		q = url.Values{"include_deleted": {"true"}}
	}
	_, err := c.do(ctx, request{method: http.MethodGet, path: apiPath("policies"), query: q, out: &page})
	return page.Items, err
}

// GetPolicy returns a policy at its current version, or at version if it
// is not 0.
func (c *Client) GetPolicy(ctx context.Context, name string, version int64) (*cairn.Policy, error) {
	var p cairn.Policy
	var q url.Values
	if version > 0 {
		q = url.Values{"version": {strconv.FormatInt(version, 10)}}
	}
	_, err := c.do(ctx, request{method: http.MethodGet, path: apiPath("policies", name), query: q, out: &p})
	return &p, err
}

// UpdatePolicy replaces a policy's document (admin), writing its next
// version; an unchanged document returns the current version.
func (c *Client) UpdatePolicy(ctx context.Context, name string, spec cairn.PolicySpec) (*cairn.Policy, error) {
	var p cairn.Policy
	_, err := c.do(ctx, request{method: http.MethodPut, path: apiPath("policies", name), in: spec, out: &p})
	return &p, err
}

// DeletePolicy deletes a policy (admin); its versions stay readable.
func (c *Client) DeletePolicy(ctx context.Context, name string) error {
	_, err := c.do(ctx, request{method: http.MethodDelete, path: apiPath("policies", name)})
	return err
}

// ListPolicyVersions lists every version of a policy, newest first.
func (c *Client) ListPolicyVersions(ctx context.Context, name string) ([]*cairn.Policy, error) {
	var page policyList
	_, err := c.do(ctx, request{method: http.MethodGet, path: apiPath("policies", name, "versions"), out: &page})
	return page.Items, err
}
