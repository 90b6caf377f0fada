package registry

import (
	"context"
	"encoding/json"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/cairn-registry/cairn"
)

// Datasets a run consumed, as lineage. MLflow's log-inputs records a
// dataset by name and digest (a hash of its content) with where it came
// from; Cairn's lineage graph joins versions and runs. A dataset becomes a
// version of a model of kind dataset named after it (DESIGN.md: datasets
// are versioned and linked exactly like models), one version per
// (name, digest): an external reference that holds no bytes, its source
// the dataset's location, its tags the rest of MLflow's record. The edge
// dataset version -consumed_by-> run goes out of that version, so it may
// be added whenever a run that read the dataset is registered.

// Tags of a dataset version, from MLflow's dataset record.
const (
	DatasetNameTag       = "mlflow.dataset.name"
	DatasetDigestTag     = cairn.DatasetDigestTag
	DatasetSourceTypeTag = "mlflow.dataset.source_type"
	DatasetSourceTag     = "mlflow.dataset.source"
	DatasetSchemaTag     = "mlflow.dataset.schema"
	DatasetProfileTag    = "mlflow.dataset.profile"
)

// DatasetModelName returns the model name a dataset's versions go under:
// the dataset's name, with the characters a model name may not hold ('/',
// ':', '@', control characters) replaced by '-', trimmed, and cut to
// cairn.MaxNameLength characters. "" if nothing is left.
func DatasetModelName(dataset string) string {
	var b strings.Builder
	n := 0
	for _, r := range dataset {
		if n == cairn.MaxNameLength {
			break
		}
		switch {
		case r == utf8.RuneError:
			continue
		case r == '/' || r == ':' || r == '@' || unicode.IsControl(r):
			r = '-'
		}
		b.WriteRune(r)
		n++
	}
	name := strings.TrimSpace(b.String())
	if cairn.ValidateModelName(name) != nil {
		return ""
	}
	return name
}

// DatasetLocation returns where a dataset is, from MLflow's source
// record: the uri, url, path or table name in the source JSON (MLflow's
// local, S3, HTTP, Hugging Face, Delta and Spark sources), else the source
// as given; "" if that is not a single line that fits a version's source.
func DatasetLocation(d cairn.DatasetInput) string {
	var src map[string]any
	if json.Unmarshal([]byte(d.Source), &src) == nil {
		for _, k := range []string{"uri", "url", "path", "delta_table_name", "table_name"} {
			if s, ok := src[k].(string); ok && s != "" && cairn.ValidateText("source", s) == nil {
				return s
			}
		}
	}
	if cairn.ValidateText("source", d.Source) != nil {
		return ""
	}
	return d.Source
}

// DatasetVersion returns the version of kind dataset that stands for
// dataset d, creating it (and its model) the first time (name, digest) is
// seen, and records the edge from it to run runID (consumed_by), in one
// transaction. The model's row lock orders concurrent callers, also
// across replicas, so a (name, digest) gets one version. Finding it reads
// the versions of one model.
//
// The caller needs the writer role on the dataset's model name to create
// its version, the reader role to use one that exists, and the writer role
// on some scope (linking a run). Errors: EINVALID if the dataset has no
// usable name or a policy refuses its record, ENOTFOUND for an unknown
// run, EFAILEDPRECONDITION if the name holds another kind or is archived,
// EPERMISSION.
func (s *Service) DatasetVersion(ctx context.Context, runID string, d cairn.DatasetInput) (*cairn.Version, error) {
	if err := s.authorizeAny(ctx, cairn.RoleWriter); err != nil {
		return nil, err
	}
	if err := validateDataset(d); err != nil {
		return nil, err
	}
	name := DatasetModelName(d.Name)
	if name == "" {
		return nil, cairn.Errorf(cairn.EINVALID, "dataset name %q cannot name a model", truncate(d.Name, 120))
	}
	canCreate := s.authorize(ctx, cairn.RoleWriter, name)
	if canCreate != nil {
		if err := s.authorize(ctx, cairn.RoleReader, name); err != nil {
			return nil, err
		}
	}
	var out *cairn.Version
	attempt := func() error {
		return s.update(ctx, func(m *mutation) error {
			if _, err := getRun(ctx, m.tx, runID); err != nil {
				return err
			}
			v, err := s.datasetVersion(ctx, m, name, d, canCreate)
			if err != nil {
				return err
			}
			edge := []cairn.Edge{{From: cairn.VersionNode(v.Model, v.Number), To: cairn.RunNode(runID), Type: cairn.EdgeConsumedBy, CreatedBy: m.actor.Name, CreatedAt: m.now}}
			if err := m.tx.AddEdges(ctx, edge); err != nil {
				return err
			}
			m.record(cairn.EventLineageAdded, "run:"+runID, "", "", nil, edge)
			out = v
			return nil
		})
	}
	err := attempt()
	if cairn.IsCode(err, cairn.ECONFLICT) {
		// Another transaction created the model first: it is there now.
		err = attempt()
	}
	return out, err
}

// datasetVersion finds or creates the version for d under model name,
// inside m. canCreate is the authorization to create it.
func (s *Service) datasetVersion(ctx context.Context, m *mutation, name string, d cairn.DatasetInput, canCreate error) (*cairn.Version, error) {
	model, err := m.tx.LockModel(ctx, name)
	switch {
	case cairn.IsCode(err, cairn.ENOTFOUND):
		if canCreate != nil {
			return nil, canCreate
		}
		if model, err = s.createModel(ctx, m, ModelCreate{Name: name, Kind: cairn.KindDataset,
			Description: "A dataset MLflow runs logged as an input (runs/log-inputs): one version per digest."}); err != nil {
			return nil, err
		}
		if model, err = m.tx.LockModel(ctx, name); err != nil {
			return nil, err
		}
	case err != nil:
		return nil, err
	case model.DeletedAt != nil:
		return nil, cairn.Errorf(cairn.EFAILEDPRECONDITION, "model %q, where dataset %q would go, was deleted", name, truncate(d.Name, 120))
	}
	if model.Kind != cairn.KindDataset {
		return nil, cairn.Errorf(cairn.EFAILEDPRECONDITION, "model %q holds kind %q, not dataset", name, model.Kind)
	}
	// An indexed lookup by digest: the model may hold very many dataset
	// versions (MLflow's default dataset name is "dataset").
	found, err := m.tx.VersionsWithDatasetDigest(ctx, name, d.Digest)
	if err != nil {
		return nil, err
	}
	for _, v := range found {
		if v.Status == cairn.StatusReady && v.Tags[DatasetNameTag] == d.Name {
			return v, nil
		}
	}
	if canCreate != nil {
		return nil, canCreate
	}
	spec := &cairn.VersionSpec{Kind: cairn.KindDataset, Source: DatasetLocation(d), Tags: datasetTags(d)}
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	res, err := s.createVersion(ctx, m, name, spec, false)
	if err != nil {
		return nil, err
	}
	v := res.Version
	before := cloneVersion(v)
	v.Status = cairn.StatusReady
	if err := m.tx.UpdateVersion(ctx, v); err != nil {
		return nil, err
	}
	m.record(cairn.EventVersionReady, v.Ref(), name, "", before, v)
	return v, nil
}

// datasetTags are a dataset version's tags: MLflow's record, each field
// that fits a tag value.
func datasetTags(d cairn.DatasetInput) map[string]string {
	tags := map[string]string{}
	for k, v := range map[string]string{
		DatasetNameTag: d.Name, DatasetDigestTag: d.Digest, DatasetSourceTypeTag: d.SourceType,
		DatasetSourceTag: d.Source, DatasetSchemaTag: d.Schema, DatasetProfileTag: d.Profile,
	} {
		if v != "" && cairn.ValidateTags(map[string]string{k: v}) == nil {
			tags[k] = v
		}
	}
	return tags
}
