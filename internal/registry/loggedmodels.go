package registry

import (
	"context"
	"maps"
	"slices"
	"strings"

	"github.com/cairn-registry/cairn"
)

// Logged models (MLflow 3): a model an experiment logged, with files under
// its artifact location in the artifact store, params, metrics and the run
// that produced it. Like runs and experiments they belong to no registered
// model, so authorization asks for a role on some scope: reader to read,
// writer to create, finalize, tag, log to and delete. Each change writes
// its audit entry and its event (logged_model.*) in its transaction.

// LoggedModelCreate is the input of CreateLoggedModel.
type LoggedModelCreate struct {
	ExperimentID string            `json:"experiment_id"`
	Name         string            `json:"name"`
	ModelType    string            `json:"model_type,omitempty"`
	SourceRunID  string            `json:"source_run_id,omitempty"`
	Params       map[string]string `json:"params,omitempty"`
	Tags         map[string]string `json:"tags,omitempty"`
}

// loggedModelTarget is the audit target of a logged model.
func loggedModelTarget(id string) string { return "logged_model:" + id }

// CreateLoggedModel creates a pending logged model in an active
// experiment, with a new id m-<32 hex> and the artifact location
// <experiment artifact location>/models/<id>/artifacts. ENOTFOUND if the
// experiment does not exist, EFAILEDPRECONDITION if it is deleted. The
// source run is recorded as given: it may name a run Cairn does not have.
func (s *Service) CreateLoggedModel(ctx context.Context, in LoggedModelCreate) (*cairn.LoggedModel, error) {
	if err := s.authorizeAny(ctx, cairn.RoleWriter); err != nil {
		return nil, err
	}
	if in.ExperimentID == "" {
		return nil, cairn.Errorf(cairn.EINVALID, "a logged model needs an experiment id")
	}
	if in.Name == "" {
		return nil, cairn.Errorf(cairn.EINVALID, "a logged model needs a name")
	}
	for field, v := range map[string]string{"name": in.Name, "model_type": in.ModelType, "source_run_id": in.SourceRunID} {
		if err := cairn.ValidateText(field, v); err != nil {
			return nil, err
		}
	}
	if err := cairn.ValidateParams(in.Params); err != nil {
		return nil, err
	}
	if err := cairn.ValidateTags(in.Tags); err != nil {
		return nil, err
	}
	var out *cairn.LoggedModel
	err := s.update(ctx, func(m *mutation) error {
		exp, err := liveExperiment(ctx, m.tx, in.ExperimentID)
		if err != nil {
			return err
		}
		id := "m-" + newID()
		lm := &cairn.LoggedModel{
			ID: id, ExperimentID: exp.ID, Name: in.Name, ModelType: in.ModelType, SourceRunID: in.SourceRunID,
			Status:           cairn.LoggedModelPending,
			ArtifactLocation: strings.TrimRight(exp.ArtifactLocation, "/") + "/models/" + id + "/artifacts",
			Params:           nonNil(maps.Clone(in.Params)), Tags: nonNil(maps.Clone(in.Tags)), Metrics: []cairn.LoggedModelMetric{},
			CreatedBy: m.actor.Name, CreatedAt: m.now, UpdatedAt: m.now,
		}
		if err := m.tx.CreateLoggedModel(ctx, lm); err != nil {
			return err
		}
		m.record(cairn.EventLoggedModelCreated, loggedModelTarget(id), "", "", nil, lm)
		out = lm
		return nil
	})
	return out, err
}

// GetLoggedModel returns a logged model; a deleted one is ENOTFOUND.
func (s *Service) GetLoggedModel(ctx context.Context, id string) (*cairn.LoggedModel, error) {
	if err := s.authorizeAny(ctx, cairn.RoleReader); err != nil {
		return nil, err
	}
	return getLoggedModel(ctx, s.store, id)
}

func getLoggedModel(ctx context.Context, r cairn.Reader, id string) (*cairn.LoggedModel, error) {
	if err := cairn.ValidateText("logged model id", id); err != nil || id == "" {
		return nil, cairn.Errorf(cairn.EINVALID, "invalid logged model id %q", truncateID(id))
	}
	lm, err := r.GetLoggedModel(ctx, id)
	if err != nil {
		return nil, notFound(err, "logged model %q not found", id)
	}
	if lm.DeletedAt != nil {
		return nil, cairn.Errorf(cairn.ENOTFOUND, "logged model %q not found (it was deleted)", id)
	}
	return lm, nil
}

// cloneLoggedModel copies a logged model for an audit entry's before.
func cloneLoggedModel(lm *cairn.LoggedModel) *cairn.LoggedModel {
	c := *lm
	c.Params, c.Tags, c.Metrics = maps.Clone(lm.Params), maps.Clone(lm.Tags), slices.Clone(lm.Metrics)
	return &c
}

// LoggedModelUpdate changes a logged model. Nil and empty fields stay.
type LoggedModelUpdate struct {
	// Status finalizes the upload: READY or FAILED (PENDING is allowed
	// too, and changes nothing but the message).
	Status        *cairn.LoggedModelStatus `json:"status,omitempty"`
	StatusMessage *string                  `json:"status_message,omitempty"`
	SetTags       map[string]string        `json:"set_tags,omitempty"`
	DeleteTags    []string                 `json:"delete_tags,omitempty"`
	// Params are added; a param already set to a different value is
	// EINVALID (params are immutable, as a run's are).
	Params map[string]string `json:"params,omitempty"`
}

// UpdateLoggedModel finalizes a logged model, sets or deletes its tags and
// adds params, in one transaction. Deleting a tag the model does not have
// is ENOTFOUND.
func (s *Service) UpdateLoggedModel(ctx context.Context, id string, in LoggedModelUpdate) (*cairn.LoggedModel, error) {
	if err := s.authorizeAny(ctx, cairn.RoleWriter); err != nil {
		return nil, err
	}
	if in.Status != nil {
		switch *in.Status {
		case cairn.LoggedModelPending, cairn.LoggedModelReady, cairn.LoggedModelFailed:
		default:
			return nil, cairn.Errorf(cairn.EINVALID, "invalid logged model status %q: want PENDING, READY or FAILED", truncateID(string(*in.Status)))
		}
	}
	if in.StatusMessage != nil {
		if err := cairn.ValidateDescription(*in.StatusMessage); err != nil {
			return nil, err
		}
	}
	if err := cairn.ValidateTags(in.SetTags); err != nil {
		return nil, err
	}
	if err := cairn.ValidateParams(in.Params); err != nil {
		return nil, err
	}
	var out *cairn.LoggedModel
	err := s.update(ctx, func(m *mutation) error {
		lm, err := getLoggedModel(ctx, m.tx, id)
		if err != nil {
			return err
		}
		before := cloneLoggedModel(lm)
		if in.Status != nil {
			lm.Status = *in.Status
		}
		if in.StatusMessage != nil {
			lm.StatusMessage = *in.StatusMessage
		}
		maps.Copy(lm.Tags, in.SetTags)
		for _, k := range in.DeleteTags {
			if _, ok := lm.Tags[k]; !ok {
				return cairn.Errorf(cairn.ENOTFOUND, "logged model %s has no tag %q", id, k)
			}
			delete(lm.Tags, k)
		}
		if len(lm.Tags) > cairn.MaxTags {
			return cairn.Errorf(cairn.EINVALID, "a logged model may have at most %d tags", cairn.MaxTags)
		}
		for _, k := range sortedKeys(in.Params) {
			if old, ok := lm.Params[k]; ok && old != in.Params[k] {
				return cairn.Errorf(cairn.EINVALID, "logged model %s: param %q is already %q; params cannot change", id, k, old)
			}
			lm.Params[k] = in.Params[k]
		}
		if len(lm.Params) > cairn.MaxMetricsOrParams {
			return cairn.Errorf(cairn.EINVALID, "a logged model may have at most %d params", cairn.MaxMetricsOrParams)
		}
		lm.UpdatedAt = m.now
		if err := m.tx.UpdateLoggedModel(ctx, lm); err != nil {
			return err
		}
		m.record(cairn.EventLoggedModelUpdated, loggedModelTarget(id), "", "", before, lm)
		out = lm
		return nil
	})
	return out, err
}

// DeleteLoggedModel marks a logged model deleted: reads and searches no
// longer find it. Its files stay in the artifact store (versions
// registered from it keep their snapshots either way).
func (s *Service) DeleteLoggedModel(ctx context.Context, id string) error {
	if err := s.authorizeAny(ctx, cairn.RoleWriter); err != nil {
		return err
	}
	return s.update(ctx, func(m *mutation) error {
		lm, err := getLoggedModel(ctx, m.tx, id)
		if err != nil {
			return err
		}
		before := cloneLoggedModel(lm)
		now := m.now
		lm.DeletedAt, lm.UpdatedAt = &now, now
		if err := m.tx.UpdateLoggedModel(ctx, lm); err != nil {
			return err
		}
		m.record(cairn.EventLoggedModelDeleted, loggedModelTarget(id), "", "", before, nil)
		return nil
	})
}

// SearchLoggedModels searches the undeleted logged models of some
// experiments.
func (s *Service) SearchLoggedModels(ctx context.Context, q cairn.LoggedModelSearch) (*cairn.LoggedModelPage, error) {
	if err := s.authorizeAny(ctx, cairn.RoleReader); err != nil {
		return nil, err
	}
	if _, err := checkPage(q.Page.Size, q.Page.Token); err != nil {
		return nil, err
	}
	return s.store.SearchLoggedModels(ctx, q)
}

// logLoggedModelMetrics appends metric points to logged models, inside a
// mutation (a run's log-batch whose metrics name a model). ENOTFOUND if a
// model does not exist or is deleted.
func logLoggedModelMetrics(ctx context.Context, m *mutation, points map[string][]cairn.LoggedModelMetric) error {
	for _, id := range sortedKeys(points) {
		lm, err := getLoggedModel(ctx, m.tx, id)
		if err != nil {
			return err
		}
		before := len(lm.Metrics)
		lm.Metrics = append(lm.Metrics, points[id]...)
		if len(lm.Metrics) > cairn.MaxLoggedModelMetrics {
			return cairn.Errorf(cairn.EINVALID, "logged model %s may keep at most %d metric points", id, cairn.MaxLoggedModelMetrics)
		}
		if err := cairn.ValidateMetrics(lm.LatestMetrics()); err != nil {
			return err
		}
		lm.UpdatedAt = m.now
		if err := m.tx.UpdateLoggedModel(ctx, lm); err != nil {
			return err
		}
		m.record(cairn.EventLoggedModelUpdated, loggedModelTarget(id), "", "", nil, map[string]any{"metrics": lm.Metrics[before:]})
	}
	return nil
}
