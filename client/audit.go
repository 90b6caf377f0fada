package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/cairn-registry/cairn"
)

// VerifyAudit asks the server to walk the whole audit chain and its signed
// checkpoints (admin). A broken chain is a report with OK false and the
// first problem, not an error.
func (c *Client) VerifyAudit(ctx context.Context) (*cairn.AuditReport, error) {
	var r cairn.AuditReport
	_, err := c.do(ctx, request{method: http.MethodGet, path: apiPath("audit", "verify"), out: &r})
	return &r, err
}

// CheckpointPage is one read of the audit checkpoints; pass NextAfter as
// the next read's after.
type CheckpointPage struct {
	Items     []*cairn.AuditCheckpoint `json:"items"`
	NextAfter int64                    `json:"next_after"`
}

// ListAuditCheckpoints reads up to limit (0: the server's default) signed
// checkpoints with a sequence number above after, in order.
func (c *Client) ListAuditCheckpoints(ctx context.Context, after int64, limit int) (*CheckpointPage, error) {
	q := url.Values{}
	if after > 0 {
		q.Set("after", strconv.FormatInt(after, 10))
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var p CheckpointPage
	_, err := c.do(ctx, request{method: http.MethodGet, path: apiPath("audit", "checkpoints"), query: q, out: &p})
	return &p, err
}

// ResolveAt returns the version a reference named at a time: an alias as
// its history says it pointed then (not_found if it had not been set yet
// or had been deleted), NAME@vN if the version existed then. NAME and
// NAME@latest are invalid: the server does not record which version was
// the latest when.
func (c *Client) ResolveAt(ctx context.Context, ref string, at time.Time) (*cairn.Version, error) {
	var v cairn.Version
	_, err := c.do(ctx, request{method: http.MethodGet, path: apiPath("resolve", ref), query: atQuery(at), out: &v})
	return &v, err
}

// GetAliasAt returns an alias as it was at a time: the version it pointed
// at, and who moved it there when. not_found if it had not been set yet or
// had been deleted.
func (c *Client) GetAliasAt(ctx context.Context, model, alias string, at time.Time) (*cairn.Alias, error) {
	var a cairn.Alias
	_, err := c.do(ctx, request{method: http.MethodGet, path: apiPath("models", model, "aliases", alias), query: atQuery(at), out: &a})
	return &a, err
}

func atQuery(at time.Time) url.Values {
	return url.Values{"at": {at.UTC().Format(time.RFC3339Nano)}}
}
