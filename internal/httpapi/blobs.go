package httpapi

import (
	"net/http"
	"strconv"
	"time"

	"github.com/cairn-registry/cairn"
)

// setBlobHeaders sets the headers every blob answer carries. The digest is
// the ETag: a blob's bytes never change, so it is a perfect validator.
func setBlobHeaders(w http.ResponseWriter, d cairn.Digest) {
	h := w.Header()
	h.Set("ETag", `"`+string(d)+`"`)
	h.Set(headerDigest, string(d))
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Accept-Ranges", "bytes")
	// Content-addressed: the same URL always returns the same bytes.
	h.Set("Cache-Control", "private, max-age=31536000, immutable")
}

func (s *Server) headBlob(w http.ResponseWriter, r *http.Request) error {
	d, err := pathDigest(r)
	if err != nil {
		return err
	}
	size, err := s.svc.StatBlob(r.Context(), d)
	if err != nil {
		return err
	}
	setBlobHeaders(w, d)
	w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
	w.WriteHeader(http.StatusOK)
	return nil
}

// getBlob streams a blob through http.ServeContent, which answers Range,
// If-Range and If-None-Match requests against the digest ETag.
func (s *Server) getBlob(w http.ResponseWriter, r *http.Request) error {
	d, err := pathDigest(r)
	if err != nil {
		return err
	}
	if done, err := s.redirectBlob(w, r, d); done || err != nil {
		return err
	}
	rc, _, err := s.svc.OpenBlob(r.Context(), d)
	if err != nil {
		return err
	}
	defer rc.Close()
	setBlobHeaders(w, d)
	http.ServeContent(w, r, "", time.Time{}, rc)
	return nil
}

// putBlob streams the request body into the blob store, which hashes it on
// the way and keeps it only if it matches the digest (and the
// Content-Length, when one was sent). Nothing is buffered.
func (s *Server) putBlob(w http.ResponseWriter, r *http.Request) error {
	d, err := pathDigest(r)
	if err != nil {
		return err
	}
	size := r.ContentLength // -1: chunked or otherwise unknown
	if size > cairn.MaxFileSize {
		return cairn.Errorf(cairn.ETOOLARGE, "blob of %d bytes exceeds the %d byte limit", size, int64(cairn.MaxFileSize))
	}
	if err := s.svc.PutBlob(r.Context(), d, size, r.Body); err != nil {
		return err
	}
	if size < 0 {
		if size, err = s.svc.StatBlob(r.Context(), d); err != nil {
			return err
		}
	}
	w.Header().Set("Location", escapedPath("blobs", string(d)))
	return writeJSON(w, http.StatusCreated, blobInfo{Digest: d, Size: size})
}

func (s *Server) startUpload(w http.ResponseWriter, r *http.Request) error {
	var in uploadRequest
	if err := s.decodeJSON(w, r, &in); err != nil {
		return err
	}
	if _, err := cairn.ParseDigest(string(in.Digest)); err != nil {
		return err
	}
	if in.Size == nil {
		return cairn.Errorf(cairn.EINVALID, "size is required: the size in bytes of the whole blob")
	}
	up, resumed, err := s.svc.StartUpload(r.Context(), in.Digest, *in.Size)
	if err != nil {
		return err
	}
	w.Header().Set("Location", escapedPath("uploads", up.ID))
	status := http.StatusCreated
	if resumed {
		status = http.StatusOK
	}
	return writeJSON(w, status, up)
}

func (s *Server) getUpload(w http.ResponseWriter, r *http.Request) error {
	up, err := s.svc.GetUpload(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, up)
}

func (s *Server) uploadPart(w http.ResponseWriter, r *http.Request) error {
	raw := r.PathValue("n")
	n, err := strconv.Atoi(raw)
	if err != nil || n < 1 || n > cairn.MaxParts {
		return cairn.Errorf(cairn.EINVALID, "invalid part number %q: want 1 to %d", raw, cairn.MaxParts)
	}
	if r.ContentLength > cairn.MaxPartSize {
		return cairn.Errorf(cairn.ETOOLARGE, "part of %d bytes exceeds the %d byte limit", r.ContentLength, int64(cairn.MaxPartSize))
	}
	p, err := s.svc.UploadPart(r.Context(), r.PathValue("id"), n, r.Body)
	if err != nil {
		return err
	}
	if r.ContentLength >= 0 && p.Size != r.ContentLength {
		// The body ended early; the store has what arrived, and a resume
		// sees a part of the wrong size and sends it again.
		return cairn.Errorf(cairn.EINVALID, "part %d: received %d of %d bytes", n, p.Size, r.ContentLength)
	}
	return writeJSON(w, http.StatusOK, p)
}

func (s *Server) completeUpload(w http.ResponseWriter, r *http.Request) error {
	if err := s.decodeOptionalJSON(w, r, &emptyRequest{}); err != nil {
		return err
	}
	id := r.PathValue("id")
	up, err := s.svc.GetUpload(r.Context(), id)
	if err != nil {
		return err
	}
	if err := s.svc.CompleteUpload(r.Context(), id); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, blobInfo{Digest: up.Digest, Size: up.Size})
}

func (s *Server) abortUpload(w http.ResponseWriter, r *http.Request) error {
	if err := s.svc.AbortUpload(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	return noContent(w)
}
