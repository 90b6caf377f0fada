package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/cairn-registry/cairn"
)

// GetAlias returns an alias; not_found if it does not exist.
func (c *Client) GetAlias(ctx context.Context, model, alias string) (*cairn.Alias, error) {
	var a cairn.Alias
	_, err := c.do(ctx, request{method: http.MethodGet, path: apiPath("models", model, "aliases", alias), out: &a})
	return &a, err
}

// SetAlias points model@alias at a version. With ifCurrent set the move
// is a compare-and-swap: it happens only if the alias points at *ifCurrent
// now (0: only if it does not exist), else conflict. On a protected alias
// the answer may be pending_approval: an approval was requested and the
// alias has not moved yet.
func (c *Client) SetAlias(ctx context.Context, model, alias string, version int64, ifCurrent *int64) (*cairn.Alias, error) {
	return c.SetAliasWith(ctx, model, alias, version, MoveOptions{IfCurrent: ifCurrent})
}

// MoveOptions are the optional parts of an alias move.
type MoveOptions struct {
	// IfCurrent makes the move a compare-and-swap (see SetAlias).
	IfCurrent *int64
	// Origin is kept with the move in the alias history: where an
	// imported move was first made, by whom and when.
	Origin *cairn.MoveOrigin
}

// SetAliasWith is SetAlias with every option.
func (c *Client) SetAliasWith(ctx context.Context, model, alias string, version int64, o MoveOptions) (*cairn.Alias, error) {
	var a cairn.Alias
	_, err := c.do(ctx, request{method: http.MethodPut, path: apiPath("models", model, "aliases", alias),
		in: aliasSetRequest{Version: version, IfCurrent: o.IfCurrent, Origin: o.Origin}, out: &a})
	return &a, err
}

// DeleteAlias removes an alias; ifCurrent works as in SetAlias.
func (c *Client) DeleteAlias(ctx context.Context, model, alias string, ifCurrent *int64) error {
	return c.DeleteAliasWith(ctx, model, alias, MoveOptions{IfCurrent: ifCurrent})
}

// DeleteAliasWith is DeleteAlias with every option.
func (c *Client) DeleteAliasWith(ctx context.Context, model, alias string, o MoveOptions) error {
	q := url.Values{}
	if o.IfCurrent != nil {
		q.Set("if_current", strconv.FormatInt(*o.IfCurrent, 10))
	}
	if o.Origin != nil {
		q.Set("origin_system", o.Origin.System)
		if o.Origin.Ref != "" {
			q.Set("origin_ref", o.Origin.Ref)
		}
		if o.Origin.Actor != "" {
			q.Set("origin_actor", o.Origin.Actor)
		}
		if !o.Origin.At.IsZero() {
			q.Set("origin_at", o.Origin.At.UTC().Format(time.RFC3339Nano))
		}
	}
	_, err := c.do(ctx, request{method: http.MethodDelete, path: apiPath("models", model, "aliases", alias), query: q})
	return err
}

// AliasHistory lists the moves of one alias, newest first; alias ""
// lists the moves of all the model's aliases.
func (c *Client) AliasHistory(ctx context.Context, model, alias string, pageSize int, pageToken string) (*cairn.AliasMovePage, error) {
	q := url.Values{}
	if pageSize > 0 {
		q.Set("page_size", strconv.Itoa(pageSize))
	}
	if pageToken != "" {
		q.Set("page_token", pageToken)
	}
	path := apiPath("models", model, "alias-history")
	if alias != "" {
		path = apiPath("models", model, "aliases", alias, "history")
	}
	var page cairn.AliasMovePage
	_, err := c.do(ctx, request{method: http.MethodGet, path: path, query: q, out: &page})
	return &page, err
}
