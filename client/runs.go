package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/cairn-registry/cairn"
)

// ListRuns lists one page of runs, newest first, of one experiment or of
// all ("").
func (c *Client) ListRuns(ctx context.Context, experimentID string, pageSize int, pageToken string) (*cairn.RunPage, error) {
	q := url.Values{}
	if experimentID != "" {
		q.Set("experiment_id", experimentID)
	}
	if pageSize > 0 {
		q.Set("page_size", strconv.Itoa(pageSize))
	}
	if pageToken != "" {
		q.Set("page_token", pageToken)
	}
	var page cairn.RunPage
	_, err := c.do(ctx, request{method: http.MethodGet, path: apiPath("runs"), query: q, out: &page})
	return &page, err
}

// CreateRun starts a run.
func (c *Client) CreateRun(ctx context.Context, in RunCreate) (*cairn.Run, error) {
	var r cairn.Run
	_, err := c.do(ctx, request{method: http.MethodPost, path: apiPath("runs"), in: in, out: &r})
	return &r, err
}

// GetRun returns a run.
func (c *Client) GetRun(ctx context.Context, id string) (*cairn.Run, error) {
	var r cairn.Run
	_, err := c.do(ctx, request{method: http.MethodGet, path: apiPath("runs", id), out: &r})
	return &r, err
}

// UpdateRun changes a run's name, status, end time and tags.
func (c *Client) UpdateRun(ctx context.Context, id string, in RunUpdate) (*cairn.Run, error) {
	var r cairn.Run
	_, err := c.do(ctx, request{method: http.MethodPatch, path: apiPath("runs", id), in: in, out: &r})
	return &r, err
}

// LogRun logs metrics (with history), params and tags to a run. A param
// logged again with a different value is a conflict.
func (c *Client) LogRun(ctx context.Context, id string, in RunLog) error {
	_, err := c.do(ctx, request{method: http.MethodPost, path: apiPath("runs", id, "log"), in: in})
	return err
}

// LinkRun records lineage: the versions (references) a run consumed and
// produced.
func (c *Client) LinkRun(ctx context.Context, id string, in RunLinks) error {
	_, err := c.do(ctx, request{method: http.MethodPost, path: apiPath("runs", id, "links"), in: in})
	return err
}

// MetricHistory returns every logged value of one metric of a run.
func (c *Client) MetricHistory(ctx context.Context, runID, key string) ([]cairn.MetricPoint, error) {
	var out struct {
		Items []cairn.MetricPoint `json:"items"`
	}
	_, err := c.do(ctx, request{method: http.MethodGet, path: apiPath("runs", runID, "metrics", key), out: &out})
	return out.Items, err
}
