package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

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
	var a cairn.Alias
	_, err := c.do(ctx, request{method: http.MethodPut, path: apiPath("models", model, "aliases", alias), in: aliasSetRequest{Version: version, IfCurrent: ifCurrent}, out: &a})
	return &a, err
}

// DeleteAlias removes an alias; ifCurrent works as in SetAlias.
func (c *Client) DeleteAlias(ctx context.Context, model, alias string, ifCurrent *int64) error {
	q := url.Values{}
	if ifCurrent != nil {
		q.Set("if_current", strconv.FormatInt(*ifCurrent, 10))
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
