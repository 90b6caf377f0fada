package registry_test

import (
	"bytes"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/internal/postgres"
	"github.com/cairn-registry/cairn/internal/registry"
	"github.com/cairn-registry/cairn/internal/s3blob"
	"github.com/cairn-registry/cairn/internal/testenv"
)

// Upload expiry runs on every replica at once: two services, each with its
// own connections to one PostgreSQL database and one bucket, expire the
// same sessions and pending versions together, again and again. Nothing
// fails, every expired session and its staged parts are gone, and each
// stale version fails exactly once (one version.failed entry each).
func TestExpireOnEveryReplicaAtOnce(t *testing.T) {
	t.Parallel()
	url := testenv.PostgresURL(t)
	s3cfg := testenv.S3(t)
	var (
		mu    sync.Mutex
		clock = time.Now()
	)
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	replica := func() *registry.Service {
		db, err := postgres.Open(t.Context(), url, postgres.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		blobs, err := s3blob.New(t.Context(), s3blob.Config{
			Bucket: s3cfg.Bucket, Endpoint: s3cfg.Endpoint, Region: s3cfg.Region,
			AccessKey: s3cfg.AccessKey, SecretKey: s3cfg.SecretKey, PathStyle: true, TempDir: t.TempDir(),
		})
		if err != nil {
			t.Fatal(err)
		}
		return registry.New(db, blobs, registry.Options{Now: now})
	}
	a, b := replica(), replica()
	ctx := cairn.NewContextWithActor(t.Context(), cairn.Actor{Name: "alice"})

	const sessions, pending = 12, 8
	var ids []string
	for i := range sessions {
		content := bytes.Repeat([]byte{byte(i)}, 6<<20)
		up, _, err := a.StartUpload(ctx, cairn.DigestOf(content), int64(len(content)))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.UploadPart(ctx, up.ID, 1, bytes.NewReader(content[:5<<20])); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, up.ID)
	}
	for i := range pending {
		c := fmt.Sprintf("never uploaded %d", i)
		if _, err := b.CreateVersion(ctx, "stale", cairn.VersionSpec{Files: []cairn.File{
			{Path: "w", Size: int64(len(c)), Digest: cairn.DigestOf([]byte(c))}}}); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	clock = clock.Add(registry.DefaultUploadTTL + registry.DefaultPendingTTL + time.Hour)
	mu.Unlock()

	var wg sync.WaitGroup
	for _, svc := range []*registry.Service{a, b, a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := svc.Expire(ctx); err != nil {
				t.Errorf("Expire: %v", err)
			}
		}()
	}
	wg.Wait()

	for _, id := range ids {
		if _, err := a.GetUpload(ctx, id); !cairn.IsCode(err, cairn.ENOTFOUND) {
			t.Errorf("upload %s after expiry: %v, want not found", id, err)
		}
	}
	out, err := testenv.S3Client(s3cfg).ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(s3cfg.Bucket)})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Uploads) != 0 {
		t.Errorf("%d staged multipart uploads left in the bucket", len(out.Uploads))
	}
	for n := int64(1); n <= pending; n++ {
		v, err := a.GetVersion(ctx, "stale", n)
		if err != nil {
			t.Fatal(err)
		}
		if v.Status != cairn.StatusFailed {
			t.Errorf("%s is %s after expiry, want failed", v.Ref(), v.Status)
		}
	}
	failed, err := a.Store().ListAudit(ctx, cairn.AuditQuery{Action: cairn.EventVersionFailed, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(failed) != pending {
		t.Errorf("%d version.failed audit entries for %d stale versions; each must fail once", len(failed), pending)
	}
}
