package httpapi

import (
	"net/http"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/internal/registry"
)

// tokenList is the answer of GET …/tokens.
type tokenList struct {
	Items []*cairn.Token `json:"items"`
}

// roleList is the answer of GET /api/v1/roles.
type roleList struct {
	Items []cairn.RoleBinding `json:"items"`
}

// whoami is the answer of GET /api/v1/whoami.
type whoami struct {
	Name     string              `json:"name"`
	Kind     cairn.PrincipalKind `json:"kind,omitempty"`
	Verified bool                `json:"verified"`
	Auth     bool                `json:"auth"`
	Roles    []cairn.RoleBinding `json:"roles"`
}

func (s *Server) whoami(w http.ResponseWriter, r *http.Request) error {
	a := cairn.ActorFromContext(r.Context())
	out := whoami{Name: a.Name, Verified: a.Verified, Auth: s.svc.AuthEnabled(), Roles: []cairn.RoleBinding{}}
	if p := cairn.PrincipalFromContext(r.Context()); p != nil {
		out.Kind, out.Roles = p.Kind, p.Roles
	} else if s.svc.AuthEnabled() {
		return cairn.Errorf(cairn.EUNAUTHENTICATED, "authentication required")
	}
	return writeJSON(w, http.StatusOK, out)
}

func (s *Server) listUsers(w http.ResponseWriter, r *http.Request) error {
	size, err := queryInt(r, "page_size", 0, 1, registry.MaxPageSize)
	if err != nil {
		return err
	}
	page, err := s.svc.ListUsers(r.Context(), int(size), r.URL.Query().Get("page_token"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, page)
}

func (s *Server) createUser(w http.ResponseWriter, r *http.Request) error {
	var in registry.UserCreate
	if err := s.decodeJSON(w, r, &in); err != nil {
		return err
	}
	u, err := s.svc.CreateUser(r.Context(), in)
	if err != nil {
		return err
	}
	w.Header().Set("Location", escapedPath("users", u.Name))
	return writeJSON(w, http.StatusCreated, u)
}

func (s *Server) getUser(w http.ResponseWriter, r *http.Request) error {
	u, err := s.svc.GetUser(r.Context(), r.PathValue("user"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, u)
}

func (s *Server) updateUser(w http.ResponseWriter, r *http.Request) error {
	var in registry.UserUpdate
	if err := s.decodeJSON(w, r, &in); err != nil {
		return err
	}
	u, err := s.svc.UpdateUser(r.Context(), r.PathValue("user"), in)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, u)
}

func (s *Server) deleteUser(w http.ResponseWriter, r *http.Request) error {
	if err := s.svc.DeleteUser(r.Context(), r.PathValue("user")); err != nil {
		return err
	}
	return noContent(w)
}

func (s *Server) listTokens(w http.ResponseWriter, r *http.Request) error {
	ts, err := s.svc.ListTokens(r.Context(), r.PathValue("user"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, tokenList{Items: ts})
}

func (s *Server) createToken(w http.ResponseWriter, r *http.Request) error {
	var in registry.TokenCreate
	if err := s.decodeOptionalJSON(w, r, &in); err != nil {
		return err
	}
	tk, err := s.svc.CreateToken(r.Context(), r.PathValue("user"), in)
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store") // the secret is in the body
	return writeJSON(w, http.StatusCreated, tk)
}

func (s *Server) revokeToken(w http.ResponseWriter, r *http.Request) error {
	if err := s.svc.RevokeToken(r.Context(), r.PathValue("user"), r.PathValue("id")); err != nil {
		return err
	}
	return noContent(w)
}

func (s *Server) listRoles(w http.ResponseWriter, r *http.Request) error {
	bs, err := s.svc.ListRoleBindings(r.Context(), r.URL.Query().Get("principal"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, roleList{Items: bs})
}

func (s *Server) grantRole(w http.ResponseWriter, r *http.Request) error {
	var in registry.RoleGrant
	if err := s.decodeJSON(w, r, &in); err != nil {
		return err
	}
	b, err := s.svc.GrantRole(r.Context(), in)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, b)
}

func (s *Server) revokeRole(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	g := registry.RoleGrant{Principal: q.Get("principal"), Role: cairn.Role(q.Get("role")), Scope: q.Get("scope")}
	if err := s.svc.RevokeRole(r.Context(), g); err != nil {
		return err
	}
	return noContent(w)
}
