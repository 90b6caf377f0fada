package mlflowapi

import (
	"context"
	"errors"
	"maps"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/internal/mlmodel"
	"github.com/cairn-registry/cairn/internal/registry"
)

// Registration that snapshots files. MLflow's model-versions/create
// records a source URI and nothing else; a later write to the run's
// artifacts changes what that URI holds, and so what the registered
// version loads. Cairn instead reads the source, when it can, at
// registration: the files under it become the version's manifest (blob
// digests, no bytes copied), so the version is immutable like a native
// push, and the version record is filled from what the files and the run
// say. A source Cairn cannot read (s3://…, a runs:/ source whose run does
// not exist, an empty directory) is recorded as an external reference,
// exactly as MLflow records it.

// Run tags MLflow's client sets that fill the version record.
const (
	gitCommitTag = "mlflow.source.git.commit"
	runUserTag   = "mlflow.user"
)

// Files of a model directory that fill the version record.
const (
	requirementsFile = "requirements.txt"
	condaFile        = "conda.yaml"
)

// snapshotAttempts bounds how often a registration re-reads its source
// when a garbage collection raced with it (registry.ErrBlobVanished).
const snapshotAttempts = 3

var gitCommitPattern = regexp.MustCompile(`^[0-9a-f]{7,40}$`)

// registerFromSource registers spec as a version of model, snapshotting
// the files of spec.Source if Cairn stores them and filling the record
// from the source's run and files. loggedModelID, if not empty, is the
// MLflow 3 logged model the registration names (model_id, or a
// models:/m-<id> source): when Cairn has it, a models:/ source snapshots
// its files, its source run is the version's run (the run → version
// lineage edge), its params and latest metrics fill the record over the
// run's, and the version is listed in its mlflow.modelVersions tag. An
// unknown logged model leaves an external reference, as MLflow records it.
func (s *Server) registerFromSource(ctx context.Context, model string, spec cairn.VersionSpec, loggedModelID string) (*cairn.Version, error) {
	lm, err := s.sourceLoggedModel(ctx, loggedModelID)
	if err != nil {
		return nil, err
	}
	if lm != nil && spec.RunID == "" {
		spec.RunID = lm.SourceRunID // the run that produced the model
	}
	run, err := s.sourceRun(ctx, spec)
	if err != nil {
		return nil, err
	}
	if run != nil && spec.RunID == "" {
		spec.RunID = run.ID // a runs:/ source names its run
	}
	if run != nil {
		if err := s.fillFromDatasets(ctx, model, &spec, run); err != nil {
			return nil, err
		}
	}
	dir, readable := artifactDir(spec.Source, run)
	if lm != nil && strings.HasPrefix(spec.Source, "models:/") {
		dir, readable = loggedModelDir(lm)
	}
	for attempt := 1; ; attempt++ {
		sp := spec
		sp.Tags = maps.Clone(spec.Tags)
		if run != nil {
			fillFromRun(&sp, run)
		}
		if lm != nil {
			fillFromLoggedModel(&sp, lm)
		}
		if readable {
			files, err := s.svc.SnapshotArtifacts(ctx, dir)
			if err != nil {
				return nil, err
			}
			if len(files) > 0 {
				sp.Files = files
				if err := s.fillFromFiles(ctx, &sp, dir); err != nil {
					return nil, err
				}
			}
		}
		var v *cairn.Version
		if lm != nil {
			v, err = s.svc.RegisterLoggedModel(ctx, model, sp, lm.ID)
		} else {
			v, err = s.svc.RegisterExternal(ctx, model, sp)
		}
		if errors.Is(err, registry.ErrBlobVanished) && attempt < snapshotAttempts {
			continue
		}
		return v, err
	}
}

// loggedModelSource returns the logged model id a models:/m-<id> source
// names.
func loggedModelSource(source string) (string, bool) {
	id, ok := strings.CutPrefix(source, "models:/")
	if !ok || !strings.HasPrefix(id, "m-") || strings.Contains(id, "/") {
		return "", false
	}
	return id, true
}

// sourceLoggedModel returns the logged model a registration names; nil if
// none is named or Cairn has no such (undeleted) logged model.
func (s *Server) sourceLoggedModel(ctx context.Context, id string) (*cairn.LoggedModel, error) {
	if id == "" {
		return nil, nil
	}
	lm, err := s.svc.GetLoggedModel(ctx, id)
	if cairn.IsCode(err, cairn.ENOTFOUND) || cairn.IsCode(err, cairn.EINVALID) {
		return nil, nil
	}
	return lm, err
}

// loggedModelDir returns the directory of Cairn's artifact store holding
// a logged model's files: the path of its mlflow-artifacts: location.
func loggedModelDir(lm *cairn.LoggedModel) (string, bool) {
	if !strings.HasPrefix(lm.ArtifactLocation, "mlflow-artifacts:") {
		return "", false
	}
	return artifactDir(lm.ArtifactLocation, nil)
}

// fillFromLoggedModel fills the record from a logged model, over what its
// run said: its params, and the latest value of each of its metrics.
// Values Cairn's rules refuse are left out, as in fillFromRun.
func fillFromLoggedModel(spec *cairn.VersionSpec, lm *cairn.LoggedModel) {
	if spec.Metrics == nil {
		spec.Metrics = map[string]float64{}
	}
	for k, v := range lm.LatestMetrics() {
		if cairn.ValidateMetrics(map[string]float64{k: v}) == nil {
			spec.Metrics[k] = v
		}
	}
	if spec.Params == nil {
		spec.Params = map[string]string{}
	}
	for k, v := range lm.Params {
		if cairn.ValidateParams(map[string]string{k: v}) == nil {
			spec.Params[k] = v
		}
	}
}

// sourceRun returns the run a registration names: run_id, else the run of
// a runs:/RUN_ID/… source; nil if there is none or it does not exist
// (MLflow accepts such a source; so does Cairn, as a reference).
func (s *Server) sourceRun(ctx context.Context, spec cairn.VersionSpec) (*cairn.Run, error) {
	id := spec.RunID
	if id == "" {
		if rest, ok := strings.CutPrefix(spec.Source, "runs:/"); ok {
			id, _, _ = strings.Cut(rest, "/")
		}
	}
	if id == "" {
		return nil, nil
	}
	run, err := s.svc.GetRun(ctx, id)
	if cairn.IsCode(err, cairn.ENOTFOUND) || cairn.IsCode(err, cairn.EINVALID) {
		return nil, nil
	}
	return run, err
}

// artifactDir returns the directory of Cairn's artifact store a source
// names, and whether there is one: mlflow-artifacts:/PATH (without a
// host: with one it names another server), or runs:/RUN_ID/PATH of a run
// whose artifacts Cairn stores.
func artifactDir(source string, run *cairn.Run) (string, bool) {
	var dir string
	switch {
	case strings.HasPrefix(source, "mlflow-artifacts:"):
		var ok bool
		if dir, ok = artifactsURIPath(source); !ok {
			return "", false
		}
	case strings.HasPrefix(source, "runs:/"):
		if run == nil {
			return "", false
		}
		root, ok := runArtifactRoot(run)
		if !ok {
			return "", false
		}
		_, sub, _ := strings.Cut(strings.TrimPrefix(source, "runs:/"), "/")
		dir = strings.Trim(root+"/"+strings.Trim(sub, "/"), "/")
	default:
		return "", false
	}
	if cairn.ValidateArtifactPath(dir) != nil || isVersionPath(dir) {
		return "", false // Cairn's own namespace is not a run's files
	}
	return dir, true
}

// artifactsURIPath returns the path of an mlflow-artifacts: URI without a
// host: mlflow-artifacts:/a/b and mlflow-artifacts:///a/b give "a/b".
func artifactsURIPath(uri string) (string, bool) {
	rest := strings.TrimPrefix(uri, "mlflow-artifacts:")
	if after, ok := strings.CutPrefix(rest, "//"); ok {
		host, p, _ := strings.Cut(after, "/")
		if host != "" {
			return "", false
		}
		rest = p
	}
	p := strings.Trim(rest, "/")
	return p, p != ""
}

// runArtifactRoot returns the artifact directory of a run whose artifacts
// the proxy stores: its mlflow-artifacts: URI, or, for a run that has
// none recorded, the layout MLflow's proxy uses, EXPERIMENT/RUN/artifacts.
func runArtifactRoot(run *cairn.Run) (string, bool) {
	switch {
	case run.ArtifactURI == "":
		return run.ExperimentID + "/" + run.ID + "/artifacts", true
	case strings.HasPrefix(run.ArtifactURI, "mlflow-artifacts:"):
		return artifactsURIPath(run.ArtifactURI)
	}
	return "", false
}

// fillFromRun fills the record's fields the run knows and the request did
// not say: the run's metrics and params, the git commit the code was at,
// and who trained it. Values Cairn's rules refuse (a metric that is not a
// finite number, a commit that is not hex) are left out, not fatal: the
// registration is MLflow's, which takes anything.
func fillFromRun(spec *cairn.VersionSpec, run *cairn.Run) {
	spec.Metrics = map[string]float64{}
	for k, v := range run.Metrics {
		if cairn.ValidateMetrics(map[string]float64{k: v}) == nil {
			spec.Metrics[k] = v
		}
	}
	spec.Params = map[string]string{}
	for k, v := range run.Params {
		if cairn.ValidateParams(map[string]string{k: v}) == nil {
			spec.Params[k] = v
		}
	}
	if c := strings.ToLower(run.Tags[gitCommitTag]); gitCommitPattern.MatchString(c) {
		spec.SourceCodeVersion = c
	}
	spec.TrainedBy = run.Tags[runUserTag]
	if spec.TrainedBy == "" {
		spec.TrainedBy = run.CreatedBy
	}
	if cairn.ValidateText("trained_by", spec.TrainedBy) != nil {
		spec.TrainedBy = ""
	}
}

// fillFromFiles fills the record from a snapshot's files: framework and
// signature from the MLmodel file, dependencies from requirements.txt (or
// conda.yaml). A malformed MLmodel leaves those fields empty; MLflow would
// have registered the version all the same.
func (s *Server) fillFromFiles(ctx context.Context, spec *cairn.VersionSpec, dir string) error {
	has := func(p string) bool {
		return slices.ContainsFunc(spec.Files, func(f cairn.File) bool { return f.Path == p })
	}
	switch {
	case has(requirementsFile):
		spec.Dependencies = requirementsFile
	case has(condaFile):
		spec.Dependencies = condaFile
	}
	i := slices.IndexFunc(spec.Files, func(f cairn.File) bool { return f.Path == mlmodel.FileName })
	if i < 0 || spec.Files[i].Size > mlmodel.MaxSize {
		return nil
	}
	a, rc, err := s.svc.OpenArtifact(ctx, dir+"/"+mlmodel.FileName)
	if cairn.IsCode(err, cairn.ENOTFOUND) {
		return nil // deleted since the snapshot: the record stays unfilled
	}
	if err != nil {
		return err
	}
	defer rc.Close()
	if a.Digest != spec.Files[i].Digest {
		return nil // rewritten since the snapshot: not the snapshot's file
	}
	m, err := mlmodel.Parse(rc)
	if err != nil {
		return nil
	}
	if fw := m.Framework(); cairn.ValidateText("framework", fw) == nil {
		spec.Framework = fw
	}
	if m.Signature != nil {
		probe := cairn.VersionSpec{Signature: m.Signature}
		if probe.Validate() == nil {
			spec.Signature = m.Signature
		}
	}
	return nil
}

// versionArtifactRoot is where the artifact proxy serves a version's
// files: _cairn/versions/NAME/N (NAME path-escaped), read-only.
func versionArtifactRoot(model string, n int64) string {
	return registry.ReservedArtifactRoot + "/versions/" + url.PathEscape(model) + "/" + sprintf("%d", n)
}
