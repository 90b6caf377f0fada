package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/cairn-registry/cairn"
)

// RecordSignal records a monitoring signal against the version ref names
// (churn@production, churn@v3). If its value is above the threshold policy
// sets for its kind, the answer has Flagged set and the version is flagged.
func (c *Client) RecordSignal(ctx context.Context, ref string, spec cairn.SignalSpec) (*cairn.Signal, error) {
	var s cairn.Signal
	_, err := c.do(ctx, request{method: http.MethodPost, path: apiPath("versions", ref, "signals"), in: spec, out: &s})
	return &s, err
}

// ListSignals lists one page of the signals recorded against a version,
// newest first; kind "" lists every kind.
func (c *Client) ListSignals(ctx context.Context, ref, kind string, pageSize int, pageToken string) (*cairn.SignalPage, error) {
	q := url.Values{}
	if kind != "" {
		q.Set("kind", kind)
	}
	if pageSize > 0 {
		q.Set("page_size", strconv.Itoa(pageSize))
	}
	if pageToken != "" {
		q.Set("page_token", pageToken)
	}
	var page cairn.SignalPage
	_, err := c.do(ctx, request{method: http.MethodGet, path: apiPath("versions", ref, "signals"), query: q, out: &page})
	return &page, err
}

// UnflagVersion clears the flag a signal set on a version.
func (c *Client) UnflagVersion(ctx context.Context, ref string) (*cairn.Version, error) {
	var v cairn.Version
	_, err := c.do(ctx, request{method: http.MethodPost, path: apiPath("versions", ref, "unflag"), in: struct{}{}, out: &v})
	return &v, err
}

// Evaluations lists the evaluation versions that evaluate the version ref
// names (registered with evaluates), oldest first.
func (c *Client) Evaluations(ctx context.Context, ref string) ([]*cairn.Version, error) {
	var out struct {
		Items []*cairn.Version `json:"items"`
	}
	_, err := c.do(ctx, request{method: http.MethodGet, path: apiPath("versions", ref, "evaluations"), out: &out})
	return out.Items, err
}
