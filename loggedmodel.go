package cairn

import (
	"regexp"
	"time"
)

// LoggedModel is a model an experiment logged (MLflow 3's LoggedModel):
// files under its artifact location, the params it was built with, the
// metrics it was evaluated on, and the run that produced it. It becomes a
// registered version when a registration names it (models:/m-<id>): the
// files are then snapshotted into the version's manifest.
type LoggedModel struct {
	ID           string `json:"id"` // m-<32 hex>
	ExperimentID string `json:"experiment_id"`
	Name         string `json:"name"`
	ModelType    string `json:"model_type,omitempty"`
	// SourceRunID is the run that produced the model; it may name a run
	// Cairn does not have (MLflow does not check it either).
	SourceRunID   string            `json:"source_run_id,omitempty"`
	Status        LoggedModelStatus `json:"status"`
	StatusMessage string            `json:"status_message,omitempty"`
	// ArtifactLocation is where the model's files are uploaded, an
	// mlflow-artifacts: URI of the artifact proxy.
	ArtifactLocation string            `json:"artifact_location"`
	Params           map[string]string `json:"params"`
	Tags             map[string]string `json:"tags"`
	// Metrics are every point logged to the model, in the order logged.
	Metrics   []LoggedModelMetric `json:"metrics"`
	CreatedBy string              `json:"created_by"`
	CreatedAt time.Time           `json:"created_at"`
	UpdatedAt time.Time           `json:"updated_at"`
	DeletedAt *time.Time          `json:"deleted_at,omitempty"`
}

// LoggedModelStatus is the state of a logged model's upload.
type LoggedModelStatus string

// Logged model statuses: files are being uploaded, all are uploaded, or
// the upload failed.
const (
	LoggedModelPending LoggedModelStatus = "PENDING"
	LoggedModelReady   LoggedModelStatus = "READY"
	LoggedModelFailed  LoggedModelStatus = "FAILED"
)

// LoggedModelMetric is one metric point of a logged model: a run's metric
// logged with the model's id, optionally on a dataset.
type LoggedModelMetric struct {
	Key           string    `json:"key"`
	Value         float64   `json:"value"`
	Timestamp     time.Time `json:"timestamp"`
	Step          int64     `json:"step"`
	DatasetName   string    `json:"dataset_name,omitempty"`
	DatasetDigest string    `json:"dataset_digest,omitempty"`
	RunID         string    `json:"run_id,omitempty"`
}

// MaxLoggedModelMetrics bounds the metric points one logged model keeps.
const MaxLoggedModelMetrics = 10000

// LatestMetrics returns the latest value of each of the model's metrics:
// of its points with that key, the one with the highest step, then the
// latest timestamp, then the highest value (the rule runs follow), over
// every dataset.
func (m *LoggedModel) LatestMetrics() map[string]float64 {
	best := map[string]LoggedModelMetric{}
	for _, p := range m.Metrics {
		b, ok := best[p.Key]
		if !ok || p.Step > b.Step || (p.Step == b.Step && (p.Timestamp.After(b.Timestamp) ||
			(p.Timestamp.Equal(b.Timestamp) && p.Value > b.Value))) {
			best[p.Key] = p
		}
	}
	out := make(map[string]float64, len(best))
	for k, p := range best {
		out[k] = p.Value
	}
	return out
}

var loggedModelIDPattern = regexp.MustCompile(`^m-[0-9a-f]{32}$`)

// ValidLoggedModelID reports whether s has the form of a logged model id
// Cairn allocates: "m-" and 32 lower-case hex digits.
func ValidLoggedModelID(s string) bool { return loggedModelIDPattern.MatchString(s) }

// LoggedModelSearch searches the undeleted logged models of experiments.
type LoggedModelSearch struct {
	ExperimentIDs []string // required: models of these experiments only
	// Filter is over name, model_id, model_type, status, source_run_id,
	// creation_timestamp, last_updated_timestamp, metrics.<k> (the latest
	// value over every dataset), params.<k> and tags.<k>.
	Filter  *Filter
	OrderBy []OrderBy // default: creation time descending, then id
	Page    Page      // tokens are offsets
}

// LoggedModelPage is one page of logged models.
type LoggedModelPage struct {
	Items     []*LoggedModel `json:"items"`
	NextToken string         `json:"next_page_token"`
}
