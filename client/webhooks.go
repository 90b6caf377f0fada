package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/internal/registry"
)

// Webhook request and answer types, as the API has them.
type (
	WebhookCreate    = registry.WebhookCreate
	WebhookCreated   = registry.WebhookCreated
	WebhookUpdate    = registry.WebhookUpdate
	RedeliverRequest = registry.RedeliverRequest
	RedeliverResult  = registry.RedeliverResult
	WebhookStatus    = registry.WebhookStatus
)

// DeliveryPage is a page of delivery attempts, newest first. Pass
// NextBefore as the next query's Before to read older ones; 0 means there
// are none.
type DeliveryPage struct {
	Items      []*cairn.Delivery `json:"items"`
	NextBefore int64             `json:"next_before"`
}

// CreateWebhook subscribes a URL to events. The answer carries the signing
// secret; the server never shows it again.
func (c *Client) CreateWebhook(ctx context.Context, in WebhookCreate) (*WebhookCreated, error) {
	var w WebhookCreated
	_, err := c.do(ctx, request{method: http.MethodPost, path: apiPath("webhooks"), in: in, out: &w})
	return &w, err
}

// ListWebhooks lists every subscription, oldest first.
func (c *Client) ListWebhooks(ctx context.Context) ([]*cairn.Webhook, error) {
	var page struct {
		Items []*cairn.Webhook `json:"items"`
	}
	_, err := c.do(ctx, request{method: http.MethodGet, path: apiPath("webhooks"), out: &page})
	return page.Items, err
}

// GetWebhook returns a subscription and where its delivery stands.
func (c *Client) GetWebhook(ctx context.Context, id string) (*WebhookStatus, error) {
	var w WebhookStatus
	_, err := c.do(ctx, request{method: http.MethodGet, path: apiPath("webhooks", id), out: &w})
	return &w, err
}

// UpdateWebhook changes a subscription; nil fields stay as they are.
func (c *Client) UpdateWebhook(ctx context.Context, id string, in WebhookUpdate) (*cairn.Webhook, error) {
	var w cairn.Webhook
	_, err := c.do(ctx, request{method: http.MethodPatch, path: apiPath("webhooks", id), in: in, out: &w})
	return &w, err
}

// DeleteWebhook deletes a subscription with its delivery log.
func (c *Client) DeleteWebhook(ctx context.Context, id string) error {
	_, err := c.do(ctx, request{method: http.MethodDelete, path: apiPath("webhooks", id)})
	return err
}

// TestWebhook has the server send a signed webhook.test ping to the
// subscription now; the answer is the recorded attempt (a receiver's
// failure is in it, not an error).
func (c *Client) TestWebhook(ctx context.Context, id string) (*cairn.Delivery, error) {
	var d cairn.Delivery
	_, err := c.do(ctx, request{method: http.MethodPost, path: apiPath("webhooks", id, "test"), out: &d})
	return &d, err
}

// ListDeliveries lists a subscription's delivery attempts, newest first:
// up to limit (0: the server's default) with an id below before (0: from
// the newest).
func (c *Client) ListDeliveries(ctx context.Context, id string, before int64, limit int) (*DeliveryPage, error) {
	q := url.Values{}
	if before > 0 {
		q.Set("before", strconv.FormatInt(before, 10))
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var page DeliveryPage
	_, err := c.do(ctx, request{method: http.MethodGet, path: apiPath("webhooks", id, "deliveries"), query: q, out: &page})
	return &page, err
}

// ListDeadLetters lists a subscription's dead letters in sequence order,
// of one status (dead, queued, delivered) or all ("").
func (c *Client) ListDeadLetters(ctx context.Context, id, status string, limit int) ([]*cairn.DeadLetter, error) {
	q := url.Values{}
	if status != "" {
		q.Set("status", status)
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var page struct {
		Items []*cairn.DeadLetter `json:"items"`
	}
	_, err := c.do(ctx, request{method: http.MethodGet, path: apiPath("webhooks", id, "dead-letters"), query: q, out: &page})
	return page.Items, err
}

// Redeliver queues dead letters for one more delivery: those numbered in
// req.Seqs, or every dead one.
func (c *Client) Redeliver(ctx context.Context, id string, req RedeliverRequest) (*RedeliverResult, error) {
	var res RedeliverResult
	_, err := c.do(ctx, request{method: http.MethodPost, path: apiPath("webhooks", id, "redeliver"), in: req, out: &res})
	return &res, err
}

// EventQuery reads the event feed with a filter.
type EventQuery struct {
	After int64
	Limit int           // 0: the server's default
	Wait  time.Duration // long-poll up to this long (whole seconds)
	cairn.EventFilter
}

// FilterEvents reads events that pass q's filter. The page's NextAfter may
// be past the last item: the server moves on past the events it skipped.
func (c *Client) FilterEvents(ctx context.Context, q EventQuery) (*EventPage, error) {
	v := url.Values{}
	if q.After > 0 {
		v.Set("after", strconv.FormatInt(q.After, 10))
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	if q.Wait > 0 {
		v.Set("wait", strconv.FormatInt(int64((q.Wait+time.Second-1)/time.Second), 10))
	}
	for _, t := range q.Types {
		v.Add("type", t)
	}
	if q.Model != "" {
		v.Set("model", q.Model)
	}
	if q.Alias != "" {
		v.Set("alias", q.Alias)
	}
	var page EventPage
	_, err := c.do(ctx, request{method: http.MethodGet, path: apiPath("events"), query: v, out: &page})
	return &page, err
}
