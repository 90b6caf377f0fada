package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// S3Config locates a fresh, empty bucket on the S3-compatible server the
// tests run against. It is a plain struct so that testenv stays independent
// of the blob store packages; callers map it onto their own configuration.
type S3Config struct {
	Endpoint  string // e.g. http://127.0.0.1:39000; always path-style
	Region    string
	AccessKey string
	SecretKey string
	Bucket    string
}

// S3 creates a uniquely named bucket on the server named by
// CAIRN_TEST_S3_ENDPOINT (with CAIRN_TEST_S3_ACCESS_KEY and
// CAIRN_TEST_S3_SECRET_KEY) and removes it, with everything in it, when tb
// ends. Without those variables the test is skipped, or failed in CI (see
// Missing).
func S3(tb testing.TB) S3Config {
	tb.Helper()
	cfg := S3Config{
		Endpoint:  os.Getenv("CAIRN_TEST_S3_ENDPOINT"),
		Region:    "us-east-1",
		AccessKey: os.Getenv("CAIRN_TEST_S3_ACCESS_KEY"),
		SecretKey: os.Getenv("CAIRN_TEST_S3_SECRET_KEY"),
	}
	if cfg.Endpoint == "" || cfg.AccessKey == "" || cfg.SecretKey == "" {
		Missing(tb, "S3 (versitygw)", "set CAIRN_TEST_S3_ENDPOINT, CAIRN_TEST_S3_ACCESS_KEY and CAIRN_TEST_S3_SECRET_KEY")
		return S3Config{}
	}
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		tb.Fatalf("testenv: bucket name: %v", err)
	}
	cfg.Bucket = "cairn-test-" + hex.EncodeToString(b[:])

	client := S3Client(cfg)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(cfg.Bucket)}); err != nil {
		tb.Fatalf("testenv: create bucket %s on %s: %v", cfg.Bucket, cfg.Endpoint, err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := removeBucket(ctx, client, cfg.Bucket); err != nil {
			tb.Errorf("testenv: remove bucket %s: %v", cfg.Bucket, err)
		}
	})
	return cfg
}

// S3Client returns a plain SDK client for cfg, for tests that inspect the
// bucket behind a store's back (leftover staging objects, uploads).
func S3Client(cfg S3Config) *s3.Client {
	return s3.New(s3.Options{
		BaseEndpoint: aws.String(cfg.Endpoint),
		Region:       cfg.Region,
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(cfg.AccessKey, cfg.SecretKey, ""),
		// The S3-compatible servers we test against need not implement the
		// SDK's newer default request checksums.
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	})
}

// removeBucket aborts every multipart upload, deletes every object and then
// the bucket itself.
func removeBucket(ctx context.Context, client *s3.Client, bucket string) error {
	var errs []error
	uploads := &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket)}
	for {
		out, err := client.ListMultipartUploads(ctx, uploads)
		if err != nil {
			return err
		}
		for _, u := range out.Uploads {
			if _, err := client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{
				Bucket: aws.String(bucket), Key: u.Key, UploadId: u.UploadId,
			}); err != nil {
				errs = append(errs, err)
			}
		}
		if !aws.ToBool(out.IsTruncated) {
			break
		}
		uploads.KeyMarker, uploads.UploadIdMarker = out.NextKeyMarker, out.NextUploadIdMarker
	}
	p := s3.NewListObjectsV2Paginator(client, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		if len(page.Contents) == 0 {
			continue
		}
		ids := make([]types.ObjectIdentifier, 0, len(page.Contents))
		for _, o := range page.Contents {
			ids = append(ids, types.ObjectIdentifier{Key: o.Key})
		}
		out, err := client.DeleteObjects(ctx, &s3.DeleteObjectsInput{
			Bucket: aws.String(bucket), Delete: &types.Delete{Objects: ids, Quiet: aws.Bool(true)},
		})
		if err != nil {
			return err
		}
		for _, e := range out.Errors {
			errs = append(errs, errors.New(aws.ToString(e.Key)+": "+aws.ToString(e.Message)))
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	_, err := client.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(bucket)})
	return err
}
