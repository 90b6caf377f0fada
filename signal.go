package cairn

import (
	"math"
	"regexp"
	"time"
)

// Signal is one monitoring observation about a deployed version: data
// drift, a drop in performance, an error rate. Signals are append-only; a
// signal whose value is above the threshold that policy sets for its kind
// flags the version (see Version.Flag) and emits version.flagged, which a
// webhook can turn into a retraining trigger.
type Signal struct {
	ID      int64   `json:"id"`
	Model   string  `json:"model"`
	Version int64   `json:"version"`
	Kind    string  `json:"kind"`  // drift, performance, error_rate, … (SignalKindPattern)
	Value   float64 `json:"value"` // finite
	Detail  string  `json:"detail,omitempty"`
	// Threshold is the policy threshold for Kind on this model when the
	// signal was recorded; nil if policy set none.
	Threshold *float64 `json:"threshold,omitempty"`
	// Flagged is true when Value was above Threshold.
	Flagged   bool      `json:"flagged"`
	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
}

// Ref returns the reference of the version the signal is about.
func (s *Signal) Ref() string { return VersionRef(s.Model, s.Version) }

// SignalSpec is what a client sends to record a signal.
type SignalSpec struct {
	Kind   string  `json:"kind"`
	Value  float64 `json:"value"`
	Detail string  `json:"detail,omitempty"`
}

// Limits on signals.
const (
	MaxSignalKindLength   = 64
	MaxSignalDetailLength = 4096
)

// SignalKindPattern is what a signal kind looks like: a lower-case word
// such as drift, performance or error_rate.
var SignalKindPattern = regexp.MustCompile(`^[a-z][a-z0-9_.-]*$`)

// Validate checks a signal spec: EINVALID for an empty or malformed kind,
// a value that is not a finite number, or a detail that is too long or not
// UTF-8.
func (s *SignalSpec) Validate() error {
	if s.Kind == "" {
		return Errorf(EINVALID, "signal kind must not be empty (e.g. drift, performance, error_rate)")
	}
	if len(s.Kind) > MaxSignalKindLength || !SignalKindPattern.MatchString(s.Kind) {
		return Errorf(EINVALID, "invalid signal kind %q: use lower-case letters, digits, '_', '-' and '.', starting with a letter, at most %d characters", truncate(s.Kind, 80), MaxSignalKindLength)
	}
	if math.IsNaN(s.Value) || math.IsInf(s.Value, 0) {
		return Errorf(EINVALID, "signal value must be a finite number")
	}
	if len(s.Detail) > MaxSignalDetailLength {
		return Errorf(EINVALID, "signal detail is %d bytes long; the limit is %d", len(s.Detail), MaxSignalDetailLength)
	}
	if err := ValidateDescription(s.Detail); err != nil {
		return WrapError(EINVALID, err, "signal detail")
	}
	return nil
}

// Flag is the marker a version carries once a monitoring signal crossed
// its policy threshold: which signal, and what it measured.
type Flag struct {
	Signal    int64     `json:"signal"` // the Signal's ID
	Kind      string    `json:"kind"`
	Value     float64   `json:"value"`
	Threshold float64   `json:"threshold"`
	Detail    string    `json:"detail,omitempty"`
	FlaggedBy string    `json:"flagged_by"`
	FlaggedAt time.Time `json:"flagged_at"`
}

// SignalQuery selects signals: those of one version (Model and Version
// set), of one model (Version 0), or of every model (Model ""), newest
// first, optionally of one kind.
type SignalQuery struct {
	Model   string
	Version int64
	Kind    string
	Page    Page
}

// SignalPage is one page of signals.
type SignalPage struct {
	Items     []*Signal `json:"items"`
	NextToken string    `json:"next_page_token"`
}
