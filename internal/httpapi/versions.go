package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/internal/registry"
)

func (s *Server) listVersions(w http.ResponseWriter, r *http.Request) error {
	req, err := listRequest(r)
	if err != nil {
		return err
	}
	page, err := s.svc.ListVersions(cairn.NewContextWithFixedJSON(r.Context()), r.PathValue("name"), req)
	if err != nil {
		return err
	}
	return writeVersionPage(w, page)
}

// createVersion answers 201 for a new version and 200 when the push was a
// retry of the model's latest version (checksum versioning).
func (s *Server) createVersion(w http.ResponseWriter, r *http.Request) error {
	var spec cairn.VersionSpec
	if err := s.decodeManifest(w, r, &spec); err != nil {
		return err
	}
	res, err := s.svc.CreateVersion(r.Context(), r.PathValue("name"), spec)
	if err != nil {
		return err
	}
	w.Header().Set("Location", versionPath(res.Version))
	status := http.StatusCreated
	if res.Existing {
		status = http.StatusOK
	}
	return writeJSON(w, status, res)
}

func versionPath(v *cairn.Version) string {
	return escapedPath("models", v.Model, "versions", strconv.FormatInt(v.Number, 10))
}

func (s *Server) getVersion(w http.ResponseWriter, r *http.Request) error {
	n, err := pathVersion(r)
	if err != nil {
		return err
	}
	at, err := queryTime(r, "at")
	if err != nil {
		return err
	}
	var v *cairn.Version
	if at.IsZero() {
		v, err = s.svc.GetVersion(cairn.NewContextWithFixedJSON(r.Context()), r.PathValue("name"), n)
	} else {
		// Not to render only: ResolveAt compares the version's created_at.
		v, err = s.svc.ResolveAt(r.Context(), cairn.VersionRef(r.PathValue("name"), n), at)
	}
	if err != nil {
		return err
	}
	return writeVersion(w, v)
}

func (s *Server) updateVersion(w http.ResponseWriter, r *http.Request) error {
	n, err := pathVersion(r)
	if err != nil {
		return err
	}
	var in registry.VersionUpdate
	if err := s.decodeJSON(w, r, &in); err != nil {
		return err
	}
	v, err := s.svc.UpdateVersion(r.Context(), r.PathValue("name"), n, in)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, v)
}

func (s *Server) deleteVersion(w http.ResponseWriter, r *http.Request) error {
	n, err := pathVersion(r)
	if err != nil {
		return err
	}
	remove, err := queryBool(r, "remove_aliases")
	if err != nil {
		return err
	}
	if err := s.svc.DeleteVersion(r.Context(), r.PathValue("name"), n, remove); err != nil {
		return err
	}
	return noContent(w)
}

func (s *Server) finalizeVersion(w http.ResponseWriter, r *http.Request) error {
	n, err := pathVersion(r)
	if err != nil {
		return err
	}
	var in finalizeRequest
	if err := s.decodeOptionalJSON(w, r, &in); err != nil {
		return err
	}
	v, err := s.svc.FinalizeVersion(r.Context(), r.PathValue("name"), n, in.Aliases)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, v)
}

func (s *Server) linkVersion(w http.ResponseWriter, r *http.Request) error {
	var in registry.LinkRequest
	if err := s.decodeJSON(w, r, &in); err != nil {
		return err
	}
	if in.Source == "" {
		return cairn.Errorf(cairn.EINVALID, "source is required: a reference to the version to link, such as churn@v3")
	}
	v, err := s.svc.LinkVersion(r.Context(), r.PathValue("name"), in)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, v)
}

func (s *Server) archiveVersion(w http.ResponseWriter, r *http.Request) error {
	n, err := pathVersion(r)
	if err != nil {
		return err
	}
	var in archiveRequest
	if err := s.decodeOptionalJSON(w, r, &in); err != nil {
		return err
	}
	v, err := s.svc.ArchiveVersion(r.Context(), r.PathValue("name"), n, in.RemoveAliases)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, v)
}

func (s *Server) restoreVersion(w http.ResponseWriter, r *http.Request) error {
	n, err := pathVersion(r)
	if err != nil {
		return err
	}
	if err := s.decodeOptionalJSON(w, r, &emptyRequest{}); err != nil {
		return err
	}
	v, err := s.svc.RestoreVersion(r.Context(), r.PathValue("name"), n)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, v)
}

func (s *Server) undeleteVersion(w http.ResponseWriter, r *http.Request) error {
	n, err := pathVersion(r)
	if err != nil {
		return err
	}
	if err := s.decodeOptionalJSON(w, r, &emptyRequest{}); err != nil {
		return err
	}
	v, err := s.svc.UndeleteVersion(r.Context(), r.PathValue("name"), n)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, v)
}

func (s *Server) resolve(w http.ResponseWriter, r *http.Request) error {
	var (
		v   *cairn.Version
		err error
	)
	ctx := cairn.NewContextWithFixedJSON(r.Context())
	if r.URL.RawQuery == "" {
		v, err = s.svc.Resolve(ctx, r.PathValue("ref"))
	} else {
		var at time.Time
		if at, err = queryTime(r, "at"); err != nil {
			return err
		}
		if at.IsZero() {
			v, err = s.svc.Resolve(ctx, r.PathValue("ref"))
		} else {
			v, err = s.svc.ResolveAt(r.Context(), r.PathValue("ref"), at) // reads created_at
		}
	}
	if err != nil {
		return err
	}
	return writeVersion(w, v)
}

// The read handlers above ask the store for versions to render
// (cairn.NewContextWithFixedJSON): a ready version's fixed fields come
// pre-encoded and are spliced in by cairn.AppendVersionJSON. The bytes are
// those writeJSON would write for the decoded version.

// writeVersion answers 200 with v.
func writeVersion(w http.ResponseWriter, v *cairn.Version) error {
	b, err := cairn.AppendVersionJSON(make([]byte, 0, 2048), v)
	if err != nil {
		return err
	}
	return writeBody(w, http.StatusOK, append(b, '\n'))
}

// writeVersionPage answers 200 with page, as json.Marshal(page) writes it.
func writeVersionPage(w http.ResponseWriter, page *cairn.VersionPage) error {
	b := make([]byte, 0, 1024*(1+len(page.Items)))
	b = append(b, `{"items":[`...)
	for i, v := range page.Items {
		if i > 0 {
			b = append(b, ',')
		}
		var err error
		if b, err = cairn.AppendVersionJSON(b, v); err != nil {
			return err
		}
	}
	tok, err := json.Marshal(page.NextToken)
	if err != nil {
		return fmt.Errorf("encode response: %w", err)
	}
	b = append(b, `],"next_page_token":`...)
	b = append(b, tok...)
	return writeBody(w, http.StatusOK, append(b, "}\n"...))
}
