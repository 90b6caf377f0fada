package registry

import (
	"context"
	"maps"
	"time"

	"github.com/cairn-registry/cairn"
)

// RunCreate is the input of CreateRun.
type RunCreate struct {
	ExperimentID string            `json:"experiment_id,omitempty"`
	Name         string            `json:"name,omitempty"`
	Tags         map[string]string `json:"tags,omitempty"`
	StartTime    *time.Time        `json:"start_time,omitempty"`
}

// CreateRun starts a run in an experiment (the default one if none given).
func (s *Service) CreateRun(ctx context.Context, in RunCreate) (*cairn.Run, error) {
	if err := s.authorizeAny(ctx, cairn.RoleWriter); err != nil {
		return nil, err
	}
	if in.ExperimentID == "" {
		in.ExperimentID = cairn.DefaultExperimentID
	}
	for field, v := range map[string]string{"experiment_id": in.ExperimentID, "name": in.Name} {
		if err := cairn.ValidateText(field, v); err != nil {
			return nil, err
		}
	}
	if err := cairn.ValidateTags(in.Tags); err != nil {
		return nil, err
	}
	var out *cairn.Run
	err := s.update(ctx, func(m *mutation) error {
		start := m.now
		if in.StartTime != nil {
			start = cairn.Timestamp(*in.StartTime)
		}
		r := &cairn.Run{
			ID: newID(), ExperimentID: in.ExperimentID, Name: in.Name, Status: cairn.RunRunning,
			StartTime: start, Params: map[string]string{}, Metrics: map[string]float64{}, Tags: nonNil(in.Tags),
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
		if in.Name != nil {
			r.Name = *in.Name
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
		if len(in.Tags) > 0 {
			maps.Copy(r.Tags, in.Tags)
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
