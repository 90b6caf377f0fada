package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/cairn-registry/cairn"
)

// RunCreate is the input of CreateRun.
type RunCreate struct {
	ExperimentID string            `json:"experiment_id,omitempty"`
	Name         string            `json:"name,omitempty"`
	Tags         map[string]string `json:"tags,omitempty"`
	StartTime    *time.Time        `json:"start_time,omitempty"`
	// UserID is the user the client says starts the run (MLflow's
	// user_id); the principal is recorded as created_by regardless.
	UserID string `json:"user_id,omitempty"`
}

// CreateRun starts a run in an experiment (the default one if none given).
// Its artifact URI is <experiment artifact location>/<run id>/artifacts.
// ENOTFOUND if the experiment does not exist, EFAILEDPRECONDITION if it is
// deleted. A tag mlflow.runName is the run's name (MLflow keeps the two
// equal): given without a name, it names the run.
func (s *Service) CreateRun(ctx context.Context, in RunCreate) (*cairn.Run, error) {
	if err := s.authorizeAny(ctx, cairn.RoleWriter); err != nil {
		return nil, err
	}
	if in.ExperimentID == "" {
		in.ExperimentID = cairn.DefaultExperimentID
	}
	if in.Name == "" {
		in.Name = in.Tags[RunNameTag]
	}
	for field, v := range map[string]string{"experiment_id": in.ExperimentID, "name": in.Name, "user_id": in.UserID} {
		if err := cairn.ValidateText(field, v); err != nil {
			return nil, err
		}
	}
	if err := cairn.ValidateTags(in.Tags); err != nil {
		return nil, err
	}
	var out *cairn.Run
	err := s.update(ctx, func(m *mutation) error {
		exp, err := liveExperiment(ctx, m.tx, in.ExperimentID)
		if err != nil {
			return err
		}
		start := m.now
		if in.StartTime != nil {
			start = cairn.Timestamp(*in.StartTime)
		}
		tags := maps.Clone(nonNil(in.Tags))
		if in.Name != "" {
			tags[RunNameTag] = in.Name
		}
		id := newID()
		r := &cairn.Run{
			ID: id, ExperimentID: in.ExperimentID, Name: in.Name, Status: cairn.RunRunning,
			StartTime: start, Params: map[string]string{}, Metrics: map[string]float64{}, Tags: tags,
			ArtifactURI: strings.TrimRight(exp.ArtifactLocation, "/") + "/" + id + "/artifacts", UserID: in.UserID,
			Inputs: []cairn.DatasetInput{}, ModelInputs: []string{}, Outputs: []cairn.ModelOutput{},
			CreatedBy: m.actor.Name, CreatedAt: m.now, UpdatedAt: m.now,
		}
		if err := m.tx.CreateRun(ctx, r); err != nil {
			return err
		}
		m.record(cairn.EventRunCreated, "run:"+r.ID, "", "", nil, r)
		out = r
		return nil
	})
	return out, err
}

// RunNameTag is the tag MLflow keeps equal to a run's name.
const RunNameTag = "mlflow.runName"

// GetRun returns a run; deleted runs are ENOTFOUND.
func (s *Service) GetRun(ctx context.Context, id string) (*cairn.Run, error) {
	if err := s.authorizeAny(ctx, cairn.RoleReader); err != nil {
		return nil, err
	}
	return getRun(ctx, s.store, id)
}

func getRun(ctx context.Context, r cairn.Reader, id string) (*cairn.Run, error) {
	if err := cairn.ValidateText("run id", id); err != nil || id == "" {
		return nil, cairn.Errorf(cairn.EINVALID, "invalid run id %q", id)
	}
	run, err := r.GetRun(ctx, id)
	if err != nil {
		return nil, notFound(err, "run %q not found", id)
	}
	if run.DeletedAt != nil {
		return nil, cairn.Errorf(cairn.ENOTFOUND, "run %q not found (it was deleted)", id)
	}
	return run, nil
}

// ListRuns lists runs, newest first, of one experiment or all ("").
func (s *Service) ListRuns(ctx context.Context, experimentID string, pageSize int, pageToken string) (*cairn.RunPage, error) {
	if err := s.authorizeAny(ctx, cairn.RoleReader); err != nil {
		return nil, err
	}
	page, err := checkPage(pageSize, pageToken)
	if err != nil {
		return nil, err
	}
	return s.store.ListRuns(ctx, cairn.RunQuery{ExperimentID: experimentID, Page: page})
}

// RunUpdate changes a run. Nil fields stay.
type RunUpdate struct {
	Name       *string           `json:"name,omitempty"`
	Status     *cairn.RunStatus  `json:"status,omitempty"`
	EndTime    *time.Time        `json:"end_time,omitempty"`
	SetTags    map[string]string `json:"set_tags,omitempty"`
	DeleteTags []string          `json:"delete_tags,omitempty"`
}

// UpdateRun changes a run's name, status, end time and tags.
func (s *Service) UpdateRun(ctx context.Context, id string, in RunUpdate) (*cairn.Run, error) {
	if err := s.authorizeAny(ctx, cairn.RoleWriter); err != nil {
		return nil, err
	}
	if in.Status != nil {
		if _, err := cairn.ParseRunStatus(string(*in.Status)); err != nil {
			return nil, err
		}
	}
	if in.Name != nil {
		if err := cairn.ValidateText("name", *in.Name); err != nil {
			return nil, err
		}
	}
	var out *cairn.Run
	err := s.update(ctx, func(m *mutation) error {
		r, err := getRun(ctx, m.tx, id)
		if err != nil {
			return err
		}
		before := *r
		before.Tags = maps.Clone(r.Tags)
		desc := ""
		if _, err := applyUpdate(&desc, r.Tags, nil, in.SetTags, in.DeleteTags); err != nil {
			return err
		}
		if name, ok := in.SetTags[RunNameTag]; ok && in.Name == nil {
			r.Name = name
		}
		if in.Name != nil {
			r.Name = *in.Name
			if r.Name != "" {
				r.Tags[RunNameTag] = r.Name
			}
		}
		if in.Status != nil {
			r.Status = *in.Status
		}
		if in.EndTime != nil {
			t := cairn.Timestamp(*in.EndTime)
			r.EndTime = &t
		}
		r.UpdatedAt = m.now
		if err := m.tx.UpdateRun(ctx, r); err != nil {
			return err
		}
		m.record(cairn.EventRunUpdated, "run:"+r.ID, "", "", &before, r)
		out = r
		return nil
	})
	return out, err
}

// RunLog is a batch of values logged to a run.
type RunLog struct {
	Metrics []cairn.MetricPoint `json:"metrics,omitempty"`
	Params  map[string]string   `json:"params,omitempty"`
	Tags    map[string]string   `json:"tags,omitempty"`
	// ModelMetrics are metric points logged with a logged model's id
	// (MLflow 3), by model id: each is recorded on the run (in Metrics
	// too) and on the logged model, whose RunID it gets.
	ModelMetrics map[string][]cairn.LoggedModelMetric `json:"model_metrics,omitempty"`
}

// Limits on one LogRun batch, as MLflow's log-batch.
const (
	MaxLogMetrics = 1000
	MaxLogParams  = 100
)

// LogRun records metrics (with history), params and tags on a run. A param
// may be logged again only with the same value (ECONFLICT otherwise).
func (s *Service) LogRun(ctx context.Context, id string, in RunLog) error {
	if err := s.authorizeAny(ctx, cairn.RoleWriter); err != nil {
		return err
	}
	if len(in.Metrics) > MaxLogMetrics || len(in.Params) > MaxLogParams {
		return cairn.Errorf(cairn.EINVALID, "a batch holds at most %d metrics and %d params", MaxLogMetrics, MaxLogParams)
	}
	latest := map[string]float64{}
	for i, p := range in.Metrics {
		latest[p.Key] = p.Value
		if p.Timestamp.IsZero() {
			in.Metrics[i].Timestamp = s.now()
		}
		in.Metrics[i].Timestamp = cairn.Timestamp(in.Metrics[i].Timestamp)
	}
	if err := cairn.ValidateMetrics(latest); err != nil {
		return err
	}
	if err := cairn.ValidateParams(in.Params); err != nil {
		return err
	}
	if err := cairn.ValidateTags(in.Tags); err != nil {
		return err
	}
	return s.update(ctx, func(m *mutation) error {
		r, err := getRun(ctx, m.tx, id)
		if err != nil {
			return err
		}
		if err := m.tx.LogRun(ctx, id, in.Metrics, in.Params); err != nil {
			return err
		}
		if len(in.ModelMetrics) > 0 {
			for mid, pts := range in.ModelMetrics {
				for i := range pts {
					pts[i].RunID = id
					if pts[i].Timestamp.IsZero() {
						pts[i].Timestamp = m.now
					}
					pts[i].Timestamp = cairn.Timestamp(pts[i].Timestamp)
				}
				in.ModelMetrics[mid] = pts
			}
			if err := logLoggedModelMetrics(ctx, m, in.ModelMetrics); err != nil {
				return err
			}
		}
		if len(in.Tags) > 0 {
			maps.Copy(r.Tags, in.Tags)
			if name, ok := in.Tags[RunNameTag]; ok {
				r.Name = name
			}
			if len(r.Tags) > maxRunTags {
				return cairn.Errorf(cairn.EINVALID, "a run may have at most %d tags", maxRunTags)
			}
			r.UpdatedAt = m.now
			if err := m.tx.UpdateRun(ctx, r); err != nil {
				return err
			}
		}
		m.record(cairn.EventRunUpdated, "run:"+id, "", "", nil, in)
		return nil
	})
}

// MetricHistory returns every logged value of one metric of a run.
func (s *Service) MetricHistory(ctx context.Context, runID, key string) ([]cairn.MetricPoint, error) {
	if err := s.authorizeAny(ctx, cairn.RoleReader); err != nil {
		return nil, err
	}
	if _, err := getRun(ctx, s.store, runID); err != nil {
		return nil, err
	}
	return s.store.MetricHistory(ctx, runID, key)
}

// RunLinks names what a run consumed and produced, as references.
type RunLinks struct {
	Inputs  []string `json:"inputs,omitempty"`
	Outputs []string `json:"outputs,omitempty"`
}

// LinkRun records lineage edges: each input version → run (consumed_by)
// and run → each output version (produced). Edges into a version are fixed
// when it is finalized, so an output must be a version whose record names
// this run (run_id): the edge it gets is the one its record implies
// (recorded at finalize if the run existed then, else now); any other
// output is EFAILEDPRECONDITION. An input that would close a cycle (the
// run produced it, directly or not) is EINVALID.
func (s *Service) LinkRun(ctx context.Context, id string, in RunLinks) error {
	if err := s.authorizeAny(ctx, cairn.RoleWriter); err != nil {
		return err
	}
	// An input is read; an output gains an edge into it, which is writing.
	for _, refs := range []struct {
		refs []string
		need cairn.Role
	}{{in.Inputs, cairn.RoleReader}, {in.Outputs, cairn.RoleWriter}} {
		for _, ref := range refs.refs {
			p, err := cairn.ParseRef(ref)
			if err != nil {
				return err
			}
			if err := s.authorize(ctx, refs.need, p.Model); err != nil {
				return err
			}
		}
	}
	if len(in.Inputs)+len(in.Outputs) > cairn.MaxRefs {
		return cairn.Errorf(cairn.EINVALID, "at most %d links at once", cairn.MaxRefs)
	}
	return s.update(ctx, func(m *mutation) error {
		if _, err := getRun(ctx, m.tx, id); err != nil {
			return err
		}
		run := cairn.RunNode(id)
		var edges []cairn.Edge
		for _, ref := range in.Inputs {
			v, err := resolve(ctx, m.tx, ref)
			if err != nil {
				return err
			}
			edges = append(edges, cairn.Edge{From: cairn.VersionNode(v.Model, v.Number), To: run, Type: cairn.EdgeConsumedBy, CreatedBy: m.actor.Name, CreatedAt: m.now})
		}
		for _, ref := range in.Outputs {
			v, err := resolve(ctx, m.tx, ref)
			if err != nil {
				return err
			}
			if v.RunID != id {
				return cairn.Errorf(cairn.EFAILEDPRECONDITION,
					"cannot record run %s as the producer of %s: the edges into a version are fixed when it is finalized, and its record names run %q; push it with --run-id %s instead",
					id, v.Ref(), v.RunID, id)
			}
			edges = append(edges, cairn.Edge{From: run, To: cairn.VersionNode(v.Model, v.Number), Type: cairn.EdgeProduced, CreatedBy: m.actor.Name, CreatedAt: m.now})
		}
		if len(edges) == 0 {
			return nil
		}
		if err := m.tx.AddEdges(ctx, edges); err != nil {
			return err
		}
		m.record(cairn.EventLineageAdded, "run:"+id, "", "", nil, edges)
		return nil
	})
}

// maxRunTags bounds a run's tags, as any record's.
const maxRunTags = cairn.MaxTags

// GetRunAny returns a run, deleted or not (see DeletedAt): MLflow's
// runs/get answers for deleted runs too.
func (s *Service) GetRunAny(ctx context.Context, id string) (*cairn.Run, error) {
	if err := s.authorizeAny(ctx, cairn.RoleReader); err != nil {
		return nil, err
	}
	if err := cairn.ValidateText("run id", id); err != nil || id == "" {
		return nil, cairn.Errorf(cairn.EINVALID, "invalid run id %q", truncateID(id))
	}
	r, err := s.store.GetRun(ctx, id)
	return r, notFound(err, "run %q not found", id)
}

// SearchRuns searches the runs of some experiments.
func (s *Service) SearchRuns(ctx context.Context, q cairn.RunSearch) (*cairn.RunPage, error) {
	if err := s.authorizeAny(ctx, cairn.RoleReader); err != nil {
		return nil, err
	}
	if _, err := checkPage(q.Page.Size, q.Page.Token); err != nil {
		return nil, err
	}
	return s.store.SearchRuns(ctx, q)
}

// LatestMetrics returns the latest point of each metric of each run, by run
// id: what Run.Metrics holds, with each value's step and time.
func (s *Service) LatestMetrics(ctx context.Context, runIDs []string) (map[string][]cairn.MetricPoint, error) {
	if err := s.authorizeAny(ctx, cairn.RoleReader); err != nil {
		return nil, err
	}
	return s.store.LatestMetrics(ctx, runIDs)
}

// DeleteRun marks a run deleted; RestoreRun undoes it. Both are no-ops on
// a run already in that state.
func (s *Service) DeleteRun(ctx context.Context, id string) error {
	return s.setRunDeleted(ctx, id, true)
}

// RestoreRun undoes DeleteRun.
func (s *Service) RestoreRun(ctx context.Context, id string) error {
	return s.setRunDeleted(ctx, id, false)
}

func (s *Service) setRunDeleted(ctx context.Context, id string, deleted bool) error {
	if err := s.authorizeAny(ctx, cairn.RoleWriter); err != nil {
		return err
	}
	return s.update(ctx, func(m *mutation) error {
		r, err := m.tx.GetRun(ctx, id)
		if err != nil {
			return notFound(err, "run %q not found", id)
		}
		if (r.DeletedAt != nil) == deleted {
			return nil
		}
		before := *r
		action := cairn.EventRunRestored
		r.DeletedAt = nil
		if deleted {
			now := m.now
			r.DeletedAt = &now
			action = cairn.EventRunDeleted
		}
		r.UpdatedAt = m.now
		if err := m.tx.UpdateRun(ctx, r); err != nil {
			return err
		}
		m.record(action, "run:"+id, "", "", &before, r)
		return nil
	})
}

// Limits on what log-inputs records, as MLflow's.
const (
	MaxDatasetNameLength   = 500
	MaxDatasetDigestLength = 36
	MaxDatasetSourceLength = 65535
	MaxDatasetSchemaLength = 1 << 20
	MaxDatasetProfileSize  = 1 << 20
	maxRunInputs           = 1000
)

// RunInputs is what a run consumed: datasets and (MLflow 3) logged models.
type RunInputs struct {
	Datasets []cairn.DatasetInput `json:"datasets,omitempty"`
	Models   []string             `json:"models,omitempty"`
}

// LogRunInputs records datasets and models a run consumed. A dataset
// already recorded (same name and digest) is replaced by the new record
// (its tags may have changed); a model already recorded is kept once.
func (s *Service) LogRunInputs(ctx context.Context, id string, in RunInputs) error {
	if err := s.authorizeAny(ctx, cairn.RoleWriter); err != nil {
		return err
	}
	if len(in.Datasets)+len(in.Models) > maxRunInputs {
		return cairn.Errorf(cairn.EINVALID, "at most %d inputs at once", maxRunInputs)
	}
	for _, d := range in.Datasets {
		if err := validateDataset(d); err != nil {
			return err
		}
	}
	for _, mid := range in.Models {
		if err := cairn.ValidateText("model id", mid); err != nil || mid == "" {
			return cairn.Errorf(cairn.EINVALID, "invalid model id %q", truncateID(mid))
		}
	}
	return s.update(ctx, func(m *mutation) error {
		r, err := getRun(ctx, m.tx, id)
		if err != nil {
			return err
		}
		changed := false
		for _, d := range in.Datasets {
			replaced := false
			for i, old := range r.Inputs {
				if old.Name == d.Name && old.Digest == d.Digest {
					r.Inputs[i], replaced = d, true
				}
			}
			if !replaced {
				r.Inputs = append(r.Inputs, d)
			}
			changed = true
		}
		for _, mid := range in.Models {
			if !slices.Contains(r.ModelInputs, mid) {
				r.ModelInputs = append(r.ModelInputs, mid)
				changed = true
			}
		}
		if len(r.Inputs)+len(r.ModelInputs) > 10*maxRunInputs {
			return cairn.Errorf(cairn.EINVALID, "a run may record at most %d inputs", 10*maxRunInputs)
		}
		if !changed {
			return nil
		}
		r.UpdatedAt = m.now
		if err := m.tx.UpdateRun(ctx, r); err != nil {
			return err
		}
		m.record(cairn.EventRunUpdated, "run:"+id, "", "", nil, in)
		return nil
	})
}

func validateDataset(d cairn.DatasetInput) error {
	for _, f := range []struct {
		name, v string
		max     int
	}{
		{"dataset name", d.Name, MaxDatasetNameLength}, {"dataset digest", d.Digest, MaxDatasetDigestLength},
		{"dataset source", d.Source, MaxDatasetSourceLength}, {"dataset source_type", d.SourceType, MaxDatasetNameLength},
		{"dataset schema", d.Schema, MaxDatasetSchemaLength}, {"dataset profile", d.Profile, MaxDatasetProfileSize},
	} {
		if !utf8.ValidString(f.v) {
			return cairn.Errorf(cairn.EINVALID, "%s must be valid UTF-8", f.name)
		}
		if len(f.v) > f.max {
			return cairn.Errorf(cairn.EINVALID, "%s is %d bytes long; the limit is %d", f.name, len(f.v), f.max)
		}
	}
	if d.Name == "" || d.Digest == "" {
		return cairn.Errorf(cairn.EINVALID, "a dataset needs a name and a digest")
	}
	return nil
}

// LogRunOutputs records logged models a run produced; an output already
// recorded (same model and step) is kept once.
func (s *Service) LogRunOutputs(ctx context.Context, id string, outs []cairn.ModelOutput) error {
	if err := s.authorizeAny(ctx, cairn.RoleWriter); err != nil {
		return err
	}
	if len(outs) > maxRunInputs {
		return cairn.Errorf(cairn.EINVALID, "at most %d outputs at once", maxRunInputs)
	}
	for _, o := range outs {
		if err := cairn.ValidateText("model id", o.ModelID); err != nil || o.ModelID == "" {
			return cairn.Errorf(cairn.EINVALID, "invalid model id %q", truncateID(o.ModelID))
		}
	}
	return s.update(ctx, func(m *mutation) error {
		r, err := getRun(ctx, m.tx, id)
		if err != nil {
			return err
		}
		changed := false
		for _, o := range outs {
			if !slices.Contains(r.Outputs, o) {
				r.Outputs = append(r.Outputs, o)
				changed = true
			}
		}
		if len(r.Outputs) > 10*maxRunInputs {
			return cairn.Errorf(cairn.EINVALID, "a run may record at most %d outputs", 10*maxRunInputs)
		}
		if !changed {
			return nil
		}
		r.UpdatedAt = m.now
		if err := m.tx.UpdateRun(ctx, r); err != nil {
			return err
		}
		m.record(cairn.EventRunUpdated, "run:"+id, "", "", nil, outs)
		return nil
	})
}

// LoggedModelHistoryTag is the run tag where MLflow 2 keeps the MLmodel
// JSON of each model logged in the run (runs/log-model), as a JSON array.
const LoggedModelHistoryTag = "mlflow.log-model.history"

// maxModelHistory bounds the history tag, which outgrows ordinary tag
// values: MLflow stores it in a text column without the tag limit.
const maxModelHistory = 1 << 20

// RecordLoggedModel appends a model's JSON (an MLmodel file as JSON) to the
// run's mlflow.log-model.history tag.
func (s *Service) RecordLoggedModel(ctx context.Context, id string, modelJSON json.RawMessage) error {
	if err := s.authorizeAny(ctx, cairn.RoleWriter); err != nil {
		return err
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(modelJSON, &obj); err != nil || obj == nil {
		return cairn.Errorf(cairn.EINVALID, "the model JSON must be a JSON object")
	}
	return s.update(ctx, func(m *mutation) error {
		r, err := getRun(ctx, m.tx, id)
		if err != nil {
			return err
		}
		var history []json.RawMessage
		if old := r.Tags[LoggedModelHistoryTag]; old != "" {
			if err := json.Unmarshal([]byte(old), &history); err != nil {
				history = nil // not ours to keep: MLflow would overwrite it too
			}
		}
		var compact bytes.Buffer
		if err := json.Compact(&compact, modelJSON); err != nil {
			return cairn.Errorf(cairn.EINVALID, "the model JSON must be a JSON object")
		}
		history = append(history, compact.Bytes())
		b, err := json.Marshal(history)
		if err != nil {
			return fmt.Errorf("encode model history: %w", err)
		}
		if len(b) > maxModelHistory {
			return cairn.Errorf(cairn.EINVALID, "run %s: the model history would be %d bytes; the limit is %d", id, len(b), maxModelHistory)
		}
		before := r.Tags[LoggedModelHistoryTag]
		r.Tags[LoggedModelHistoryTag] = string(b)
		r.UpdatedAt = m.now
		if err := m.tx.UpdateRun(ctx, r); err != nil {
			return err
		}
		m.record(cairn.EventRunUpdated, "run:"+id, "", "", map[string]string{LoggedModelHistoryTag: before},
			map[string]string{LoggedModelHistoryTag: string(b)})
		return nil
	})
}
