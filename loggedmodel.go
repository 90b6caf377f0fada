package cairn

import (
	"cmp"
	"regexp"
	"slices"
	"strings"
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
		if b, ok := best[p.Key]; !ok || p.Later(b) {
			best[p.Key] = p
		}
	}
	out := make(map[string]float64, len(best))
	for k, p := range best {
		out[k] = p.Value
	}
	return out
}

// LatestDatasetMetrics returns, for each metric and each dataset (name
// and digest) it was logged on, the latest of those points by the rule
// of LatestMetrics, sorted by key, dataset name and digest. Points logged
// without a dataset are left out.
func (m *LoggedModel) LatestDatasetMetrics() []LoggedModelMetric {
	type slot struct{ key, name, digest string }
	best := map[slot]LoggedModelMetric{}
	for _, p := range m.Metrics {
		if p.DatasetName == "" {
			continue
		}
		k := slot{p.Key, p.DatasetName, p.DatasetDigest}
		if b, ok := best[k]; !ok || p.Later(b) {
			best[k] = p
		}
	}
	out := make([]LoggedModelMetric, 0, len(best))
	for _, p := range best {
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b LoggedModelMetric) int {
		return cmp.Or(strings.Compare(a.Key, b.Key), strings.Compare(a.DatasetName, b.DatasetName),
			strings.Compare(a.DatasetDigest, b.DatasetDigest))
	})
	return out
}

// Later reports whether p is later than q as a metric's latest value:
// a higher step, then a later timestamp, then a higher value.
func (p LoggedModelMetric) Later(q LoggedModelMetric) bool {
	if p.Step != q.Step {
		return p.Step > q.Step
	}
	if !p.Timestamp.Equal(q.Timestamp) {
		return p.Timestamp.After(q.Timestamp)
	}
	return p.Value > q.Value
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
	Filter *Filter
	// Datasets, if any, restricts the search to metrics logged on these
	// datasets (MLflow 3's search_logged_models(datasets=...)): a
	// comparison of metrics.<k> in Filter holds if the latest value of k
	// on one of them (each name and digest apart) satisfies it, and its
	// negation (!=, NOT IN) if none does; a Filter without a metric
	// comparison keeps only the models with some metric on one of them.
	Datasets []LoggedModelDataset
	OrderBy  []LoggedModelOrder // default: creation time descending, then id
	Page     Page               // tokens are offsets
}

// LoggedModelDataset names a dataset that metrics were logged on: every
// digest of that name, or only Digest when it is set.
type LoggedModelDataset struct {
	Name   string `json:"name"`
	Digest string `json:"digest,omitempty"`
}

// MaxLoggedModelDatasets bounds the datasets of one logged model search.
const MaxLoggedModelDatasets = 100

// LoggedModelOrder is a sort key of a logged model search. For a
// metrics.<k> key, a Dataset with a name sorts by the latest value of k
// logged on that dataset (on its Digest only, if set) instead of the
// latest over every dataset; models without one sort last.
type LoggedModelOrder struct {
	OrderBy
	Dataset LoggedModelDataset
}

// ValidateDatasets checks the search's datasets and the datasets of its
// sort keys: each has a name, there are at most MaxLoggedModelDatasets,
// and a sort key names a dataset only for a metric. EINVALID otherwise.
func (q *LoggedModelSearch) ValidateDatasets() error {
	if len(q.Datasets) > MaxLoggedModelDatasets {
		return Errorf(EINVALID, "a logged model search takes at most %d datasets, got %d", MaxLoggedModelDatasets, len(q.Datasets))
	}
	for _, d := range q.Datasets {
		if d.Name == "" {
			return Errorf(EINVALID, "every dataset of a logged model search needs a name")
		}
	}
	for _, o := range q.OrderBy {
		if o.Dataset == (LoggedModelDataset{}) {
			continue
		}
		if o.Dataset.Name == "" {
			return Errorf(EINVALID, "order_by %.100q: a dataset digest needs a dataset name", o.Field)
		}
		if f, err := ParseFilterField(o.Field); err != nil || f.Namespace != FieldMetric {
			return Errorf(EINVALID, "order_by %.100q: only a metrics.<key> field can be sorted on a dataset", o.Field)
		}
	}
	return nil
}

// LoggedModelPage is one page of logged models.
type LoggedModelPage struct {
	Items     []*LoggedModel `json:"items"`
	NextToken string         `json:"next_page_token"`
}
