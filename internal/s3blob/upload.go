package s3blob

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/cairn-registry/cairn"
)

// Upload keys are "<id>|<upload id>": id, 32 random hex digits, names the
// staging object uploads/<id>; the upload id is S3's. Only the id ever
// becomes part of an object key.
const keySep = "|"

// StartUpload begins a multipart upload on a fresh staging key and returns
// its handle.
func (s *Store) StartUpload(ctx context.Context) (string, error) {
	id := randomHex(16)
	out, err := s.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
		Bucket:      aws.String(s.bucket),
		Key:         aws.String(s.uploadKey(id)),
		ContentType: aws.String("application/octet-stream"),
	})
	if err != nil {
		return "", translate(err, "start upload")
	}
	uploadID := aws.ToString(out.UploadId)
	if !validUploadID(uploadID) {
		// We could not parse our own handle back; refuse now, not later.
		s.abortMultipart(ctx, s.uploadKey(id), out.UploadId)
		return "", fmt.Errorf("start upload: storage returned an upload id Cairn cannot use: %q", uploadID)
	}
	return id + keySep + uploadID, nil
}

// parseKey splits an upload handle, or returns EINVALID.
func parseKey(key string) (id, uploadID string, err error) {
	id, uploadID, ok := strings.Cut(key, keySep)
	if !ok || len(id) != 32 || !isLowerHex(id) || !validUploadID(uploadID) {
		return "", "", cairn.Errorf(cairn.EINVALID, "invalid upload key")
	}
	return id, uploadID, nil
}

// validUploadID accepts the characters S3 implementations use in upload
// ids (AWS: base64url-like with dots; versitygw: UUIDs; Ceph: "2~…"),
// and nothing that could be read as a path.
func validUploadID(u string) bool {
	if u == "" || len(u) > 1024 {
		return false
	}
	for i := 0; i < len(u); i++ {
		c := u[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-_.~+=", c) >= 0) {
			return false
		}
	}
	return !strings.Contains(u, "..")
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

func checkPartNumber(n int) error {
	if n < 1 || n > cairn.MaxParts {
		return cairn.Errorf(cairn.EINVALID, "invalid part number %d: want 1 to %d", n, cairn.MaxParts)
	}
	return nil
}

// PutPart spools part n to a temporary file while hashing it (S3 needs a
// part's length before its bytes, and parts never sit in memory), then
// sends it signed with its SHA-256. Re-sending a part replaces it. It
// returns ENOTFOUND if the upload does not exist (or was completed or
// aborted) and ETOOLARGE for a part over cairn.MaxPartSize.
func (s *Store) PutPart(ctx context.Context, key string, n int, r io.Reader) (cairn.Part, error) {
	id, uploadID, err := parseKey(key)
	if err != nil {
		return cairn.Part{}, err
	}
	if err := checkPartNumber(n); err != nil {
		return cairn.Part{}, err
	}
	f, err := os.CreateTemp(s.tempDir, "cairn-s3part-*")
	if err != nil {
		return cairn.Part{}, fmt.Errorf("put part %d: spool: %w", n, err)
	}
	defer func() {
		f.Close()
		os.Remove(f.Name())
	}()
	dg := cairn.NewDigester()
	buf := make([]byte, s.verifyBufSize)
	src := io.LimitReader(ctxReader{ctx, r}, s.maxPartSize+1)
	if _, err := io.CopyBuffer(io.MultiWriter(f, dg), src, buf); err != nil {
		return cairn.Part{}, fmt.Errorf("put part %d: %w", n, err)
	}
	if dg.Size() > s.maxPartSize {
		return cairn.Part{}, cairn.Errorf(cairn.ETOOLARGE, "part %d exceeds the maximum part size of %d bytes", n, s.maxPartSize)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return cairn.Part{}, fmt.Errorf("put part %d: %w", n, err)
	}
	digest := dg.Digest()
	out, err := s.client.UploadPart(ctx, &s3.UploadPartInput{
		Bucket:        aws.String(s.bucket),
		Key:           aws.String(s.uploadKey(id)),
		UploadId:      aws.String(uploadID),
		PartNumber:    aws.Int32(int32(n)),
		Body:          f,
		ContentLength: aws.Int64(dg.Size()),
	}, withPayloadHash(digest.Hex()))
	if err != nil {
		return cairn.Part{}, translate(err, "put part %d", n)
	}
	return cairn.Part{Number: n, Size: dg.Size(), ETag: aws.ToString(out.ETag), Digest: digest}, nil
}

// CompleteUpload joins the parts of an upload, in part-number order, into
// blob d: it checks the caller's parts list against what storage holds,
// completes the multipart upload on the staging key, reads the joined
// object back through a hasher, and only if digest and size match copies it
// to the blob's key. The staging object is then deleted.
//
// A parts list that does not match what was uploaded (a missing part, a
// size or ETag that differs, a part other than the last under
// cairn.MinPartSize, a total other than size) is refused with EINVALID and
// the upload stays as it was. Joined bytes that do not hash to d are refused
// with EINVALID and the upload is released. After any other failure past
// the join, calling CompleteUpload again resumes from the joined object.
func (s *Store) CompleteUpload(ctx context.Context, key string, parts []cairn.Part, d cairn.Digest, size int64) error {
	id, uploadID, err := parseKey(key)
	if err != nil {
		return err
	}
	final, err := s.blobKey(d)
	if err != nil {
		return err
	}
	sorted, err := sortParts(parts)
	if err != nil {
		return err
	}
	staging := s.uploadKey(id)

	stored, err := s.listParts(ctx, staging, uploadID)
	switch {
	case cairn.IsCode(err, cairn.ENOTFOUND):
		// Completed already by an earlier call that failed later on?
		if _, herr := s.head(ctx, staging, d); herr != nil {
			if cairn.IsCode(herr, cairn.ENOTFOUND) {
				return cairn.Errorf(cairn.ENOTFOUND, "upload not found")
			}
			return fmt.Errorf("complete upload: %w", herr)
		}
	case err != nil:
		return fmt.Errorf("complete upload: %w", err)
	default:
		completed, err := checkParts(sorted, stored, size)
		if err != nil {
			return err
		}
		_, err = s.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
			Bucket:          aws.String(s.bucket),
			Key:             aws.String(staging),
			UploadId:        aws.String(uploadID),
			MultipartUpload: &types.CompletedMultipartUpload{Parts: completed},
		})
		if err != nil {
			return translate(err, "complete upload")
		}
	}

	joined, err := s.verifyObject(ctx, staging, d, size)
	if err != nil {
		if cairn.IsCode(err, cairn.EINVALID) {
			s.deleteObject(ctx, staging)
		}
		return fmt.Errorf("complete upload: %w", err)
	}
	if err := s.publish(ctx, staging, final, d, joined); err != nil {
		return fmt.Errorf("complete upload: %w", err)
	}
	if err := s.deleteObject(ctx, staging); err != nil {
		return fmt.Errorf("complete upload: release staging object: %w", err)
	}
	return nil
}

// sortParts returns parts sorted by number, or EINVALID if the list is empty
// or has a number out of range or twice.
func sortParts(parts []cairn.Part) ([]cairn.Part, error) {
	if len(parts) == 0 {
		return nil, cairn.Errorf(cairn.EINVALID, "no parts to join")
	}
	if len(parts) > cairn.MaxParts {
		return nil, cairn.Errorf(cairn.EINVALID, "%d parts: at most %d are allowed", len(parts), cairn.MaxParts)
	}
	sorted := slices.Clone(parts)
	slices.SortFunc(sorted, func(a, b cairn.Part) int { return cmp.Compare(a.Number, b.Number) })
	for i, p := range sorted {
		if err := checkPartNumber(p.Number); err != nil {
			return nil, err
		}
		if i > 0 && sorted[i-1].Number == p.Number {
			return nil, cairn.Errorf(cairn.EINVALID, "part %d listed twice", p.Number)
		}
	}
	return sorted, nil
}

// listParts returns the parts storage holds for an upload, by number.
func (s *Store) listParts(ctx context.Context, key, uploadID string) (map[int]types.Part, error) {
	stored := map[int]types.Part{}
	in := &s3.ListPartsInput{Bucket: aws.String(s.bucket), Key: aws.String(key), UploadId: aws.String(uploadID)}
	p := s3.NewListPartsPaginator(s.client, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, translate(err, "list parts")
		}
		for _, part := range page.Parts {
			stored[int(aws.ToInt32(part.PartNumber))] = part
		}
	}
	return stored, nil
}

// checkParts matches the caller's sorted parts list against the stored
// parts and returns the list to complete with, or EINVALID.
func checkParts(sorted []cairn.Part, stored map[int]types.Part, size int64) ([]types.CompletedPart, error) {
	completed := make([]types.CompletedPart, len(sorted))
	var total int64
	for i, p := range sorted {
		sp, ok := stored[p.Number]
		if !ok {
			return nil, cairn.Errorf(cairn.EINVALID, "part %d was not uploaded", p.Number)
		}
		if got := aws.ToInt64(sp.Size); got != p.Size {
			return nil, cairn.Errorf(cairn.EINVALID, "part %d has %d bytes, not %d", p.Number, got, p.Size)
		}
		if p.ETag != "" && p.ETag != aws.ToString(sp.ETag) {
			return nil, cairn.Errorf(cairn.EINVALID, "part %d was replaced since it was recorded", p.Number)
		}
		if i < len(sorted)-1 && p.Size < cairn.MinPartSize {
			return nil, cairn.Errorf(cairn.EINVALID, "part %d has %d bytes: every part but the last needs at least %d", p.Number, p.Size, cairn.MinPartSize)
		}
		total += p.Size
		completed[i] = types.CompletedPart{PartNumber: aws.Int32(int32(p.Number)), ETag: sp.ETag}
	}
	if size >= 0 && total != size {
		return nil, cairn.Errorf(cairn.EINVALID, "parts add up to %d bytes, not the declared %d", total, size)
	}
	return completed, nil
}

// verifyObject streams the object at key through a hasher and returns its
// size, or EINVALID unless it is exactly blob d of size bytes.
func (s *Store) verifyObject(ctx context.Context, key string, d cairn.Digest, size int64) (int64, error) {
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)})
	if err != nil {
		return 0, translate(err, "joined upload")
	}
	defer out.Body.Close()
	if n := aws.ToInt64(out.ContentLength); size >= 0 && n >= 0 && n != size {
		return 0, cairn.Errorf(cairn.EINVALID, "blob %s: got %d bytes, declared %d", d, n, size)
	}
	dg := cairn.NewDigester()
	buf := make([]byte, s.verifyBufSize)
	if _, err := io.CopyBuffer(dg, ctxReader{ctx, out.Body}, buf); err != nil {
		return 0, fmt.Errorf("read back joined upload: %w", err)
	}
	return dg.Size(), verify(dg, d, size)
}

// publish copies the verified object at src, of size bytes, to final, blob
// d's key, unless blob d exists already.
func (s *Store) publish(ctx context.Context, src, final string, d cairn.Digest, size int64) error {
	if _, err := s.head(ctx, final, d); err == nil {
		return nil
	} else if !cairn.IsCode(err, cairn.ENOTFOUND) {
		return err
	}
	if size <= s.maxCopySize {
		_, err := s.client.CopyObject(ctx, &s3.CopyObjectInput{
			Bucket:     aws.String(s.bucket),
			Key:        aws.String(final),
			CopySource: aws.String(s.copySource(src)),
		})
		if err != nil {
			return translate(err, "copy to blob %s", d)
		}
		return nil
	}
	return s.copyMultipart(ctx, src, final, d, size)
}

// copyMultipart copies an object too large for CopyObject with
// UploadPartCopy, a few parts at a time; the copy is invisible until
// complete and aborted on failure.
func (s *Store) copyMultipart(ctx context.Context, src, final string, d cairn.Digest, size int64) (err error) {
	partSize := max(s.copyPartSize, (size+cairn.MaxParts-1)/cairn.MaxParts)
	count := int((size + partSize - 1) / partSize)
	up, err := s.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
		Bucket:      aws.String(s.bucket),
		Key:         aws.String(final),
		ContentType: aws.String("application/octet-stream"),
	})
	if err != nil {
		return translate(err, "copy to blob %s", d)
	}
	defer func() {
		if err != nil {
			s.abortMultipart(ctx, final, up.UploadId)
		}
	}()

	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	nums := make([]int32, count)
	etags := make([]string, count)
	errs := make(chan error, count)
	sem := make(chan struct{}, s.copyWorkers)
	for i := range count {
		sem <- struct{}{}
		go func() {
			defer func() { <-sem }()
			start := int64(i) * partSize
			end := min(start+partSize, size) - 1
			out, err := s.client.UploadPartCopy(cctx, &s3.UploadPartCopyInput{
				Bucket:          aws.String(s.bucket),
				Key:             aws.String(final),
				UploadId:        up.UploadId,
				PartNumber:      aws.Int32(int32(i + 1)),
				CopySource:      aws.String(s.copySource(src)),
				CopySourceRange: aws.String(fmt.Sprintf("bytes=%d-%d", start, end)),
			})
			if err != nil {
				cancel()
				errs <- translate(err, "copy part %d to blob %s", i+1, d)
				return
			}
			if out.CopyPartResult == nil {
				cancel()
				errs <- fmt.Errorf("copy part %d to blob %s: no result", i+1, d)
				return
			}
			nums[i], etags[i] = int32(i+1), aws.ToString(out.CopyPartResult.ETag)
			errs <- nil
		}()
	}
	var first error
	for range count {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	if first != nil {
		return first
	}
	_, err = s.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket:          aws.String(s.bucket),
		Key:             aws.String(final),
		UploadId:        up.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: completedParts(nums, etags)},
	})
	if err != nil {
		return translate(err, "copy to blob %s", d)
	}
	return nil
}

// deleteObject deletes key, also when ctx is canceled: it releases storage.
func (s *Store) deleteObject(ctx context.Context, key string) error {
	cctx, cancel := cleanupContext(ctx)
	defer cancel()
	_, err := s.client.DeleteObject(cctx, &s3.DeleteObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)})
	if err != nil && !cairn.IsCode(translate(err, ""), cairn.ENOTFOUND) {
		return translate(err, "delete %s", key)
	}
	return nil
}

// AbortUpload releases an upload: its parts, and its joined object if an
// interrupted CompleteUpload left one. A missing upload is not an error.
func (s *Store) AbortUpload(ctx context.Context, key string) error {
	id, uploadID, err := parseKey(key)
	if err != nil {
		return err
	}
	staging := s.uploadKey(id)
	_, err = s.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{
		Bucket: aws.String(s.bucket), Key: aws.String(staging), UploadId: aws.String(uploadID),
	})
	if err != nil && !cairn.IsCode(translate(err, ""), cairn.ENOTFOUND) {
		return translate(err, "abort upload")
	}
	if _, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(staging)}); err != nil &&
		!cairn.IsCode(translate(err, ""), cairn.ENOTFOUND) {
		return translate(err, "abort upload")
	}
	return nil
}
