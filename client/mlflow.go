package client

import (
	"context"
	"net/http"

	"github.com/cairn-registry/cairn"
)

// SetStage sets a version's MLflow stage (None, Staging, Production,
// Archived) through the server's MLflow API, the only API that has stages,
// without archiving other versions.
func (c *Client) SetStage(ctx context.Context, model string, n int64, stage cairn.Stage) error {
	in := map[string]any{"name": model, "version": vnum(n), "stage": string(stage), "archive_existing_versions": false}
	_, err := c.do(ctx, request{method: http.MethodPost, path: "/api/2.0/mlflow/model-versions/transition-stage", in: in})
	return err
}
