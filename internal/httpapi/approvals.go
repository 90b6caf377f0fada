package httpapi

import (
	"math"
	"net/http"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/internal/registry"
)

func (s *Server) listApprovals(w http.ResponseWriter, r *http.Request) error {
	size, err := queryInt(r, "page_size", 0, 1, registry.MaxPageSize)
	if err != nil {
		return err
	}
	v, err := queryInt(r, "version", 0, 1, math.MaxInt64)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	page, err := s.svc.ListApprovals(r.Context(), registry.ApprovalList{Model: q.Get("model"), Version: v, Status: q.Get("status"),
		PageSize: int(size), PageToken: q.Get("page_token")})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, page)
}

func (s *Server) getApproval(w http.ResponseWriter, r *http.Request) error {
	a, err := s.svc.GetApproval(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, a)
}

func (s *Server) approve(w http.ResponseWriter, r *http.Request) error { return s.decide(w, r, true) }
func (s *Server) rejectReq(w http.ResponseWriter, r *http.Request) error {
	return s.decide(w, r, false)
}

func (s *Server) decide(w http.ResponseWriter, r *http.Request, approve bool) error {
	var in registry.Decision
	if err := s.decodeOptionalJSON(w, r, &in); err != nil {
		return err
	}
	decide := s.svc.Reject
	if approve {
		decide = s.svc.Approve
	}
	a, err := decide(r.Context(), r.PathValue("id"), in)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, a)
}

func (s *Server) explainGate(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	alias, stage := q.Get("alias"), q.Get("stage")
	if (alias == "") == (stage == "") {
		return cairn.Errorf(cairn.EINVALID, "give one of alias and stage")
	}
	ex, err := s.svc.ExplainGate(r.Context(), r.PathValue("ref"), alias, cairn.Stage(stage))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, ex)
}
