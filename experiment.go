package cairn

import (
	"maps"
	"regexp"
	"time"
	"unicode/utf8"
)

// Experiment groups runs, as MLflow's experiments do. Its id is a decimal
// number the store allocates ("0" is the default experiment, which exists
// from the start); its name is unique among all experiments, deleted ones
// included.
type Experiment struct {
	ID               string            `json:"id"`
	Name             string            `json:"name"`
	ArtifactLocation string            `json:"artifact_location"`
	Tags             map[string]string `json:"tags"`
	CreatedBy        string            `json:"created_by"`
	CreatedAt        time.Time         `json:"created_at"`
	UpdatedAt        time.Time         `json:"updated_at"`
	DeletedAt        *time.Time        `json:"deleted_at,omitempty"`
}

// DefaultExperimentName is the name of experiment DefaultExperimentID.
const DefaultExperimentName = "Default"

// MaxExperimentNameLength is MLflow's limit on experiment names, in characters.
const MaxExperimentNameLength = 500

// ValidateExperimentName checks an experiment name: non-empty, at most
// MaxExperimentNameLength characters, valid UTF-8 without control
// characters.
func ValidateExperimentName(name string) error {
	if name == "" {
		return Errorf(EINVALID, "experiment name must not be empty")
	}
	if !utf8.ValidString(name) {
		return Errorf(EINVALID, "experiment name must be valid UTF-8")
	}
	if n := utf8.RuneCountInString(name); n > MaxExperimentNameLength {
		return Errorf(EINVALID, "experiment name is %d characters long; the limit is %d", n, MaxExperimentNameLength)
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return Errorf(EINVALID, "experiment name must not contain control characters")
		}
	}
	return nil
}

var experimentIDPattern = regexp.MustCompile(`^(0|[1-9][0-9]{0,17})$`)

// ValidExperimentID reports whether s can be an experiment id: a decimal
// number without leading zeros.
func ValidExperimentID(s string) bool { return experimentIDPattern.MatchString(s) }

// ExperimentQuery lists experiments.
type ExperimentQuery struct {
	Filter  *Filter   // over name, creation_time, last_update_time, tags.<key>
	OrderBy []OrderBy // default: created_at descending, then id ascending
	Page    Page
	// Lifecycle selects active (the default), deleted or all experiments.
	Lifecycle Lifecycle
}

// ExperimentPage is one page of experiments.
type ExperimentPage struct {
	Items     []*Experiment `json:"items"`
	NextToken string        `json:"next_page_token"`
}

// Lifecycle selects records by deletion state, as MLflow's view_type does.
type Lifecycle int

// Lifecycles.
const (
	ActiveOnly Lifecycle = iota
	DeletedOnly
	AllLifecycles
)

// Equal reports whether two experiments hold the same values.
func (e *Experiment) Equal(o *Experiment) bool {
	if e.ID != o.ID || e.Name != o.Name || e.ArtifactLocation != o.ArtifactLocation || e.CreatedBy != o.CreatedBy ||
		!e.CreatedAt.Equal(o.CreatedAt) || !e.UpdatedAt.Equal(o.UpdatedAt) || (e.DeletedAt == nil) != (o.DeletedAt == nil) ||
		!maps.Equal(e.Tags, o.Tags) {
		return false
	}
	return e.DeletedAt == nil || e.DeletedAt.Equal(*o.DeletedAt)
}
