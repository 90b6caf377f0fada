package httpapi

import (
	"math"
	"net/http"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/internal/registry"
)

func (s *Server) getAlias(w http.ResponseWriter, r *http.Request) error {
	at, err := queryTime(r, "at")
	if err != nil {
		return err
	}
	var a *cairn.Alias
	if at.IsZero() {
		a, err = s.svc.GetAlias(r.Context(), r.PathValue("name"), r.PathValue("alias"))
	} else {
		a, err = s.svc.GetAliasAt(r.Context(), r.PathValue("name"), r.PathValue("alias"), at)
	}
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, a)
}

func (s *Server) setAlias(w http.ResponseWriter, r *http.Request) error {
	var in aliasSetRequest
	if err := s.decodeJSON(w, r, &in); err != nil {
		return err
	}
	if in.Version < 1 {
		return cairn.Errorf(cairn.EINVALID, "version is required: the number of the version the alias should point at")
	}
	if in.IfCurrent != nil && *in.IfCurrent < 0 {
		return cairn.Errorf(cairn.EINVALID, "if_current must be a version number, or 0 for \"the alias does not exist\"")
	}
	a, err := s.svc.SetAliasWith(r.Context(), r.PathValue("name"), r.PathValue("alias"), in.Version,
		registry.MoveOptions{IfCurrent: in.IfCurrent, Origin: in.Origin})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, a)
}

func (s *Server) deleteAlias(w http.ResponseWriter, r *http.Request) error {
	var ifCurrent *int64
	if r.URL.Query().Has("if_current") {
		n, err := queryInt(r, "if_current", 0, 0, math.MaxInt64)
		if err != nil {
			return err
		}
		ifCurrent = &n
	}
	origin, err := queryOrigin(r)
	if err != nil {
		return err
	}
	if err := s.svc.DeleteAliasWith(r.Context(), r.PathValue("name"), r.PathValue("alias"),
		registry.MoveOptions{IfCurrent: ifCurrent, Origin: origin}); err != nil {
		return err
	}
	return noContent(w)
}

// queryOrigin reads the origin of an imported deletion from the query
// (origin_system, origin_ref, origin_actor, origin_at); nil if there is no
// origin_system. EINVALID for origin_* parameters without origin_system.
func queryOrigin(r *http.Request) (*cairn.MoveOrigin, error) {
	q := r.URL.Query()
	if !q.Has("origin_system") {
		for _, k := range []string{"origin_ref", "origin_actor", "origin_at"} {
			if q.Has(k) {
				return nil, cairn.Errorf(cairn.EINVALID, "query parameter %s needs origin_system", k)
			}
		}
		return nil, nil
	}
	at, err := queryTime(r, "origin_at")
	if err != nil {
		return nil, err
	}
	return &cairn.MoveOrigin{System: q.Get("origin_system"), Ref: q.Get("origin_ref"), Actor: q.Get("origin_actor"), At: at}, nil
}

func (s *Server) aliasHistory(w http.ResponseWriter, r *http.Request) error {
	alias := r.PathValue("alias")
	if alias == "" {
		return cairn.Errorf(cairn.EINVALID, "alias name must not be empty")
	}
	return s.writeAliasHistory(w, r, alias)
}

func (s *Server) modelAliasHistory(w http.ResponseWriter, r *http.Request) error {
	return s.writeAliasHistory(w, r, "")
}

func (s *Server) writeAliasHistory(w http.ResponseWriter, r *http.Request, alias string) error {
	size, err := queryInt(r, "page_size", 0, 1, 1000)
	if err != nil {
		return err
	}
	page, err := s.svc.AliasHistory(r.Context(), r.PathValue("name"), alias, int(size), r.URL.Query().Get("page_token"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, page)
}
