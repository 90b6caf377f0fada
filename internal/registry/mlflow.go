package registry

import (
	"context"
	"encoding/json"
	"fmt"
	"path"
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
// model, EFAILEDPRECONDITION for an archived model or a kind mismatch,
// ECONFLICT wrapping ErrBlobVanished if a blob present at the start was
// garbage-collected before the version committed (nothing is registered;
// a caller that snapshotted artifacts snapshots again).
func (s *Service) RegisterExternal(ctx context.Context, model string, spec cairn.VersionSpec) (*cairn.Version, error) {
	return s.registerExternal(ctx, model, spec, nil)
}

// ModelVersionsTag is the logged-model tag where MLflow 3 lists the
// registered versions made from a logged model: a JSON array of
// {"name": MODEL, "version": N}.
const ModelVersionsTag = "mlflow.modelVersions"

// RegisterLoggedModel is RegisterExternal for a version made from an
// MLflow 3 logged model (spec holds its snapshot and what it records),
// which also appends {"name": model, "version": N} to the logged model's
// mlflow.modelVersions tag in the same transaction, as MLflow's server
// does. A logged model that does not exist (any more) is not an error:
// the version is registered all the same.
func (s *Service) RegisterLoggedModel(ctx context.Context, model string, spec cairn.VersionSpec, loggedModelID string) (*cairn.Version, error) {
	return s.registerExternal(ctx, model, spec, func(m *mutation, v *cairn.Version) error {
		lm, err := getLoggedModel(ctx, m.tx, loggedModelID)
		if cairn.IsCode(err, cairn.ENOTFOUND) || cairn.IsCode(err, cairn.EINVALID) {
			return nil
		}
		if err != nil {
			return err
		}
		before := cloneLoggedModel(lm)
		var list []json.RawMessage
		if old := lm.Tags[ModelVersionsTag]; old != "" && json.Unmarshal([]byte(old), &list) != nil {
			list = nil // not a list: MLflow would fail on it; start a new one
		}
		entry, err := json.Marshal(struct {
			Name    string `json:"name"`
			Version int64  `json:"version"`
		}{model, v.Number})
		if err != nil {
			return fmt.Errorf("encode %s: %w", ModelVersionsTag, err)
		}
		b, err := json.Marshal(append(list, entry))
		if err != nil {
			return fmt.Errorf("encode %s: %w", ModelVersionsTag, err)
		}
		if len(b) > cairn.MaxTagValueLength {
			return nil // the tag is full; the version's own record names the logged model
		}
		lm.Tags[ModelVersionsTag] = string(b)
		lm.UpdatedAt = m.now
		if err := m.tx.UpdateLoggedModel(ctx, lm); err != nil {
			return err
		}
		m.record(cairn.EventLoggedModelUpdated, loggedModelTarget(lm.ID), "", "", before, lm)
		return nil
	})
}

// registerExternal registers spec as RegisterExternal describes, and
// calls after, if not nil, in the same transaction once the version is
// created.
func (s *Service) registerExternal(ctx context.Context, model string, spec cairn.VersionSpec, after func(m *mutation, v *cairn.Version) error) (*cairn.Version, error) {
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
		if len(missing) == 0 && len(spec.Files) > 0 {
			// The version now holds off collections (its insert took the
			// blob-references lock); a blob found present before it may
			// have been collected since, if nothing else referred to it
			// (an artifact overwritten meanwhile). Check again.
			gone, err := s.missingBlobs(ctx, spec.Files)
			if err != nil {
				return err
			}
			if len(gone) > 0 {
				return cairn.WrapError(cairn.ECONFLICT, ErrBlobVanished, "blob %s was deleted by garbage collection while the version was being registered; register it again", gone[0])
			}
		}
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
		if after != nil {
			if err := after(m, v); err != nil {
				return err
			}
		}
		out = v
		return nil
	})
	return out, err
}

// ErrBlobVanished says a blob was collected between the moment it was
// found present and the commit of what refers to it.
var ErrBlobVanished = errBlobVanished

// SnapshotArtifacts returns the files of the artifact directory dir as a
// manifest: every artifact under dir/, with paths relative to dir, at one
// moment. If dir is itself a file and has nothing under it, the manifest
// is that one file under its base name. No artifacts gives an empty
// manifest. The bytes are not copied: a manifest names blobs, and a
// version that refers to them keeps them whatever later happens to the
// artifact paths. More than cairn.MaxManifestFiles files is ETOOLARGE.
func (s *Service) SnapshotArtifacts(ctx context.Context, dir string) ([]cairn.File, error) {
	if err := s.authorizeAny(ctx, cairn.RoleReader); err != nil {
		return nil, err
	}
	if err := checkArtifactPath(dir); err != nil {
		return nil, err
	}
	var files []cairn.File
	// One view of the directory: a long listing is read in pages, each of
	// which may see later writes; the registration's own check of the
	// blobs (RegisterExternal) keeps the version sound either way.
	q := cairn.ArtifactQuery{Prefix: dir + "/", Limit: cairn.MaxArtifactList}
	for {
		page, err := s.store.ListArtifacts(ctx, q)
		if err != nil {
			return nil, err
		}
		for _, a := range page.Items {
			files = append(files, cairn.File{Path: a.Path[len(q.Prefix):], Size: a.Size, Digest: a.Digest})
		}
		if len(files) > cairn.MaxManifestFiles {
			return nil, cairn.Errorf(cairn.ETOOLARGE, "artifact directory %q has more than %d files", dir, cairn.MaxManifestFiles)
		}
		if page.NextToken == "" {
			break
		}
		q.From = page.NextToken
	}
	if len(files) == 0 {
		a, err := s.store.GetArtifact(ctx, dir)
		switch {
		case err == nil:
			files = append(files, cairn.File{Path: path.Base(dir), Size: a.Size, Digest: a.Digest})
		case !cairn.IsCode(err, cairn.ENOTFOUND):
			return nil, err
		}
	}
	return files, nil
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
		if err := s.checkDeletion(ctx, m.tx, name, 0); err != nil {
			return err
		}
		for _, a := range sortedKeys(model.Aliases) {
			if err := s.checkUngated(ctx, m, name, a, "delete model "+name); err != nil {
				return err
			}
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
