package s3blob

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/cairn-registry/cairn"
)

// Put streams r into blob d; see cairn.BlobStore and the package comment.
// It returns EINVALID, and publishes nothing, if the bytes do not hash to d
// or do not number size, and ETOOLARGE for a blob too large to send in
// cairn.MaxParts parts of a bounded size (over 78 GiB of unknown size, over
// 156 GiB of known size): such blobs come as multi-part uploads.
func (s *Store) Put(ctx context.Context, d cairn.Digest, size int64, r io.Reader) error {
	key, err := s.blobKey(d)
	if err != nil {
		return err
	}
	if err := s.put(ctx, key, d, size, r); err != nil {
		if ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
			// The failure is a symptom of the cancellation (an aborted
			// request); report the cause.
			return fmt.Errorf("put blob %s: %w (%v)", d, ctx.Err(), err)
		}
		return fmt.Errorf("put blob %s: %w", d, err)
	}
	return nil
}

func (s *Store) put(ctx context.Context, key string, d cairn.Digest, size int64, r io.Reader) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	dg := cairn.NewDigester()
	src := io.Reader(ctxReader{ctx, r})
	if size >= 0 {
		src = io.LimitReader(src, size+1) // one more than size shows a long body
	}
	src = io.TeeReader(src, dg)

	switch _, err := s.head(ctx, key, d); {
	case err == nil:
		// Present already: consume r, still refusing bytes that are not d.
		if _, err := io.Copy(io.Discard, src); err != nil {
			return err
		}
		return verify(dg, d, size)
	case !cairn.IsCode(err, cairn.ENOTFOUND):
		return err
	}

	partSize := s.partSize
	if size > partSize*cairn.MaxParts {
		const mib = 1 << 20
		partSize = (size/cairn.MaxParts + mib) / mib * mib
		if partSize > maxBufferedPartSize {
			return cairn.Errorf(cairn.ETOOLARGE, "a blob of %d bytes is too large for one request; send it as a multi-part upload", size)
		}
	}

	// The first buffer holds the whole blob when it is small; a small blob
	// of known size gets a buffer of its own size.
	var first []byte
	if size >= 0 && size < smallBlobSize {
		first = make([]byte, size+1)
	} else {
		first = s.buffer(partSize)
		defer s.release(first)
	}
	n, eof, err := fill(src, first)
	if err != nil {
		return err
	}
	if size >= 0 && dg.Size() > size {
		return verify(dg, d, size)
	}
	if eof {
		// All of it is here and hashed: verify, then publish in one
		// request, signed with d as its payload hash for the server to
		// check as well.
		if err := verify(dg, d, size); err != nil {
			return err
		}
		_, err := s.client.PutObject(ctx, &s3.PutObjectInput{
			Bucket:        aws.String(s.bucket),
			Key:           aws.String(key),
			Body:          bytes.NewReader(first[:n]),
			ContentLength: aws.Int64(int64(n)),
			ContentType:   aws.String("application/octet-stream"),
		}, withPayloadHash(d.Hex()))
		if err != nil {
			return translate(err, "blob %s", d)
		}
		return nil
	}
	second := s.buffer(partSize)
	defer s.release(second)
	return s.putMultipart(ctx, key, d, size, src, dg, [2][]byte{first, second}, n)
}

// putMultipart sends the rest of a large blob as a multipart upload on its
// final key, invisible until completed. bufs[0] holds the first n bytes.
// While one part uploads, the next is read into the other buffer.
func (s *Store) putMultipart(ctx context.Context, key string, d cairn.Digest, size int64, src io.Reader, dg *cairn.Digester, bufs [2][]byte, n int) (err error) {
	up, err := s.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
		Bucket:      aws.String(s.bucket),
		Key:         aws.String(key),
		ContentType: aws.String("application/octet-stream"),
	})
	if err != nil {
		return translate(err, "blob %s", d)
	}
	uploadID := up.UploadId
	// Parts upload detached from ctx's cancellation. On failure the part in
	// flight is allowed to finish (for up to partGrace) before the upload is
	// aborted: cutting a part off mid-body can leave the server writing it
	// after the abort, which resurrects the upload.
	pctx, pcancel := context.WithCancel(context.WithoutCancel(ctx))
	defer pcancel()
	var pending []chan partResult // parts in flight, oldest first; at most two
	defer func() {
		if len(pending) > 0 {
			t := time.NewTimer(partGrace)
			for _, ch := range pending {
				select {
				case <-ch:
				case <-t.C:
					pcancel()
					<-ch // its buffer goes back to the pool
				}
			}
			t.Stop()
		}
		if err != nil {
			s.abortMultipart(ctx, key, uploadID)
		}
	}()

	var nums []int32
	var etags []string
	collect := func() error {
		select {
		case res := <-pending[0]:
			pending = pending[1:]
			if res.err != nil {
				return res.err
			}
			nums, etags = append(nums, res.num), append(etags, res.etag)
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	data, eof := bufs[0][:n], false
	for num := int32(1); ; num++ {
		if num > cairn.MaxParts {
			return cairn.Errorf(cairn.ETOOLARGE, "blob %s has more than %d parts of %d bytes; send it as a multi-part upload", d, cairn.MaxParts, len(bufs[0]))
		}
		ch := make(chan partResult, 1)
		go func(num int32, data []byte) {
			ch <- s.uploadBufferedPart(pctx, key, uploadID, num, data)
		}(num, data)
		pending = append(pending, ch)
		// Wait for the part before, whose buffer is the one to fill next.
		if len(pending) > 1 {
			if err := collect(); err != nil {
				return err
			}
		}
		if eof {
			break
		}
		next := bufs[num%2]
		m, last, err := fill(src, next)
		if err != nil {
			return err
		}
		if size >= 0 && dg.Size() > size {
			return verify(dg, d, size) // too long: stop before sending more
		}
		if m == 0 && last {
			break
		}
		data, eof = next[:m], last
	}
	for len(pending) > 0 {
		if err := collect(); err != nil {
			return err
		}
	}
	if err := verify(dg, d, size); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	_, err = s.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket:          aws.String(s.bucket),
		Key:             aws.String(key),
		UploadId:        uploadID,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: completedParts(nums, etags)},
	})
	if err != nil {
		return translate(err, "blob %s", d)
	}
	return nil
}

// smallBlobSize is the size under which a blob of known size is read into a
// buffer of its own size rather than a pooled part buffer.
const smallBlobSize = 1 << 20

// partGrace is how long a failing Put waits for its part in flight before
// cutting it off.
const partGrace = 30 * time.Second

// abortMultipart aborts an upload, also when ctx is canceled. As S3
// documents, a part still arriving can outlive an abort, so it checks that
// the upload is gone and aborts again if not. Whatever it cannot release,
// RemoveStale does later.
func (s *Store) abortMultipart(ctx context.Context, key string, uploadID *string) {
	cctx, cancel := cleanupContext(ctx)
	defer cancel()
	for range 3 {
		_, err := s.client.AbortMultipartUpload(cctx, &s3.AbortMultipartUploadInput{
			Bucket: aws.String(s.bucket), Key: aws.String(key), UploadId: uploadID,
		})
		if err != nil && apiCode(err) != "NoSuchUpload" {
			return
		}
		_, err = s.client.ListParts(cctx, &s3.ListPartsInput{
			Bucket: aws.String(s.bucket), Key: aws.String(key), UploadId: uploadID, MaxParts: aws.Int32(1),
		})
		if err != nil {
			return // NoSuchUpload: gone; anything else: nothing more to try
		}
	}
}

type partResult struct {
	num  int32
	etag string
	err  error
}

// uploadBufferedPart sends data as part num, signed with its SHA-256.
func (s *Store) uploadBufferedPart(ctx context.Context, key string, uploadID *string, num int32, data []byte) partResult {
	sum := sha256.Sum256(data)
	out, err := s.client.UploadPart(ctx, &s3.UploadPartInput{
		Bucket:        aws.String(s.bucket),
		Key:           aws.String(key),
		UploadId:      uploadID,
		PartNumber:    aws.Int32(num),
		Body:          bytes.NewReader(data),
		ContentLength: aws.Int64(int64(len(data))),
	}, withPayloadHash(hex.EncodeToString(sum[:])))
	if err != nil {
		return partResult{num: num, err: translate(err, "part %d", num)}
	}
	return partResult{num: num, etag: aws.ToString(out.ETag)}
}

// fill reads into buf until it is full or src ends; eof reports the end.
func fill(src io.Reader, buf []byte) (n int, eof bool, err error) {
	n, err = io.ReadFull(src, buf)
	switch {
	case err == nil:
		return n, false, nil
	case err == io.EOF || err == io.ErrUnexpectedEOF: // exactly these from ReadFull
		return n, true, nil
	}
	return n, false, err
}

// buffer returns a buffer of size bytes, pooled when it is the usual size.
func (s *Store) buffer(size int64) []byte {
	if size == s.partSize {
		return *s.bufs.Get().(*[]byte)
	}
	return make([]byte, size)
}

func (s *Store) release(b []byte) {
	if int64(cap(b)) == s.partSize {
		b = b[:cap(b)]
		s.bufs.Put(&b)
	}
}
