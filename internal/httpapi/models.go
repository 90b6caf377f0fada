package httpapi

import (
	"net/http"

	"github.com/cairn-registry/cairn/internal/registry"
)

// listRequest reads the list parameters shared by models and versions.
func listRequest(r *http.Request) (registry.ListRequest, error) {
	q := r.URL.Query()
	size, err := queryInt(r, "page_size", 0, 1, registry.MaxPageSize)
	if err != nil {
		return registry.ListRequest{}, err
	}
	return registry.ListRequest{
		Filter: q.Get("filter"), OrderBy: q["order_by"],
		PageSize: int(size), PageToken: q.Get("page_token"),
	}, nil
}

func (s *Server) listModels(w http.ResponseWriter, r *http.Request) error {
	req, err := listRequest(r)
	if err != nil {
		return err
	}
	page, err := s.svc.ListModels(r.Context(), req)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, page)
}

func (s *Server) createModel(w http.ResponseWriter, r *http.Request) error {
	var in registry.ModelCreate
	if err := s.decodeJSON(w, r, &in); err != nil {
		return err
	}
	m, err := s.svc.CreateModel(r.Context(), in)
	if err != nil {
		return err
	}
	w.Header().Set("Location", escapedPath("models", m.Name))
	return writeJSON(w, http.StatusCreated, m)
}

func (s *Server) getModel(w http.ResponseWriter, r *http.Request) error {
	m, err := s.svc.GetModel(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, m)
}

func (s *Server) updateModel(w http.ResponseWriter, r *http.Request) error {
	var in registry.ModelUpdate
	if err := s.decodeJSON(w, r, &in); err != nil {
		return err
	}
	m, err := s.svc.UpdateModel(r.Context(), r.PathValue("name"), in)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, m)
}

func (s *Server) deleteModel(w http.ResponseWriter, r *http.Request) error {
	if err := s.svc.DeleteModel(r.Context(), r.PathValue("name")); err != nil {
		return err
	}
	return noContent(w)
}

func (s *Server) renameModel(w http.ResponseWriter, r *http.Request) error {
	var in renameRequest
	if err := s.decodeJSON(w, r, &in); err != nil {
		return err
	}
	m, err := s.svc.RenameModel(r.Context(), r.PathValue("name"), in.NewName)
	if err != nil {
		return err
	}
	w.Header().Set("Location", escapedPath("models", m.Name))
	return writeJSON(w, http.StatusOK, m)
}

func (s *Server) archiveModel(w http.ResponseWriter, r *http.Request) error {
	if err := s.decodeOptionalJSON(w, r, &emptyRequest{}); err != nil {
		return err
	}
	m, err := s.svc.ArchiveModel(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, m)
}

func (s *Server) restoreModel(w http.ResponseWriter, r *http.Request) error {
	if err := s.decodeOptionalJSON(w, r, &emptyRequest{}); err != nil {
		return err
	}
	m, err := s.svc.RestoreModel(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, m)
}

func (s *Server) undeleteModel(w http.ResponseWriter, r *http.Request) error {
	if err := s.decodeOptionalJSON(w, r, &emptyRequest{}); err != nil {
		return err
	}
	m, err := s.svc.UndeleteModel(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, m)
}
