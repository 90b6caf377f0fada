package registry

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/cairn-registry/cairn"
)

// PutBlob stores a blob sent in one piece. The bytes must hash to d and
// number size (size < 0: unknown); otherwise EINVALID and nothing is stored.
func (s *Service) PutBlob(ctx context.Context, d cairn.Digest, size int64, r io.Reader) error {
	if err := s.authorizeAny(ctx, cairn.RoleWriter); err != nil {
		return err
	}
	if _, err := cairn.ParseDigest(string(d)); err != nil {
		return err
	}
	if size > cairn.MaxFileSize {
		return cairn.Errorf(cairn.ETOOLARGE, "blob of %d bytes exceeds the %d byte limit", size, int64(cairn.MaxFileSize))
	}
	return s.blobs.Put(ctx, d, size, r)
}

// OpenBlob opens a blob for reading.
func (s *Service) OpenBlob(ctx context.Context, d cairn.Digest) (io.ReadSeekCloser, int64, error) {
	if _, err := cairn.ParseDigest(string(d)); err != nil {
		return nil, 0, err
	}
	if err := s.authorizeBlob(ctx, d, false); err != nil {
		return nil, 0, err
	}
	rc, size, err := s.blobs.Open(ctx, d)
	if err != nil {
		return nil, 0, notFound(err, "blob %s not found", d)
	}
	return rc, size, nil
}

// StatBlob returns a blob's size, or ENOTFOUND.
func (s *Service) StatBlob(ctx context.Context, d cairn.Digest) (int64, error) {
	if _, err := cairn.ParseDigest(string(d)); err != nil {
		return 0, err
	}
	if err := s.authorizeBlob(ctx, d, true); err != nil {
		return 0, err
	}
	size, err := s.blobs.Stat(ctx, d)
	if err != nil {
		return 0, notFound(err, "blob %s not found", d)
	}
	return size, nil
}

// StartUpload opens an upload session for a blob sent in parts. If an
// unexpired session for the same digest and size exists, it is returned
// with the parts received so far (resumed = true), so a client that died
// halfway re-sends only what is missing, through any replica.
func (s *Service) StartUpload(ctx context.Context, d cairn.Digest, size int64) (up *cairn.Upload, resumed bool, err error) {
	if err := s.authorizeAny(ctx, cairn.RoleWriter); err != nil {
		return nil, false, err
	}
	if _, err := cairn.ParseDigest(string(d)); err != nil {
		return nil, false, err
	}
	if size < 0 || size > cairn.MaxFileSize {
		return nil, false, cairn.Errorf(cairn.EINVALID, "upload size %d out of range", size)
	}
	now := cairn.Timestamp(s.now())
	existing, err := s.store.FindUploads(ctx, d, now)
	if err != nil {
		return nil, false, err
	}
	for _, u := range existing {
		if u.Size == size {
			return u, true, nil
		}
	}
	key, err := s.blobs.StartUpload(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("start upload: %w", err)
	}
	up = &cairn.Upload{
		ID: newID(), Digest: d, Size: size, BackendKey: key,
		CreatedBy: cairn.ActorFromContext(ctx).Name, CreatedAt: now, ExpiresAt: now.Add(s.uploadTTL),
		Parts: []cairn.Part{},
	}
	err = s.store.Update(ctx, func(tx cairn.Tx) error { return tx.CreateUpload(ctx, up) })
	if err != nil {
		_ = s.blobs.AbortUpload(ctx, key)
		return nil, false, err
	}
	return up, false, nil
}

// GetUpload returns an upload session with its received parts.
func (s *Service) GetUpload(ctx context.Context, id string) (*cairn.Upload, error) {
	if err := s.authorizeAny(ctx, cairn.RoleWriter); err != nil {
		return nil, err
	}
	u, err := s.store.GetUpload(ctx, id)
	if err != nil {
		return nil, notFound(err, "upload %q not found", id)
	}
	if !u.ExpiresAt.After(s.now()) {
		return nil, cairn.Errorf(cairn.ENOTFOUND, "upload %q expired", id)
	}
	return u, nil
}

// UploadPart receives part n (1-based) of an upload, streaming. Re-sending
// a part replaces it.
func (s *Service) UploadPart(ctx context.Context, id string, n int, r io.Reader) (*cairn.Part, error) {
	if n < 1 || n > cairn.MaxParts {
		return nil, cairn.Errorf(cairn.EINVALID, "part number %d out of range 1..%d", n, cairn.MaxParts)
	}
	u, err := s.GetUpload(ctx, id)
	if err != nil {
		return nil, err
	}
	p, err := s.blobs.PutPart(ctx, u.BackendKey, n, io.LimitReader(r, cairn.MaxPartSize+1))
	if err != nil {
		return nil, err
	}
	if p.Size > cairn.MaxPartSize {
		return nil, cairn.Errorf(cairn.ETOOLARGE, "part %d exceeds %d bytes", n, int64(cairn.MaxPartSize))
	}
	if err := s.store.Update(ctx, func(tx cairn.Tx) error { return tx.PutPart(ctx, id, p) }); err != nil {
		return nil, err
	}
	return &p, nil
}

// CompleteUpload joins the received parts, which must be numbered 1..N
// without gaps and add up to the session's size, into the blob, verifying
// its digest. On success the session is gone; on a digest mismatch the
// session is released too (its bytes are wrong and must be sent again).
func (s *Service) CompleteUpload(ctx context.Context, id string) error {
	if err := s.authorizeAny(ctx, cairn.RoleWriter); err != nil {
		return err
	}
	u, err := s.GetUpload(ctx, id)
	if err != nil {
		return err
	}
	var total int64
	for i, p := range u.Parts {
		if p.Number != i+1 {
			return cairn.Errorf(cairn.EFAILEDPRECONDITION, "upload %q is missing part %d", id, i+1)
		}
		total += p.Size
	}
	if total != u.Size {
		return cairn.Errorf(cairn.EFAILEDPRECONDITION, "upload %q has %d of %d bytes", id, total, u.Size)
	}
	err = s.blobs.CompleteUpload(ctx, u.BackendKey, u.Parts, u.Digest, u.Size)
	if err != nil && !cairn.IsCode(err, cairn.EINVALID) {
		return err
	}
	if derr := s.store.Update(ctx, func(tx cairn.Tx) error { return tx.DeleteUpload(ctx, id) }); derr != nil && err == nil {
		return derr
	}
	if err != nil {
		_ = s.blobs.AbortUpload(ctx, u.BackendKey)
	}
	return err
}

// AbortUpload releases an upload session and its parts.
func (s *Service) AbortUpload(ctx context.Context, id string) error {
	if err := s.authorizeAny(ctx, cairn.RoleWriter); err != nil {
		return err
	}
	u, err := s.store.GetUpload(ctx, id)
	if err != nil {
		return notFound(err, "upload %q not found", id)
	}
	if err := s.blobs.AbortUpload(ctx, u.BackendKey); err != nil {
		return err
	}
	return s.store.Update(ctx, func(tx cairn.Tx) error { return tx.DeleteUpload(ctx, id) })
}

// ExpireReport says what Expire cleaned up.
type ExpireReport struct {
	Uploads         int `json:"uploads"`
	Versions        int `json:"versions"`
	ArtifactUploads int `json:"artifact_uploads"`
	// Approvals counts approval requests that expired.
	Approvals int `json:"approvals"`
}

// Expire aborts upload sessions past their expiry (multipart artifact
// uploads too) and fails versions that stayed pending longer than the
// pending TTL. It is safe to run on every
// replica at once: each row changes under the database's locks and a
// second runner finds nothing left to do.
func (s *Service) Expire(ctx context.Context) (ExpireReport, error) {
	var rep ExpireReport
	now := s.now()
	ups, err := s.store.ExpiredUploads(ctx, cairn.Timestamp(now), 1000)
	if err != nil {
		return rep, err
	}
	for _, u := range ups {
		if err := s.blobs.AbortUpload(ctx, u.BackendKey); err != nil {
			return rep, err
		}
		if err := s.store.Update(ctx, func(tx cairn.Tx) error { return tx.DeleteUpload(ctx, u.ID) }); err != nil && !cairn.IsCode(err, cairn.ENOTFOUND) {
			return rep, err
		}
		rep.Uploads++
	}
	if rep.ArtifactUploads, err = s.expireArtifactUploads(ctx, now.Add(-s.uploadTTL), 1000); err != nil {
		return rep, err
	}
	stale, err := s.store.StalePendingVersions(ctx, cairn.Timestamp(now.Add(-s.pendingTTL)), 1000)
	if err != nil {
		return rep, err
	}
	for _, v := range stale {
		err := s.update(ctx, func(m *mutation) error {
			if _, err := m.tx.LockModel(ctx, v.Model); err != nil {
				return err
			}
			cur, err := m.tx.GetVersion(ctx, v.Model, v.Number)
			if err != nil || cur.Status != cairn.StatusPending {
				return err
			}
			before := cloneVersion(cur)
			cur.Status, cur.StatusMessage, cur.UpdatedAt = cairn.StatusFailed, "upload expired before finalize", m.now
			if err := m.tx.UpdateVersion(ctx, cur); err != nil {
				return err
			}
			m.record(cairn.EventVersionFailed, cur.Ref(), cur.Model, "", before, cur)
			rep.Versions++
			return nil
		})
		if err != nil {
			return rep, err
		}
	}
	n, err := s.expireApprovals(ctx, now)
	rep.Approvals = n
	return rep, err
}

// RunExpiry calls Expire every interval until ctx ends. Errors are passed
// to onErr, which may log them; the loop carries on.
func (s *Service) RunExpiry(ctx context.Context, interval time.Duration, onErr func(error)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := s.Expire(ctx); err != nil && ctx.Err() == nil && onErr != nil {
			onErr(err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
