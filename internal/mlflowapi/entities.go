package mlflowapi

import (
	"context"
	"slices"
	"strconv"
	"strings"

	"github.com/cairn-registry/cairn"
)

// Tags with a meaning in MLflow's protocol.
const (
	// isPromptTag marks a registered model (and its versions) as a prompt.
	// Cairn models of kind prompt carry it on the MLflow wire.
	isPromptTag = "mlflow.prompt.is_prompt"
	// runLinkTag and modelIDTag hold ModelVersion.run_link and (MLflow 3)
	// model_id, which have no field in Cairn's version record. They are
	// ordinary version tags in the native API, hidden from the MLflow tag
	// list and reserved on the MLflow door's set-tag and delete-tag.
	runLinkTag = "cairn.mlflow.run_link"
	modelIDTag = "cairn.mlflow.model_id"
)

func reservedTag(key string) bool { return strings.HasPrefix(key, "cairn.mlflow.") }

// checkTagNotReserved refuses a reserved tag key (set or deleted through
// the MLflow API).
func checkTagNotReserved(key string) error {
	if reservedTag(key) {
		return invalidParam("Tag key '%s' is reserved: the prefix 'cairn.mlflow.' holds fields of the MLflow API.", key)
	}
	return nil
}

// registeredModel is MLflow's RegisteredModel entity. Empty fields are
// omitted, as protobuf JSON does.
type registeredModel struct {
	Name                 string         `json:"name"`
	CreationTimestamp    int64          `json:"creation_timestamp"`
	LastUpdatedTimestamp int64          `json:"last_updated_timestamp"`
	UserID               string         `json:"user_id,omitempty"`
	Description          string         `json:"description,omitempty"`
	LatestVersions       []modelVersion `json:"latest_versions,omitempty"`
	Tags                 []keyValue     `json:"tags,omitempty"`
	Aliases              []modelAlias   `json:"aliases,omitempty"`
}

// modelAlias is MLflow's RegisteredModelAlias; version is a string.
type modelAlias struct {
	Alias   string `json:"alias"`
	Version string `json:"version"`
}

// modelVersion is MLflow's ModelVersion entity.
type modelVersion struct {
	Name                 string     `json:"name"`
	Version              string     `json:"version"`
	CreationTimestamp    int64      `json:"creation_timestamp"`
	LastUpdatedTimestamp int64      `json:"last_updated_timestamp"`
	UserID               string     `json:"user_id,omitempty"`
	CurrentStage         string     `json:"current_stage"`
	Description          string     `json:"description,omitempty"`
	Source               string     `json:"source,omitempty"`
	RunID                string     `json:"run_id,omitempty"`
	Status               string     `json:"status"`
	StatusMessage        string     `json:"status_message,omitempty"`
	Tags                 []keyValue `json:"tags,omitempty"`
	RunLink              string     `json:"run_link,omitempty"`
	Aliases              []string   `json:"aliases,omitempty"`
	ModelID              string     `json:"model_id,omitempty"`
}

// MLflow's ModelVersionStatus names.
const (
	statusReady   = "READY"
	statusPending = "PENDING_REGISTRATION"
	statusFailed  = "FAILED_REGISTRATION"
)

func mlflowStatus(s cairn.Status) string {
	switch s {
	case cairn.StatusReady:
		return statusReady
	case cairn.StatusFailed:
		return statusFailed
	}
	return statusPending
}

// byKey orders tags by key.
func byKey(a, b keyValue) int { return strings.Compare(a.Key, b.Key) }

func sortedTags(m map[string]string, hide func(string) bool) []keyValue {
	out := make([]keyValue, 0, len(m))
	for k, v := range m {
		if hide != nil && hide(k) {
			continue
		}
		out = append(out, keyValue{k, v})
	}
	slices.SortFunc(out, byKey)
	return out
}

func toModelVersion(v *cairn.Version) modelVersion {
	tags := sortedTags(v.Tags, reservedTag)
	if v.Kind == cairn.KindPrompt {
		if _, ok := v.Tags[isPromptTag]; !ok {
			tags = append(tags, keyValue{isPromptTag, "true"})
			slices.SortFunc(tags, byKey)
		}
	}
	stage := string(v.Stage)
	if stage == "" {
		stage = string(cairn.StageNone)
	}
	return modelVersion{
		Name: v.Model, Version: strconv.FormatInt(v.Number, 10),
		CreationTimestamp: v.CreatedAt.UnixMilli(), LastUpdatedTimestamp: v.UpdatedAt.UnixMilli(),
		UserID: v.CreatedBy, CurrentStage: stage, Description: v.Description,
		Source: v.Source, RunID: v.RunID, Status: mlflowStatus(v.Status), StatusMessage: v.StatusMessage,
		Tags: tags, RunLink: v.Tags[runLinkTag], Aliases: v.Aliases, ModelID: v.Tags[modelIDTag],
	}
}

func toRegisteredModel(m *cairn.Model, latest []modelVersion) registeredModel {
	tags := sortedTags(m.Tags, nil)
	if m.Kind == cairn.KindPrompt {
		if _, ok := m.Tags[isPromptTag]; !ok {
			tags = append(tags, keyValue{isPromptTag, "true"})
			slices.SortFunc(tags, byKey)
		}
	}
	aliases := make([]modelAlias, 0, len(m.Aliases))
	for a, v := range m.Aliases {
		aliases = append(aliases, modelAlias{a, strconv.FormatInt(v, 10)})
	}
	slices.SortFunc(aliases, func(a, b modelAlias) int { return strings.Compare(a.Alias, b.Alias) })
	return registeredModel{
		Name: m.Name, CreationTimestamp: m.CreatedAt.UnixMilli(), LastUpdatedTimestamp: m.UpdatedAt.UnixMilli(),
		UserID: m.CreatedBy, Description: m.Description, LatestVersions: latest, Tags: tags, Aliases: aliases,
	}
}

// latestVersions returns, for each of the given stages (all if none), the
// highest-numbered ready version of the model in that stage: MLflow's
// RegisteredModel.latest_versions and get-latest-versions.
func (s *Server) latestVersions(ctx context.Context, m *cairn.Model, want []cairn.Stage) ([]modelVersion, error) {
	per, err := s.latestPerStage(ctx, []*cairn.Model{m})
	if err != nil {
		return nil, err
	}
	out := []modelVersion{}
	for _, v := range per[m.Name] {
		if len(want) == 0 || slices.Contains(want, v.Stage) {
			out = append(out, toModelVersion(v))
		}
	}
	return out, nil
}

// latestPerStage returns, per model name, the latest ready version in each
// stage that has one, in MLflow's stage order (None, Staging, Production,
// Archived), with its aliases from the model's: one store query for the
// models.
func (s *Server) latestPerStage(ctx context.Context, models []*cairn.Model) (map[string][]*cairn.Version, error) {
	names := make([]string, len(models))
	for i, m := range models {
		names[i] = m.Name
	}
	vs, err := s.svc.Store().LatestPerStage(ctx, names)
	if err != nil {
		return nil, err
	}
	return latestByModel(models, vs), nil
}

// latestByModel groups latest versions (LatestPerStage's) by model, in
// MLflow's stage order, and gives each the aliases of its model's that
// point at it.
func latestByModel(models []*cairn.Model, vs []*cairn.Version) map[string][]*cairn.Version {
	out := make(map[string][]*cairn.Version, len(models))
	for _, v := range vs {
		out[v.Model] = append(out[v.Model], v)
	}
	for _, m := range models {
		list := out[m.Name]
		slices.SortFunc(list, func(a, b *cairn.Version) int {
			return slices.Index(cairn.Stages, a.Stage) - slices.Index(cairn.Stages, b.Stage)
		})
		if len(m.Aliases) == 0 {
			continue
		}
		for _, v := range list {
			for a, n := range m.Aliases {
				if n == v.Number {
					v.Aliases = append(v.Aliases, a)
				}
			}
			slices.Sort(v.Aliases)
		}
	}
	return out
}
