package registry

import (
	"context"
	"slices"

	"github.com/cairn-registry/cairn"
)

// This file holds the operations the MLflow front door needs beyond the
// native ones. MLflow's semantics differ from Cairn's native push in two
// ways that cannot be expressed with CreateVersion: every registration is
// a new version (never deduplicated), and a registration is usually a bare
// reference to bytes stored elsewhere (s3://…, runs:/…, models:/m-…), so
// it is complete the moment it is recorded.

// RegisterExternal creates a version of an existing model without checksum
// deduplication: registering the same spec twice gives two versions, as
// MLflow's model-versions/create does. The model is not created on the fly
// (MLflow answers RESOURCE_DOES_NOT_EXIST for an unknown model).
//
// A spec without files is an external reference: Source (and RunID) say
// where the bytes are, Cairn stores none, and the version is ready at once,
// its lineage edges recorded as FinalizeVersion would. A spec with files
// whose blobs are all in the blob store (a copy of another version's
// manifest) is ready at once too; otherwise it stays pending until
// FinalizeVersion.
//
// Errors: EINVALID for a bad spec, ENOTFOUND for an unknown or deleted
// model, EFAILEDPRECONDITION for an archived model or a kind mismatch.
func (s *Service) RegisterExternal(ctx context.Context, model string, spec cairn.VersionSpec) (*cairn.Version, error) {
	if err := s.authorize(ctx, cairn.RoleWriter, model); err != nil {
		return nil, err
	}
	if err := cairn.ValidateModelName(model); err != nil {
		return nil, err
	}
	if len(spec.Aliases) > 0 {
		return nil, cairn.Errorf(cairn.EINVALID, "aliases cannot be set while registering an external version; set them afterwards")
	}
	spec.Files = slices.Clone(spec.Files)
	cairn.SortFiles(spec.Files)
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	missing, err := s.missingBlobs(ctx, spec.Files)
	if err != nil {
		return nil, err
	}
	var out *cairn.Version
	err = s.update(ctx, func(m *mutation) error {
		if _, err := lockModel(ctx, m, model); err != nil {
			return err
		}
		res, err := s.createVersion(ctx, m, model, &spec, false)
		if err != nil {
			return err
		}
		v := res.Version
		if len(missing) == 0 {
			before := cloneVersion(v)
			v.Status = cairn.StatusReady
			if err := m.tx.UpdateVersion(ctx, v); err != nil {
				return err
			}
			if err := s.addVersionEdges(ctx, m, v); err != nil {
				return err
			}
			m.record(cairn.EventVersionReady, v.Ref(), model, "", before, v)
		}
		out = v
		return nil
	})
	return out, err
}

// DeleteModelAndAliases tombstones a model after deleting every alias it
// has, in one transaction: MLflow's registered-models/delete removes a model
// with whatever points into it, where DeleteModel refuses a model that
// still has aliases. Each alias deletion is recorded (audit entry, event,
// alias history) like any other.
func (s *Service) DeleteModelAndAliases(ctx context.Context, name string) error {
	if err := s.authorize(ctx, cairn.RoleMaintainer, name); err != nil {
		return err
	}
	return s.update(ctx, func(m *mutation) error {
		model, err := lockModel(ctx, m, name)
		if err != nil {
			return err
		}
		for _, a := range sortedKeys(model.Aliases) {
			if _, err := s.moveAlias(ctx, m, name, a, 0, nil); err != nil {
				return err
			}
		}
		before := cloneModel(model)
		model.Aliases = map[string]int64{}
		now := m.now
		model.DeletedAt, model.UpdatedAt = &now, now
		if err := m.tx.UpdateModel(ctx, model); err != nil {
			return err
		}
		m.record(cairn.EventModelDeleted, name, name, "", before, nil)
		return nil
	})
}
