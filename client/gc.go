package client

import (
	"context"
	"net/http"
	"time"

	"github.com/cairn-registry/cairn/internal/registry"
)

// GCReport is what a garbage collection found and did.
type GCReport = registry.GCReport

// GCOptions tune GC.
type GCOptions struct {
	// Delete deletes the blobs found; without it GC is a dry run that only
	// reports them.
	Delete bool
	// Grace protects blobs younger than this; 0 means the server's default
	// (24 hours).
	Grace time.Duration
}

type gcRequest struct {
	DryRun bool   `json:"dry_run"`
	Grace  string `json:"grace,omitempty"`
}

// GC runs a garbage collection of the blobs nothing refers to, on the
// server, and returns its report. conflict if another collection is
// running (on any replica); invalid for a negative grace.
func (c *Client) GC(ctx context.Context, opts GCOptions) (*GCReport, error) {
	in := gcRequest{DryRun: !opts.Delete}
	if opts.Grace != 0 {
		in.Grace = opts.Grace.String()
	}
	var rep GCReport
	_, err := c.do(ctx, request{method: http.MethodPost, path: apiPath("gc"), in: in, out: &rep})
	return &rep, err
}
