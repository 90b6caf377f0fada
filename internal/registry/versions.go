package registry

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/cairn-registry/cairn"
)

// CreateVersionResult is the answer to CreateVersion.
type CreateVersionResult struct {
	Version *cairn.Version `json:"version"`
	// Missing lists the digests of the version's files the blob store does
	// not have yet: upload these, then finalize.
	Missing []cairn.Digest `json:"missing"`
	// Existing is true when the push was a retry: the model's latest
	// version had the same content and fixed fields and is returned instead
	// of a new one.
	Existing bool `json:"existing"`
}

// CreateVersion registers a version from a manifest. The model is created
// if it does not exist (with spec.Kind). The version starts pending; the
// caller uploads the missing blobs and calls FinalizeVersion. A push whose
// manifest digest and fixed fields equal the model's latest version is a
// retry and returns that version (its tags still apply; aliases apply at
// finalize).
//
// Errors: EINVALID for a bad spec or an unresolvable reference,
// EFAILEDPRECONDITION for an archived model or a kind mismatch.
func (s *Service) CreateVersion(ctx context.Context, model string, spec cairn.VersionSpec) (*CreateVersionResult, error) {
	if err := s.authorize(ctx, cairn.RoleWriter, model); err != nil {
		return nil, err
	}
	if len(spec.Aliases) > 0 {
		if err := s.authorize(ctx, cairn.RoleMaintainer, model); err != nil {
			return nil, err
		}
	}
	if err := cairn.ValidateModelName(model); err != nil {
		return nil, err
	}
	spec.Files = slices.Clone(spec.Files)
	cairn.SortFiles(spec.Files)
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	if err := s.ensureModel(ctx, model, spec.Kind); err != nil {
		return nil, err
	}
	var res *CreateVersionResult
	err := s.update(ctx, func(m *mutation) error {
		var err error
		res, err = s.createVersion(ctx, m, model, &spec, !spec.AlwaysCreate)
		return err
	})
	if err != nil {
		return nil, err
	}
	res.Missing, err = s.missingBlobs(ctx, res.Version.Files)
	return res, err
}

// ensureModel creates a model on first push. It runs in its own
// transaction so that two first pushes racing on different replicas do not
// fail: the loser of the race finds the model the winner created.
func (s *Service) ensureModel(ctx context.Context, name string, kind cairn.Kind) error {
	if _, err := s.store.GetModel(ctx, name); !cairn.IsCode(err, cairn.ENOTFOUND) {
		return err
	}
	_, err := s.CreateModel(ctx, ModelCreate{Name: name, Kind: kind})
	if cairn.IsCode(err, cairn.ECONFLICT) {
		return nil
	}
	return err
}

// createVersion is CreateVersion inside a mutation; the model must exist. dedupe turns checksum
// versioning on (the native front door) or off (MLflow, external refs).
func (s *Service) createVersion(ctx context.Context, m *mutation, name string, spec *cairn.VersionSpec, dedupe bool) (*CreateVersionResult, error) {
	model, err := m.tx.LockModel(ctx, name)
	switch {
	case err != nil:
		return nil, notFound(err, "model %q not found", name)
	case model.DeletedAt != nil:
		return nil, cairn.Errorf(cairn.EFAILEDPRECONDITION, "model %q was deleted; restore it before pushing to it", name)
	}
	if model.Archived {
		return nil, cairn.Errorf(cairn.EFAILEDPRECONDITION, "model %q is archived; restore it before pushing new versions", name)
	}
	if spec.Kind != "" && spec.Kind != model.Kind {
		return nil, cairn.Errorf(cairn.EFAILEDPRECONDITION, "model %q holds kind %q, not %q", name, model.Kind, spec.Kind)
	}
	if len(spec.Evaluates) > 0 && model.Kind != cairn.KindEvaluation {
		return nil, cairn.Errorf(cairn.EINVALID, "evaluates is for versions of kind evaluation; model %q holds kind %q", name, model.Kind)
	}
	if err := s.canonicalizeRefs(ctx, m.tx, spec); err != nil {
		return nil, err
	}
	if dedupe && model.LatestVersion > 0 {
		prev, err := m.tx.GetVersion(ctx, name, model.LatestVersion)
		if err != nil {
			return nil, err
		}
		if prev.DeletedAt == nil && prev.Status != cairn.StatusFailed && prev.SameFixedFields(spec) {
			if len(spec.Tags) > 0 || spec.Description != "" {
				prev, err = s.updateVersion(ctx, m, prev, VersionUpdate{SetTags: spec.Tags, Description: nonEmpty(spec.Description)})
				if err != nil {
					return nil, err
				}
			}
			return &CreateVersionResult{Version: prev, Existing: true}, nil
		}
	}
	number, err := m.tx.AllocateVersion(ctx, name)
	if err != nil {
		return nil, err
	}
	v := &cairn.Version{
		Model: name, Number: number, Kind: model.Kind,
		Files: spec.Files, Digest: cairn.ManifestDigest(spec.Files), Size: cairn.TotalSize(spec.Files),
		RunID: spec.RunID, Source: spec.Source, SourceCodeVersion: spec.SourceCodeVersion,
		TrainingDataset: spec.TrainingDataset, ValidationDataset: spec.ValidationDataset,
		Metrics: nonNilF(spec.Metrics), Params: nonNil(spec.Params), Signature: spec.Signature,
		Dependencies: spec.Dependencies, Framework: spec.Framework, TrainedBy: spec.TrainedBy,
		DerivedFrom: nonNilSlice(spec.DerivedFrom), Inputs: nonNilSlice(spec.Inputs),
		Evaluates: nonNilSlice(spec.Evaluates), RetrainedFrom: spec.RetrainedFrom,
		CreatedBy: m.actor.Name, CreatedByVerified: m.actor.Verified, CreatedAt: m.now, UpdatedAt: m.now,
		Tags: nonNil(spec.Tags), Description: spec.Description, Aliases: []string{},
		Status: cairn.StatusPending, Stage: cairn.StageNone, ApprovalStatus: cairn.ApprovalNone,
	}
	if v.Files == nil {
		v.Files = []cairn.File{}
	}
	if err := s.checkRequiredMetadata(ctx, m.tx, v); err != nil {
		return nil, err
	}
	if err := m.tx.CreateVersion(ctx, v); err != nil {
		return nil, err
	}
	m.record(cairn.EventVersionCreated, v.Ref(), name, "", nil, v)
	return &CreateVersionResult{Version: v}, nil
}

// canonicalizeRefs resolves the references of a spec (datasets,
// derived_from, inputs) to concrete NAME@vN, so that what is stored never
// drifts when an alias moves later. URIs are kept as they are.
func (s *Service) canonicalizeRefs(ctx context.Context, r cairn.Reader, spec *cairn.VersionSpec) error {
	canon := func(field, ref string, uriOK bool) (string, error) {
		if ref == "" || (uriOK && cairn.IsURI(ref)) {
			return ref, nil
		}
		if p, err := cairn.ParseRef(ref); err == nil {
			if err := s.authorize(ctx, cairn.RoleReader, p.Model); err != nil {
				return "", err
			}
		}
		v, err := resolve(ctx, r, ref)
		if err != nil {
			return "", cairn.WrapError(cairn.ErrorCodeOf(err), err, "%s %q", field, ref)
		}
		if v.Status != cairn.StatusReady {
			return "", cairn.Errorf(cairn.EINVALID, "%s %q: version %s is %s, not ready", field, ref, v.Ref(), v.Status)
		}
		return v.Ref(), nil
	}
	var err error
	if spec.TrainingDataset, err = canon("training_dataset", spec.TrainingDataset, true); err != nil {
		return err
	}
	if spec.ValidationDataset, err = canon("validation_dataset", spec.ValidationDataset, true); err != nil {
		return err
	}
	for i, ref := range spec.DerivedFrom {
		if spec.DerivedFrom[i], err = canon("derived_from", ref, false); err != nil {
			return err
		}
	}
	for i, ref := range spec.Inputs {
		if spec.Inputs[i], err = canon("inputs", ref, true); err != nil {
			return err
		}
	}
	for i, ref := range spec.Evaluates {
		if spec.Evaluates[i], err = canon("evaluates", ref, false); err != nil {
			return err
		}
	}
	if spec.RetrainedFrom, err = canon("retrained_from", spec.RetrainedFrom, false); err != nil {
		return err
	}
	return nil
}

// missingBlobs returns the distinct digests of files the blob store lacks.
func (s *Service) missingBlobs(ctx context.Context, files []cairn.File) ([]cairn.Digest, error) {
	missing := []cairn.Digest{}
	seen := map[cairn.Digest]bool{}
	for _, f := range files {
		if seen[f.Digest] {
			continue
		}
		seen[f.Digest] = true
		size, err := s.blobs.Stat(ctx, f.Digest)
		switch {
		case cairn.IsCode(err, cairn.ENOTFOUND):
			missing = append(missing, f.Digest)
		case err != nil:
			return nil, fmt.Errorf("stat blob %s: %w", f.Digest, err)
		case size != f.Size:
			return nil, cairn.Errorf(cairn.EINVALID, "file %q: a blob with digest %s exists with size %d, not %d", f.Path, f.Digest, size, f.Size)
		}
	}
	return missing, nil
}

// FinalizeVersion checks that every file of a pending version is in the
// blob store and marks the version ready, records its lineage edges and
// sets the given aliases. Finalizing a ready version only sets the
// aliases, so a client may retry. EFAILEDPRECONDITION if blobs are
// missing (the version stays pending) or the version failed.
func (s *Service) FinalizeVersion(ctx context.Context, model string, number int64, aliases []string) (*cairn.Version, error) {
	if err := s.authorize(ctx, cairn.RoleWriter, model); err != nil {
		return nil, err
	}
	if len(aliases) > 0 {
		if err := s.authorize(ctx, cairn.RoleMaintainer, model); err != nil {
			return nil, err
		}
	}
	for _, a := range aliases {
		if err := cairn.ValidateAliasName(a); err != nil {
			return nil, err
		}
	}
	v, err := s.GetVersion(ctx, model, number)
	if err != nil {
		return nil, err
	}
	if v.Status == cairn.StatusPending {
		missing, err := s.missingBlobs(ctx, v.Files)
		if err != nil {
			return nil, err
		}
		if len(missing) > 0 {
			return nil, cairn.Errorf(cairn.EFAILEDPRECONDITION, "cannot finalize %s: %d blob(s) not uploaded yet, first %s", v.Ref(), len(missing), missing[0])
		}
	}
	var out *cairn.Version
	var pending *cairn.ApprovalRequest
	err = s.update(ctx, func(m *mutation) error {
		if _, err := lockModel(ctx, m, model); err != nil {
			return err
		}
		v, err := getVersion(ctx, m.tx, model, number)
		if err != nil {
			return err
		}
		switch v.Status {
		case cairn.StatusFailed:
			return cairn.Errorf(cairn.EFAILEDPRECONDITION, "version %s failed (%s); push again", v.Ref(), v.StatusMessage)
		case cairn.StatusPending:
			before := cloneVersion(v)
			v.Status, v.UpdatedAt = cairn.StatusReady, m.now
			if err := m.tx.UpdateVersion(ctx, v); err != nil {
				return err
			}
			if err := s.addVersionEdges(ctx, m, v); err != nil {
				return err
			}
			m.record(cairn.EventVersionReady, v.Ref(), model, "", before, v)
		}
		for _, a := range aliases {
			req, err := s.gatedMove(ctx, m, v.Model, a, v.Number, nil)
			if err != nil {
				return err
			}
			if req != nil && pending == nil {
				pending = req
			}
		}
		out, err = m.tx.GetVersion(ctx, model, number)
		return err
	})
	if err == nil && pending != nil {
		return out, pendingError(pending)
	}
	return out, err
}

// addVersionEdges records the lineage edges into a version that its record
// names: datasets, inputs, derived_from and the run that produced it.
func (s *Service) addVersionEdges(ctx context.Context, m *mutation, v *cairn.Version, extra ...cairn.Edge) error {
	to := cairn.VersionNode(v.Model, v.Number)
	edges := slices.Clone(extra)
	add := func(ref string, t cairn.EdgeType) error {
		if ref == "" || cairn.IsURI(ref) {
			return nil
		}
		n, err := cairn.ParseNode(ref)
		if err != nil {
			return err
		}
		edges = append(edges, cairn.Edge{From: n, To: to, Type: t, CreatedBy: m.actor.Name, CreatedAt: m.now})
		return nil
	}
	if err := add(v.TrainingDataset, cairn.EdgeTrainedOn); err != nil {
		return err
	}
	if err := add(v.ValidationDataset, cairn.EdgeValidatedOn); err != nil {
		return err
	}
	for _, r := range v.Inputs {
		if err := add(r, cairn.EdgeInput); err != nil {
			return err
		}
	}
	for _, r := range v.DerivedFrom {
		if err := add(r, cairn.EdgeDerivedFrom); err != nil {
			return err
		}
	}
	for _, r := range v.Evaluates {
		if err := add(r, cairn.EdgeEvaluates); err != nil {
			return err
		}
	}
	if err := add(v.RetrainedFrom, cairn.EdgeRetrainedFrom); err != nil {
		return err
	}
	if v.RunID != "" {
		if _, err := m.tx.GetRun(ctx, v.RunID); err == nil {
			edges = append(edges, cairn.Edge{From: cairn.RunNode(v.RunID), To: to, Type: cairn.EdgeProduced, CreatedBy: m.actor.Name, CreatedAt: m.now})
		} else if !cairn.IsCode(err, cairn.ENOTFOUND) {
			return err
		}
	}
	if len(edges) == 0 {
		return nil
	}
	if err := m.tx.AddEdges(ctx, edges); err != nil {
		return err
	}
	m.record(cairn.EventLineageAdded, v.Ref(), v.Model, "", nil, edges)
	return nil
}

// GetVersion returns a version. Deleted versions and deleted models are
// ENOTFOUND.
func (s *Service) GetVersion(ctx context.Context, model string, number int64) (*cairn.Version, error) {
	if err := s.authorize(ctx, cairn.RoleReader, model); err != nil {
		return nil, err
	}
	return getVersion(ctx, s.store, model, number)
}

func getVersion(ctx context.Context, r cairn.Reader, model string, number int64) (*cairn.Version, error) {
	if err := cairn.ValidateModelName(model); err != nil {
		return nil, err
	}
	v, err := r.GetVersion(ctx, model, number)
	if err != nil {
		if cairn.IsCode(err, cairn.ENOTFOUND) {
			if _, merr := getModel(ctx, r, model); merr != nil {
				return nil, merr
			}
			return nil, cairn.Errorf(cairn.ENOTFOUND, "version %s not found", cairn.VersionRef(model, number))
		}
		return nil, err
	}
	if v.DeletedAt != nil {
		return nil, cairn.Errorf(cairn.ENOTFOUND, "version %s not found (it was deleted)", v.Ref())
	}
	return v, nil
}

// Resolve returns the version a reference names: NAME and NAME@latest the
// newest ready unarchived version, NAME@vN version N, NAME@alias what the
// alias points at. MLflow URIs models:/NAME/N and models:/NAME@alias work
// too.
func (s *Service) Resolve(ctx context.Context, ref string) (*cairn.Version, error) {
	if s.auth {
		p, err := cairn.ParseRef(ref)
		if err != nil {
			return nil, err
		}
		if err := s.authorize(ctx, cairn.RoleReader, p.Model); err != nil {
			return nil, err
		}
	}
	return resolve(ctx, s.store, ref)
}

func resolve(ctx context.Context, r cairn.Reader, ref string) (*cairn.Version, error) {
	p, err := cairn.ParseRef(ref)
	if err != nil {
		return nil, err
	}
	switch p.Kind {
	case cairn.RefVersion:
		return getVersion(ctx, r, p.Model, p.Version)
	case cairn.RefAlias:
		v, err := r.AliasedVersion(ctx, p.Model, p.Alias)
		if err != nil {
			if cairn.IsCode(err, cairn.ENOTFOUND) {
				if _, merr := getModel(ctx, r, p.Model); merr != nil {
					return nil, merr
				}
				return nil, cairn.Errorf(cairn.ENOTFOUND, "alias %q of model %q not found", p.Alias, p.Model)
			}
			return nil, err
		}
		if v.DeletedAt != nil {
			return nil, cairn.Errorf(cairn.ENOTFOUND, "version %s not found (it was deleted)", v.Ref())
		}
		return v, nil
	}
	v, err := r.LatestVersion(ctx, p.Model)
	if err != nil {
		if cairn.IsCode(err, cairn.ENOTFOUND) {
			if _, merr := getModel(ctx, r, p.Model); merr != nil {
				return nil, merr
			}
			return nil, cairn.Errorf(cairn.ENOTFOUND, "model %q has no ready, unarchived version", p.Model)
		}
		return nil, err
	}
	return v, nil
}

// ListVersions lists live versions of one model (or of all models if model
// is "") matching the request's filter. Default order: newest first.
func (s *Service) ListVersions(ctx context.Context, model string, req ListRequest) (*cairn.VersionPage, error) {
	f, order, page, err := req.parse()
	if err != nil {
		return nil, err
	}
	var scopes []string
	if model != "" {
		if err := s.authorize(ctx, cairn.RoleReader, model); err != nil {
			return nil, err
		}
		if _, err := getModel(ctx, s.store, model); err != nil {
			return nil, err
		}
	} else if scopes, err = s.readScopes(ctx); err != nil {
		return nil, err
	}
	return s.store.ListVersions(ctx, cairn.VersionQuery{Model: model, Filter: f, OrderBy: order, Page: page, Scopes: scopes})
}

// VersionUpdate changes a version's mutable fields. Nil fields stay.
type VersionUpdate struct {
	Description *string           `json:"description,omitempty"`
	SetTags     map[string]string `json:"set_tags,omitempty"`
	DeleteTags  []string          `json:"delete_tags,omitempty"`
}

// UpdateVersion changes a version's description and tags. Every other
// field of a version is fixed.
func (s *Service) UpdateVersion(ctx context.Context, model string, number int64, in VersionUpdate) (*cairn.Version, error) {
	if err := s.authorize(ctx, cairn.RoleWriter, model); err != nil {
		return nil, err
	}
	var out *cairn.Version
	err := s.update(ctx, func(m *mutation) error {
		if _, err := lockModel(ctx, m, model); err != nil {
			return err
		}
		v, err := getVersion(ctx, m.tx, model, number)
		if err != nil {
			return err
		}
		out, err = s.updateVersion(ctx, m, v, in)
		return err
	})
	return out, err
}

func (s *Service) updateVersion(ctx context.Context, m *mutation, v *cairn.Version, in VersionUpdate) (*cairn.Version, error) {
	before := cloneVersion(v)
	changed, err := applyUpdate(&v.Description, v.Tags, in.Description, in.SetTags, in.DeleteTags)
	if err != nil || !changed {
		return v, err
	}
	v.UpdatedAt = m.now
	if err := m.tx.UpdateVersion(ctx, v); err != nil {
		return nil, err
	}
	recordTagChanges(m, v.Ref(), v.Model, before.Tags, v.Tags)
	m.record(cairn.EventVersionUpdated, v.Ref(), v.Model, "", before, v)
	return v, nil
}

// ArchiveVersion archives a version: it stays readable by number but
// NAME@latest skips it. If aliases point at it the call is refused with
// EFAILEDPRECONDITION unless removeAliases is set, in which case they are
// deleted in the same transaction.
func (s *Service) ArchiveVersion(ctx context.Context, model string, number int64, removeAliases bool) (*cairn.Version, error) {
	return s.changeVersion(ctx, model, number, func(m *mutation, v *cairn.Version) (string, error) {
		if v.Archived {
			return "", nil
		}
		if err := s.releaseAliases(ctx, m, v, "archive", removeAliases); err != nil {
			return "", err
		}
		if err := s.invalidateRequests(ctx, m, v, "the version was archived"); err != nil {
			return "", err
		}
		v.Archived = true
		return cairn.EventVersionArchived, nil
	})
}

// RestoreVersion undoes ArchiveVersion.
func (s *Service) RestoreVersion(ctx context.Context, model string, number int64) (*cairn.Version, error) {
	return s.changeVersion(ctx, model, number, func(m *mutation, v *cairn.Version) (string, error) {
		if !v.Archived {
			return "", nil
		}
		v.Archived = false
		return cairn.EventVersionRestored, nil
	})
}

// DeleteVersion tombstones a version: hidden from reads and lists,
// restorable with UndeleteVersion, its blobs kept. Aliases are handled as
// in ArchiveVersion.
func (s *Service) DeleteVersion(ctx context.Context, model string, number int64, removeAliases bool) error {
	_, err := s.changeVersion(ctx, model, number, func(m *mutation, v *cairn.Version) (string, error) {
		if err := s.checkDeletion(ctx, m.tx, v.Model, v.Number); err != nil {
			return "", err
		}
		if err := s.releaseAliases(ctx, m, v, "delete", removeAliases); err != nil {
			return "", err
		}
		if err := s.invalidateRequests(ctx, m, v, "the version was deleted"); err != nil {
			return "", err
		}
		now := m.now
		v.DeletedAt = &now
		return cairn.EventVersionDeleted, nil
	})
	return err
}

// UndeleteVersion restores a tombstoned version.
func (s *Service) UndeleteVersion(ctx context.Context, model string, number int64) (*cairn.Version, error) {
	if err := s.authorize(ctx, cairn.RoleMaintainer, model); err != nil {
		return nil, err
	}
	var out *cairn.Version
	err := s.update(ctx, func(m *mutation) error {
		if _, err := lockModel(ctx, m, model); err != nil {
			return err
		}
		v, err := m.tx.GetVersion(ctx, model, number)
		if err != nil {
			return notFound(err, "version %s not found", cairn.VersionRef(model, number))
		}
		out = v
		if v.DeletedAt == nil {
			return nil
		}
		v.DeletedAt, v.UpdatedAt = nil, m.now
		if err := m.tx.UpdateVersion(ctx, v); err != nil {
			return err
		}
		m.record(cairn.EventVersionRestored, v.Ref(), model, "", nil, v)
		return nil
	})
	return out, err
}

// SetStage sets MLflow's legacy stage. With archiveExisting, other versions
// in the same stage move to Archived, as MLflow does. A transition into
// or out of a stage a policy protects passes its gate (see approvals.go):
// EPENDINGAPPROVAL naming the request opened instead.
func (s *Service) SetStage(ctx context.Context, model string, number int64, stage cairn.Stage, archiveExisting bool) (*cairn.Version, error) {
	if err := s.authorize(ctx, cairn.RoleMaintainer, model); err != nil {
		return nil, err
	}
	var out *cairn.Version
	var pending *cairn.ApprovalRequest
	err := s.update(ctx, func(m *mutation) error {
		if _, err := lockModel(ctx, m, model); err != nil {
			return err
		}
		var err error
		if pending, err = s.gatedStageMove(ctx, m, model, number, stage, archiveExisting); err != nil {
			return err
		}
		out, err = m.tx.GetVersion(ctx, model, number)
		return err
	})
	if err != nil {
		return nil, err
	}
	if pending != nil {
		return out, pendingError(pending)
	}
	return out, nil
}

// setStageLocked sets a version's stage inside a mutation whose model row
// is locked, archiving the others in that stage if asked.
func (s *Service) setStageLocked(ctx context.Context, m *mutation, model string, number int64, stage cairn.Stage, archiveExisting bool) error {
	v, err := getVersion(ctx, m.tx, model, number)
	if err != nil {
		return err
	}
	if archiveExisting && stage != cairn.StageNone && stage != cairn.StageArchived {
		f, _ := cairn.ParseFilter("stage = '" + string(stage) + "'")
		token := ""
		for {
			page, err := m.tx.ListVersions(ctx, cairn.VersionQuery{Model: model, Filter: f, Page: cairn.Page{Size: MaxPageSize, Token: token}})
			if err != nil {
				return err
			}
			for _, o := range page.Items {
				if o.Number != number {
					if err := s.setStage(ctx, m, o, cairn.StageArchived); err != nil {
						return err
					}
				}
			}
			if token = page.NextToken; token == "" {
				break
			}
		}
	}
	return s.setStage(ctx, m, v, stage)
}

func (s *Service) setStage(ctx context.Context, m *mutation, v *cairn.Version, stage cairn.Stage) error {
	if v.Stage == stage {
		return nil
	}
	before := cloneVersion(v)
	v.Stage, v.UpdatedAt = stage, m.now
	if err := m.tx.UpdateVersion(ctx, v); err != nil {
		return err
	}
	m.record(cairn.EventStageChanged, v.Ref(), v.Model, "", before, v)
	return nil
}

// changeVersion locks the model, loads a live version, lets change modify
// it and name the event, and writes it if an event was named.
func (s *Service) changeVersion(ctx context.Context, model string, number int64, change func(*mutation, *cairn.Version) (string, error)) (*cairn.Version, error) {
	if err := s.authorize(ctx, cairn.RoleMaintainer, model); err != nil {
		return nil, err
	}
	var out *cairn.Version
	err := s.update(ctx, func(m *mutation) error {
		if _, err := lockModel(ctx, m, model); err != nil {
			return err
		}
		v, err := getVersion(ctx, m.tx, model, number)
		if err != nil {
			return err
		}
		before := cloneVersion(v)
		action, err := change(m, v)
		if err != nil || action == "" {
			out = v
			return err
		}
		v.UpdatedAt = m.now
		if err := m.tx.UpdateVersion(ctx, v); err != nil {
			return err
		}
		var after any = v
		if v.DeletedAt != nil {
			after = nil
		}
		m.record(action, v.Ref(), model, "", before, after)
		out = v
		return nil
	})
	return out, err
}

// releaseAliases refuses to take a version out of service while aliases
// point at it, unless remove is set, in which case it deletes them.
func (s *Service) releaseAliases(ctx context.Context, m *mutation, v *cairn.Version, verb string, remove bool) error {
	if len(v.Aliases) == 0 {
		return nil
	}
	if !remove {
		what := "alias " + v.Aliases[0] + " points"
		if len(v.Aliases) > 1 {
			what = "aliases " + strings.Join(v.Aliases, ", ") + " point"
		}
		return cairn.Errorf(cairn.EFAILEDPRECONDITION, "cannot %s %s: %s at it; move them first or ask to remove them", verb, v.Ref(), what)
	}
	for _, a := range v.Aliases {
		if err := s.checkUngated(ctx, m, v.Model, a, verb+" "+v.Ref()); err != nil {
			return err
		}
	}
	for _, a := range v.Aliases {
		if _, err := s.moveAlias(ctx, m, v.Model, a, 0, nil); err != nil {
			return err
		}
	}
	v.Aliases = []string{}
	return nil
}

// checkUngated refuses to change alias of model on the way (doing what)
// when a gate that needs approvals protects it: moving or removing it goes
// through SetAlias or DeleteAlias and their approval requests.
func (s *Service) checkUngated(ctx context.Context, m *mutation, model, alias, what string) error {
	g, err := s.gateFor(ctx, m.tx, model, alias, "")
	if err != nil {
		return err
	}
	if g != nil && g.required > 0 {
		return cairn.Errorf(cairn.EFAILEDPRECONDITION, "cannot %s: alias %s@%s is protected (changing it needs %d approval(s)); move or delete the alias on its own, through its approval request", what, model, alias, g.required)
	}
	return nil
}

func cloneVersion(v *cairn.Version) *cairn.Version {
	c := *v
	c.Tags = maps.Clone(v.Tags)
	c.Aliases = slices.Clone(v.Aliases)
	if v.Flag != nil {
		f := *v.Flag
		c.Flag = &f
	}
	return &c
}

func nonNilF(m map[string]float64) map[string]float64 {
	if m == nil {
		return map[string]float64{}
	}
	return m
}

func nonNilSlice(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
