// Package cairn holds Cairn's domain: models, versions, aliases, references,
// digests, runs, lineage, audit entries and events; their validation; the
// one error type; and the contracts with more than one implementation (the
// metadata store and the blob store). It imports only the standard library.
package cairn

import (
	"context"
	"time"
)

// Kind is the kind of artifact a model holds. Datasets, prompts and
// evaluations are versioned, aliased and linked exactly like models.
type Kind string

// Artifact kinds.
const (
	KindModel      Kind = "model"
	KindDataset    Kind = "dataset"
	KindPrompt     Kind = "prompt"
	KindEvaluation Kind = "evaluation"
	KindOther      Kind = "other"
)

// DatasetDigestTag is the tag holding the digest of the dataset a dataset
// version records (MLflow's dataset digest). Stores index it per model
// (Reader.VersionsWithDatasetDigest); the SQL of the index and the query
// spell it out, so it must not change.
const DatasetDigestTag = "mlflow.dataset.digest"

// ParseKind validates a kind; "" means model.
func ParseKind(s string) (Kind, error) {
	switch Kind(s) {
	case "":
		return KindModel, nil
	case KindModel, KindDataset, KindPrompt, KindEvaluation, KindOther:
		return Kind(s), nil
	}
	return "", Errorf(EINVALID, "invalid kind %q: want model, dataset, prompt, evaluation or other", truncate(s, 40))
}

// Actor is who performs an operation. With auth off, the name is whatever
// the client declared and Verified is false.
type Actor struct {
	Name     string `json:"name"`
	Verified bool   `json:"verified"`
}

// AnonymousActor is used when a client declares nobody.
var AnonymousActor = Actor{Name: "anonymous"}

type ctxKey int

const (
	actorKey ctxKey = iota
	requestIDKey
	fixedJSONKey
	summaryKey
)

// NewContextWithActor returns a context carrying the actor of the request.
func NewContextWithActor(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, actorKey, a)
}

// ActorFromContext returns the request's actor, or AnonymousActor.
func ActorFromContext(ctx context.Context) Actor {
	if a, ok := ctx.Value(actorKey).(Actor); ok && a.Name != "" {
		return a
	}
	return AnonymousActor
}

// NewContextWithRequestID returns a context carrying the request id.
func NewContextWithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey, id)
}

// RequestIDFromContext returns the request id, or "".
func RequestIDFromContext(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}

// Model is a registered model: a named series of versions.
type Model struct {
	Name          string            `json:"name"`
	Kind          Kind              `json:"kind"`
	Description   string            `json:"description"`
	Tags          map[string]string `json:"tags"`
	Aliases       map[string]int64  `json:"aliases"`
	LatestVersion int64             `json:"latest_version"` // highest number allocated, 0 if none
	Archived      bool              `json:"archived"`
	CreatedBy     string            `json:"created_by"`
	CreatedAt     time.Time         `json:"created_at"`
	UpdatedAt     time.Time         `json:"updated_at"`
	DeletedAt     *time.Time        `json:"deleted_at,omitempty"`
}

// Status is a version's upload status.
type Status string

// Version statuses.
const (
	StatusPending Status = "pending"
	StatusReady   Status = "ready"
	StatusFailed  Status = "failed"
)

// Stage is MLflow's legacy stage, kept for compatibility.
type Stage string

// Legacy stages.
const (
	StageNone       Stage = "None"
	StageStaging    Stage = "Staging"
	StageProduction Stage = "Production"
	StageArchived   Stage = "Archived"
)

// Stages lists the legacy stages in MLflow's order.
var Stages = []Stage{StageNone, StageStaging, StageProduction, StageArchived}

// ParseStage accepts a stage name in any case.
func ParseStage(s string) (Stage, error) {
	for _, st := range Stages {
		if equalFoldASCII(s, string(st)) {
			return st, nil
		}
	}
	return "", Errorf(EINVALID, "invalid stage %q: want None, Staging, Production or Archived", truncate(s, 40))
}

func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
