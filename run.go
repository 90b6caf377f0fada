package cairn

import "time"

// RunStatus is an experiment run's status, with MLflow's names.
type RunStatus string

// Run statuses.
const (
	RunRunning   RunStatus = "RUNNING"
	RunScheduled RunStatus = "SCHEDULED"
	RunFinished  RunStatus = "FINISHED"
	RunFailed    RunStatus = "FAILED"
	RunKilled    RunStatus = "KILLED"
)

// ParseRunStatus validates a run status; "" means RUNNING.
func ParseRunStatus(s string) (RunStatus, error) {
	switch RunStatus(s) {
	case "":
		return RunRunning, nil
	case RunRunning, RunScheduled, RunFinished, RunFailed, RunKilled:
		return RunStatus(s), nil
	}
	return "", Errorf(EINVALID, "invalid run status %q: want RUNNING, SCHEDULED, FINISHED, FAILED or KILLED", truncate(s, 40))
}

// DefaultExperimentID is the experiment runs belong to unless told otherwise.
const DefaultExperimentID = "0"

// Run is an experiment run: the link between the data a training job
// consumed and the versions it produced.
type Run struct {
	ID           string             `json:"id"`
	ExperimentID string             `json:"experiment_id"`
	Name         string             `json:"name"`
	Status       RunStatus          `json:"status"`
	StartTime    time.Time          `json:"start_time"`
	EndTime      *time.Time         `json:"end_time,omitempty"`
	Params       map[string]string  `json:"params"`
	Metrics      map[string]float64 `json:"metrics"` // latest value of each metric
	Tags         map[string]string  `json:"tags"`
	ArtifactURI  string             `json:"artifact_uri,omitempty"`
	// UserID is the user the client says started the run (MLflow's
	// user_id); CreatedBy is the principal that created it.
	UserID string `json:"user_id,omitempty"`
	// Inputs are the datasets and models the run consumed, Outputs the
	// models it produced (MLflow's log-inputs and log-outputs).
	Inputs      []DatasetInput `json:"inputs"`
	ModelInputs []string       `json:"model_inputs"`
	Outputs     []ModelOutput  `json:"outputs"`
	CreatedBy   string         `json:"created_by"`
	CreatedAt   time.Time      `json:"created_at"`
	UpdatedAt   time.Time      `json:"updated_at"`
	DeletedAt   *time.Time     `json:"deleted_at,omitempty"`
}

// MetricPoint is one logged value of a run metric.
type MetricPoint struct {
	Key       string    `json:"key"`
	Value     float64   `json:"value"`
	Timestamp time.Time `json:"timestamp"`
	Step      int64     `json:"step"`
}

// DatasetInput is a dataset a run consumed, as MLflow's log-inputs
// records it: the dataset's identity (name and digest), where it came
// from, and tags on the input such as mlflow.data.context = training.
type DatasetInput struct {
	Name       string            `json:"name"`
	Digest     string            `json:"digest"`
	SourceType string            `json:"source_type"`
	Source     string            `json:"source"`
	Schema     string            `json:"schema,omitempty"`
	Profile    string            `json:"profile,omitempty"`
	Tags       map[string]string `json:"tags,omitempty"`
}

// ModelOutput is a logged model a run produced, at a step.
type ModelOutput struct {
	ModelID string `json:"model_id"`
	Step    int64  `json:"step"`
}

// RunSearch searches runs.
type RunSearch struct {
	ExperimentIDs []string // required: runs of these experiments only
	// Filter is over run_id, run_name, status, user_id, artifact_uri,
	// start_time, end_time, experiment_id, metrics.<k>, params.<k>, tags.<k>.
	Filter    *Filter
	OrderBy   []OrderBy // default: start_time descending, then id
	Page      Page      // tokens are offsets
	Lifecycle Lifecycle
}
