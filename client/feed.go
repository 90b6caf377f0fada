package client

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/cairn-registry/cairn"
)

// Lineage returns the lineage graph around a version reference or a run
// (run:ID): upstream (what it came from) or downstream (what used it), to
// depth hops (0: the server's default).
func (c *Client) Lineage(ctx context.Context, ref string, dir cairn.Direction, depth int) (*LineageGraph, error) {
	q := url.Values{}
	if dir != "" {
		q.Set("direction", string(dir))
	}
	if depth > 0 {
		q.Set("depth", strconv.Itoa(depth))
	}
	var g LineageGraph
	_, err := c.do(ctx, request{method: http.MethodGet, path: apiPath("lineage", ref), query: q,
		decode: func(body io.Reader, length int64) error { return decodeLineage(body, length, &g) }})
	return &g, err
}

// AuditPage is one read of the audit log. Pass NextAfter as the next
// query's AfterSeq to read on.
type AuditPage struct {
	Items     []*cairn.AuditEntry `json:"items"`
	NextAfter int64               `json:"next_after"`
}

// ListAudit reads audit entries in sequence order.
func (c *Client) ListAudit(ctx context.Context, q cairn.AuditQuery) (*AuditPage, error) {
	v := url.Values{}
	if q.AfterSeq > 0 {
		v.Set("after", strconv.FormatInt(q.AfterSeq, 10))
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	for k, s := range map[string]string{"target": q.Target, "actor": q.Actor, "action": q.Action} {
		if s != "" {
			v.Set(k, s)
		}
	}
	if !q.Since.IsZero() {
		v.Set("since", q.Since.Format(time.RFC3339Nano))
	}
	if !q.Until.IsZero() {
		v.Set("until", q.Until.Format(time.RFC3339Nano))
	}
	var page AuditPage
	_, err := c.do(ctx, request{method: http.MethodGet, path: apiPath("audit"), query: v, out: &page})
	return &page, err
}

// EventPage is one read of the event feed. Pass NextAfter as the next
// read's after.
type EventPage struct {
	Items     []*cairn.Event `json:"items"`
	NextAfter int64          `json:"next_after"`
}

// ListEvents reads up to limit events (0: the server's default) with a
// sequence number above after. With wait > 0 the server holds the request
// until an event arrives or wait passes (long-poll; whole seconds, at most
// the server's limit, 60 s by default).
func (c *Client) ListEvents(ctx context.Context, after int64, limit int, wait time.Duration) (*EventPage, error) {
	v := url.Values{}
	if after > 0 {
		v.Set("after", strconv.FormatInt(after, 10))
	}
	if limit > 0 {
		v.Set("limit", strconv.Itoa(limit))
	}
	if wait > 0 {
		v.Set("wait", strconv.FormatInt(int64((wait+time.Second-1)/time.Second), 10))
	}
	var page EventPage
	_, err := c.do(ctx, request{method: http.MethodGet, path: apiPath("events"), query: v, out: &page})
	return &page, err
}

// Health checks /healthz: the server process answers.
func (c *Client) Health(ctx context.Context) error {
	_, err := c.do(ctx, request{method: http.MethodGet, path: "/healthz"})
	return err
}

// Ready checks /readyz: the server's stores answer.
func (c *Client) Ready(ctx context.Context) error {
	_, err := c.do(ctx, request{method: http.MethodGet, path: "/readyz"})
	return err
}

// OpenAPI returns the server's OpenAPI document.
func (c *Client) OpenAPI(ctx context.Context) (json.RawMessage, error) {
	var doc json.RawMessage
	_, err := c.do(ctx, request{method: http.MethodGet, path: apiPath("openapi.json"), out: &doc})
	return doc, err
}

// maxMetricsSize bounds the metrics text read by Metrics.
const maxMetricsSize = 16 << 20

// Metrics returns the server's Prometheus metrics, in the text format.
func (c *Client) Metrics(ctx context.Context) (string, error) {
	resp, err := c.send(ctx, request{method: http.MethodGet, path: "/metrics"})
	if err != nil {
		return "", err
	}
	defer drainClose(resp.Body)
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxMetricsSize))
	return string(b), err
}
