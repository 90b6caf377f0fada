package cairn

import (
	"context"
	"io"
	"time"
)

// BlobStore keeps content-addressed blobs: local disk by default,
// S3-compatible object storage at scale. A blob becomes visible only after
// its bytes have been verified against its digest; a failed or interrupted
// write leaves nothing visible. Implementations pass internal/blobtest.
type BlobStore interface {
	// Stat returns the size of a blob, or ENOTFOUND.
	Stat(ctx context.Context, d Digest) (int64, error)
	// Open returns a reader over the blob that can seek (for Range requests)
	// and its size, or ENOTFOUND.
	Open(ctx context.Context, d Digest) (io.ReadSeekCloser, int64, error)
	// Put streams r into the store as blob d. It returns EINVALID, and stores
	// nothing, if the bytes do not hash to d or their count differs from
	// size (size < 0 means unknown). Putting a blob that exists is a no-op
	// that still consumes r.
	Put(ctx context.Context, d Digest, size int64, r io.Reader) error
	// Delete removes a blob; deleting a missing blob is not an error.
	Delete(ctx context.Context, d Digest) error
	// Walk calls fn for every blob, in no particular order.
	Walk(ctx context.Context, fn func(d Digest, size int64, modTime time.Time) error) error

	// StartUpload begins a multi-part upload and returns the store's handle
	// for it, which the caller records in the upload session.
	StartUpload(ctx context.Context) (key string, err error)
	// PutPart stores part number n (1-based) of an upload, streaming, and
	// returns what it received. Re-sending a part replaces it.
	PutPart(ctx context.Context, key string, n int, r io.Reader) (Part, error)
	// CompleteUpload joins parts in order into blob d, verifying digest and
	// size as Put does, and releases the staged parts. It returns EINVALID
	// if the joined bytes do not hash to d.
	CompleteUpload(ctx context.Context, key string, parts []Part, d Digest, size int64) error
	// AbortUpload releases a staged upload; a missing one is not an error.
	AbortUpload(ctx context.Context, key string) error
}
