package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/cairn-registry/cairn"
)

func vnum(n int64) string { return strconv.FormatInt(n, 10) }

// ListVersions lists one page of a model's versions, newest first by
// default.
func (c *Client) ListVersions(ctx context.Context, model string, req ListRequest) (*cairn.VersionPage, error) {
	var page cairn.VersionPage
	_, err := c.do(ctx, request{method: http.MethodGet, path: apiPath("models", model, "versions"), query: listQuery(req), out: &page})
	return &page, err
}

// SearchVersions lists versions across every model the caller may read,
// e.g. with the filter "metrics.auc > 0.9 AND tags.team = 'fraud'".
func (c *Client) SearchVersions(ctx context.Context, req ListRequest) (*cairn.VersionPage, error) {
	var page cairn.VersionPage
	_, err := c.do(ctx, request{method: http.MethodGet, path: apiPath("versions"), query: listQuery(req), out: &page})
	return &page, err
}

// CreateVersion registers a pending version from a manifest (creating the
// model if needed) and returns it with the digests the server lacks.
// Existing is set when the push repeats the model's latest version. Most
// callers want Push, which also uploads and finalizes.
func (c *Client) CreateVersion(ctx context.Context, model string, spec cairn.VersionSpec) (*CreateVersionResult, error) {
	var res CreateVersionResult
	_, err := c.do(ctx, request{method: http.MethodPost, path: apiPath("models", model, "versions"), in: spec, out: &res})
	return &res, err
}

// GetVersion returns version n of a model.
func (c *Client) GetVersion(ctx context.Context, model string, n int64) (*cairn.Version, error) {
	var v cairn.Version
	_, err := c.do(ctx, request{method: http.MethodGet, path: apiPath("models", model, "versions", vnum(n)), out: &v})
	return &v, err
}

// UpdateVersion changes a version's description and tags, the only
// fields of a version that are not fixed.
func (c *Client) UpdateVersion(ctx context.Context, model string, n int64, in VersionUpdate) (*cairn.Version, error) {
	var v cairn.Version
	_, err := c.do(ctx, request{method: http.MethodPatch, path: apiPath("models", model, "versions", vnum(n)), in: in, out: &v})
	return &v, err
}

// DeleteVersion tombstones a version. If aliases point at it, it is
// refused (failed_precondition) unless removeAliases is set.
func (c *Client) DeleteVersion(ctx context.Context, model string, n int64, removeAliases bool) error {
	q := url.Values{}
	if removeAliases {
		q.Set("remove_aliases", "true")
	}
	_, err := c.do(ctx, request{method: http.MethodDelete, path: apiPath("models", model, "versions", vnum(n)), query: q})
	return err
}

// FinalizeVersion marks a pending version ready once all its blobs are
// uploaded (failed_precondition otherwise) and sets the given aliases.
func (c *Client) FinalizeVersion(ctx context.Context, model string, n int64, aliases []string) (*cairn.Version, error) {
	var v cairn.Version
	_, err := c.do(ctx, request{method: http.MethodPost, path: apiPath("models", model, "versions", vnum(n), "finalize"), in: finalizeRequest{Aliases: aliases}, out: &v})
	return &v, err
}

// ArchiveVersion archives a version. If aliases point at it, it is
// refused (failed_precondition) unless removeAliases is set.
func (c *Client) ArchiveVersion(ctx context.Context, model string, n int64, removeAliases bool) (*cairn.Version, error) {
	var v cairn.Version
	_, err := c.do(ctx, request{method: http.MethodPost, path: apiPath("models", model, "versions", vnum(n), "archive"), in: archiveRequest{RemoveAliases: removeAliases}, out: &v})
	return &v, err
}

// RestoreVersion undoes ArchiveVersion.
func (c *Client) RestoreVersion(ctx context.Context, model string, n int64) (*cairn.Version, error) {
	var v cairn.Version
	_, err := c.do(ctx, request{method: http.MethodPost, path: apiPath("models", model, "versions", vnum(n), "restore"), in: struct{}{}, out: &v})
	return &v, err
}

// UndeleteVersion restores a deleted version.
func (c *Client) UndeleteVersion(ctx context.Context, model string, n int64) (*cairn.Version, error) {
	var v cairn.Version
	_, err := c.do(ctx, request{method: http.MethodPost, path: apiPath("models", model, "versions", vnum(n), "undelete"), in: struct{}{}, out: &v})
	return &v, err
}

// Resolve returns the version a reference names: NAME, NAME@latest,
// NAME@v3, NAME@alias, or an MLflow URI models:/NAME/3.
func (c *Client) Resolve(ctx context.Context, ref string) (*cairn.Version, error) {
	var v cairn.Version
	_, err := c.do(ctx, request{method: http.MethodGet, path: apiPath("resolve", ref), out: &v})
	return &v, err
}

// LinkVersion links the version src names into model dest: a new ready
// version with the same manifest (no bytes are copied) and a linked_from
// lineage edge from src; dest is created if needed. Aliases are set on the
// new version.
func (c *Client) LinkVersion(ctx context.Context, src, dest string, aliases []string) (*cairn.Version, error) {
	var v cairn.Version
	_, err := c.do(ctx, request{method: http.MethodPost, path: apiPath("models", dest, "link"), in: LinkRequest{Source: src, Aliases: aliases}, out: &v})
	return &v, err
}
