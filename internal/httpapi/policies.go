package httpapi

import (
	"math"
	"net/http"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/internal/registry"
)

// policyList is the answer of the policy lists.
type policyList struct {
	Items []*cairn.Policy `json:"items"`
}

func (s *Server) listPolicies(w http.ResponseWriter, r *http.Request) error {
	all, err := queryBool(r, "include_deleted")
	if err != nil {
		return err
	}
	ps, err := s.svc.ListPolicies(r.Context(), all)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, policyList{Items: ps})
}

func (s *Server) createPolicy(w http.ResponseWriter, r *http.Request) error {
	var in registry.PolicyCreate
	if err := s.decodeJSON(w, r, &in); err != nil {
		return err
	}
	p, err := s.svc.CreatePolicy(r.Context(), in)
	if err != nil {
		return err
	}
	w.Header().Set("Location", escapedPath("policies", p.Name))
	return writeJSON(w, http.StatusCreated, p)
}

func (s *Server) getPolicy(w http.ResponseWriter, r *http.Request) error {
	v, err := queryInt(r, "version", 0, 1, math.MaxInt64)
	if err != nil {
		return err
	}
	p, err := s.svc.GetPolicy(r.Context(), r.PathValue("policy"), v)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, p)
}

func (s *Server) updatePolicy(w http.ResponseWriter, r *http.Request) error {
	var in cairn.PolicySpec
	if err := s.decodeJSON(w, r, &in); err != nil {
		return err
	}
	p, err := s.svc.UpdatePolicy(r.Context(), r.PathValue("policy"), in)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, p)
}

func (s *Server) deletePolicy(w http.ResponseWriter, r *http.Request) error {
	if err := s.svc.DeletePolicy(r.Context(), r.PathValue("policy")); err != nil {
		return err
	}
	return noContent(w)
}

func (s *Server) listPolicyVersions(w http.ResponseWriter, r *http.Request) error {
	ps, err := s.svc.ListPolicyVersions(r.Context(), r.PathValue("policy"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, policyList{Items: ps})
}
