package mlflowapi

import (
	"context"
	"net/http"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/internal/registry"
)

// Registered model handlers (MLFLOW.md §2, rows 1–7, 15, 17, 19–21).

// modelNotFound is MLflow's wording for an unknown registered model.
func modelNotFound(name string) error {
	return &apiError{status: http.StatusNotFound, code: codeDoesNotExist, msg: sprintf("Registered Model with name=%s not found", name)}
}

// lookupErr rewrites the registry's not-found for a model into MLflow's
// message; other errors pass through.
func lookupErr(err error, name string) error {
	if cairn.IsCode(err, cairn.ENOTFOUND) {
		return modelNotFound(name)
	}
	return err
}

// readModelParams reads a request's parameters and its required name.
func (s *Server) readModelParams(w http.ResponseWriter, r *http.Request) (*params, string, error) {
	p, err := s.readParams(w, r)
	if err != nil {
		return nil, "", err
	}
	name, err := p.required("name")
	return p, name, err
}

// getModel returns a live model, with MLflow's message when there is none.
// A name Cairn cannot hold cannot name an existing model.
func (s *Server) getModel(ctx context.Context, name string) (*cairn.Model, error) {
	if cairn.ValidateModelName(name) != nil {
		return nil, modelNotFound(name)
	}
	m, err := s.svc.GetModel(ctx, name)
	return m, lookupErr(err, name)
}

// writeModel answers {"registered_model": …} with the model's latest
// version per stage.
func (s *Server) writeModel(ctx context.Context, w http.ResponseWriter, m *cairn.Model) error {
	latest, err := s.latestVersions(ctx, m, nil)
	if err != nil {
		return err
	}
	return writeJSON(w, map[string]any{"registered_model": toRegisteredModel(m, latest)})
}

func (s *Server) createRegisteredModel(w http.ResponseWriter, r *http.Request) error {
	p, name, err := s.readModelParams(w, r)
	if err != nil {
		return err
	}
	tags, err := p.tags("Registered model")
	if err != nil {
		return err
	}
	desc, err := p.str("description")
	if err != nil {
		return err
	}
	kind := cairn.KindModel
	if tags[isPromptTag] == "true" {
		kind = cairn.KindPrompt
	}
	m, err := s.svc.CreateModel(r.Context(), registry.ModelCreate{Name: name, Kind: kind, Description: desc, Tags: tags})
	if cairn.IsCode(err, cairn.ECONFLICT) {
		msg := sprintf("Registered Model (name=%s) already exists.", name)
		if old, gerr := s.svc.Store().GetModel(r.Context(), name); gerr == nil && old.DeletedAt != nil {
			msg += " It was deleted; Cairn keeps deleted models' names (restore it with 'cairn models restore')."
		}
		return &apiError{status: http.StatusBadRequest, code: codeAlreadyExists, msg: msg}
	}
	if err != nil {
		return err
	}
	return writeJSON(w, map[string]any{"registered_model": toRegisteredModel(m, nil)})
}

func (s *Server) getRegisteredModel(w http.ResponseWriter, r *http.Request) error {
	_, name, err := s.readModelParams(w, r)
	if err != nil {
		return err
	}
	m, err := s.getModel(r.Context(), name)
	if err != nil {
		return err
	}
	return s.writeModel(r.Context(), w, m)
}

func (s *Server) renameRegisteredModel(w http.ResponseWriter, r *http.Request) error {
	p, name, err := s.readModelParams(w, r)
	if err != nil {
		return err
	}
	newName, err := p.required("new_name")
	if err != nil {
		return err
	}
	if _, err := s.getModel(r.Context(), name); err != nil {
		return err
	}
	m, err := s.svc.RenameModel(r.Context(), name, newName)
	switch {
	case cairn.IsCode(err, cairn.ECONFLICT):
		return &apiError{status: http.StatusBadRequest, code: codeAlreadyExists, msg: sprintf("Registered Model (name=%s) already exists.", newName)}
	case err != nil:
		return lookupErr(err, name)
	}
	return s.writeModel(r.Context(), w, m)
}

func (s *Server) updateRegisteredModel(w http.ResponseWriter, r *http.Request) error {
	p, name, err := s.readModelParams(w, r)
	if err != nil {
		return err
	}
	// MLflow sets the description to what was sent, clearing it when the
	// field is absent.
	desc, err := p.str("description")
	if err != nil {
		return err
	}
	if _, err := s.getModel(r.Context(), name); err != nil {
		return err
	}
	m, err := s.svc.UpdateModel(r.Context(), name, registry.ModelUpdate{Description: &desc})
	if err != nil {
		return lookupErr(err, name)
	}
	return s.writeModel(r.Context(), w, m)
}

// deleteRegisteredModel tombstones the model after deleting its aliases:
// MLflow deletes a model with everything in it. Its versions stay in the
// tombstoned model, restorable with it.
func (s *Server) deleteRegisteredModel(w http.ResponseWriter, r *http.Request) error {
	_, name, err := s.readModelParams(w, r)
	if err != nil {
		return err
	}
	if err := s.svc.Authorize(r.Context(), cairn.RoleMaintainer, name); err != nil {
		return err
	}
	if _, err := s.getModel(r.Context(), name); err != nil {
		return err
	}
	if err := s.svc.DeleteModelAndAliases(r.Context(), name); err != nil {
		return lookupErr(err, name)
	}
	return writeJSON(w, empty)
}

// Search limits for registered models (MLflow's defaults).
const (
	defaultModelResults = 100
	maxModelResults     = 1000
)

func (s *Server) searchRegisteredModels(w http.ResponseWriter, r *http.Request) error {
	p, err := s.readParams(w, r)
	if err != nil {
		return err
	}
	req, max, err := searchRequest(p, &modelSearch, defaultModelResults, maxModelResults)
	if err != nil {
		return err
	}
	req.PageSize, req.Latest = int(max), true
	page, err := s.svc.ListModels(r.Context(), req)
	if err != nil {
		return err
	}
	per := latestByModel(page.Items, page.Latest)
	// {"registered_models": […], "next_page_token": …}, as json.Marshal
	// would write it, without its reflection (see appendRegisteredModel).
	buf := s.bodies.get()
	defer s.bodies.put(buf)
	body := append(*buf, `{"registered_models":[`...)
	for i, m := range page.Items {
		if i > 0 {
			body = append(body, ',')
		}
		var latest []modelVersion
		for _, v := range per[m.Name] {
			latest = append(latest, toModelVersion(v))
		}
		rm := toRegisteredModel(m, latest)
		body = appendRegisteredModel(body, &rm)
	}
	body = append(body, ']')
	body = appendOptional(body, `,"next_page_token":`, page.NextToken)
	*buf = append(body, '}')
	writeJSONBytes(w, *buf)
	return nil
}

// searchRequest reads filter, order_by, max_results and page_token and
// translates them for the registry; max is the number of results asked for.
func searchRequest(p *params, e *searchEntity, def, limit int64) (registry.ListRequest, int64, error) {
	filter, err := p.str("filter")
	if err != nil {
		return registry.ListRequest{}, 0, err
	}
	orderBy, err := p.strings("order_by")
	if err != nil {
		return registry.ListRequest{}, 0, err
	}
	max, err := p.integer("max_results", def)
	if err != nil {
		return registry.ListRequest{}, 0, err
	}
	if max > limit {
		return registry.ListRequest{}, 0, invalidParam("Invalid value for request parameter max_results. It must be at most %d, but got value %d", limit, max)
	}
	if max < 1 {
		return registry.ListRequest{}, 0, invalidParam("Invalid value for request parameter max_results. It must be a positive integer, but got value %d", max)
	}
	token, err := p.str("page_token")
	if err != nil {
		return registry.ListRequest{}, 0, err
	}
	f, err := translateFilter(filter, e)
	if err != nil {
		return registry.ListRequest{}, 0, err
	}
	order, err := translateOrderBy(orderBy, e)
	if err != nil {
		return registry.ListRequest{}, 0, err
	}
	return registry.ListRequest{Filter: f.String(), OrderBy: order, PageToken: token}, max, nil
}

// parseStages canonicalizes MLflow stage names (any case).
func parseStages(in []string) ([]cairn.Stage, error) {
	out := make([]cairn.Stage, 0, len(in))
	for _, s := range in {
		st, err := cairn.ParseStage(s)
		if err != nil {
			return nil, invalidParam("Invalid Model Version stage: %s. Value must be one of None, Staging, Production, Archived.", truncate(s, 60))
		}
		out = append(out, st)
	}
	return out, nil
}

func (s *Server) getLatestVersions(w http.ResponseWriter, r *http.Request) error {
	p, name, err := s.readModelParams(w, r)
	if err != nil {
		return err
	}
	raw, err := p.strings("stages")
	if err != nil {
		return err
	}
	want, err := parseStages(raw)
	if err != nil {
		return err
	}
	m, err := s.getModel(r.Context(), name)
	if err != nil {
		return err
	}
	latest, err := s.latestVersions(r.Context(), m, want)
	if err != nil {
		return lookupErr(err, name)
	}
	return writeJSON(w, map[string]any{"model_versions": latest})
}

func (s *Server) setRegisteredModelTag(w http.ResponseWriter, r *http.Request) error {
	p, name, err := s.readModelParams(w, r)
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
	if err := validateTag("Registered model", key, value); err != nil {
		return err
	}
	if _, err := s.getModel(r.Context(), name); err != nil {
		return err
	}
	if _, err := s.svc.UpdateModel(r.Context(), name, registry.ModelUpdate{SetTags: map[string]string{key: value}}); err != nil {
		return lookupErr(err, name)
	}
	return writeJSON(w, empty)
}

func (s *Server) deleteRegisteredModelTag(w http.ResponseWriter, r *http.Request) error {
	p, name, err := s.readModelParams(w, r)
	if err != nil {
		return err
	}
	key, err := p.required("key")
	if err != nil {
		return err
	}
	if _, err := s.getModel(r.Context(), name); err != nil {
		return err
	}
	// Deleting a tag the model lacks succeeds and changes nothing, as in MLflow.
	if _, err := s.svc.UpdateModel(r.Context(), name, registry.ModelUpdate{DeleteTags: []string{key}}); err != nil {
		return lookupErr(err, name)
	}
	return writeJSON(w, empty)
}

// aliasName reads and validates the alias parameter by MLflow's rules
// (mlflow/utils/validation.py), which match Cairn's: letters, digits, '_'
// and '-', at most 255 characters, not "latest" and not v<number>.
func aliasName(p *params) (string, error) {
	alias, err := p.required("alias")
	if err != nil {
		return "", err
	}
	for i := 0; i < len(alias); i++ {
		if !isWordByte(alias[i]) {
			return "", invalidParam("Invalid alias name: '%s'. Names may only contain alphanumerics, underscores (_), and dashes (-).", truncate(alias, 250))
		}
	}
	if len(alias) > cairn.MaxAliasLength {
		return "", invalidParam("Registered model alias name '%s' had length %d, which exceeded length limit of %d", truncate(alias, 250), len(alias), cairn.MaxAliasLength)
	}
	if equalFold(alias, "latest") {
		return "", invalidParam("'latest' alias name (case insensitive) is reserved.")
	}
	if len(alias) > 1 && (alias[0] == 'v' || alias[0] == 'V') && allDigits(alias[1:]) {
		return "", invalidParam("Version alias name '%s' is reserved.", alias)
	}
	if err := cairn.ValidateAliasName(alias); err != nil {
		return "", invalidParam("%s", cairn.ErrorMessage(err))
	}
	return alias, nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if a[i]|0x20 != b[i]|0x20 {
			return false
		}
	}
	return true
}

func (s *Server) setAlias(w http.ResponseWriter, r *http.Request) error {
	p, name, err := s.readModelParams(w, r)
	if err != nil {
		return err
	}
	alias, err := aliasName(p)
	if err != nil {
		return err
	}
	_, n, err := p.version()
	if err != nil {
		return err
	}
	if _, err := s.getVersion(r.Context(), name, n); err != nil {
		return err
	}
	if _, err := s.svc.SetAlias(r.Context(), name, alias, n, nil); err != nil {
		return s.versionErr(r.Context(), err, name, n)
	}
	return writeJSON(w, empty)
}

func (s *Server) deleteAlias(w http.ResponseWriter, r *http.Request) error {
	p, name, err := s.readModelParams(w, r)
	if err != nil {
		return err
	}
	alias, err := aliasName(p)
	if err != nil {
		return err
	}
	if err := s.svc.Authorize(r.Context(), cairn.RoleMaintainer, name); err != nil {
		return err
	}
	m, err := s.getModel(r.Context(), name)
	if err != nil {
		return err
	}
	if _, ok := m.Aliases[alias]; !ok {
		// MLflow deletes nothing and succeeds.
		return writeJSON(w, empty)
	}
	// The alias may have gone meanwhile; that is the outcome asked for.
	if err := s.svc.DeleteAlias(r.Context(), name, alias, nil); err != nil && !cairn.IsCode(err, cairn.ENOTFOUND) {
		return err
	}
	return writeJSON(w, empty)
}

func (s *Server) getModelVersionByAlias(w http.ResponseWriter, r *http.Request) error {
	p, name, err := s.readModelParams(w, r)
	if err != nil {
		return err
	}
	alias, err := p.required("alias")
	if err != nil {
		return err
	}
	// MLflow's stores answer INVALID_PARAMETER_VALUE for an alias they
	// cannot find, also when the model does not exist (MLflow 2.17,
	// recorded in testdata/fixtures/registry.json), not 404. A name Cairn
	// could not hold has no alias; anything else resolves as NAME@ALIAS
	// does on the native API, in one read.
	notFound := invalidParam("Registered model alias %s not found.", alias)
	if cairn.ValidateModelName(name) != nil || cairn.ValidateAliasName(alias) != nil {
		return notFound
	}
	// A summary read, as for get (see getModelVersion).
	v, err := s.svc.Resolve(cairn.NewContextWithSummary(r.Context()), name+"@"+alias)
	if cairn.IsCode(err, cairn.ENOTFOUND) {
		return notFound
	}
	if err != nil {
		return err
	}
	return s.writeVersion(w, v)
}
