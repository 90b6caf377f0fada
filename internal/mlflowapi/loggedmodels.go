package mlflowapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/internal/registry"
)

// MLflow 3's logged models (MLFLOW.md §3): POST logged-models creates one
// in an experiment, the client uploads its files through the artifact
// proxy to its artifact_uri (mlflow-artifacts:/<exp>/models/<id>/artifacts)
// and finalizes it with PATCH logged-models/{id}. A registration whose
// source is models:/<id> snapshots those files into the version
// (register.go). The records are Cairn's (registry.CreateLoggedModel and
// friends): every change is audited and emits a logged_model.* event.

// Wire names of LoggedModelStatus, and the enum's numbers (protobuf JSON
// accepts either).
var (
	loggedModelStatusWire = map[cairn.LoggedModelStatus]string{
		cairn.LoggedModelPending: "LOGGED_MODEL_PENDING",
		cairn.LoggedModelReady:   "LOGGED_MODEL_READY",
		cairn.LoggedModelFailed:  "LOGGED_MODEL_UPLOAD_FAILED",
	}
	loggedModelStatusByWire = map[string]cairn.LoggedModelStatus{
		"LOGGED_MODEL_PENDING": cairn.LoggedModelPending, "1": cairn.LoggedModelPending,
		"LOGGED_MODEL_READY": cairn.LoggedModelReady, "2": cairn.LoggedModelReady,
		"LOGGED_MODEL_UPLOAD_FAILED": cairn.LoggedModelFailed, "3": cairn.LoggedModelFailed,
	}
)

// Page limits of logged-models/search.
const (
	defaultLoggedModelResults = 100
	maxLoggedModelResults     = 1000
)

type loggedModelMetricJSON struct {
	Key           string `json:"key"`
	Value         any    `json:"value"`
	Timestamp     int64  `json:"timestamp"`
	Step          int64  `json:"step"`
	DatasetName   string `json:"dataset_name,omitempty"`
	DatasetDigest string `json:"dataset_digest,omitempty"`
	ModelID       string `json:"model_id"`
	RunID         string `json:"run_id,omitempty"`
}

type loggedModelInfoJSON struct {
	ModelID                string     `json:"model_id"`
	ExperimentID           string     `json:"experiment_id"`
	Name                   string     `json:"name"`
	CreationTimestampMs    int64      `json:"creation_timestamp_ms"`
	LastUpdatedTimestampMs int64      `json:"last_updated_timestamp_ms"`
	ArtifactURI            string     `json:"artifact_uri"`
	Status                 string     `json:"status"`
	ModelType              string     `json:"model_type,omitempty"`
	SourceRunID            string     `json:"source_run_id,omitempty"`
	StatusMessage          string     `json:"status_message,omitempty"`
	Tags                   []keyValue `json:"tags,omitempty"`
}

type loggedModelJSON struct {
	Info loggedModelInfoJSON `json:"info"`
	Data struct {
		Params  []keyValue              `json:"params,omitempty"`
		Metrics []loggedModelMetricJSON `json:"metrics,omitempty"`
	} `json:"data"`
}

func toLoggedModel(m *cairn.LoggedModel) loggedModelJSON {
	var out loggedModelJSON
	out.Info = loggedModelInfoJSON{
		ModelID: m.ID, ExperimentID: m.ExperimentID, Name: m.Name,
		CreationTimestampMs: m.CreatedAt.UnixMilli(), LastUpdatedTimestampMs: m.UpdatedAt.UnixMilli(),
		ArtifactURI: m.ArtifactLocation, Status: loggedModelStatusWire[m.Status], ModelType: m.ModelType,
		SourceRunID: m.SourceRunID, StatusMessage: m.StatusMessage, Tags: sortedTags(m.Tags, nil),
	}
	out.Data.Params = sortedTags(m.Params, nil)
	for _, p := range m.Metrics {
		out.Data.Metrics = append(out.Data.Metrics, loggedModelMetricJSON{
			Key: p.Key, Value: metricValue(p.Value), Timestamp: p.Timestamp.UnixMilli(), Step: p.Step,
			DatasetName: p.DatasetName, DatasetDigest: p.DatasetDigest, ModelID: m.ID, RunID: p.RunID,
		})
	}
	return out
}

func loggedModelNotFound(id string) error {
	return &apiError{status: http.StatusNotFound, code: codeDoesNotExist, msg: sprintf("Logged model with ID '%s' not found.", truncate(id, 100))}
}

// getLoggedModel returns an undeleted logged model, with MLflow's message
// when there is none.
func (s *Server) getLoggedModel(ctx context.Context, id string) (*cairn.LoggedModel, error) {
	lm, err := s.svc.GetLoggedModel(ctx, id)
	if cairn.IsCode(err, cairn.ENOTFOUND) || cairn.IsCode(err, cairn.EINVALID) {
		return nil, loggedModelNotFound(id)
	}
	return lm, err
}

// modelIDParam returns the {model_id} of the path; a model_id in the body,
// which the client sends too, must agree with it.
func modelIDParam(r *http.Request, p *params) (string, error) {
	id := r.PathValue("model_id")
	if p != nil {
		body, err := p.str("model_id")
		if err != nil {
			return "", err
		}
		if body != "" && body != id {
			return "", invalidParam("The model_id in the request body (%s) differs from the one in the path (%s)", truncate(body, 100), truncate(id, 100))
		}
	}
	return id, nil
}

func (s *Server) writeLoggedModel(w http.ResponseWriter, m *cairn.LoggedModel) error {
	return writeJSON(w, map[string]any{"model": toLoggedModel(m)})
}

func (s *Server) createLoggedModel(w http.ResponseWriter, r *http.Request) error {
	p, err := s.writeParams(w, r)
	if err != nil {
		return err
	}
	expID, err := p.required("experiment_id")
	if err != nil {
		return err
	}
	in := registry.LoggedModelCreate{ExperimentID: expID}
	for _, f := range []struct {
		name string
		dst  *string
	}{{"name", &in.Name}, {"model_type", &in.ModelType}, {"source_run_id", &in.SourceRunID}} {
		if *f.dst, err = p.str(f.name); err != nil {
			return err
		}
	}
	if in.Name == "" {
		in.Name = randomRunName()
	} else if err := validateEntityName("model", in.Name); err != nil {
		return err
	}
	if in.Params, err = p.keyValues("params", validateParam); err != nil {
		return err
	}
	if in.Tags, err = p.keyValues("tags", validateRunTag); err != nil {
		return err
	}
	if _, err := s.activeExperiment(r.Context(), expID); err != nil {
		return err
	}
	lm, err := s.svc.CreateLoggedModel(r.Context(), in)
	if err != nil {
		return err
	}
	return s.writeLoggedModel(w, lm)
}

func (s *Server) getLoggedModelHandler(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.readParams(w, r); err != nil {
		return err
	}
	lm, err := s.getLoggedModel(r.Context(), r.PathValue("model_id"))
	if err != nil {
		return err
	}
	return s.writeLoggedModel(w, lm)
}

// readLoggedModel reads a write request's parameters and its logged model,
// after checking the writer role.
func (s *Server) readLoggedModel(w http.ResponseWriter, r *http.Request) (*params, *cairn.LoggedModel, error) {
	p, err := s.writeParams(w, r)
	if err != nil {
		return nil, nil, err
	}
	id, err := modelIDParam(r, p)
	if err != nil {
		return nil, nil, err
	}
	lm, err := s.getLoggedModel(r.Context(), id)
	return p, lm, err
}

// updateLoggedModel applies in, answering MLflow's not-found for a model
// deleted meanwhile.
func (s *Server) updateLoggedModel(ctx context.Context, id string, in registry.LoggedModelUpdate) (*cairn.LoggedModel, error) {
	lm, err := s.svc.UpdateLoggedModel(ctx, id, in)
	if cairn.IsCode(err, cairn.ENOTFOUND) && len(in.DeleteTags) == 0 {
		return nil, loggedModelNotFound(id)
	}
	return lm, err
}

// finalizeLoggedModel is PATCH logged-models/{id}: status
// LOGGED_MODEL_READY or LOGGED_MODEL_UPLOAD_FAILED.
func (s *Server) finalizeLoggedModel(w http.ResponseWriter, r *http.Request) error {
	p, lm, err := s.readLoggedModel(w, r)
	if err != nil {
		return err
	}
	raw := p.raw("status")
	if raw == nil {
		return missing("status")
	}
	var name string
	if err := json.Unmarshal(raw, &name); err != nil {
		name = string(raw) // the enum's number
	}
	st, ok := loggedModelStatusByWire[name]
	if !ok {
		return invalidParam("Invalid value %s for parameter 'status' supplied. Hint: Value must be one of LOGGED_MODEL_PENDING, LOGGED_MODEL_READY, LOGGED_MODEL_UPLOAD_FAILED.", truncate(string(raw), 100))
	}
	in := registry.LoggedModelUpdate{Status: &st}
	if p.has("status_message") {
		msg, err := p.str("status_message")
		if err != nil {
			return err
		}
		in.StatusMessage = &msg
	}
	lm, err = s.updateLoggedModel(r.Context(), lm.ID, in)
	if err != nil {
		return err
	}
	return s.writeLoggedModel(w, lm)
}

func (s *Server) deleteLoggedModel(w http.ResponseWriter, r *http.Request) error {
	_, lm, err := s.readLoggedModel(w, r)
	if err != nil {
		return err
	}
	err = s.svc.DeleteLoggedModel(r.Context(), lm.ID)
	if cairn.IsCode(err, cairn.ENOTFOUND) {
		return loggedModelNotFound(lm.ID)
	}
	if err != nil {
		return err
	}
	return writeJSON(w, empty)
}

func (s *Server) setLoggedModelTags(w http.ResponseWriter, r *http.Request) error {
	p, lm, err := s.readLoggedModel(w, r)
	if err != nil {
		return err
	}
	tags, err := p.keyValues("tags", validateRunTag)
	if err != nil {
		return err
	}
	if len(tags) > 0 {
		if _, err := s.updateLoggedModel(r.Context(), lm.ID, registry.LoggedModelUpdate{SetTags: tags}); err != nil {
			return err
		}
	}
	return writeJSON(w, empty)
}

func (s *Server) deleteLoggedModelTag(w http.ResponseWriter, r *http.Request) error {
	_, lm, err := s.readLoggedModel(w, r)
	if err != nil {
		return err
	}
	key := r.PathValue("tag_key")
	if _, ok := lm.Tags[key]; !ok {
		return &apiError{status: http.StatusNotFound, code: codeDoesNotExist, msg: sprintf("No tag with key '%s' found for logged model with ID '%s'.", truncate(key, 250), lm.ID)}
	}
	if _, err := s.updateLoggedModel(r.Context(), lm.ID, registry.LoggedModelUpdate{DeleteTags: []string{key}}); err != nil {
		return err
	}
	return writeJSON(w, empty)
}

// logLoggedModelParams is POST logged-models/{id}/params: the client sends
// a model's params past the first 100 here, 100 at a time.
func (s *Server) logLoggedModelParams(w http.ResponseWriter, r *http.Request) error {
	p, lm, err := s.readLoggedModel(w, r)
	if err != nil {
		return err
	}
	list, err := p.keyValueList("params")
	if err != nil {
		return err
	}
	if err := batchLimit("params", maxBatchParams, len(list)); err != nil {
		return err
	}
	params := map[string]string{}
	for _, kv := range list {
		if err := validateParam(kv.Key, kv.Value); err != nil {
			return err
		}
		params[kv.Key] = kv.Value
	}
	if len(params) > 0 {
		_, err := s.updateLoggedModel(r.Context(), lm.ID, registry.LoggedModelUpdate{Params: params})
		if cairn.IsCode(err, cairn.EINVALID) && strings.Contains(cairn.ErrorMessage(err), "params cannot change") {
			return invalidParam("Changing param values is not allowed. %s", cairn.ErrorMessage(err))
		}
		if err != nil {
			return err
		}
	}
	return writeJSON(w, empty)
}

// loggedModelSearch is what logged-models/search filters and orders by.
var loggedModelSearch = searchEntity{
	attrs: []string{"creation_time", "creation_timestamp", "last_updated_timestamp", "model_id", "model_type", "name",
		"source_run_id", "status"},
	numeric: map[string]bool{"creation_time": true, "creation_timestamp": true, "last_updated_timestamp": true},
	lists:   true,
	orderBy: map[string]string{"creation_time": "creation_timestamp", "creation_timestamp": "creation_timestamp",
		"last_updated_timestamp": "last_updated_timestamp", "model_id": "model_id", "model_type": "model_type",
		"name": "name", "source_run_id": "source_run_id", "status": "status"},
	orderKey: []string{"creation_timestamp", "last_updated_timestamp", "model_id", "model_type", "name", "source_run_id", "status"},
	keyed:    true,
}

// statusValues rewrites comparisons on status to the stored names: MLflow
// writes LOGGED_MODEL_READY (or READY) where Cairn stores READY.
func statusValues(x cairn.Expr) {
	switch x := x.(type) {
	case *cairn.AndExpr:
		statusValues(x.L)
		statusValues(x.R)
	case *cairn.CmpExpr:
		if x.Field.Namespace != cairn.FieldAttr || x.Field.Name != "status" {
			return
		}
		fix := func(v *cairn.Value) {
			if st, ok := loggedModelStatusByWire[strings.ToUpper(v.Str)]; ok && v.Kind == cairn.ValueString {
				v.Str = string(st)
			} else if v.Kind == cairn.ValueString && x.Op != "LIKE" && x.Op != "ILIKE" {
				v.Str = strings.ToUpper(v.Str)
			}
		}
		fix(&x.Value)
		for i := range x.Value.List {
			fix(&x.Value.List[i])
		}
	}
}

// searchDatasets reads the datasets[] of logged-models/search: the
// datasets whose metrics the filter compares, each a dataset_name
// (required, as MLflow requires it) and an optional dataset_digest.
func searchDatasets(p *params) ([]cairn.LoggedModelDataset, error) {
	raw := p.raw("datasets")
	if raw == nil {
		return nil, nil
	}
	var in []struct {
		DatasetName   *string `json:"dataset_name"`
		DatasetDigest *string `json:"dataset_digest"`
	}
	if err := json.Unmarshal(raw, &in); err != nil {
		return nil, badType("datasets", raw)
	}
	if len(in) > cairn.MaxLoggedModelDatasets {
		return nil, invalidParam("At most %d datasets can be searched at once, got %d", cairn.MaxLoggedModelDatasets, len(in))
	}
	out := make([]cairn.LoggedModelDataset, 0, len(in))
	for _, d := range in {
		if d.DatasetName == nil || *d.DatasetName == "" {
			return nil, invalidParam("`dataset_name` in the `datasets` clause must be specified.")
		}
		ds := cairn.LoggedModelDataset{Name: *d.DatasetName}
		if d.DatasetDigest != nil {
			ds.Digest = *d.DatasetDigest
		}
		out = append(out, ds)
	}
	return out, nil
}

// searchOrder reads the order_by[] of logged-models/search: field_name,
// ascending (default true), and for a metric the dataset_name and
// dataset_digest to sort its value on.
func searchOrder(p *params) ([]cairn.LoggedModelOrder, error) {
	var in []struct {
		FieldName     *string `json:"field_name"`
		Ascending     *bool   `json:"ascending"`
		DatasetName   string  `json:"dataset_name"`
		DatasetDigest string  `json:"dataset_digest"`
	}
	if raw := p.raw("order_by"); raw != nil {
		if err := json.Unmarshal(raw, &in); err != nil {
			return nil, badType("order_by", raw)
		}
	}
	var out []cairn.LoggedModelOrder
	type sortKey struct {
		field   string
		dataset cairn.LoggedModelDataset
	}
	seen := map[sortKey]bool{} // a field on a dataset once, in either direction
	for _, o := range in {
		if o.FieldName == nil || *o.FieldName == "" {
			return nil, missing("order_by.field_name")
		}
		dir := "ASC"
		if o.Ascending != nil && !*o.Ascending {
			dir = "DESC"
		}
		if strings.ContainsAny(*o.FieldName, " \t\n") && !strings.ContainsAny(*o.FieldName, "`\"") {
			return nil, invalidParam("Invalid order_by field name '%s'", truncate(*o.FieldName, 100))
		}
		clause, err := translateOrderBy([]string{*o.FieldName + " " + dir}, &loggedModelSearch)
		if err != nil {
			return nil, err
		}
		key := cairn.LoggedModelOrder{OrderBy: orderBys(clause)[0],
			Dataset: cairn.LoggedModelDataset{Name: o.DatasetName, Digest: o.DatasetDigest}}
		if key.Dataset != (cairn.LoggedModelDataset{}) {
			if o.DatasetName == "" {
				return nil, invalidParam("`dataset_digest` can only be specified if `dataset_name` is also specified.")
			}
			if !strings.HasPrefix(key.Field, "metrics.") {
				return nil, invalidParam("Invalid order_by clause for '%s': `dataset_name` and `dataset_digest` may only be set for a metric (metrics.<name>)",
					truncate(*o.FieldName, 100))
			}
		}
		if seen[sortKey{key.Field, key.Dataset}] {
			return nil, invalidParam("`order_by` contains duplicate fields: %s", truncate(string(p.raw("order_by")), 200))
		}
		seen[sortKey{key.Field, key.Dataset}] = true
		out = append(out, key)
	}
	return out, nil
}

func (s *Server) searchLoggedModels(w http.ResponseWriter, r *http.Request) error {
	p, err := s.readParams(w, r)
	if err != nil {
		return err
	}
	if err := s.svc.AuthorizeAny(r.Context(), cairn.RoleReader); err != nil {
		return err
	}
	expIDs, err := p.strings("experiment_ids")
	if err != nil {
		return err
	}
	if len(expIDs) == 0 {
		return missing("experiment_ids")
	}
	max, token, err := pageRequest(p, defaultLoggedModelResults, maxLoggedModelResults)
	if err != nil {
		return err
	}
	datasets, err := searchDatasets(p)
	if err != nil {
		return err
	}
	filter, err := p.str("filter")
	if err != nil {
		return err
	}
	f, err := translateFilter(filter, &loggedModelSearch)
	if err != nil {
		return err
	}
	if f != nil {
		statusValues(f.Root)
	}
	order, err := searchOrder(p)
	if err != nil {
		return err
	}
	var models []*cairn.LoggedModel
	next, err := collectPages(max, token, func(size int, tok string) ([]any, string, error) {
		page, err := s.svc.SearchLoggedModels(r.Context(), cairn.LoggedModelSearch{ExperimentIDs: expIDs, Filter: f,
			Datasets: datasets, OrderBy: order, Page: cairn.Page{Size: size, Token: tok}})
		if err != nil {
			return nil, "", err
		}
		items := make([]any, len(page.Items))
		for i, m := range page.Items {
			items[i] = m
		}
		return items, page.NextToken, nil
	}, func(v any) { models = append(models, v.(*cairn.LoggedModel)) })
	if err != nil {
		return err
	}
	out := make([]loggedModelJSON, len(models))
	for i, m := range models {
		out[i] = toLoggedModel(m)
	}
	return writeJSON(w, struct {
		Models        []loggedModelJSON `json:"models"`
		NextPageToken string            `json:"next_page_token,omitempty"`
	}{out, next})
}

// maxBatchGet bounds the ids of one logged-models:batchGet (MLflow's UI
// asks for 100 at a time).
const maxBatchGet = 100

// batchGetLoggedModels is GET logged-models:batchGet?model_ids=…, which
// MLflow 3's UI calls to show the models of a page of runs: the logged
// models among the ids that exist, in the order asked; unknown and
// deleted ones are left out.
func (s *Server) batchGetLoggedModels(w http.ResponseWriter, r *http.Request) error {
	p, err := s.readParams(w, r)
	if err != nil {
		return err
	}
	if err := s.svc.AuthorizeAny(r.Context(), cairn.RoleReader); err != nil {
		return err
	}
	ids, err := p.strings("model_ids")
	if err != nil {
		return err
	}
	if len(ids) > maxBatchGet {
		return invalidParam("At most %d model_ids can be fetched at once, got %d", maxBatchGet, len(ids))
	}
	out := []loggedModelJSON{}
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			continue
		}
		seen[id] = true
		lm, err := s.getLoggedModel(r.Context(), id)
		var ae *apiError
		if errors.As(err, &ae) && ae.code == codeDoesNotExist {
			continue
		}
		if err != nil {
			return err
		}
		out = append(out, toLoggedModel(lm))
	}
	return writeJSON(w, map[string]any{"models": out})
}

// loggedModelRoot returns the directory of Cairn's artifact store that
// holds a logged model's files, or NOT_IMPLEMENTED for a model whose
// files are elsewhere (an experiment with an s3://… location).
func loggedModelRoot(lm *cairn.LoggedModel) (string, error) {
	root, ok := loggedModelDir(lm)
	if !ok {
		return "", &apiError{status: http.StatusNotImplemented, code: codeNotImplemented, msg: sprintf(
			"Logged model %s keeps its artifacts at %s, outside Cairn's artifact store; read them there", lm.ID, truncate(lm.ArtifactLocation, 200))}
	}
	return root, nil
}

// listLoggedModelArtifacts is GET logged-models/{id}/artifacts/directories
// ?artifact_directory_path=&page_token=, MLflow 3's listing of a logged
// model's files (its UI's artifact browser), named relative to the
// model's artifact root, as artifacts/list names a run's.
func (s *Server) listLoggedModelArtifacts(w http.ResponseWriter, r *http.Request) error {
	p, err := s.readParams(w, r)
	if err != nil {
		return err
	}
	sub, err := p.str("artifact_directory_path")
	if err != nil {
		return err
	}
	if sub = strings.TrimSuffix(sub, "/"); sub != "" {
		if err := checkDecodedPath(sub); err != nil {
			return err
		}
	}
	token, err := p.str("page_token")
	if err != nil {
		return err
	}
	lm, err := s.getLoggedModel(r.Context(), r.PathValue("model_id"))
	if err != nil {
		return err
	}
	root, err := loggedModelRoot(lm)
	if err != nil {
		return err
	}
	return s.writeArtifactList(w, r, root, lm.ArtifactLocation, sub, token)
}

// getLoggedModelArtifact is GET logged-models/{id}/artifacts/files
// ?artifact_file_path=, a file of a logged model (MLflow 3's UI), streamed
// as the proxy streams files.
func (s *Server) getLoggedModelArtifact(w http.ResponseWriter, r *http.Request) error {
	p, err := s.readParams(w, r)
	if err != nil {
		return err
	}
	file, err := p.required("artifact_file_path")
	if err != nil {
		return err
	}
	if err := checkDecodedPath(file); err != nil {
		return err
	}
	lm, err := s.getLoggedModel(r.Context(), r.PathValue("model_id"))
	if err != nil {
		return err
	}
	root, err := loggedModelRoot(lm)
	if err != nil {
		return err
	}
	return s.downloadArtifact(w, r, root+"/"+file)
}
