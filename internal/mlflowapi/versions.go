package mlflowapi

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/internal/registry"
)

// Model version handlers (MLFLOW.md §2, rows 8–14, 16, 18).

func versionNotFound(name string, n int64) error {
	return &apiError{status: http.StatusNotFound, code: codeDoesNotExist, msg: sprintf("Model Version (name=%s, version=%d) not found", name, n)}
}

// versionErr rewrites the registry's not-found for a version into MLflow's
// message for the model or the version; other errors pass through.
func (s *Server) versionErr(ctx context.Context, err error, name string, n int64) error {
	if !cairn.IsCode(err, cairn.ENOTFOUND) {
		return err
	}
	if _, merr := s.getModel(ctx, name); merr != nil {
		return merr
	}
	return versionNotFound(name, n)
}

// getVersion returns a live version with MLflow's messages when there is
// none.
func (s *Server) getVersion(ctx context.Context, name string, n int64) (*cairn.Version, error) {
	if cairn.ValidateModelName(name) != nil {
		return nil, modelNotFound(name)
	}
	if n < 1 {
		return nil, s.versionErr(ctx, cairn.Errorf(cairn.ENOTFOUND, "no version %d", n), name, n)
	}
	v, err := s.svc.GetVersion(ctx, name, n)
	if err != nil {
		return nil, s.versionErr(ctx, err, name, n)
	}
	return v, nil
}

// nameAndVersion reads the required name and version parameters.
func nameAndVersion(p *params) (string, int64, error) {
	name, err := p.required("name")
	if err != nil {
		return "", 0, err
	}
	_, n, err := p.version()
	return name, n, err
}

// writeVersion answers {"model_version": v} as MLflow does, written by
// hand (see appendModelVersion): it is the body of every model-version
// read and write, the get and get-by-alias hot paths among them.
func (s *Server) writeVersion(w http.ResponseWriter, v *cairn.Version) error {
	mv := toModelVersion(v)
	buf := s.bodies.get()
	defer s.bodies.put(buf)
	b := append(*buf, `{"model_version":`...)
	b = appendModelVersion(b, &mv)
	b = append(b, '}')
	*buf = b
	writeJSONBytes(w, b)
	return nil
}

// createModelVersion registers a version. MLflow semantics: every call is
// a new version, never deduplicated. The source decides what Cairn
// records:
//
//   - models:/NAME/N or models:/NAME@ALIAS naming a Cairn version (what
//     MlflowClient.copy_model_version sends), or a version's download URI
//     (mlflow-artifacts:/_cairn/versions/NAME/N): the new version gets
//     that version's files, already stored, and is READY at once;
//   - a source whose files Cairn stores (mlflow-artifacts:/…, runs:/RUN/…
//     of a Cairn run): the files are snapshotted into the version's
//     manifest and the record filled from the run and the MLmodel file
//     (register.go); READY at once;
//   - anything else (s3://…, gs://…, an unknown run, an empty directory)
//     is an external reference: a version without files whose source is
//     the URI, READY at once so that clients polling model-versions/get
//     see READY. The run's metrics, params and commit still fill the
//     record when run_id names a Cairn run.
//
// run_link and model_id, which Cairn's version record lacks, are kept as the
// reserved version tags cairn.mlflow.run_link and cairn.mlflow.model_id. A
// version tagged mlflow.prompt.is_prompt is registered as given (a prompt's
// source is a placeholder); its model's kind (prompt when the registered
// model was created with the tag) is what makes it a prompt in Cairn.
func (s *Server) createModelVersion(w http.ResponseWriter, r *http.Request) error {
	p, name, err := s.readModelParams(w, r)
	if err != nil {
		return err
	}
	source, err := p.required("source")
	if err != nil {
		return err
	}
	runID, err := p.str("run_id")
	if err != nil {
		return err
	}
	runLink, err := p.str("run_link")
	if err != nil {
		return err
	}
	desc, err := p.str("description")
	if err != nil {
		return err
	}
	modelID, err := p.str("model_id")
	if err != nil {
		return err
	}
	tags, err := p.tags("Model version")
	if err != nil {
		return err
	}
	for k := range tags {
		if err := checkTagNotReserved(k); err != nil {
			return err
		}
	}
	if tags[isPromptTag] != "true" {
		if err := validateSource(source, runID, modelID); err != nil {
			return err
		}
	}
	if tags == nil {
		tags = map[string]string{}
	}
	if runLink != "" {
		tags[runLinkTag] = runLink
	}
	loggedModelID := modelID
	if id, ok := loggedModelSource(source); ok && loggedModelID == "" {
		loggedModelID = id // MLflow 3 sends model_id too; older callers may not
	}
	if loggedModelID != "" {
		tags[modelIDTag] = loggedModelID
	}
	if _, err := s.getModel(r.Context(), name); err != nil {
		return err
	}
	spec := cairn.VersionSpec{Source: source, RunID: runID, Description: desc, Tags: tags}
	var v *cairn.Version
	if files, ok := s.copySource(r.Context(), source); ok {
		spec.Files = files
		v, err = s.svc.RegisterExternal(r.Context(), name, spec)
	} else if tags[isPromptTag] == "true" {
		// A prompt's source is a placeholder; its text is in its tags.
		v, err = s.svc.RegisterExternal(r.Context(), name, spec)
	} else {
		v, err = s.registerFromSource(r.Context(), name, spec, loggedModelID)
	}
	if err != nil {
		return lookupErr(err, name)
	}
	return s.writeVersion(w, v)
}

// copySource returns the files of the Cairn version a models:/ source
// names, if it names one.
func (s *Server) copySource(ctx context.Context, source string) ([]cairn.File, bool) {
	if p, ok := artifactsURIPath(source); ok && strings.HasPrefix(source, "mlflow-artifacts:") {
		// A version's download URI, mlflow-artifacts:/_cairn/versions/NAME/N.
		sub, ok := strings.CutPrefix(p, versionFilesDir)
		if !ok {
			return nil, false
		}
		model, n, rest, err := parseVersionPath(sub, true)
		if err != nil || rest != "" {
			return nil, false
		}
		v, err := s.svc.GetVersion(ctx, model, n)
		if err != nil || v.Status != cairn.StatusReady || len(v.Files) == 0 {
			return nil, false
		}
		return v.Files, true
	}
	if !strings.HasPrefix(source, "models:/") {
		return nil, false
	}
	ref, err := cairn.ParseRef(source)
	if err != nil {
		return nil, false // models:/m-… (a logged model) and other shapes
	}
	v, err := s.svc.Resolve(ctx, ref.String())
	if err != nil || v.Status != cairn.StatusReady || len(v.Files) == 0 {
		return nil, false
	}
	return v.Files, true
}

// validateSource refuses the sources MLflow's server refuses: a path with
// relative segments (.., also percent-encoded), which could reach outside
// a run's artifacts, and a local path without a run or logged model to own
// it. Cairn never reads a source, but keeps MLflow's contract.
func validateSource(source, runID, modelID string) error {
	if err := cairn.ValidateText("source", source); err != nil {
		return invalidParam("Invalid model version source: '%s'. %s", truncate(source, 200), cairn.ErrorMessage(err))
	}
	unq := source
	for i := 0; i < 10; i++ {
		u, err := url.QueryUnescape(unq)
		if err != nil || u == unq {
			break
		}
		unq = u
	}
	relative := strings.Contains(unq, "\x00")
	for _, seg := range strings.Split(unq, "/") {
		relative = relative || seg == ".."
	}
	if relative {
		return invalidParam("Invalid model version source: '%s'. If supplying a source as an http, https, local file path, ftp, objectstore, or mlflow-artifacts uri, an absolute path must be provided without relative path references present. Please provide an absolute path.", truncate(source, 200))
	}
	if isLocal(source) && runID == "" && modelID == "" {
		return invalidParam("Invalid model version source: '%s'. To use a local path as a model version source, the run_id request parameter has to be specified and the local path has to be contained within the artifact directory of the run specified by the run_id.", truncate(source, 200))
	}
	return nil
}

// isLocal reports whether a source is a local path: no scheme, or file:.
func isLocal(source string) bool {
	if strings.HasPrefix(source, "file:") {
		return true
	}
	u, err := url.Parse(source)
	if err != nil {
		return false
	}
	// A one-letter scheme is a Windows drive (C:\models).
	return u.Scheme == "" || len(u.Scheme) == 1
}

func (s *Server) getModelVersion(w http.ResponseWriter, r *http.Request) error {
	p, err := s.readParams(w, r)
	if err != nil {
		return err
	}
	name, n, err := nameAndVersion(p)
	if err != nil {
		return err
	}
	// The answer shows only a version's summary fields (toModelVersion),
	// so the store need not read or decode the rest of the record.
	v, err := s.getVersion(cairn.NewContextWithSummary(r.Context()), name, n)
	if err != nil {
		return err
	}
	return s.writeVersion(w, v)
}

func (s *Server) updateModelVersion(w http.ResponseWriter, r *http.Request) error {
	p, err := s.readParams(w, r)
	if err != nil {
		return err
	}
	name, n, err := nameAndVersion(p)
	if err != nil {
		return err
	}
	// As in MLflow, an absent description clears it.
	desc, err := p.str("description")
	if err != nil {
		return err
	}
	if _, err := s.getVersion(r.Context(), name, n); err != nil {
		return err
	}
	v, err := s.svc.UpdateVersion(r.Context(), name, n, registry.VersionUpdate{Description: &desc})
	if err != nil {
		return s.versionErr(r.Context(), err, name, n)
	}
	return s.writeVersion(w, v)
}

func (s *Server) transitionStage(w http.ResponseWriter, r *http.Request) error {
	p, err := s.readParams(w, r)
	if err != nil {
		return err
	}
	name, n, err := nameAndVersion(p)
	if err != nil {
		return err
	}
	raw, err := p.required("stage")
	if err != nil {
		return err
	}
	st, err := parseStages([]string{raw})
	if err != nil {
		return err
	}
	archive, err := p.boolean("archive_existing_versions")
	if err != nil {
		return err
	}
	if archive && st[0] != cairn.StageStaging && st[0] != cairn.StageProduction {
		return invalidParam("Model version transition cannot archive existing model versions because '%s' is not an Active stage. Valid stages are ['Staging', 'Production']", raw)
	}
	if _, err := s.getVersion(r.Context(), name, n); err != nil {
		return err
	}
	v, err := s.svc.SetStage(r.Context(), name, n, st[0], archive)
	if err != nil {
		return s.versionErr(r.Context(), err, name, n)
	}
	return s.writeVersion(w, v)
}

// deleteModelVersion tombstones the version and deletes the aliases that
// point at it, as MLflow does.
func (s *Server) deleteModelVersion(w http.ResponseWriter, r *http.Request) error {
	p, err := s.readParams(w, r)
	if err != nil {
		return err
	}
	name, n, err := nameAndVersion(p)
	if err != nil {
		return err
	}
	if err := s.svc.Authorize(r.Context(), cairn.RoleMaintainer, name); err != nil {
		return err
	}
	if _, err := s.getVersion(r.Context(), name, n); err != nil {
		return err
	}
	if err := s.svc.DeleteVersion(r.Context(), name, n, true); err != nil {
		return s.versionErr(r.Context(), err, name, n)
	}
	return writeJSON(w, empty)
}

// getDownloadURI answers where the client downloads the version's files
// from. A version whose files Cairn stores (snapshotted at registration,
// or pushed natively) answers mlflow-artifacts:/_cairn/versions/NAME/N,
// which the client reads through the artifact proxy: the version's own
// manifest, immutable whatever later happens to the run's artifacts. A
// version without files (an external reference) answers its source
// verbatim, as MLflow's reference store does.
func (s *Server) getDownloadURI(w http.ResponseWriter, r *http.Request) error {
	p, err := s.readParams(w, r)
	if err != nil {
		return err
	}
	name, n, err := nameAndVersion(p)
	if err != nil {
		return err
	}
	v, err := s.getVersion(r.Context(), name, n)
	if err != nil {
		return err
	}
	if len(v.Files) > 0 {
		return writeJSON(w, map[string]string{"artifact_uri": "mlflow-artifacts:/" + versionArtifactRoot(v.Model, v.Number)})
	}
	if v.Source == "" {
		return &apiError{status: http.StatusNotFound, code: codeDoesNotExist, msg: sprintf(
			"Model Version (name=%s, version=%d) has neither files nor a source URI", name, n)}
	}
	return writeJSON(w, map[string]string{"artifact_uri": v.Source})
}

func (s *Server) setModelVersionTag(w http.ResponseWriter, r *http.Request) error {
	p, err := s.readParams(w, r)
	if err != nil {
		return err
	}
	name, n, err := nameAndVersion(p)
	if err != nil {
		return err
	}
	key, err := p.required("key")
	if err != nil {
		return err
	}
	value, err := p.str("value")
	if err != nil {
		return err
	}
	if err := validateTag("Model version", key, value); err != nil {
		return err
	}
	if err := checkTagNotReserved(key); err != nil {
		return err
	}
	if _, err := s.getVersion(r.Context(), name, n); err != nil {
		return err
	}
	if _, err := s.svc.UpdateVersion(r.Context(), name, n, registry.VersionUpdate{SetTags: map[string]string{key: value}}); err != nil {
		return s.versionErr(r.Context(), err, name, n)
	}
	return writeJSON(w, empty)
}

func (s *Server) deleteModelVersionTag(w http.ResponseWriter, r *http.Request) error {
	p, err := s.readParams(w, r)
	if err != nil {
		return err
	}
	name, n, err := nameAndVersion(p)
	if err != nil {
		return err
	}
	key, err := p.required("key")
	if err != nil {
		return err
	}
	if err := checkTagNotReserved(key); err != nil {
		return err
	}
	if _, err := s.getVersion(r.Context(), name, n); err != nil {
		return err
	}
	if _, err := s.svc.UpdateVersion(r.Context(), name, n, registry.VersionUpdate{DeleteTags: []string{key}}); err != nil {
		return s.versionErr(r.Context(), err, name, n)
	}
	return writeJSON(w, empty)
}

// Search limits for model versions: MLflow's client asks for 10,000 by
// default and its server allows up to 200,000. The registry pages by at
// most registry.MaxPageSize, so a search reads as many registry pages as
// it needs and streams them out.
const (
	defaultVersionResults = 10_000
	maxVersionResults     = 200_000
)

func (s *Server) searchModelVersions(w http.ResponseWriter, r *http.Request) error {
	p, err := s.readParams(w, r)
	if err != nil {
		return err
	}
	req, max, err := searchRequest(p, &versionSearch, defaultVersionResults, maxVersionResults)
	if err != nil {
		return err
	}
	if len(req.OrderBy) == 0 {
		// MLflow's default order: most recently updated first.
		req.OrderBy = []string{"updated_at DESC"}
	}
	// The first page is read before anything is written, so that a bad
	// filter or token is still an MLflow error response. The answer shows
	// only summary fields (toModelVersion), so the store reads only those.
	ctx := cairn.NewContextWithSummary(r.Context())
	req.PageSize = int(min(max, registry.MaxPageSize))
	page, err := s.svc.ListVersions(ctx, "", req)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	// Written a page at a time, each page encoded by hand (see
	// appendModelVersion) into one pooled buffer.
	buf := s.bodies.get()
	defer s.bodies.put(buf)
	b := append(*buf, `{"model_versions":[`...)
	defer func() { *buf = b[:0] }()
	left := max
	first := true
	for {
		for _, v := range page.Items {
			if !first {
				b = append(b, ',')
			}
			first = false
			mv := toModelVersion(v)
			b = appendModelVersion(b, &mv)
		}
		if _, err := w.Write(b); err != nil {
			return nil // the client left
		}
		b = b[:0]
		left -= int64(len(page.Items))
		if page.NextToken == "" || left <= 0 {
			break
		}
		req.PageToken, req.PageSize = page.NextToken, int(min(left, registry.MaxPageSize))
		if page, err = s.svc.ListVersions(ctx, "", req); err != nil {
			return err
		}
	}
	tail := `]}`
	if page.NextToken != "" {
		tok, _ := json.Marshal(page.NextToken)
		tail = `],"next_page_token":` + string(tok) + `}`
	}
	_, _ = w.Write([]byte(tail))
	return nil
}
