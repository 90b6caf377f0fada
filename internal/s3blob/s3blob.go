// Package s3blob is a cairn.BlobStore on S3-compatible object storage (AWS
// S3, versitygw, MinIO, GCS interoperability, …).
//
// Layout under the configured prefix:
//
//	blobs/sha256/<64 hex>   published blobs, named by their digest
//	uploads/<32 hex>        multi-part uploads (StartUpload … CompleteUpload)
//
// Nothing unverified is ever published, by two routes:
//
//   - Put hashes the stream as it reads it. A blob that fits in one buffer
//     is verified before it is sent, then sent with a single PutObject whose
//     signed payload hash is the blob's own digest, so the server checks it
//     too. A larger blob is sent as a multipart upload on its final key,
//     which S3 keeps invisible until CompleteMultipartUpload; the upload is
//     completed only if the stream hashed to the digest and aborted
//     otherwise. No staging object, no server-side copy.
//   - CompleteUpload cannot know the digest of parts sent over time, maybe
//     through other replicas, so it joins them on their staging key, reads
//     the joined object back through a hasher, and only then copies it to
//     its final key (CopyObject, or UploadPartCopy above 5 GiB).
//
// Memory stays flat: Put buffers at most two parts of 8 MiB, PutPart spools
// a part to a temporary file, and reads stream.
package s3blob

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	"github.com/cairn-registry/cairn"
)

// Config says where the store lives and how to reach it.
type Config struct {
	Bucket string
	// Prefix is prepended to every key ("team/registry" puts blobs under
	// team/registry/blobs/sha256/). Optional.
	Prefix string
	// Endpoint is the S3 API's base URL, for S3-compatible servers; empty
	// means AWS.
	Endpoint string
	// Region; empty means the AWS environment's (AWS_REGION, profile), or
	// us-east-1 with a custom Endpoint.
	Region string
	// AccessKey and SecretKey are static credentials. Without them the
	// standard AWS chain applies (environment, shared profile, web
	// identity, instance role).
	AccessKey string
	SecretKey string
	// PathStyle addresses buckets as endpoint/bucket/key rather than
	// bucket.endpoint/key, as most S3-compatible servers need.
	PathStyle bool
	// TempDir is where PutPart spools a part before sending it (a part's
	// length must be known up front and parts never sit in memory). Empty
	// means os.TempDir().
	TempDir string
}

const (
	// DefaultPartSize is the size of the parts Put sends; Put holds at most
	// two of them in memory.
	DefaultPartSize = 8 << 20
	// maxBufferedPartSize bounds the part size Put grows to for a very
	// large blob of known size (to stay within cairn.MaxParts); blobs that
	// would need larger parts must come as multi-part uploads.
	maxBufferedPartSize = 16 << 20
	// maxCopyObjectSize is the largest object CopyObject can copy; larger
	// ones are copied part by part with UploadPartCopy.
	maxCopyObjectSize = 5 << 30
	// StaleUploadAge is how old an abandoned Put's multipart upload must be
	// for New to abort it. Generous, because a Put's upload keeps its
	// initiation time however actively it is being written.
	StaleUploadAge = 24 * time.Hour
)

// Store is a blob store in an S3 bucket. It is safe for concurrent use, by
// any number of processes sharing the bucket.
type Store struct {
	client  *s3.Client
	presign *s3.PresignClient
	bucket  string
	prefix  string // "" or ending in "/"
	tempDir string

	partSize      int64 // Put's part size
	maxPartSize   int64 // largest part PutPart accepts
	maxCopySize   int64 // CopyObject up to this size, UploadPartCopy above
	copyPartSize  int64 // UploadPartCopy's part size (grown to fit MaxParts)
	copyWorkers   int   // concurrent UploadPartCopy requests
	verifyBufSize int
	listPageSize  int32 // ListObjectsV2 page size; 0: the server's default (1000)

	bufs sync.Pool // *[]byte of partSize
}

var _ cairn.BlobStore = (*Store)(nil)

// New connects to the bucket, checks that it is reachable, and aborts
// multipart uploads left by Puts that died more than StaleUploadAge ago.
func New(ctx context.Context, cfg Config) (*Store, error) {
	if err := validateBucket(cfg.Bucket); err != nil {
		return nil, err
	}
	prefix, err := cleanPrefix(cfg.Prefix)
	if err != nil {
		return nil, err
	}
	if (cfg.AccessKey == "") != (cfg.SecretKey == "") {
		return nil, cairn.Errorf(cairn.EINVALID, "s3: give both an access key and a secret key, or neither")
	}
	if cfg.Endpoint != "" {
		if err := validateEndpoint(cfg.Endpoint); err != nil {
			return nil, err
		}
	}

	var opts []func(*config.LoadOptions) error
	if cfg.Region != "" {
		opts = append(opts, config.WithRegion(cfg.Region))
	}
	if cfg.AccessKey != "" {
		opts = append(opts, config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(cfg.AccessKey, cfg.SecretKey, "")))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("s3: load AWS configuration: %w", err)
	}
	if awsCfg.Region == "" {
		if cfg.Endpoint == "" {
			return nil, cairn.Errorf(cairn.EINVALID, "s3: no region: set one in the configuration or AWS_REGION")
		}
		awsCfg.Region = "us-east-1"
	}
	client := s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		o.UsePathStyle = cfg.PathStyle
		// Integrity comes from SigV4 signed payloads carrying our own
		// SHA-256 (see withPayloadHash) and from hashing every blob, so the
		// SDK's default CRC checksums would be a second pass for nothing;
		// and several S3-compatible servers reject their aws-chunked
		// trailers. Only operations that require a checksum get one.
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	})
	s := &Store{
		client:        client,
		presign:       s3.NewPresignClient(client),
		bucket:        cfg.Bucket,
		prefix:        prefix,
		tempDir:       cfg.TempDir,
		partSize:      DefaultPartSize,
		maxPartSize:   cairn.MaxPartSize,
		maxCopySize:   maxCopyObjectSize,
		copyPartSize:  512 << 20,
		copyWorkers:   4,
		verifyBufSize: 1 << 20,
	}
	s.bufs.New = func() any { b := make([]byte, s.partSize); return &b }

	if _, err := client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(s.bucket)}); err != nil {
		if code := apiCode(err); code == "NotFound" || code == "NoSuchBucket" {
			return nil, cairn.Errorf(cairn.ENOTFOUND, "s3: bucket %q not found", s.bucket)
		}
		return nil, fmt.Errorf("s3: bucket %q: %w", s.bucket, err)
	}
	if err := s.RemoveStale(ctx, time.Now().Add(-StaleUploadAge)); err != nil {
		return nil, fmt.Errorf("s3: %w", err)
	}
	return s, nil
}

// ParseURL parses a store URL:
//
//	s3://bucket/optional/prefix?endpoint=http://127.0.0.1:9000&region=us-east-1&path_style=true
//
// With an endpoint, path-style addressing is the default. Credentials never
// go in the URL: they come from the environment (AWS_ACCESS_KEY_ID, …) or
// are set on the Config by the caller. It returns EINVALID for anything
// else.
func ParseURL(s string) (Config, error) {
	u, err := url.Parse(s)
	if err != nil {
		return Config{}, cairn.Errorf(cairn.EINVALID, "invalid S3 URL: %v", err)
	}
	if u.Scheme != "s3" {
		return Config{}, cairn.Errorf(cairn.EINVALID, "invalid S3 URL %q: want s3://bucket[/prefix]", redact(u))
	}
	if u.User != nil {
		return Config{}, cairn.Errorf(cairn.EINVALID, "invalid S3 URL: credentials do not belong in the URL; use AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
	}
	if u.Opaque != "" || u.Fragment != "" {
		return Config{}, cairn.Errorf(cairn.EINVALID, "invalid S3 URL %q: want s3://bucket[/prefix]", redact(u))
	}
	cfg := Config{Bucket: u.Host}
	if err := validateBucket(cfg.Bucket); err != nil {
		return Config{}, err
	}
	if cfg.Prefix, err = cleanPrefix(u.Path); err != nil {
		return Config{}, err
	}
	cfg.Prefix = strings.TrimSuffix(cfg.Prefix, "/")
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return Config{}, cairn.Errorf(cairn.EINVALID, "invalid S3 URL query: %v", err)
	}
	pathStyle := ""
	for k, v := range q {
		if len(v) != 1 {
			return Config{}, cairn.Errorf(cairn.EINVALID, "invalid S3 URL: %s given %d times", k, len(v))
		}
		switch k {
		case "endpoint":
			if err := validateEndpoint(v[0]); err != nil {
				return Config{}, err
			}
			cfg.Endpoint = v[0]
		case "region":
			if v[0] == "" {
				return Config{}, cairn.Errorf(cairn.EINVALID, "invalid S3 URL: empty region")
			}
			cfg.Region = v[0]
		case "path_style":
			pathStyle = v[0]
		default:
			return Config{}, cairn.Errorf(cairn.EINVALID, "invalid S3 URL: unknown parameter %q (want endpoint, region, path_style)", k)
		}
	}
	cfg.PathStyle = cfg.Endpoint != ""
	if pathStyle != "" {
		if cfg.PathStyle, err = strconv.ParseBool(pathStyle); err != nil {
			return Config{}, cairn.Errorf(cairn.EINVALID, "invalid S3 URL: path_style=%q is not true or false", pathStyle)
		}
	}
	return cfg, nil
}

func redact(u *url.URL) string {
	c := *u
	c.User = nil
	c.RawQuery = ""
	return c.String()
}

func validateBucket(b string) error {
	if len(b) < 3 || len(b) > 63 {
		return cairn.Errorf(cairn.EINVALID, "invalid S3 bucket name %q: want 3 to 63 characters", b)
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.') {
			return cairn.Errorf(cairn.EINVALID, "invalid S3 bucket name %q: use lower-case letters, digits, '-' and '.'", b)
		}
	}
	return nil
}

func validateEndpoint(e string) error {
	u, err := url.Parse(e)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return cairn.Errorf(cairn.EINVALID, "invalid S3 endpoint %q: want http(s)://host[:port]", e)
	}
	return nil
}

// cleanPrefix returns prefix without surrounding slashes and with one
// trailing slash, or "" for no prefix. Segments must be non-empty, not "."
// or "..", and made of characters that need no escaping in keys.
func cleanPrefix(p string) (string, error) {
	p = strings.Trim(p, "/")
	if p == "" {
		return "", nil
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return "", cairn.Errorf(cairn.EINVALID, "invalid S3 prefix %q: empty, . or .. segment", p)
		}
		for i := 0; i < len(seg); i++ {
			c := seg[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-_.", c) >= 0) {
				return "", cairn.Errorf(cairn.EINVALID, "invalid S3 prefix %q: use letters, digits, '-', '_', '.' and '/'", p)
			}
		}
	}
	return p + "/", nil
}

// Keys.

func (s *Store) blobsPrefix() string { return s.prefix + "blobs/sha256/" }

// blobKey returns the key of blob d, or EINVALID if d is not a digest.
func (s *Store) blobKey(d cairn.Digest) (string, error) {
	if _, err := cairn.ParseDigest(string(d)); err != nil {
		return "", err
	}
	return s.blobsPrefix() + d.Hex(), nil
}

func (s *Store) uploadKey(id string) string { return s.prefix + "uploads/" + id }

// copySource returns the CopySource value for key: bucket/key, URL-escaped.
func (s *Store) copySource(key string) string {
	segs := strings.Split(s.bucket+"/"+key, "/")
	for i, seg := range segs {
		segs[i] = url.PathEscape(seg)
	}
	return strings.Join(segs, "/")
}

// Stat returns the size of blob d, or ENOTFOUND.
func (s *Store) Stat(ctx context.Context, d cairn.Digest) (int64, error) {
	key, err := s.blobKey(d)
	if err != nil {
		return 0, err
	}
	return s.head(ctx, key, d)
}

// head returns the size of the object at key; ENOTFOUND names blob d.
func (s *Store) head(ctx context.Context, key string, d cairn.Digest) (int64, error) {
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)})
	if err != nil {
		return 0, translate(err, "blob %s", d)
	}
	return aws.ToInt64(out.ContentLength), nil
}

// Delete removes blob d; deleting a missing blob is not an error.
func (s *Store) Delete(ctx context.Context, d cairn.Digest) error {
	key, err := s.blobKey(d)
	if err != nil {
		return err
	}
	if _, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)}); err != nil {
		if cairn.IsCode(translate(err, ""), cairn.ENOTFOUND) {
			return nil
		}
		return translate(err, "delete blob %s", d)
	}
	return nil
}

// Walk calls fn for every blob, listing the bucket page by page. Objects
// under the blob prefix whose names are not digests are skipped.
func (s *Store) Walk(ctx context.Context, fn func(d cairn.Digest, size int64, modTime time.Time) error) error {
	prefix := s.blobsPrefix()
	in := &s3.ListObjectsV2Input{Bucket: aws.String(s.bucket), Prefix: aws.String(prefix)}
	if s.listPageSize > 0 {
		in.MaxKeys = aws.Int32(s.listPageSize)
	}
	p := s3.NewListObjectsV2Paginator(s.client, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return translate(err, "walk blobs")
		}
		for _, o := range page.Contents {
			d, err := cairn.ParseDigest("sha256:" + strings.TrimPrefix(aws.ToString(o.Key), prefix))
			if err != nil {
				continue
			}
			if err := fn(d, aws.ToInt64(o.Size), aws.ToTime(o.LastModified)); err != nil {
				return err
			}
		}
	}
	return nil
}

// PresignGet returns a URL from which blob d can be downloaded without
// credentials until ttl has passed, for clients that fetch bytes from the
// bucket directly. It returns ENOTFOUND if there is no such blob and
// EINVALID for a ttl outside (0, 7 days], SigV4's limit.
func (s *Store) PresignGet(ctx context.Context, d cairn.Digest, ttl time.Duration) (string, error) {
	key, err := s.blobKey(d)
	if err != nil {
		return "", err
	}
	if ttl <= 0 || ttl > 7*24*time.Hour {
		return "", cairn.Errorf(cairn.EINVALID, "invalid presigned URL lifetime %v: want up to 7 days", ttl)
	}
	if _, err := s.head(ctx, key, d); err != nil {
		return "", err
	}
	req, err := s.presign.PresignGetObject(ctx, &s3.GetObjectInput{
		Bucket: aws.String(s.bucket),
		Key:    aws.String(key),
	}, s3.WithPresignExpires(ttl))
	if err != nil {
		return "", fmt.Errorf("presign blob %s: %w", d, err)
	}
	return req.URL, nil
}

// RemoveStale aborts multipart uploads of blobs (left by Puts whose process
// died) initiated before cutoff. Uploads under uploads/ belong to upload
// sessions, which expire through AbortUpload, and are left alone.
func (s *Store) RemoveStale(ctx context.Context, cutoff time.Time) error {
	in := &s3.ListMultipartUploadsInput{Bucket: aws.String(s.bucket), Prefix: aws.String(s.blobsPrefix())}
	var errs []error
	for {
		out, err := s.client.ListMultipartUploads(ctx, in)
		if err != nil {
			return translate(err, "list stale uploads")
		}
		for _, u := range out.Uploads {
			if u.Initiated == nil || !u.Initiated.Before(cutoff) {
				continue
			}
			_, err := s.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{
				Bucket: aws.String(s.bucket), Key: u.Key, UploadId: u.UploadId,
			})
			if err != nil && apiCode(err) != "NoSuchUpload" {
				errs = append(errs, translate(err, "abort stale upload of %s", aws.ToString(u.Key)))
			}
		}
		if !aws.ToBool(out.IsTruncated) {
			break
		}
		in.KeyMarker, in.UploadIdMarker = out.NextKeyMarker, out.NextUploadIdMarker
	}
	return errors.Join(errs...)
}

// Errors.

// apiCode returns the S3 error code carried by err, or "".
func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// translate is the one place S3 errors become Cairn errors, by S3 error
// code. what describes the object for messages; a missing object becomes
// ENOTFOUND, a refused parts list EINVALID, and anything else keeps its
// cause (context errors included) under a lower-case prefix.
func translate(err error, format string, args ...any) error {
	what := fmt.Sprintf(format, args...)
	switch code := apiCode(err); code {
	case "NoSuchKey", "NotFound":
		return cairn.WrapError(cairn.ENOTFOUND, err, "%s not found", what)
	case "NoSuchUpload":
		return cairn.WrapError(cairn.ENOTFOUND, err, "upload not found")
	case "InvalidPart", "InvalidPartOrder", "EntityTooSmall":
		return cairn.WrapError(cairn.EINVALID, err, "%s: parts refused by storage (%s)", what, code)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// verify returns EINVALID unless dg saw exactly size bytes hashing to d
// (size < 0: any size).
func verify(dg *cairn.Digester, d cairn.Digest, size int64) error {
	if size >= 0 && dg.Size() != size {
		if dg.Size() > size {
			return cairn.Errorf(cairn.EINVALID, "blob %s: more than the declared %d bytes", d, size)
		}
		return cairn.Errorf(cairn.EINVALID, "blob %s: got %d bytes, declared %d", d, dg.Size(), size)
	}
	if got := dg.Digest(); got != d {
		return cairn.Errorf(cairn.EINVALID, "blob content does not match its digest: want %s, got %s", d, got)
	}
	return nil
}

// withPayloadHash signs a request with hexHash as its payload's SHA-256
// (x-amz-content-sha256), which the server checks against the bytes it
// receives. Setting it ourselves spares the SDK a pass over the body (and
// lets it send bodies it cannot rewind), and keeps payloads signed over
// HTTPS too, where the SDK would otherwise send UNSIGNED-PAYLOAD.
func withPayloadHash(hexHash string) func(*s3.Options) {
	return func(o *s3.Options) {
		o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error {
			return st.Finalize.Add(middleware.FinalizeMiddlewareFunc("CairnPayloadHash",
				func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
					return next.HandleFinalize(v4.SetPayloadHash(ctx, hexHash), in)
				}), middleware.Before)
		})
	}
}

// cleanupContext returns a context for releasing resources after ctx has
// failed or been canceled: it keeps ctx's values, not its cancellation.
func cleanupContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
}

// ctxReader fails reads once ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b) // never fails (crypto/rand since Go 1.24)
	return hex.EncodeToString(b)
}

// completedParts converts parts for CompleteMultipartUpload.
func completedParts(nums []int32, etags []string) []types.CompletedPart {
	out := make([]types.CompletedPart, len(nums))
	for i := range nums {
		out[i] = types.CompletedPart{PartNumber: aws.Int32(nums[i]), ETag: aws.String(etags[i])}
	}
	return out
}
