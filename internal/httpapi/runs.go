package httpapi

import (
	"net/http"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/internal/registry"
)

func (s *Server) listRuns(w http.ResponseWriter, r *http.Request) error {
	size, err := queryInt(r, "page_size", 0, 1, registry.MaxPageSize)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	page, err := s.svc.ListRuns(r.Context(), q.Get("experiment_id"), int(size), q.Get("page_token"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, page)
}

func (s *Server) createRun(w http.ResponseWriter, r *http.Request) error {
	var in registry.RunCreate
	if err := s.decodeJSON(w, r, &in); err != nil {
		return err
	}
	run, err := s.svc.CreateRun(r.Context(), in)
	if err != nil {
		return err
	}
	w.Header().Set("Location", escapedPath("runs", run.ID))
	return writeJSON(w, http.StatusCreated, run)
}

func (s *Server) getRun(w http.ResponseWriter, r *http.Request) error {
	run, err := s.svc.GetRun(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, run)
}

func (s *Server) updateRun(w http.ResponseWriter, r *http.Request) error {
	var in registry.RunUpdate
	if err := s.decodeJSON(w, r, &in); err != nil {
		return err
	}
	run, err := s.svc.UpdateRun(r.Context(), r.PathValue("id"), in)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, run)
}

func (s *Server) logRun(w http.ResponseWriter, r *http.Request) error {
	var in registry.RunLog
	if err := s.decodeJSON(w, r, &in); err != nil {
		return err
	}
	if err := s.svc.LogRun(r.Context(), r.PathValue("id"), in); err != nil {
		return err
	}
	return noContent(w)
}

func (s *Server) linkRun(w http.ResponseWriter, r *http.Request) error {
	var in registry.RunLinks
	if err := s.decodeJSON(w, r, &in); err != nil {
		return err
	}
	if err := s.svc.LinkRun(r.Context(), r.PathValue("id"), in); err != nil {
		return err
	}
	return noContent(w)
}

func (s *Server) metricHistory(w http.ResponseWriter, r *http.Request) error {
	key := r.PathValue("key")
	if key == "" {
		return cairn.Errorf(cairn.EINVALID, "metric key must not be empty")
	}
	points, err := s.svc.MetricHistory(r.Context(), r.PathValue("id"), key)
	if err != nil {
		return err
	}
	if points == nil {
		points = []cairn.MetricPoint{}
	}
	return writeJSON(w, http.StatusOK, metricHistory{Items: points})
}
