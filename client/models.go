package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/internal/registry"
)

// ListRequest is a list call's filter, ordering and page: Filter in the
// registry's filter grammar, OrderBy as "field", "field ASC" or
// "field DESC", PageToken from the previous page's NextToken.
type ListRequest = registry.ListRequest

func listQuery(req ListRequest) url.Values {
	q := url.Values{}
	if req.Filter != "" {
		q.Set("filter", req.Filter)
	}
	for _, o := range req.OrderBy {
		q.Add("order_by", o)
	}
	if req.PageSize > 0 {
		q.Set("page_size", strconv.Itoa(req.PageSize))
	}
	if req.PageToken != "" {
		q.Set("page_token", req.PageToken)
	}
	return q
}

// ListModels lists one page of models. invalid for a bad filter or order.
func (c *Client) ListModels(ctx context.Context, req ListRequest) (*cairn.ModelPage, error) {
	var page cairn.ModelPage
	_, err := c.do(ctx, request{method: http.MethodGet, path: apiPath("models"), query: listQuery(req), out: &page})
	return &page, err
}

// CreateModel registers a model. conflict if the name is taken.
func (c *Client) CreateModel(ctx context.Context, in ModelCreate) (*cairn.Model, error) {
	var m cairn.Model
	_, err := c.do(ctx, request{method: http.MethodPost, path: apiPath("models"), in: in, out: &m})
	return &m, err
}

// GetModel returns a model; not_found if it does not exist or was deleted.
func (c *Client) GetModel(ctx context.Context, name string) (*cairn.Model, error) {
	var m cairn.Model
	_, err := c.do(ctx, request{method: http.MethodGet, path: apiPath("models", name), out: &m})
	return &m, err
}

// UpdateModel changes a model's description and tags.
func (c *Client) UpdateModel(ctx context.Context, name string, in ModelUpdate) (*cairn.Model, error) {
	var m cairn.Model
	_, err := c.do(ctx, request{method: http.MethodPatch, path: apiPath("models", name), in: in, out: &m})
	return &m, err
}

// DeleteModel tombstones a model; failed_precondition while it has aliases.
func (c *Client) DeleteModel(ctx context.Context, name string) error {
	_, err := c.do(ctx, request{method: http.MethodDelete, path: apiPath("models", name)})
	return err
}

// RenameModel renames a model; conflict if newName is taken.
func (c *Client) RenameModel(ctx context.Context, name, newName string) (*cairn.Model, error) {
	var m cairn.Model
	_, err := c.do(ctx, request{method: http.MethodPost, path: apiPath("models", name, "rename"), in: renameRequest{NewName: newName}, out: &m})
	return &m, err
}

// ArchiveModel archives a model: no new versions may be pushed to it.
func (c *Client) ArchiveModel(ctx context.Context, name string) (*cairn.Model, error) {
	return c.modelAction(ctx, name, "archive")
}

// RestoreModel undoes ArchiveModel.
func (c *Client) RestoreModel(ctx context.Context, name string) (*cairn.Model, error) {
	return c.modelAction(ctx, name, "restore")
}

// UndeleteModel restores a deleted model.
func (c *Client) UndeleteModel(ctx context.Context, name string) (*cairn.Model, error) {
	return c.modelAction(ctx, name, "undelete")
}

func (c *Client) modelAction(ctx context.Context, name, action string) (*cairn.Model, error) {
	var m cairn.Model
	_, err := c.do(ctx, request{method: http.MethodPost, path: apiPath("models", name, action), in: struct{}{}, out: &m})
	return &m, err
}

// Request bodies of the API that are not registry types.
type (
	renameRequest struct {
		NewName string `json:"new_name"`
	}
	finalizeRequest struct {
		Aliases []string `json:"aliases,omitempty"`
	}
	archiveRequest struct {
		RemoveAliases bool `json:"remove_aliases,omitempty"`
	}
	aliasSetRequest struct {
		Version   int64             `json:"version"`
		IfCurrent *int64            `json:"if_current,omitempty"`
		Origin    *cairn.MoveOrigin `json:"origin,omitempty"`
	}
	uploadRequest struct {
		Digest cairn.Digest `json:"digest"`
		Size   int64        `json:"size"`
	}
)
