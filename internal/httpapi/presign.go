package httpapi

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/cairn-registry/cairn"
)

// presigner is a blob store that can hand out a time-limited URL from
// which anyone holding it may GET a blob straight from the object store
// (s3blob does). It is optional: stores that cannot presign stream.
type presigner interface {
	PresignGet(ctx context.Context, d cairn.Digest, ttl time.Duration) (string, error)
}

// redirectBlob answers GET /api/v1/blobs/{digest} with 307 Temporary
// Redirect to a presigned URL, if presigned downloads are on and the blob
// store can presign, so that the bytes bypass this server. It reports
// whether it answered; if not, the caller streams the blob.
//
// Range requests are redirected too: the Range header travels with the
// redirected request and the object store answers it. Conditional
// requests are answered here, because the object store's ETag is not the
// digest: If-None-Match naming the digest gets 304, and If-Range (a resume
// that must not receive a different object) is streamed by this server.
// HEAD never redirects: it is answered from a stat, without bytes.
func (s *Server) redirectBlob(w http.ResponseWriter, r *http.Request, d cairn.Digest) (bool, error) {
	if s.presignTTL <= 0 || r.Method != http.MethodGet || r.Header.Get("If-Range") != "" {
		return false, nil
	}
	p, ok := s.svc.Blobs().(presigner)
	if !ok {
		return false, nil
	}
	// The redirect bypasses OpenBlob, so the role is checked here.
	if err := s.svc.AuthorizeBlobRead(r.Context(), d); err != nil {
		return true, err
	}
	if inm := r.Header.Get("If-None-Match"); inm != "" && etagListHas(inm, d) {
		if _, err := s.svc.StatBlob(r.Context(), d); err != nil {
			return true, err
		}
		setBlobHeaders(w, d)
		w.WriteHeader(http.StatusNotModified)
		return true, nil
	}
	u, err := p.PresignGet(r.Context(), d, s.presignTTL)
	if err != nil {
		if cairn.IsCode(err, cairn.ENOTFOUND) {
			return true, cairn.Errorf(cairn.ENOTFOUND, "blob %s not found", d)
		}
		return true, err
	}
	h := w.Header()
	h.Set("Location", u)
	h.Set(headerDigest, string(d))
	// The URL expires; a cache must not replay it.
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusTemporaryRedirect)
	return true, nil
}

// etagListHas reports whether an If-None-Match value names the digest's
// ETag (or is "*").
func etagListHas(list string, d cairn.Digest) bool {
	want := `"` + string(d) + `"`
	for _, t := range strings.Split(list, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t == want {
			return true
		}
	}
	return false
}
