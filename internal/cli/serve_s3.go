package cli

import (
	"context"
	"fmt"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/internal/s3blob"
)

// openS3 opens the blob store of an s3://bucket/prefix?endpoint=…&region=…
// URL. Credentials come from the standard AWS chain (AWS_ACCESS_KEY_ID and
// AWS_SECRET_ACCESS_KEY, a profile, an instance role), never from the URL.
func openS3(ctx context.Context, raw string) (cairn.BlobStore, string, error) {
	cfg, err := s3blob.ParseURL(raw)
	if err != nil {
		return nil, "", err
	}
	st, err := s3blob.New(ctx, cfg)
	if err != nil {
		return nil, "", fmt.Errorf("open blob store %s: %w", redactURL(raw), err)
	}
	return st, redactURL(raw), nil
}
