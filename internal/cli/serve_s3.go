package cli

import (
	"context"

	"github.com/cairn-registry/cairn"
)

// openS3 opens an S3-compatible blob store. TEMPORARY until internal/s3blob lands.
func openS3(ctx context.Context, raw string) (cairn.BlobStore, string, error) {
	return nil, "", cairn.Errorf(cairn.EINVALID, "s3 blob storage is not built in yet")
}
