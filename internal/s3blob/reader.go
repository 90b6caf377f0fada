package s3blob

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/cairn-registry/cairn"
)

// Open returns a reader over blob d and its size, or ENOTFOUND. The reader
// is lazy: it issues a ranged GET from its current offset on the first Read
// after Open or a Seek, and streams from it until the next Seek, so
// http.ServeContent's seek-to-end-and-back costs nothing and a Range request
// fetches only its range onwards. ReadAt fetches exactly the range asked
// for. Requests run under ctx, which must outlive the reader's use.
func (s *Store) Open(ctx context.Context, d cairn.Digest) (io.ReadSeekCloser, int64, error) {
	key, err := s.blobKey(d)
	if err != nil {
		return nil, 0, err
	}
	size, err := s.head(ctx, key, d)
	if err != nil {
		return nil, 0, err
	}
	return &reader{ctx: ctx, s: s, key: key, d: d, size: size}, size, nil
}

type reader struct {
	ctx  context.Context
	s    *Store
	key  string
	d    cairn.Digest
	size int64

	off    int64         // offset of the next Read
	body   io.ReadCloser // open GET positioned at off, or nil
	closed bool
}

var errClosed = errors.New("read of closed blob reader")

func (r *reader) Read(p []byte) (int, error) {
	if r.closed {
		return 0, errClosed
	}
	if r.off >= r.size {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	if r.body == nil {
		body, err := r.get(r.off, -1)
		if err != nil {
			return 0, err
		}
		r.body = body
	}
	n, err := r.body.Read(p)
	r.off += int64(n)
	if err == io.EOF {
		r.body.Close()
		r.body = nil
		if r.off < r.size {
			// The object ended early: it changed or the stream was cut.
			return n, fmt.Errorf("blob %s: %w after %d of %d bytes", r.d, io.ErrUnexpectedEOF, r.off, r.size)
		}
		if n > 0 {
			return n, nil
		}
		return 0, io.EOF
	}
	if err != nil {
		r.body.Close()
		r.body = nil // the next Read reconnects at the new offset
		return n, fmt.Errorf("read blob %s: %w", r.d, err)
	}
	return n, nil
}

// Seek moves the offset; the next Read requests from there. Seeking past
// the end is allowed and reads return EOF, as with files.
func (r *reader) Seek(offset int64, whence int) (int64, error) {
	if r.closed {
		return 0, errClosed
	}
	var abs int64
	switch whence {
	case io.SeekStart:
		abs = offset
	case io.SeekCurrent:
		abs = r.off + offset
	case io.SeekEnd:
		abs = r.size + offset
	default:
		return 0, fmt.Errorf("seek blob %s: invalid whence %d", r.d, whence)
	}
	if abs < 0 {
		return 0, fmt.Errorf("seek blob %s: negative position %d", r.d, abs)
	}
	if abs != r.off && r.body != nil {
		r.body.Close()
		r.body = nil
	}
	r.off = abs
	return abs, nil
}

// ReadAt reads len(p) bytes at off with one ranged GET, independently of
// the reader's offset.
func (r *reader) ReadAt(p []byte, off int64) (int, error) {
	if r.closed {
		return 0, errClosed
	}
	if off < 0 {
		return 0, fmt.Errorf("read blob %s: negative offset %d", r.d, off)
	}
	if off >= r.size {
		return 0, io.EOF
	}
	want := min(int64(len(p)), r.size-off)
	if want == 0 {
		return 0, nil
	}
	body, err := r.get(off, want)
	if err != nil {
		return 0, err
	}
	defer body.Close()
	n, err := io.ReadFull(body, p[:want])
	if err != nil {
		return n, fmt.Errorf("read blob %s: %w", r.d, err)
	}
	if int64(n) < int64(len(p)) {
		return n, io.EOF
	}
	return n, nil
}

// get opens a GET of n bytes at off (n < 0: to the end).
func (r *reader) get(off, n int64) (io.ReadCloser, error) {
	rng := fmt.Sprintf("bytes=%d-", off)
	if n >= 0 {
		rng = fmt.Sprintf("bytes=%d-%d", off, off+n-1)
	}
	out, err := r.s.client.GetObject(r.ctx, &s3.GetObjectInput{
		Bucket: aws.String(r.s.bucket),
		Key:    aws.String(r.key),
		Range:  aws.String(rng),
	})
	if err != nil {
		return nil, translate(err, "blob %s", r.d)
	}
	return out.Body, nil
}

func (r *reader) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	if r.body != nil {
		err := r.body.Close()
		r.body = nil
		return err
	}
	return nil
}
