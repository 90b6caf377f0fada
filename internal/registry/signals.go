package registry

import (
	"context"

	"github.com/cairn-registry/cairn"
)

// RecordSignal records a monitoring signal (drift, performance, error
// rate, …) against the version ref names. If policy sets a threshold for
// the signal's kind on the model and the value is above it, the signal is
// marked flagged and so is the version, unless it already is: the version
// gets its Flag and version.flagged is emitted, in the same transaction as
// the signal, its audit entries and its signal.recorded event. A version
// stays flagged (and later crossings emit no second version.flagged)
// until UnflagVersion.
//
// Errors: EINVALID for a bad spec, ENOTFOUND if ref names nothing,
// EFAILEDPRECONDITION if the version is not ready. Needs the writer role.
func (s *Service) RecordSignal(ctx context.Context, ref string, spec cairn.SignalSpec) (*cairn.Signal, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	v, err := s.Resolve(ctx, ref)
	if err != nil {
		return nil, err
	}
	if err := s.authorize(ctx, cairn.RoleWriter, v.Model); err != nil {
		return nil, err
	}
	var out *cairn.Signal
	err = s.update(ctx, func(m *mutation) error {
		if _, err := lockModel(ctx, m, v.Model); err != nil {
			return err
		}
		v, err := getVersion(ctx, m.tx, v.Model, v.Number)
		if err != nil {
			return err
		}
		if v.Status != cairn.StatusReady {
			return cairn.Errorf(cairn.EFAILEDPRECONDITION, "version %s is %s; signals are recorded against ready versions", v.Ref(), v.Status)
		}
		threshold, ok, err := s.signalThreshold(ctx, m.tx, v.Model, spec.Kind)
		if err != nil {
			return err
		}
		sig := &cairn.Signal{
			Model: v.Model, Version: v.Number, Kind: spec.Kind, Value: spec.Value, Detail: spec.Detail,
			CreatedBy: m.actor.Name, CreatedAt: m.now,
		}
		if ok {
			sig.Threshold = &threshold
			sig.Flagged = spec.Value > threshold
		}
		if err := m.tx.CreateSignal(ctx, sig); err != nil {
			return err
		}
		m.record(cairn.EventSignalRecorded, v.Ref(), v.Model, "", nil, sig)
		if sig.Flagged && v.Flag == nil {
			before := cloneVersion(v)
			v.Flag = &cairn.Flag{
				Signal: sig.ID, Kind: sig.Kind, Value: sig.Value, Threshold: threshold, Detail: sig.Detail,
				FlaggedBy: m.actor.Name, FlaggedAt: m.now,
			}
			v.Flagged = true
			v.UpdatedAt = m.now
			if err := m.tx.UpdateVersion(ctx, v); err != nil {
				return err
			}
			m.record(cairn.EventVersionFlagged, v.Ref(), v.Model, "", before, v)
		}
		out = sig
		return nil
	})
	return out, err
}

// UnflagVersion clears a version's flag (the problem was dealt with, or
// the signal was a false alarm) and emits version.unflagged. Unflagging a
// version that is not flagged changes nothing. Needs the maintainer role.
func (s *Service) UnflagVersion(ctx context.Context, ref string) (*cairn.Version, error) {
	v, err := s.Resolve(ctx, ref)
	if err != nil {
		return nil, err
	}
	if err := s.authorize(ctx, cairn.RoleMaintainer, v.Model); err != nil {
		return nil, err
	}
	var out *cairn.Version
	err = s.update(ctx, func(m *mutation) error {
		if _, err := lockModel(ctx, m, v.Model); err != nil {
			return err
		}
		v, err := getVersion(ctx, m.tx, v.Model, v.Number)
		if err != nil {
			return err
		}
		out = v
		if v.Flag == nil {
			return nil
		}
		before := cloneVersion(v)
		v.Flag, v.Flagged, v.UpdatedAt = nil, false, m.now
		if err := m.tx.UpdateVersion(ctx, v); err != nil {
			return err
		}
		m.record(cairn.EventVersionUnflagged, v.Ref(), v.Model, "", before, v)
		return nil
	})
	return out, err
}

// ListSignals lists the signals recorded against the version ref names,
// newest first, optionally of one kind.
func (s *Service) ListSignals(ctx context.Context, ref, kind string, page cairn.Page) (*cairn.SignalPage, error) {
	v, err := s.Resolve(ctx, ref)
	if err != nil {
		return nil, err
	}
	if kind != "" {
		spec := cairn.SignalSpec{Kind: kind}
		if err := spec.Validate(); err != nil {
			return nil, err
		}
	}
	return s.store.ListSignals(ctx, cairn.SignalQuery{Model: v.Model, Version: v.Number, Kind: kind, Page: page})
}

// Evaluations returns the evaluation versions linked to the version ref
// names (by their evaluates field), oldest first. Evaluations that are
// deleted, not ready, or of models the caller may not read are left out.
func (s *Service) Evaluations(ctx context.Context, ref string) ([]*cairn.Version, error) {
	v, err := s.Resolve(ctx, ref)
	if err != nil {
		return nil, err
	}
	edges, err := s.store.Lineage(ctx, cairn.VersionNode(v.Model, v.Number), cairn.Downstream, 1)
	if err != nil {
		return nil, err
	}
	out := []*cairn.Version{}
	for _, e := range edges {
		if e.Type != cairn.EdgeEvaluates || e.To.Kind != cairn.NodeVersion {
			continue
		}
		if s.authorize(ctx, cairn.RoleReader, e.To.Model) != nil {
			continue
		}
		ev, err := getVersion(ctx, s.store, e.To.Model, e.To.Version)
		if cairn.IsCode(err, cairn.ENOTFOUND) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if ev.Status == cairn.StatusReady {
			out = append(out, ev)
		}
	}
	return out, nil
}

// signalThreshold returns the threshold policy sets for signals of kind
// on model, and whether there is one.
func (s *Service) signalThreshold(ctx context.Context, r cairn.Reader, model, kind string) (float64, bool, error) {
	return s.policyThreshold(ctx, r, model, kind)
}
