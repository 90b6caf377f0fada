package mlflowapi

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math"
	"math/big"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/internal/registry"
)

// Run handlers (MLflow's tracking service, MLFLOW.md §3). An MLflow run is
// a Cairn run: what is logged here shows in /api/v1/runs and 'cairn runs'.

type runInfoJSON struct {
	RunID          string `json:"run_id"`
	RunUUID        string `json:"run_uuid"`
	RunName        string `json:"run_name"`
	ExperimentID   string `json:"experiment_id"`
	UserID         string `json:"user_id"`
	Status         string `json:"status"`
	StartTime      int64  `json:"start_time"`
	EndTime        *int64 `json:"end_time,omitempty"`
	ArtifactURI    string `json:"artifact_uri"`
	LifecycleStage string `json:"lifecycle_stage"`
}

type metricJSON struct {
	Key       string  `json:"key"`
	Value     any     `json:"value"` // a number, or "NaN"/"Infinity" as protobuf JSON spells them
	Timestamp int64   `json:"timestamp"`
	Step      int64   `json:"step"`
	raw       float64 // for sorting
}

type runDataJSON struct {
	Metrics []metricJSON `json:"metrics,omitempty"`
	Params  []keyValue   `json:"params,omitempty"`
	Tags    []keyValue   `json:"tags,omitempty"`
}

type datasetJSON struct {
	Name       string `json:"name"`
	Digest     string `json:"digest"`
	SourceType string `json:"source_type"`
	Source     string `json:"source"`
	Schema     string `json:"schema,omitempty"`
	Profile    string `json:"profile,omitempty"`
}

type datasetInputJSON struct {
	Tags    []keyValue  `json:"tags,omitempty"`
	Dataset datasetJSON `json:"dataset"`
}

type modelIDJSON struct {
	ModelID string `json:"model_id"`
}

type modelOutputJSON struct {
	ModelID string `json:"model_id"`
	Step    int64  `json:"step"`
}

type runInputsJSON struct {
	DatasetInputs []datasetInputJSON `json:"dataset_inputs,omitempty"`
	ModelInputs   []modelIDJSON      `json:"model_inputs,omitempty"`
}

type runOutputsJSON struct {
	ModelOutputs []modelOutputJSON `json:"model_outputs,omitempty"`
}

type runJSON struct {
	Info    runInfoJSON     `json:"info"`
	Data    runDataJSON     `json:"data"`
	Inputs  *runInputsJSON  `json:"inputs,omitempty"`
	Outputs *runOutputsJSON `json:"outputs,omitempty"`
}

func toRunInfo(r *cairn.Run) runInfoJSON {
	info := runInfoJSON{
		RunID: r.ID, RunUUID: r.ID, RunName: r.Name, ExperimentID: r.ExperimentID, UserID: r.UserID,
		Status: string(r.Status), StartTime: r.StartTime.UnixMilli(), ArtifactURI: r.ArtifactURI, LifecycleStage: lifecycle(r.DeletedAt),
	}
	if r.EndTime != nil {
		end := r.EndTime.UnixMilli()
		info.EndTime = &end
	}
	return info
}

func metricValue(v float64) any {
	switch {
	case math.IsNaN(v):
		return "NaN"
	case math.IsInf(v, 1):
		return "Infinity"
	case math.IsInf(v, -1):
		return "-Infinity"
	}
	return v
}

func toMetric(p cairn.MetricPoint) metricJSON {
	return metricJSON{Key: p.Key, Value: metricValue(p.Value), Timestamp: p.Timestamp.UnixMilli(), Step: p.Step, raw: p.Value}
}

func toRun(r *cairn.Run, latest []cairn.MetricPoint) runJSON {
	out := runJSON{Info: toRunInfo(r)}
	for _, p := range latest {
		out.Data.Metrics = append(out.Data.Metrics, toMetric(p))
	}
	sort.Slice(out.Data.Metrics, func(i, j int) bool { return out.Data.Metrics[i].Key < out.Data.Metrics[j].Key })
	out.Data.Params = sortedTags(r.Params, nil)
	out.Data.Tags = sortedTags(r.Tags, nil)
	if len(r.Inputs)+len(r.ModelInputs) > 0 {
		out.Inputs = &runInputsJSON{}
	}
	for _, d := range r.Inputs {
		out.Inputs.DatasetInputs = append(out.Inputs.DatasetInputs, datasetInputJSON{
			Tags:    sortedTags(d.Tags, nil),
			Dataset: datasetJSON{Name: d.Name, Digest: d.Digest, SourceType: d.SourceType, Source: d.Source, Schema: d.Schema, Profile: d.Profile},
		})
	}
	for _, m := range r.ModelInputs {
		out.Inputs.ModelInputs = append(out.Inputs.ModelInputs, modelIDJSON{m})
	}
	if len(r.Outputs) > 0 {
		out.Outputs = &runOutputsJSON{}
		for _, o := range r.Outputs {
			out.Outputs.ModelOutputs = append(out.Outputs.ModelOutputs, modelOutputJSON(o))
		}
	}
	return out
}

func runNotFound(id string) error {
	return &apiError{status: http.StatusNotFound, code: codeDoesNotExist, msg: sprintf("Run with id=%s not found", id)}
}

// runID reads run_id, or the legacy run_uuid.
func runID(p *params) (string, error) {
	id, err := p.str("run_id")
	if err != nil {
		return "", err
	}
	if id == "" {
		if id, err = p.str("run_uuid"); err != nil {
			return "", err
		}
	}
	if id == "" {
		return "", missing("run_id")
	}
	return id, nil
}

// getRun returns a run, deleted or not, with MLflow's message when there
// is none.
func (s *Server) getRun(ctx context.Context, id string) (*cairn.Run, error) {
	r, err := s.svc.GetRunAny(ctx, id)
	if cairn.IsCode(err, cairn.ENOTFOUND) || cairn.IsCode(err, cairn.EINVALID) {
		return nil, runNotFound(id)
	}
	return r, err
}

// activeRun returns a run that may be logged to.
func (s *Server) activeRun(ctx context.Context, id string) (*cairn.Run, error) {
	r, err := s.getRun(ctx, id)
	if err != nil {
		return nil, err
	}
	if r.DeletedAt != nil {
		return nil, invalidParam("The run %s must be in the 'active' state. Current state is deleted.", id)
	}
	return r, nil
}

// readRun reads a request's parameters and its run, which must be active.
func (s *Server) readRun(w http.ResponseWriter, r *http.Request) (*params, *cairn.Run, error) {
	p, err := s.readParams(w, r)
	if err != nil {
		return nil, nil, err
	}
	id, err := runID(p)
	if err != nil {
		return nil, nil, err
	}
	if err := s.canWrite(r.Context()); err != nil {
		return nil, nil, err
	}
	run, err := s.activeRun(r.Context(), id)
	return p, run, err
}

func (s *Server) writeRun(ctx context.Context, w http.ResponseWriter, r *cairn.Run) error {
	latest, err := s.svc.LatestMetrics(ctx, []string{r.ID})
	if err != nil {
		return err
	}
	return writeJSON(w, map[string]any{"run": toRun(r, latest[r.ID])})
}

// millis reads an int64 parameter of unix milliseconds; nil if absent.
func millis(p *params, name string) (*time.Time, error) {
	if !p.has(name) {
		return nil, nil
	}
	n, err := p.integer(name, 0)
	if err != nil {
		return nil, err
	}
	t := time.UnixMilli(n).UTC()
	return &t, nil
}

// Words of generated run names, as MLflow names runs nobody named.
var (
	nameAdjectives = []string{"able", "bold", "brave", "bright", "calm", "clever", "crisp", "eager", "fair", "gentle",
		"glad", "keen", "kind", "lively", "lucky", "merry", "neat", "proud", "quick", "quiet", "rare", "sharp", "smart", "swift", "warm", "wise"}
	nameNouns = []string{"ant", "bass", "bear", "crow", "deer", "doe", "eel", "finch", "fox", "gnu", "hare", "hawk", "jay",
		"koi", "lark", "lynx", "mole", "newt", "owl", "ram", "seal", "swan", "toad", "vole", "wren", "yak"}
)

func pick(words []string) string {
	n, _ := rand.Int(rand.Reader, big.NewInt(int64(len(words))))
	return words[n.Int64()]
}

func randomRunName() string {
	n, _ := rand.Int(rand.Reader, big.NewInt(1000))
	return pick(nameAdjectives) + "-" + pick(nameNouns) + "-" + n.String()
}

// validateRunTag applies MLflow's rules for run tags.
func validateRunTag(key, value string) error {
	if err := validateEntityName("tag", key); err != nil {
		return err
	}
	return validateLengths("Tag", key, value, maxTagValueLength)
}

// maxParamValueLength is MLflow's limit on param values, in characters.
const maxParamValueLength = 6000

func validateParam(key, value string) error {
	if err := validateEntityName("parameter", key); err != nil {
		return err
	}
	return validateLengths("Param", key, value, maxParamValueLength)
}

func validateLengths(what, key, value string, maxValue int) error {
	if n := utf8.RuneCountInString(key); n > maxTagKeyLength {
		return invalidParam("%s key '%s' had length %d, which exceeded length limit of %d", what, prefix(key, 250), n, maxTagKeyLength)
	}
	if n := utf8.RuneCountInString(value); n > maxValue {
		return invalidParam("%s value '%s' had length %d, which exceeded length limit of %d", what, prefix(value, 250), n, maxValue)
	}
	return nil
}

func (s *Server) createRun(w http.ResponseWriter, r *http.Request) error {
	p, err := s.writeParams(w, r)
	if err != nil {
		return err
	}
	expID, err := p.str("experiment_id")
	if err != nil {
		return err
	}
	if expID == "" {
		expID = cairn.DefaultExperimentID
	}
	userID, err := p.str("user_id")
	if err != nil {
		return err
	}
	name, err := p.str("run_name")
	if err != nil {
		return err
	}
	start, err := millis(p, "start_time")
	if err != nil {
		return err
	}
	tags, err := p.keyValues("tags", validateRunTag)
	if err != nil {
		return err
	}
	if _, err := s.activeExperiment(r.Context(), expID); err != nil {
		return err
	}
	if name == "" {
		name = tags[registry.RunNameTag]
	}
	if name == "" {
		name = randomRunName()
	}
	run, err := s.svc.CreateRun(r.Context(), registry.RunCreate{ExperimentID: expID, Name: name, Tags: tags, StartTime: start, UserID: userID})
	if err != nil {
		return err
	}
	return s.writeRun(r.Context(), w, run)
}

func (s *Server) getRunHandler(w http.ResponseWriter, r *http.Request) error {
	p, err := s.readParams(w, r)
	if err != nil {
		return err
	}
	id, err := runID(p)
	if err != nil {
		return err
	}
	run, err := s.getRun(r.Context(), id)
	if err != nil {
		return err
	}
	return s.writeRun(r.Context(), w, run)
}

func (s *Server) updateRun(w http.ResponseWriter, r *http.Request) error {
	p, run, err := s.readRun(w, r)
	if err != nil {
		return err
	}
	var in registry.RunUpdate
	status, err := p.str("status")
	if err != nil {
		// protobuf JSON also takes the enum's number.
		n, nerr := p.integer("status", 0)
		if nerr != nil {
			return err
		}
		status = map[int64]string{1: "RUNNING", 2: "SCHEDULED", 3: "FINISHED", 4: "FAILED", 5: "KILLED"}[n]
	}
	if status != "" {
		// MLflow's protobuf parsing drops an enum value it does not know,
		// so the run keeps its status.
		if st, err := cairn.ParseRunStatus(status); err == nil {
			in.Status = &st
		}
	}
	if in.EndTime, err = millis(p, "end_time"); err != nil {
		return err
	}
	name, err := p.str("run_name")
	if err != nil {
		return err
	}
	if name != "" {
		in.Name = &name
	}
	updated, err := s.svc.UpdateRun(r.Context(), run.ID, in)
	if err != nil {
		return err
	}
	return writeJSON(w, map[string]any{"run_info": toRunInfo(updated)})
}

func (s *Server) deleteRun(w http.ResponseWriter, r *http.Request) error {
	return s.setRunDeleted(w, r, true)
}

func (s *Server) restoreRun(w http.ResponseWriter, r *http.Request) error {
	return s.setRunDeleted(w, r, false)
}

func (s *Server) setRunDeleted(w http.ResponseWriter, r *http.Request, deleted bool) error {
	p, err := s.writeParams(w, r)
	if err != nil {
		return err
	}
	id, err := runID(p)
	if err != nil {
		return err
	}
	if _, err := s.getRun(r.Context(), id); err != nil {
		return err
	}
	if deleted {
		err = s.svc.DeleteRun(r.Context(), id)
	} else {
		err = s.svc.RestoreRun(r.Context(), id)
	}
	if err != nil {
		return err
	}
	return writeJSON(w, empty)
}

// metricIn is a metric of a log request.
type metricIn struct {
	Key       *string         `json:"key"`
	Value     json.RawMessage `json:"value"`
	Timestamp json.RawMessage `json:"timestamp"`
	Step      json.RawMessage `json:"step"`
	// MLflow 3: the logged model the metric is about, and the dataset it
	// was computed on.
	ModelID       string `json:"model_id"`
	DatasetName   string `json:"dataset_name"`
	DatasetDigest string `json:"dataset_digest"`
}

// addModelMetric records pt on the logged model m names, if any.
func addModelMetric(in *registry.RunLog, m metricIn, pt cairn.MetricPoint) {
	if m.ModelID == "" {
		return
	}
	if in.ModelMetrics == nil {
		in.ModelMetrics = map[string][]cairn.LoggedModelMetric{}
	}
	in.ModelMetrics[m.ModelID] = append(in.ModelMetrics[m.ModelID], cairn.LoggedModelMetric{
		Key: pt.Key, Value: pt.Value, Timestamp: pt.Timestamp, Step: pt.Step, DatasetName: m.DatasetName, DatasetDigest: m.DatasetDigest,
	})
}

// parseMetric checks one metric as MLflow does and converts it.
func parseMetric(m metricIn) (cairn.MetricPoint, error) {
	if m.Key == nil || *m.Key == "" {
		return cairn.MetricPoint{}, invalidParam("Metric name cannot be None. A key name must be provided.")
	}
	key := *m.Key
	if err := validateEntityName("metric", key); err != nil {
		return cairn.MetricPoint{}, err
	}
	value, ok := parseFloatJSON(m.Value)
	if !ok {
		return cairn.MetricPoint{}, invalidParam("Got invalid value %s for metric '%s' (timestamp=%s). Please specify value as a valid double (64-bit floating point)",
			showRaw(m.Value), key, showRaw(m.Timestamp))
	}
	ts, ok := parseIntJSON(m.Timestamp)
	if !ok || ts < 0 {
		return cairn.MetricPoint{}, invalidParam("Got invalid timestamp %s for metric '%s' (value=%s). Timestamp must be a nonnegative long (64-bit integer) ",
			showRaw(m.Timestamp), key, showRaw(m.Value))
	}
	step := int64(0)
	if len(m.Step) > 0 && string(m.Step) != "null" {
		if step, ok = parseIntJSON(m.Step); !ok {
			return cairn.MetricPoint{}, invalidParam("Got invalid step %s for metric '%s' (value=%s). Step must be a valid long (64-bit integer).",
				showRaw(m.Step), key, showRaw(m.Value))
		}
	}
	if n := utf8.RuneCountInString(key); n > maxTagKeyLength {
		return cairn.MetricPoint{}, invalidParam("Metric name '%s' had length %d, which exceeded length limit of %d", prefix(key, 250), n, maxTagKeyLength)
	}
	if math.IsNaN(value) || math.IsInf(value, 0) {
		return cairn.MetricPoint{}, invalidParam("Got value %s for metric '%s': Cairn stores finite metric values only", metricValue(value), key)
	}
	return cairn.MetricPoint{Key: key, Value: value, Timestamp: time.UnixMilli(ts).UTC(), Step: step}, nil
}

func showRaw(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return "None"
	}
	return truncate(strings.Trim(string(raw), `"`), 60)
}

func parseFloatJSON(raw json.RawMessage) (float64, bool) {
	if len(raw) == 0 || string(raw) == "null" || raw[0] == 't' || raw[0] == 'f' {
		return 0, false
	}
	var f float64
	if raw[0] == '"' {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return 0, false
		}
		switch s {
		case "NaN":
			return math.NaN(), true
		case "Infinity":
			return math.Inf(1), true
		case "-Infinity":
			return math.Inf(-1), true
		}
		raw = json.RawMessage(s)
	}
	if json.Unmarshal(raw, &f) != nil {
		return 0, false
	}
	return f, true
}

func parseIntJSON(raw json.RawMessage) (int64, bool) {
	if len(raw) == 0 || string(raw) == "null" {
		return 0, false
	}
	if raw[0] == '"' {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return 0, false
		}
		raw = json.RawMessage(s)
	}
	var n json.Number
	if json.Unmarshal(raw, &n) != nil {
		return 0, false
	}
	i, err := n.Int64()
	if err != nil {
		f, ferr := n.Float64()
		if ferr != nil || f != math.Trunc(f) || math.Abs(f) > 1<<62 {
			return 0, false
		}
		return int64(f), true
	}
	return i, true
}

// Batch limits of log-batch (MLflow's).
const (
	maxBatchMetrics  = 1000
	maxBatchParams   = 100
	maxBatchTags     = 100
	maxBatchEntities = 1000
)

func batchLimit(what string, limit, n int) error {
	if n > limit {
		return invalidParam("A batch logging request can contain at most %d %s. Got %d %s. Please split up %s across multiple requests and try again.",
			limit, what, n, what, what)
	}
	return nil
}

// logToRun checks params against what the run has (MLflow refuses a
// changed param with INVALID_PARAMETER_VALUE, worded per endpoint: batch
// lists every changed param) and records the batch.
func (s *Server) logToRun(ctx context.Context, run *cairn.Run, in registry.RunLog, batch bool) error {
	keys := make([]string, 0, len(in.Params))
	for k := range in.Params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var changed []string
	for _, k := range keys {
		if old, ok := run.Params[k]; ok && old != in.Params[k] {
			if !batch {
				return invalidParam("Changing param values is not allowed. Param with key='%s' was already logged with value='%s' for run ID='%s'. Attempted logging new value '%s'.",
					k, old, run.ID, in.Params[k])
			}
			changed = append(changed, sprintf("{'key': '%s', 'old_value': '%s', 'new_value': '%s'}", k, old, in.Params[k]))
		}
	}
	if len(changed) > 0 {
		return invalidParam("Changing param values is not allowed. Params were already logged='[%s]' for run ID='%s'.", strings.Join(changed, ", "), run.ID)
	}
	err := s.svc.LogRun(ctx, run.ID, in)
	if cairn.IsCode(err, cairn.ECONFLICT) {
		// A concurrent request logged the param first.
		return invalidParam("Changing param values is not allowed. %s", cairn.ErrorMessage(err))
	}
	return err
}

func (s *Server) logBatch(w http.ResponseWriter, r *http.Request) error {
	p, err := s.writeParams(w, r)
	if err != nil {
		return err
	}
	id, err := runID(p)
	if err != nil {
		return err
	}
	var metrics []metricIn
	if raw := p.raw("metrics"); raw != nil {
		if err := json.Unmarshal(raw, &metrics); err != nil {
			return badType("metrics", raw)
		}
	}
	params, err := p.keyValueList("params")
	if err != nil {
		return err
	}
	tags, err := p.keyValueList("tags")
	if err != nil {
		return err
	}
	for _, c := range []struct {
		what     string
		limit, n int
	}{{"metrics", maxBatchMetrics, len(metrics)}, {"params", maxBatchParams, len(params)}, {"tags", maxBatchTags, len(tags)},
		{"metrics, params, and tags", maxBatchEntities, len(metrics) + len(params) + len(tags)}} {
		if err := batchLimit(c.what, c.limit, c.n); err != nil {
			return err
		}
	}
	in := registry.RunLog{}
	for _, m := range metrics {
		pt, err := parseMetric(m)
		if err != nil {
			return err
		}
		in.Metrics = append(in.Metrics, pt)
		addModelMetric(&in, m, pt)
	}
	if len(params) > 0 {
		in.Params = map[string]string{}
		var dupes []string
		for _, kv := range params {
			if err := validateParam(kv.Key, kv.Value); err != nil {
				return err
			}
			if _, ok := in.Params[kv.Key]; ok {
				dupes = append(dupes, "'"+kv.Key+"'")
			}
			in.Params[kv.Key] = kv.Value
		}
		if len(dupes) > 0 {
			return invalidParam("Duplicate parameter keys have been submitted: [%s]. Please ensure the request contains only one param value per param key.", strings.Join(dupes, ", "))
		}
	}
	if len(tags) > 0 {
		in.Tags = map[string]string{}
		for _, kv := range tags {
			if err := validateRunTag(kv.Key, kv.Value); err != nil {
				return err
			}
			in.Tags[kv.Key] = kv.Value
		}
	}
	run, err := s.activeRun(r.Context(), id)
	if err != nil {
		return err
	}
	if len(in.Metrics)+len(in.Params)+len(in.Tags) > 0 {
		if err := s.logToRun(r.Context(), run, in, true); err != nil {
			return err
		}
	}
	return writeJSON(w, empty)
}

func (s *Server) logMetric(w http.ResponseWriter, r *http.Request) error {
	p, err := s.writeParams(w, r)
	if err != nil {
		return err
	}
	id, err := runID(p)
	if err != nil {
		return err
	}
	key, err := p.required("key")
	if err != nil {
		return err
	}
	for _, f := range []string{"value", "timestamp"} {
		if !p.has(f) {
			return missing(f)
		}
	}
	m := metricIn{Key: &key, Value: p.raw("value"), Timestamp: p.raw("timestamp"), Step: p.raw("step")}
	if m.Value == nil {
		m.Value = json.RawMessage(p.query.Get("value"))
		m.Timestamp = json.RawMessage(p.query.Get("timestamp"))
		if st := p.query.Get("step"); st != "" {
			m.Step = json.RawMessage(st)
		}
	}
	pt, err := parseMetric(m)
	if err != nil {
		return err
	}
	run, err := s.activeRun(r.Context(), id)
	if err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		dst  *string
	}{{"model_id", &m.ModelID}, {"dataset_name", &m.DatasetName}, {"dataset_digest", &m.DatasetDigest}} {
		if *f.dst, err = p.str(f.name); err != nil {
			return err
		}
	}
	in := registry.RunLog{Metrics: []cairn.MetricPoint{pt}}
	addModelMetric(&in, m, pt)
	if err := s.logToRun(r.Context(), run, in, false); err != nil {
		return err
	}
	return writeJSON(w, empty)
}

// readRunKeyValue reads the run id, key and value of log-parameter and
// set-tag, in MLflow's order of checks: write permission, run id, key, a
// value present (the empty string is a value).
func (s *Server) readRunKeyValue(w http.ResponseWriter, r *http.Request) (id, key, value string, err error) {
	p, err := s.writeParams(w, r)
	if err != nil {
		return "", "", "", err
	}
	if id, err = runID(p); err != nil {
		return "", "", "", err
	}
	if key, err = p.required("key"); err != nil {
		return "", "", "", err
	}
	if !p.has("value") {
		return "", "", "", missing("value")
	}
	value, err = p.str("value")
	return id, key, value, err
}

func (s *Server) logParam(w http.ResponseWriter, r *http.Request) error {
	id, key, value, err := s.readRunKeyValue(w, r)
	if err != nil {
		return err
	}
	if err := validateParam(key, value); err != nil {
		return err
	}
	run, err := s.activeRun(r.Context(), id)
	if err != nil {
		return err
	}
	if err := s.logToRun(r.Context(), run, registry.RunLog{Params: map[string]string{key: value}}, false); err != nil {
		return err
	}
	return writeJSON(w, empty)
}

func (s *Server) setRunTag(w http.ResponseWriter, r *http.Request) error {
	id, key, value, err := s.readRunKeyValue(w, r)
	if err != nil {
		return err
	}
	if err := validateRunTag(key, value); err != nil {
		return err
	}
	if _, err := s.activeRun(r.Context(), id); err != nil {
		return err
	}
	if err := s.svc.LogRun(r.Context(), id, registry.RunLog{Tags: map[string]string{key: value}}); err != nil {
		return err
	}
	return writeJSON(w, empty)
}

func (s *Server) deleteRunTag(w http.ResponseWriter, r *http.Request) error {
	p, run, err := s.readRun(w, r)
	if err != nil {
		return err
	}
	key, err := p.required("key")
	if err != nil {
		return err
	}
	if _, ok := run.Tags[key]; !ok {
		return &apiError{status: http.StatusNotFound, code: codeDoesNotExist, msg: sprintf("No tag with name: %s in run with id %s", key, run.ID)}
	}
	if _, err := s.svc.UpdateRun(r.Context(), run.ID, registry.RunUpdate{DeleteTags: []string{key}}); err != nil {
		return err
	}
	return writeJSON(w, empty)
}

// Page limits of metrics/get-history.
const (
	defaultHistoryResults = 25000
	maxHistoryResults     = 25000
)

func (s *Server) getMetricHistory(w http.ResponseWriter, r *http.Request) error {
	p, err := s.readParams(w, r)
	if err != nil {
		return err
	}
	id, err := runID(p)
	if err != nil {
		return err
	}
	key, err := p.required("metric_key")
	if err != nil {
		return err
	}
	max, token, err := pageRequest(p, defaultHistoryResults, 1<<31)
	if err != nil {
		return err
	}
	// MLflow answers an unknown run's history, and a deleted run's, with
	// what it has: nothing, or the points.
	run, err := s.getRun(r.Context(), id)
	if err != nil {
		var ae *apiError
		if errors.As(err, &ae) && ae.code == codeDoesNotExist {
			return writeJSON(w, empty)
		}
		return err
	}
	hist, err := s.svc.Store().MetricHistory(r.Context(), run.ID, key)
	if err != nil {
		return err
	}
	offset := 0
	if token != "" {
		n, perr := decodeOffsetToken(token)
		if perr != nil {
			return perr
		}
		offset = n
	}
	offset = min(offset, len(hist))
	end := min(len(hist), offset+int(max))
	out := make([]metricJSON, 0, end-offset)
	for _, pt := range hist[offset:end] {
		out = append(out, toMetric(pt))
	}
	next := ""
	if end < len(hist) {
		next = encodeOffsetToken(end)
	}
	return writeJSON(w, struct {
		Metrics       []metricJSON `json:"metrics,omitempty"`
		NextPageToken string       `json:"next_page_token,omitempty"`
	}{out, next})
}

// encodeOffsetToken and decodeOffsetToken are the page tokens of lists
// this API pages itself (metric history).
func encodeOffsetToken(n int) string {
	return base64.RawURLEncoding.EncodeToString([]byte("h:" + strconv.Itoa(n)))
}

func decodeOffsetToken(s string) (int, error) {
	bad := invalidParam("Invalid page token '%s'", truncate(s, 60))
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return 0, bad
	}
	digits, ok := strings.CutPrefix(string(b), "h:")
	if !ok {
		return 0, bad
	}
	n, err := strconv.Atoi(digits)
	if err != nil || n < 0 {
		return 0, bad
	}
	return n, nil
}

var runSearch = searchEntity{
	attrs:   []string{"artifact_uri", "created", "end_time", "experiment_id", "run_id", "run_name", "start_time", "status", "user_id"},
	numeric: map[string]bool{"start_time": true, "end_time": true, "created": true},
	inList:  map[string]bool{"run_id": true, "run_name": true, "status": true, "user_id": true, "experiment_id": true},
	orderBy: map[string]string{"run_id": "run_id", "run_name": "run_name", "status": "status", "user_id": "user_id",
		"artifact_uri": "artifact_uri", "start_time": "start_time", "end_time": "end_time", "created": "start_time", "experiment_id": "experiment_id"},
	orderKey: []string{"artifact_uri", "end_time", "experiment_id", "run_id", "run_name", "start_time", "status", "user_id"},
	keyed:    true,
}

func (s *Server) searchRuns(w http.ResponseWriter, r *http.Request) error {
	p, err := s.readParams(w, r)
	if err != nil {
		return err
	}
	expIDs, err := p.strings("experiment_ids")
	if err != nil {
		return err
	}
	max, token, err := pageRequest(p, defaultSearchResults, maxSearchResults)
	if err != nil {
		return err
	}
	lc, err := viewType(p, "run_view_type")
	if err != nil {
		return err
	}
	filter, err := p.str("filter")
	if err != nil {
		return err
	}
	f, err := translateFilter(filter, &runSearch)
	if err != nil {
		return err
	}
	rawOrder, err := p.strings("order_by")
	if err != nil {
		return err
	}
	order, err := translateOrderBy(rawOrder, &runSearch)
	if err != nil {
		return err
	}
	var runs []*cairn.Run
	next, err := collectPages(max, token, func(size int, tok string) ([]any, string, error) {
		page, err := s.svc.SearchRuns(r.Context(), cairn.RunSearch{ExperimentIDs: expIDs, Filter: f, OrderBy: orderBys(order),
			Page: cairn.Page{Size: size, Token: tok}, Lifecycle: lc})
		if err != nil {
			return nil, "", err
		}
		items := make([]any, len(page.Items))
		for i, run := range page.Items {
			items[i] = run
		}
		return items, page.NextToken, nil
	}, func(v any) { runs = append(runs, v.(*cairn.Run)) })
	if err != nil {
		return err
	}
	ids := make([]string, len(runs))
	for i, run := range runs {
		ids[i] = run.ID
	}
	latest, err := s.svc.LatestMetrics(r.Context(), ids)
	if err != nil {
		return err
	}
	out := make([]runJSON, len(runs))
	for i, run := range runs {
		out[i] = toRun(run, latest[run.ID])
	}
	return writeJSON(w, struct {
		Runs          []runJSON `json:"runs,omitempty"`
		NextPageToken string    `json:"next_page_token,omitempty"`
	}{out, next})
}

// canWrite checks the writer role before a handler looks a record up, so
// that a caller without it learns nothing about what exists.
func (s *Server) canWrite(ctx context.Context) error {
	return s.svc.AuthorizeAny(ctx, cairn.RoleWriter)
}

// writeParams reads the parameters of a request that writes, then checks
// the writer role (canWrite), in that order: a malformed body is
// INVALID_PARAMETER_VALUE for anyone.
func (s *Server) writeParams(w http.ResponseWriter, r *http.Request) (*params, error) {
	p, err := s.readParams(w, r)
	if err != nil {
		return nil, err
	}
	if err := s.canWrite(r.Context()); err != nil {
		return nil, err
	}
	return p, nil
}

// prefix returns the first n runes of s, as MLflow's messages quote long
// values (value[:250]).
func prefix(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n])
}
