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
	CreatedBy    string             `json:"created_by"`
	CreatedAt    time.Time          `json:"created_at"`
	UpdatedAt    time.Time          `json:"updated_at"`
	DeletedAt    *time.Time         `json:"deleted_at,omitempty"`
}

// MetricPoint is one logged value of a run metric.
type MetricPoint struct {
	Key       string    `json:"key"`
	Value     float64   `json:"value"`
	Timestamp time.Time `json:"timestamp"`
	Step      int64     `json:"step"`
}
