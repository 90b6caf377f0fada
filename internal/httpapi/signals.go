package httpapi

import (
	"net/http"

	"github.com/cairn-registry/cairn"
)

// evaluationList is the answer of listEvaluations.
type evaluationList struct {
	Items []*cairn.Version `json:"items"`
}

func (s *Server) recordSignal(w http.ResponseWriter, r *http.Request) error {
	var spec cairn.SignalSpec
	if err := s.decodeJSON(w, r, &spec); err != nil {
		return err
	}
	sig, err := s.svc.RecordSignal(r.Context(), r.PathValue("ref"), spec)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, sig)
}

func (s *Server) listSignals(w http.ResponseWriter, r *http.Request) error {
	size, err := queryInt(r, "page_size", 0, 1, 1000)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	page, err := s.svc.ListSignals(r.Context(), r.PathValue("ref"), q.Get("kind"), cairn.Page{Size: int(size), Token: q.Get("page_token")})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, page)
}

func (s *Server) unflagVersion(w http.ResponseWriter, r *http.Request) error {
	if err := s.decodeOptionalJSON(w, r, &emptyRequest{}); err != nil {
		return err
	}
	v, err := s.svc.UnflagVersion(r.Context(), r.PathValue("ref"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, v)
}

func (s *Server) listEvaluations(w http.ResponseWriter, r *http.Request) error {
	vs, err := s.svc.Evaluations(r.Context(), r.PathValue("ref"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, evaluationList{Items: vs})
}
