package httpapi

import (
	"context"
	"math"
	"net/http"
	"time"

	"github.com/cairn-registry/cairn"
)

// readyTimeout bounds the store checks of /readyz.
const readyTimeout = 2 * time.Second

// healthz answers as long as the process serves HTTP; it touches no store,
// so a slow database never gets a live replica restarted.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) error {
	return writeJSON(w, http.StatusOK, healthStatus{Status: "ok"})
}

// readyz checks that both stores answer a cheap read: the metadata store
// an indexed lookup past the end of the event feed, the blob store a stat
// of the empty blob (found or not found are both answers).
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
	defer cancel()
	if _, err := s.svc.Store().ListEvents(ctx, math.MaxInt64, 1); err != nil {
		return &unavailableError{component: "metadata store", err: err}
	}
	if _, err := s.svc.Blobs().Stat(ctx, cairn.EmptyDigest); err != nil && !cairn.IsCode(err, cairn.ENOTFOUND) {
		return &unavailableError{component: "blob store", err: err}
	}
	return writeJSON(w, http.StatusOK, healthStatus{Status: "ready"})
}
