package httpapi

import (
	"net/http"
	"time"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/internal/registry"
)

// gcRequest asks for a garbage collection. DryRun defaults to true:
// deleting has to be asked for. Grace is a Go duration ("24h", "90m");
// empty means the registry's default.
type gcRequest struct {
	DryRun *bool  `json:"dry_run,omitempty"`
	Grace  string `json:"grace,omitempty"`
}

// collectGarbage runs a garbage collection of unreferenced blobs and
// answers its report. It runs within the request: a client that goes away
// cancels it between blob deletions, and whatever was deleted by then is
// audited.
func (s *Server) collectGarbage(w http.ResponseWriter, r *http.Request) error {
	var in gcRequest
	if err := s.decodeOptionalJSON(w, r, &in); err != nil {
		return err
	}
	opts := registry.GCOptions{DryRun: in.DryRun == nil || *in.DryRun}
	if in.Grace != "" {
		g, err := time.ParseDuration(in.Grace)
		if err != nil || g <= 0 {
			return cairn.Errorf(cairn.EINVALID, "invalid grace %q: want a positive duration such as 24h or 90m", in.Grace)
		}
		opts.Grace = g
	}
	rep, err := s.svc.GC(r.Context(), opts)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, rep)
}
