package registry

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/cairn-registry/cairn"
)

// Multipart artifact uploads (MLflow's mpu/create, complete and abort).
// The client sends a large file in parts, each to a URL the create call
// handed out, in any order and in parallel, then completes the upload
// with the list of parts.
//
// State lives where every replica sees it: each part is a blob (its
// digest is its ETag) named by a row of the artifact table under the
// reserved root, _cairn/uploads/ID/parts/NNNNN, beside a marker row
// _cairn/uploads/ID/target/PATH whose writer and time are the upload's
// creator and start. Those rows keep the parts from garbage collection
// while the upload lives; nothing outside the registry can read, list or
// write them. Completing streams the parts, in order, into the artifact
// at PATH (hashed on the way, as a PUT is) and deletes the rows; the
// parts' blobs are then garbage. Uploads not completed within
// Options.UploadTTL are deleted by Expire.
//
// Parts are sent without credentials (MLflow's client sends them to the
// URL as it would to a presigned object-store URL): the upload id, 128
// random bits known only to the creator, is the capability. Creating,
// completing and aborting need the writer role, and only the creator may
// complete or abort.

const (
	artifactUploadsDir = ReservedArtifactRoot + "/uploads/"
	uploadTargetDir    = "/target/"
	uploadPartsDir     = "/parts/"
)

// ArtifactUpload is a multipart upload of one artifact.
type ArtifactUpload struct {
	ID        string       `json:"upload_id"`
	Path      string       `json:"path"` // the artifact it becomes
	CreatedBy string       `json:"created_by"`
	CreatedAt time.Time    `json:"created_at"`
	Parts     []cairn.Part `json:"parts"` // received, by number
}

// validUploadID reports whether id has the shape of an upload id.
func validUploadID(id string) bool {
	if len(id) != 32 {
		return false
	}
	_, err := hex.DecodeString(id)
	return err == nil && strings.ToLower(id) == id
}

func partRow(id string, n int) string {
	return artifactUploadsDir + id + uploadPartsDir + fmt.Sprintf("%05d", n)
}

// StartArtifactUpload begins a multipart upload of the artifact at path.
func (s *Service) StartArtifactUpload(ctx context.Context, path string) (*ArtifactUpload, error) {
	if err := s.authorizeAny(ctx, cairn.RoleWriter); err != nil {
		return nil, err
	}
	if err := checkArtifactPath(path); err != nil {
		return nil, err
	}
	empty := cairn.DigestOf(nil)
	if err := s.blobs.Put(ctx, empty, 0, bytes.NewReader(nil)); err != nil {
		return nil, fmt.Errorf("store the empty blob: %w", err)
	}
	up := &ArtifactUpload{ID: newID(), Path: path, CreatedBy: cairn.ActorFromContext(ctx).Name, Parts: []cairn.Part{}}
	up.CreatedAt = cairn.Timestamp(s.now())
	err := s.store.Update(ctx, func(tx cairn.Tx) error {
		marker := &cairn.Artifact{Path: artifactUploadsDir + up.ID + uploadTargetDir + path, Digest: empty,
			UpdatedBy: up.CreatedBy, UpdatedAt: up.CreatedAt}
		if err := tx.PutArtifact(ctx, marker); err != nil {
			return err
		}
		return s.blobPresent(ctx, empty)
	})
	if err != nil {
		return nil, err
	}
	return up, nil
}

// getArtifactUpload reads an upload's rows; ENOTFOUND if it does not
// exist or has expired.
func (s *Service) getArtifactUpload(ctx context.Context, r cairn.Reader, id string) (*ArtifactUpload, error) {
	if !validUploadID(id) {
		return nil, cairn.Errorf(cairn.ENOTFOUND, "upload %q not found", id)
	}
	up := &ArtifactUpload{ID: id, Parts: []cairn.Part{}}
	dir := artifactUploadsDir + id + "/"
	q := cairn.ArtifactQuery{Prefix: dir, Limit: cairn.MaxArtifactList}
	for {
		page, err := r.ListArtifacts(ctx, q)
		if err != nil {
			return nil, err
		}
		for _, a := range page.Items {
			rest := a.Path[len(dir)-1:]
			if target, ok := strings.CutPrefix(rest, uploadTargetDir); ok {
				up.Path, up.CreatedBy, up.CreatedAt = target, a.UpdatedBy, a.UpdatedAt
			} else if num, ok := strings.CutPrefix(rest, uploadPartsDir); ok {
				n, err := strconv.Atoi(num)
				if err != nil {
					return nil, fmt.Errorf("upload %s: bad part row %q", id, a.Path)
				}
				up.Parts = append(up.Parts, cairn.Part{Number: n, Size: a.Size, ETag: string(a.Digest), Digest: a.Digest})
			}
		}
		if page.NextToken == "" {
			break
		}
		q.From = page.NextToken
	}
	if up.Path == "" || !s.now().Before(up.CreatedAt.Add(s.uploadTTL)) {
		return nil, cairn.Errorf(cairn.ENOTFOUND, "upload %q not found (it was completed, aborted or expired)", id)
	}
	return up, nil
}

// PutArtifactUploadPart receives part n (1-based) of upload id, streaming,
// and returns it; its ETag is its digest. Re-sending a part replaces it.
// The upload id is the authorization (see above). ENOTFOUND for an
// unknown, finished or expired upload; EINVALID for a part number out of
// range; ETOOLARGE for a part over cairn.MaxPartSize.
func (s *Service) PutArtifactUploadPart(ctx context.Context, id string, n int, r io.Reader) (*cairn.Part, error) {
	if n < 1 || n > cairn.MaxParts {
		return nil, cairn.Errorf(cairn.EINVALID, "part number %d out of range 1..%d", n, cairn.MaxParts)
	}
	if _, err := s.getArtifactUpload(ctx, s.store, id); err != nil {
		return nil, err
	}
	sp, err := s.spool(r, cairn.MaxPartSize)
	if err != nil {
		return nil, err
	}
	defer sp.close()
	for attempt := 0; ; attempt++ {
		if err := sp.putBlob(ctx, s.blobs); err != nil {
			return nil, err
		}
		err = s.store.Update(ctx, func(tx cairn.Tx) error {
			if _, err := s.getArtifactUpload(ctx, tx, id); err != nil {
				return err // finished while the part was arriving
			}
			a := &cairn.Artifact{Path: partRow(id, n), Digest: sp.digest, Size: sp.size,
				UpdatedBy: cairn.ActorFromContext(ctx).Name, UpdatedAt: cairn.Timestamp(s.now())}
			if err := tx.PutArtifact(ctx, a); err != nil {
				return err
			}
			return s.blobPresent(ctx, sp.digest)
		})
		if err == errBlobVanished && attempt < 3 {
			continue
		}
		if err != nil {
			return nil, err
		}
		return &cairn.Part{Number: n, Size: sp.size, ETag: string(sp.digest), Digest: sp.digest}, nil
	}
}

// CompletedPart is one entry of the part list that completes an upload.
type CompletedPart struct {
	Number int    `json:"part_number"`
	ETag   string `json:"etag"`
}

// CompleteArtifactUpload joins the parts, which must be numbered 1..N
// without gaps, into the artifact at path (the upload's), streaming, and
// ends the upload. An ETag given for a part must be the one its upload
// answered. Errors: ENOTFOUND for an unknown upload, EINVALID for another
// path, a missing part or a wrong ETag, EPERMISSION if the caller did not
// start the upload.
func (s *Service) CompleteArtifactUpload(ctx context.Context, path, id string, parts []CompletedPart) (*cairn.Artifact, error) {
	up, err := s.ownArtifactUpload(ctx, path, id)
	if err != nil {
		return nil, err
	}
	if len(parts) == 0 {
		return nil, cairn.Errorf(cairn.EINVALID, "no parts given to complete upload %q", id)
	}
	byNumber := map[int]cairn.Part{}
	for _, p := range up.Parts {
		byNumber[p.Number] = p
	}
	blobs := make([]cairn.Digest, len(parts))
	for i, p := range parts {
		if p.Number != i+1 {
			return nil, cairn.Errorf(cairn.EINVALID, "part %d is listed where part %d belongs: list parts 1..N in order", p.Number, i+1)
		}
		got, ok := byNumber[p.Number]
		if !ok {
			return nil, cairn.Errorf(cairn.EINVALID, "upload %q has no part %d", id, p.Number)
		}
		if etag := strings.Trim(p.ETag, `"`); etag != "" && etag != got.ETag {
			return nil, cairn.Errorf(cairn.EINVALID, "part %d: ETag %q is not the part's (%s): it was sent again since", p.Number, p.ETag, got.ETag)
		}
		blobs[i] = got.Digest
	}
	joined := &blobsReader{ctx: ctx, blobs: s.blobs, ds: blobs}
	defer joined.Close()
	a, err := s.PutArtifact(ctx, path, joined)
	if err != nil {
		return nil, err
	}
	if err := s.endArtifactUpload(ctx, id); err != nil {
		return nil, err
	}
	return a, nil
}

// AbortArtifactUpload ends an upload without writing its artifact.
func (s *Service) AbortArtifactUpload(ctx context.Context, path, id string) error {
	if _, err := s.ownArtifactUpload(ctx, path, id); err != nil {
		return err
	}
	return s.endArtifactUpload(ctx, id)
}

// ownArtifactUpload returns upload id for its creator, with the writer
// role, completing or aborting the upload of path.
func (s *Service) ownArtifactUpload(ctx context.Context, path, id string) (*ArtifactUpload, error) {
	if err := s.authorizeAny(ctx, cairn.RoleWriter); err != nil {
		return nil, err
	}
	if err := checkArtifactPath(path); err != nil {
		return nil, err
	}
	up, err := s.getArtifactUpload(ctx, s.store, id)
	if err != nil {
		return nil, err
	}
	if up.Path != path {
		return nil, cairn.Errorf(cairn.EINVALID, "upload %q is of artifact %q, not %q", id, up.Path, path)
	}
	if s.auth && cairn.ActorFromContext(ctx).Name != up.CreatedBy {
		return nil, cairn.Errorf(cairn.EPERMISSION, "upload %q was started by %s; only they may complete or abort it", id, up.CreatedBy)
	}
	return up, nil
}

// endArtifactUpload deletes an upload's rows; its parts' blobs become
// garbage.
func (s *Service) endArtifactUpload(ctx context.Context, id string) error {
	return s.store.Update(ctx, func(tx cairn.Tx) error {
		_, err := tx.DeleteArtifacts(ctx, artifactUploadsDir+id)
		return err
	})
}

// expireArtifactUploads deletes the uploads started before cutoff (and
// parts left without their upload), at most limit of them, and says how
// many. It seeks from one upload to the next, reading one row of each.
func (s *Service) expireArtifactUploads(ctx context.Context, cutoff time.Time, limit int) (int, error) {
	n := 0
	from := ""
	for n < limit {
		page, err := s.store.ListArtifacts(ctx, cairn.ArtifactQuery{Prefix: artifactUploadsDir, From: from, Limit: 1})
		if err != nil || len(page.Items) == 0 {
			return n, err
		}
		id, _, _ := strings.Cut(page.Items[0].Path[len(artifactUploadsDir):], "/")
		from = artifactUploadsDir + id + "0" // the next upload's rows
		marker, err := s.store.ListArtifacts(ctx, cairn.ArtifactQuery{Prefix: artifactUploadsDir + id + uploadTargetDir, Limit: 1})
		if err != nil {
			return n, err
		}
		if len(marker.Items) == 1 && !marker.Items[0].UpdatedAt.Before(cutoff) {
			continue
		}
		if err := s.endArtifactUpload(ctx, id); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// blobsReader reads blobs one after the other, opening each when the one
// before is exhausted, so that a thousand parts hold one file open.
type blobsReader struct {
	ctx   context.Context
	blobs cairn.BlobStore
	ds    []cairn.Digest
	cur   io.ReadCloser
}

func (r *blobsReader) Read(p []byte) (int, error) {
	for {
		if r.cur == nil {
			if len(r.ds) == 0 {
				return 0, io.EOF
			}
			rc, _, err := r.blobs.Open(r.ctx, r.ds[0])
			if err != nil {
				return 0, fmt.Errorf("open part blob %s: %w", r.ds[0], err)
			}
			r.cur, r.ds = rc, r.ds[1:]
		}
		n, err := r.cur.Read(p)
		if err == io.EOF {
			r.cur.Close()
			r.cur = nil
			if n > 0 {
				return n, nil
			}
			continue
		}
		return n, err
	}
}

// Close closes the blob being read, if any.
func (r *blobsReader) Close() error {
	if r.cur != nil {
		return r.cur.Close()
	}
	return nil
}
