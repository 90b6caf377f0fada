package registry

import (
	"context"
	"maps"

	"github.com/cairn-registry/cairn"
)

// Experiments group runs (MLflow's experiments). Like runs they belong to
// no model, so authorization asks for a role on some scope: reader to
// read, writer to create, rename, tag, delete and restore (an experiment
// holds a team's runs, which writers create and delete anyway).

// ExperimentCreate is the input of CreateExperiment.
type ExperimentCreate struct {
	Name string `json:"name"`
	// ArtifactLocation defaults to mlflow-artifacts:/<id>, where the MLflow
	// artifact proxy keeps the experiment's files.
	ArtifactLocation string            `json:"artifact_location,omitempty"`
	Tags             map[string]string `json:"tags,omitempty"`
}

// CreateExperiment creates an experiment with the next free id. ECONFLICT
// if the name is taken, by a deleted experiment too.
func (s *Service) CreateExperiment(ctx context.Context, in ExperimentCreate) (*cairn.Experiment, error) {
	if err := s.authorizeAny(ctx, cairn.RoleWriter); err != nil {
		return nil, err
	}
	if err := cairn.ValidateExperimentName(in.Name); err != nil {
		return nil, err
	}
	if err := cairn.ValidateText("artifact_location", in.ArtifactLocation); err != nil {
		return nil, err
	}
	if err := cairn.ValidateTags(in.Tags); err != nil {
		return nil, err
	}
	var out *cairn.Experiment
	err := s.update(ctx, func(m *mutation) error {
		e := &cairn.Experiment{
			Name: in.Name, ArtifactLocation: in.ArtifactLocation, Tags: nonNil(maps.Clone(in.Tags)),
			CreatedBy: m.actor.Name, CreatedAt: m.now, UpdatedAt: m.now,
		}
		if err := m.tx.CreateExperiment(ctx, e); err != nil {
			return err
		}
		m.record(cairn.EventExperimentCreated, "experiment:"+e.ID, "", "", nil, e)
		out = e
		return nil
	})
	return out, err
}

// GetExperiment returns an experiment by id, deleted or not (see
// DeletedAt); ENOTFOUND if there is none.
func (s *Service) GetExperiment(ctx context.Context, id string) (*cairn.Experiment, error) {
	if err := s.authorizeAny(ctx, cairn.RoleReader); err != nil {
		return nil, err
	}
	return getExperiment(ctx, s.store, id)
}

func getExperiment(ctx context.Context, r cairn.Reader, id string) (*cairn.Experiment, error) {
	if !cairn.ValidExperimentID(id) {
		// Runs created before experiments existed may name any id.
		if err := cairn.ValidateText("experiment id", id); err != nil || id == "" {
			return nil, cairn.Errorf(cairn.EINVALID, "invalid experiment id %q", truncateID(id))
		}
	}
	e, err := r.GetExperiment(ctx, id)
	return e, notFound(err, "experiment %q not found", id)
}

// liveExperiment returns the experiment a run or logged model is created
// in: as getExperiment, and failed_precondition if it is deleted.
func liveExperiment(ctx context.Context, r cairn.Reader, id string) (*cairn.Experiment, error) {
	e, err := getExperiment(ctx, r, id)
	if err != nil {
		return nil, err
	}
	if e.DeletedAt != nil {
		return nil, cairn.Errorf(cairn.EFAILEDPRECONDITION, "experiment %s is deleted; restore it first", e.ID)
	}
	return e, nil
}

func truncateID(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

// GetExperimentByName returns an experiment by name, deleted or not;
// ENOTFOUND if there is none.
func (s *Service) GetExperimentByName(ctx context.Context, name string) (*cairn.Experiment, error) {
	if err := s.authorizeAny(ctx, cairn.RoleReader); err != nil {
		return nil, err
	}
	e, err := s.store.GetExperimentByName(ctx, name)
	return e, notFound(err, "experiment %q not found", name)
}

// ListExperiments lists experiments matching q.
func (s *Service) ListExperiments(ctx context.Context, q cairn.ExperimentQuery) (*cairn.ExperimentPage, error) {
	if err := s.authorizeAny(ctx, cairn.RoleReader); err != nil {
		return nil, err
	}
	if _, err := checkPage(q.Page.Size, q.Page.Token); err != nil {
		return nil, err
	}
	return s.store.ListExperiments(ctx, q)
}

// ExperimentUpdate changes an experiment. Nil fields stay.
type ExperimentUpdate struct {
	Name       *string           `json:"name,omitempty"`
	SetTags    map[string]string `json:"set_tags,omitempty"`
	DeleteTags []string          `json:"delete_tags,omitempty"`
}

// UpdateExperiment renames an experiment or changes its tags. ENOTFOUND if
// there is no such experiment, EFAILEDPRECONDITION if it is deleted,
// ECONFLICT if the new name is taken.
func (s *Service) UpdateExperiment(ctx context.Context, id string, in ExperimentUpdate) (*cairn.Experiment, error) {
	if err := s.authorizeAny(ctx, cairn.RoleWriter); err != nil {
		return nil, err
	}
	if in.Name != nil {
		if err := cairn.ValidateExperimentName(*in.Name); err != nil {
			return nil, err
		}
	}
	var out *cairn.Experiment
	err := s.update(ctx, func(m *mutation) error {
		e, err := getExperiment(ctx, m.tx, id)
		if err != nil {
			return err
		}
		if e.DeletedAt != nil {
			return cairn.Errorf(cairn.EFAILEDPRECONDITION, "experiment %q is deleted; restore it first", id)
		}
		before := *e
		before.Tags = maps.Clone(e.Tags)
		desc := ""
		changed, err := applyUpdate(&desc, e.Tags, nil, in.SetTags, in.DeleteTags)
		if err != nil {
			return err
		}
		if in.Name != nil && *in.Name != e.Name {
			e.Name = *in.Name
			changed = true
		}
		out = e
		if !changed {
			return nil
		}
		e.UpdatedAt = m.now
		if err := m.tx.UpdateExperiment(ctx, e); err != nil {
			return err
		}
		m.record(cairn.EventExperimentUpdated, "experiment:"+id, "", "", &before, e)
		return nil
	})
	return out, err
}

// DeleteExperiment marks an experiment deleted, and with it every run of
// it that is not deleted yet, as MLflow does (in one transaction, one
// audit entry and event, which count the runs). It can be restored. The
// default experiment cannot be deleted (EFAILEDPRECONDITION).
func (s *Service) DeleteExperiment(ctx context.Context, id string) error {
	return s.setExperimentDeleted(ctx, id, true)
}

// RestoreExperiment undoes DeleteExperiment: the experiment and the runs
// its deletion marked come back; runs deleted on their own before stay
// deleted.
func (s *Service) RestoreExperiment(ctx context.Context, id string) error {
	return s.setExperimentDeleted(ctx, id, false)
}

// ExperimentChange is the state an experiment deletion or restoration
// records: the experiment, and how many of its runs went with it.
type ExperimentChange struct {
	*cairn.Experiment
	Runs int64 `json:"runs"`
}

func (s *Service) setExperimentDeleted(ctx context.Context, id string, deleted bool) error {
	if err := s.authorizeAny(ctx, cairn.RoleWriter); err != nil {
		return err
	}
	if deleted && id == cairn.DefaultExperimentID {
		return cairn.Errorf(cairn.EFAILEDPRECONDITION, "the default experiment %s cannot be deleted", id)
	}
	return s.update(ctx, func(m *mutation) error {
		e, err := getExperiment(ctx, m.tx, id)
		if err != nil {
			return err
		}
		if (e.DeletedAt != nil) == deleted {
			return nil // already so: MLflow answers success
		}
		before := *e
		action := cairn.EventExperimentRestored
		e.DeletedAt = nil
		if deleted {
			now := m.now
			e.DeletedAt = &now
			action = cairn.EventExperimentDeleted
		}
		e.UpdatedAt = m.now
		if err := m.tx.UpdateExperiment(ctx, e); err != nil {
			return err
		}
		var runs int64
		if deleted {
			runs, err = m.tx.DeleteExperimentRuns(ctx, id, m.now)
		} else {
			runs, err = m.tx.RestoreExperimentRuns(ctx, id, *before.DeletedAt, m.now)
		}
		if err != nil {
			return err
		}
		m.record(action, "experiment:"+id, "", "", &before, ExperimentChange{Experiment: e, Runs: runs})
		return nil
	})
}
