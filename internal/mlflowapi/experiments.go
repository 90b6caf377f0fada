package mlflowapi

import (
	"context"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/internal/registry"
)

// Experiment handlers (MLflow's tracking service, MLFLOW.md §3). An
// experiment is a Cairn experiment; ids are decimal strings, "0" is the
// default experiment.

// experimentJSON is MLflow's Experiment entity.
type experimentJSON struct {
	ExperimentID     string     `json:"experiment_id"`
	Name             string     `json:"name"`
	ArtifactLocation string     `json:"artifact_location"`
	LifecycleStage   string     `json:"lifecycle_stage"`
	LastUpdateTime   int64      `json:"last_update_time"`
	CreationTime     int64      `json:"creation_time"`
	Tags             []keyValue `json:"tags,omitempty"`
}

// MLflow's lifecycle stages.
const (
	stageActive  = "active"
	stageDeleted = "deleted"
)

func lifecycle(deleted *time.Time) string {
	if deleted != nil {
		return stageDeleted
	}
	return stageActive
}

func toExperiment(e *cairn.Experiment) experimentJSON {
	return experimentJSON{
		ExperimentID: e.ID, Name: e.Name, ArtifactLocation: e.ArtifactLocation, LifecycleStage: lifecycle(e.DeletedAt),
		LastUpdateTime: e.UpdatedAt.UnixMilli(), CreationTime: e.CreatedAt.UnixMilli(), Tags: sortedTags(e.Tags, nil),
	}
}

func experimentNotFound(id string) error {
	return &apiError{status: http.StatusNotFound, code: codeDoesNotExist, msg: sprintf("No Experiment with id=%s exists", id)}
}

// getExperiment returns an experiment, deleted or not, with MLflow's
// message when there is none.
func (s *Server) getExperiment(ctx context.Context, id string) (*cairn.Experiment, error) {
	if id == "" || len(id) > 64 || cairn.ValidateText("experiment_id", id) != nil {
		return nil, invalidParam("Invalid experiment ID: '%s'", truncate(id, 64))
	}
	e, err := s.svc.GetExperiment(ctx, id)
	if cairn.IsCode(err, cairn.ENOTFOUND) || cairn.IsCode(err, cairn.EINVALID) {
		return nil, experimentNotFound(id)
	}
	return e, err
}

// activeExperiment is getExperiment for operations MLflow allows on active
// experiments only.
func (s *Server) activeExperiment(ctx context.Context, id string) (*cairn.Experiment, error) {
	e, err := s.getExperiment(ctx, id)
	if err != nil {
		return nil, err
	}
	if e.DeletedAt != nil {
		return nil, invalidParam("The experiment %s must be in the 'active' state. Current state is deleted.", id)
	}
	return e, nil
}

// validateExperimentTag applies MLflow's rules for experiment tags.
func validateExperimentTag(key, value string) error {
	if err := validateEntityName("tag", key); err != nil {
		return err
	}
	if n := utf8.RuneCountInString(key); n > maxTagKeyLength {
		return invalidParam("Tag key '%s' had length %d, which exceeded length limit of %d", prefix(key, 250), n, maxTagKeyLength)
	}
	if n := utf8.RuneCountInString(value); n > maxTagValueLength {
		return invalidParam("Tag value '%s' had length %d, which exceeded length limit of %d", prefix(value, 250), n, maxTagValueLength)
	}
	return nil
}

func (s *Server) createExperiment(w http.ResponseWriter, r *http.Request) error {
	p, err := s.writeParams(w, r)
	if err != nil {
		return err
	}
	name, err := p.required("name")
	if err != nil {
		return err
	}
	loc, err := p.str("artifact_location")
	if err != nil {
		return err
	}
	tags, err := p.keyValues("tags", validateExperimentTag)
	if err != nil {
		return err
	}
	if utf8.RuneCountInString(name) > cairn.MaxExperimentNameLength {
		return invalidParam("Experiment name exceeds the maximum length of %d characters", cairn.MaxExperimentNameLength)
	}
	e, err := s.svc.CreateExperiment(r.Context(), registry.ExperimentCreate{Name: name, ArtifactLocation: loc, Tags: tags})
	if cairn.IsCode(err, cairn.ECONFLICT) {
		msg := sprintf("Experiment(name=%s) already exists.", name)
		if old, gerr := s.svc.GetExperimentByName(r.Context(), name); gerr == nil && old.DeletedAt != nil {
			msg += " It is deleted: restore it, or rename it before creating another with this name."
		}
		return &apiError{status: http.StatusBadRequest, code: codeAlreadyExists, msg: msg}
	}
	if err != nil {
		return err
	}
	return writeJSON(w, map[string]any{"experiment_id": e.ID})
}

func (s *Server) getExperimentHandler(w http.ResponseWriter, r *http.Request) error {
	p, err := s.readParams(w, r)
	if err != nil {
		return err
	}
	id, err := p.required("experiment_id")
	if err != nil {
		return err
	}
	e, err := s.getExperiment(r.Context(), id)
	if err != nil {
		return err
	}
	return writeJSON(w, map[string]any{"experiment": toExperiment(e)})
}

func (s *Server) getExperimentByName(w http.ResponseWriter, r *http.Request) error {
	p, err := s.readParams(w, r)
	if err != nil {
		return err
	}
	name, err := p.required("experiment_name")
	if err != nil {
		return err
	}
	e, err := s.svc.GetExperimentByName(r.Context(), name)
	if cairn.IsCode(err, cairn.ENOTFOUND) {
		return &apiError{status: http.StatusNotFound, code: codeDoesNotExist, msg: sprintf("Could not find experiment with name '%s'", name)}
	}
	if err != nil {
		return err
	}
	return writeJSON(w, map[string]any{"experiment": toExperiment(e)})
}

// Search limits for experiments and runs (MLflow's).
const (
	defaultSearchResults = 1000
	maxSearchResults     = 50000
)

var experimentSearch = searchEntity{
	attrs:    []string{"creation_time", "last_update_time", "name"},
	numeric:  map[string]bool{"creation_time": true, "last_update_time": true},
	orderBy:  map[string]string{"name": "name", "experiment_id": "experiment_id", "creation_time": "creation_time", "last_update_time": "last_update_time"},
	orderKey: []string{"creation_time", "experiment_id", "last_update_time", "name"},
}

// viewType reads MLflow's ViewType parameter (view_type or run_view_type).
func viewType(p *params, name string) (cairn.Lifecycle, error) {
	v, err := p.str(name)
	if err != nil {
		// A number is the enum's value.
		n, nerr := p.integer(name, 1)
		if nerr != nil {
			return 0, err
		}
		v = map[int64]string{1: "ACTIVE_ONLY", 2: "DELETED_ONLY", 3: "ALL"}[n]
	}
	switch v {
	case "", "ACTIVE_ONLY":
		return cairn.ActiveOnly, nil
	case "DELETED_ONLY":
		return cairn.DeletedOnly, nil
	case "ALL":
		return cairn.AllLifecycles, nil
	}
	return 0, invalidParam("Invalid value %s for parameter '%s' supplied. Hint: Value must be one of ACTIVE_ONLY, DELETED_ONLY, ALL.", truncate(v, 40), name)
}

// pageRequest reads max_results (default def, at most limit) and page_token.
func pageRequest(p *params, def, limit int64) (int64, string, error) {
	max, err := p.integer("max_results", def)
	if err != nil {
		return 0, "", err
	}
	if max > limit {
		return 0, "", invalidParam("Invalid value for request parameter max_results. It must be at most %d, but got value %d", limit, max)
	}
	if max < 1 {
		return 0, "", invalidParam("Invalid value for request parameter max_results. It must be a positive integer, but got value %d", max)
	}
	token, err := p.str("page_token")
	return max, token, err
}

func (s *Server) searchExperiments(w http.ResponseWriter, r *http.Request) error {
	p, err := s.readParams(w, r)
	if err != nil {
		return err
	}
	// MLflow's handler reads an absent max_results as 0 and refuses it
	// (its client always sends one).
	max, err := p.integer("max_results", 0)
	if err != nil {
		return err
	}
	if max < 1 {
		return invalidParam("Invalid value %d for parameter 'max_results' supplied. It must be a positive integer", max)
	}
	if max > maxSearchResults {
		return invalidParam("Invalid value %d for parameter 'max_results' supplied. It must be at most %d", max, maxSearchResults)
	}
	token, err := p.str("page_token")
	if err != nil {
		return err
	}
	lc, err := viewType(p, "view_type")
	if err != nil {
		return err
	}
	filter, err := p.str("filter")
	if err != nil {
		return err
	}
	f, err := translateFilter(filter, &experimentSearch)
	if err != nil {
		return err
	}
	rawOrder, err := p.strings("order_by")
	if err != nil {
		return err
	}
	order, err := translateOrderBy(rawOrder, &experimentSearch)
	if err != nil {
		return err
	}
	out := []experimentJSON{}
	next, err := collectPages(max, token, func(size int, tok string) ([]any, string, error) {
		page, err := s.svc.ListExperiments(r.Context(), cairn.ExperimentQuery{Filter: f, OrderBy: orderBys(order), Page: cairn.Page{Size: size, Token: tok}, Lifecycle: lc})
		if err != nil {
			return nil, "", err
		}
		items := make([]any, len(page.Items))
		for i, e := range page.Items {
			items[i] = e
		}
		return items, page.NextToken, nil
	}, func(v any) { out = append(out, toExperiment(v.(*cairn.Experiment))) })
	if err != nil {
		return err
	}
	resp := struct {
		Experiments   []experimentJSON `json:"experiments,omitempty"`
		NextPageToken string           `json:"next_page_token,omitempty"`
	}{out, next}
	return writeJSON(w, resp)
}

// collectPages reads up to max items from a paged store list, a store page
// (at most 1000) at a time, and returns the token of what follows.
func collectPages(max int64, token string, page func(size int, token string) ([]any, string, error), add func(any)) (string, error) {
	for max > 0 {
		size := int(min(max, registry.MaxPageSize))
		items, next, err := page(size, token)
		if err != nil {
			return "", err
		}
		for _, it := range items {
			add(it)
		}
		max -= int64(len(items))
		token = next
		if next == "" {
			return "", nil
		}
	}
	return token, nil
}

// orderBys turns "field DIR" clauses into the store's sort keys.
func orderBys(clauses []string) []cairn.OrderBy {
	out := make([]cairn.OrderBy, 0, len(clauses))
	for _, c := range clauses {
		i := len(c) - 4
		if i > 0 && c[i:] == " ASC" {
			out = append(out, cairn.OrderBy{Field: c[:i]})
			continue
		}
		out = append(out, cairn.OrderBy{Field: c[:len(c)-5], Desc: true})
	}
	return out
}

func (s *Server) updateExperiment(w http.ResponseWriter, r *http.Request) error {
	p, err := s.writeParams(w, r)
	if err != nil {
		return err
	}
	id, err := p.required("experiment_id")
	if err != nil {
		return err
	}
	newName, err := p.str("new_name")
	if err != nil {
		return err
	}
	if newName == "" {
		return invalidParam("Invalid experiment name: '%s'", newName)
	}
	e, err := s.getExperiment(r.Context(), id)
	if err != nil {
		return err
	}
	if e.DeletedAt != nil {
		return invalidParam("Cannot rename a non-active experiment.")
	}
	_, err = s.svc.UpdateExperiment(r.Context(), id, registry.ExperimentUpdate{Name: &newName})
	if cairn.IsCode(err, cairn.ECONFLICT) {
		return &apiError{status: http.StatusBadRequest, code: codeAlreadyExists, msg: sprintf("Experiment(name=%s) already exists.", newName)}
	}
	if err != nil {
		return err
	}
	return writeJSON(w, empty)
}

// deleteExperiment and restoreExperiment answer RESOURCE_DOES_NOT_EXIST
// for an experiment not in the state they move it from, as MLflow's SQL
// store does.
func (s *Server) deleteExperiment(w http.ResponseWriter, r *http.Request) error {
	return s.setExperimentDeleted(w, r, true)
}

func (s *Server) restoreExperiment(w http.ResponseWriter, r *http.Request) error {
	return s.setExperimentDeleted(w, r, false)
}

func (s *Server) setExperimentDeleted(w http.ResponseWriter, r *http.Request, deleted bool) error {
	p, err := s.writeParams(w, r)
	if err != nil {
		return err
	}
	id, err := p.required("experiment_id")
	if err != nil {
		return err
	}
	e, err := s.getExperiment(r.Context(), id)
	if err != nil {
		return err
	}
	if (e.DeletedAt != nil) == deleted {
		return experimentNotFound(id)
	}
	if deleted && id == cairn.DefaultExperimentID {
		return invalidParam("Cannot delete the default experiment '%s'. This is a reserved experiment.", id)
	}
	if deleted {
		err = s.svc.DeleteExperiment(r.Context(), id)
	} else {
		err = s.svc.RestoreExperiment(r.Context(), id)
	}
	if err != nil {
		return err
	}
	return writeJSON(w, empty)
}

func (s *Server) setExperimentTag(w http.ResponseWriter, r *http.Request) error {
	p, err := s.writeParams(w, r)
	if err != nil {
		return err
	}
	id, err := p.required("experiment_id")
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
	if err := validateExperimentTag(key, value); err != nil {
		return err
	}
	if _, err := s.activeExperiment(r.Context(), id); err != nil {
		return err
	}
	if _, err := s.svc.UpdateExperiment(r.Context(), id, registry.ExperimentUpdate{SetTags: map[string]string{key: value}}); err != nil {
		return err
	}
	return writeJSON(w, empty)
}

// validateEntityName applies MLflow's rule for param, metric and tag names:
// alphanumerics, '_', '-', '.', ' ', '/', and a name that stays the same as
// a normalized path.
func validateEntityName(what, name string) error {
	for _, r := range name {
		if !(r == '_' || r == '-' || r == '.' || r == ' ' || r == '/' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return invalidParam("Invalid %s name: '%s'. Names may only contain alphanumerics, underscores (_), dashes (-), periods (.), spaces ( ), and slashes (/).", what, truncate(name, 250))
		}
	}
	if !cleanPath(name) {
		return invalidParam("Invalid %s name: '%s'. Names may be treated as files in certain cases, and must not resolve to other names when treated as such. This name would resolve to '%s'", what, truncate(name, 250), normPath(name))
	}
	return nil
}
