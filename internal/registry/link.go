package registry

import (
	"context"
	"slices"

	"github.com/cairn-registry/cairn"
)

// LinkRequest asks for a version of another model to be linked into a
// model: source is its reference.
type LinkRequest struct {
	Source  string   `json:"source"`
	Aliases []string `json:"aliases,omitempty"`
}

// LinkVersion makes a new version of model dest with the same manifest
// as the version source names (no bytes are copied: the blobs are shared)
// and the same fixed fields, ready at once, with a linked_from edge from
// the source version among the edges into it. dest is created, with the
// source's kind, if it does not exist. Aliases are set on the new version.
// Needs reader on the source's model and writer on dest (maintainer with
// aliases). EFAILEDPRECONDITION if the source is not ready or a blob is
// missing; EINVALID if source names a version of dest itself.
func (s *Service) LinkVersion(ctx context.Context, dest string, in LinkRequest) (*cairn.Version, error) {
	if err := cairn.ValidateModelName(dest); err != nil {
		return nil, err
	}
	if err := s.authorize(ctx, cairn.RoleWriter, dest); err != nil {
		return nil, err
	}
	if len(in.Aliases) > 0 {
		if err := s.authorize(ctx, cairn.RoleMaintainer, dest); err != nil {
			return nil, err
		}
	}
	src, err := s.Resolve(ctx, in.Source)
	if err != nil {
		return nil, err
	}
	if src.Model == dest {
		return nil, cairn.Errorf(cairn.EINVALID, "%s is a version of %s already; link it into another model", src.Ref(), dest)
	}
	if src.Status != cairn.StatusReady {
		return nil, cairn.Errorf(cairn.EFAILEDPRECONDITION, "%s is %s, not ready: only ready versions can be linked", src.Ref(), src.Status)
	}
	for _, a := range in.Aliases {
		if err := cairn.ValidateAliasName(a); err != nil {
			return nil, err
		}
	}
	missing, err := s.missingBlobs(ctx, src.Files)
	if err != nil {
		return nil, err
	}
	if len(missing) > 0 {
		return nil, cairn.Errorf(cairn.EFAILEDPRECONDITION, "cannot link %s: blob %s is missing from the blob store", src.Ref(), missing[0])
	}
	if err := s.ensureModel(ctx, dest, src.Kind); err != nil {
		return nil, err
	}
	spec := cairn.VersionSpec{
		Kind: src.Kind, Files: slices.Clone(src.Files), RunID: src.RunID, Source: src.Source,
		SourceCodeVersion: src.SourceCodeVersion, TrainingDataset: src.TrainingDataset, ValidationDataset: src.ValidationDataset,
		Metrics: src.Metrics, Params: src.Params, Signature: src.Signature, Dependencies: src.Dependencies,
		Framework: src.Framework, TrainedBy: src.TrainedBy, DerivedFrom: src.DerivedFrom, Inputs: src.Inputs,
	}
	var out *cairn.Version
	err = s.update(ctx, func(m *mutation) error {
		res, err := s.createVersion(ctx, m, dest, &spec, false)
		if err != nil {
			return err
		}
		v := res.Version
		before := cloneVersion(v)
		v.Status, v.UpdatedAt = cairn.StatusReady, m.now
		if err := m.tx.UpdateVersion(ctx, v); err != nil {
			return err
		}
		link := cairn.Edge{From: cairn.VersionNode(src.Model, src.Number), To: cairn.VersionNode(v.Model, v.Number),
			Type: cairn.EdgeLinkedFrom, CreatedBy: m.actor.Name, CreatedAt: m.now}
		if err := s.addVersionEdges(ctx, m, v, link); err != nil {
			return err
		}
		m.record(cairn.EventVersionReady, v.Ref(), dest, "", before, v)
		for _, a := range in.Aliases {
			// A protected alias passes its gate: its conditions here; one
			// that needs approvals is moved by SetAlias, which opens the
			// request, not by a link.
			if err := s.checkUngated(ctx, m, dest, a, "link "+src.Ref()+" into "+dest+" with alias "+a); err != nil {
				return err
			}
			pending, err := s.gatedMove(ctx, m, dest, a, v.Number, nil)
			if err != nil {
				return err
			}
			if pending != nil {
				return pendingError(pending)
			}
		}
		out, err = m.tx.GetVersion(ctx, dest, v.Number)
		return err
	})
	return out, err
}
