package mlflowapi

import (
	"context"
	"log/slog"
	"slices"
	"strings"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/internal/registry"
)

// Dataset inputs become lineage at registration. A version registered
// from a run (a runs:/ source, or run_id) gets an edge from each dataset
// the run logged (runs/log-inputs): the dataset is a version of kind
// dataset (registry.DatasetVersion, one per name and digest, with an edge
// into the run), and the new version names it in its record, which makes
// the edge into the version when it becomes ready: training_dataset
// (trained_on) for the first input in context training, validation_dataset
// (validated_on) for the first in context validation or eval, inputs
// (input) for every other.

// datasetContextTag is the input tag where MLflow says what a dataset was
// used for.
const datasetContextTag = "mlflow.data.context"

// fillFromDatasets fills spec's training_dataset, validation_dataset and
// inputs from the datasets run consumed. A dataset Cairn cannot make a
// version of (its name is another kind's model, the caller may not write
// there, a policy refuses the record) is named by its location instead,
// when that is a URI, without an edge: MLflow would have registered the
// version all the same.
func (s *Server) fillFromDatasets(ctx context.Context, model string, spec *cairn.VersionSpec, run *cairn.Run) error {
	if len(run.Inputs) == 0 {
		return nil
	}
	// The dataset versions and edges are written before the version: do
	// not write them for a caller who may not register it.
	if err := s.svc.Authorize(ctx, cairn.RoleWriter, model); err != nil {
		return err
	}
	skipped := 0
	for _, d := range run.Inputs {
		// Where the dataset goes, decided first, so that a run that read
		// more datasets than a record can name makes no versions for
		// the ones left out.
		var field *string
		switch strings.ToLower(d.Tags[datasetContextTag]) {
		case "training", "train":
			if spec.TrainingDataset == "" {
				field = &spec.TrainingDataset
			}
		case "validation", "eval", "evaluation":
			if spec.ValidationDataset == "" {
				field = &spec.ValidationDataset
			}
		}
		if field == nil && len(spec.Inputs) == cairn.MaxRefs {
			skipped++
			continue
		}
		ref, err := s.datasetRef(ctx, run.ID, d)
		if err != nil {
			return err
		}
		switch {
		case ref == "":
		case field != nil:
			*field = ref
		case ref != spec.TrainingDataset && ref != spec.ValidationDataset && !slices.Contains(spec.Inputs, ref):
			spec.Inputs = append(spec.Inputs, ref)
		}
	}
	if skipped > 0 {
		s.log.WarnContext(ctx, "dataset inputs left out of the version's lineage: its record names at most cairn.MaxRefs inputs",
			slog.String("request_id", cairn.RequestIDFromContext(ctx)), slog.String("run_id", run.ID), slog.Int("left_out", skipped))
	}
	return nil
}

// datasetRef returns how a version names dataset d: the reference of its
// dataset version, else its location as a URI, else "".
func (s *Server) datasetRef(ctx context.Context, runID string, d cairn.DatasetInput) (string, error) {
	v, err := s.svc.DatasetVersion(ctx, runID, d)
	if err == nil {
		return v.Ref(), nil
	}
	switch cairn.ErrorCodeOf(err) {
	case cairn.EINVALID, cairn.EPERMISSION, cairn.EFAILEDPRECONDITION, cairn.EPENDINGAPPROVAL:
	default:
		return "", err
	}
	s.log.WarnContext(ctx, "dataset input recorded without lineage",
		slog.String("request_id", cairn.RequestIDFromContext(ctx)), slog.String("run_id", runID),
		slog.String("dataset", d.Name), slog.String("digest", d.Digest), slog.String("reason", cairn.ErrorMessage(err)))
	loc := registry.DatasetLocation(d)
	if strings.HasPrefix(loc, "/") {
		loc = "file://" + loc
	}
	if !cairn.IsURI(loc) || cairn.ValidateText("dataset", loc) != nil {
		return "", nil
	}
	return loc, nil
}
