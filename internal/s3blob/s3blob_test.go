package s3blob

import (
	"testing"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/internal/blobtest"
	"github.com/cairn-registry/cairn/internal/testenv"
)

// newStore returns a store on a fresh bucket of the test S3 server.
func newStore(t testing.TB, prefix string) (*Store, testenv.S3Config) {
	t.Helper()
	env := testenv.S3(t)
	s, err := New(t.Context(), Config{
		Bucket:    env.Bucket,
		Prefix:    prefix,
		Endpoint:  env.Endpoint,
		Region:    env.Region,
		AccessKey: env.AccessKey,
		SecretKey: env.SecretKey,
		PathStyle: true,
		TempDir:   t.TempDir(),
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s, env
}

func TestConformance(t *testing.T) {
	t.Parallel()
	blobtest.Run(t, func(t testing.TB) cairn.BlobStore {
		s, _ := newStore(t, "team/registry")
		return s
	})
}
