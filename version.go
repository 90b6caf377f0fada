package cairn

import (
	"bytes"
	"encoding/json"
	"maps"
	"regexp"
	"slices"
	"time"
)

// Version is one immutable, content-addressed version of a model: the
// version record of DESIGN.md §2. Fields marked fixed never change once the
// version is ready.
type Version struct {
	Model  string `json:"model"`
	Number int64  `json:"version"`
	Kind   Kind   `json:"kind"` // fixed, from the model

	Files  []File `json:"files"`  // fixed, sorted by path
	Digest Digest `json:"digest"` // fixed: sha256 of the canonical manifest
	Size   int64  `json:"size"`   // total bytes of the files

	RunID             string             `json:"run_id,omitempty"`              // fixed
	Source            string             `json:"source,omitempty"`              // fixed
	SourceCodeVersion string             `json:"source_code_version,omitempty"` // fixed, 7–40 hex
	TrainingDataset   string             `json:"training_dataset,omitempty"`    // fixed, URI or NAME@vN
	ValidationDataset string             `json:"validation_dataset,omitempty"`  // fixed, URI or NAME@vN
	Metrics           map[string]float64 `json:"metrics"`                       // fixed
	Params            map[string]string  `json:"params"`                        // fixed
	Signature         json.RawMessage    `json:"signature,omitempty"`           // fixed, {inputs,outputs}
	Dependencies      string             `json:"dependencies,omitempty"`        // fixed, a path in Files
	Framework         string             `json:"framework,omitempty"`           // fixed
	TrainedBy         string             `json:"trained_by,omitempty"`          // fixed
	DerivedFrom       []string           `json:"derived_from"`                  // fixed, NAME@vN
	Inputs            []string           `json:"inputs"`                        // fixed, NAME@vN or URI
	Evaluates         []string           `json:"evaluates"`                     // fixed, NAME@vN; evaluation versions only
	RetrainedFrom     string             `json:"retrained_from,omitempty"`      // fixed, NAME@vN: the version this one was retrained to replace

	CreatedBy         string    `json:"created_by"`          // fixed
	CreatedByVerified bool      `json:"created_by_verified"` // false while auth is off
	CreatedAt         time.Time `json:"created_at"`          // fixed
	UpdatedAt         time.Time `json:"updated_at"`

	Tags        map[string]string `json:"tags"`        // mutable
	Description string            `json:"description"` // mutable
	Aliases     []string          `json:"aliases"`     // derived from the alias table, sorted

	Status        Status     `json:"status"`
	StatusMessage string     `json:"status_message,omitempty"`
	Archived      bool       `json:"archived"`
	Stage         Stage      `json:"stage"`
	DeletedAt     *time.Time `json:"deleted_at,omitempty"`

	// Flagged is set once a monitoring signal crossed its policy
	// threshold; Flag says which. Cleared by an explicit unflag.
	Flagged bool  `json:"flagged"`
	Flag    *Flag `json:"flag,omitempty"`
	// ApprovalStatus is derived from the version's approval requests:
	// none, pending, approved or rejected.
	ApprovalStatus string `json:"approval_status"`

	// FixedJSON is set only on a ready version read for rendering (see
	// NewContextWithFixedJSON): the pre-encoded fixed fields, Kind through
	// CreatedAt, which are then left zero. AppendVersionJSON renders it.
	FixedJSON json.RawMessage `json:"-"`
}

// Ref returns the version's canonical reference, NAME@vN.
func (v *Version) Ref() string { return VersionRef(v.Model, v.Number) }

var codeVersionPattern = regexp.MustCompile(`^[0-9a-f]{7,40}$`)

// VersionSpec is what a client sends to create a version: the version
// record's client-settable fields plus the aliases to set once it is ready.
type VersionSpec struct {
	Kind              Kind               `json:"kind,omitempty"`
	Files             []File             `json:"files"`
	RunID             string             `json:"run_id,omitempty"`
	Source            string             `json:"source,omitempty"`
	SourceCodeVersion string             `json:"source_code_version,omitempty"`
	TrainingDataset   string             `json:"training_dataset,omitempty"`
	ValidationDataset string             `json:"validation_dataset,omitempty"`
	Metrics           map[string]float64 `json:"metrics,omitempty"`
	Params            map[string]string  `json:"params,omitempty"`
	Signature         json.RawMessage    `json:"signature,omitempty"`
	Dependencies      string             `json:"dependencies,omitempty"`
	Framework         string             `json:"framework,omitempty"`
	TrainedBy         string             `json:"trained_by,omitempty"`
	DerivedFrom       []string           `json:"derived_from,omitempty"`
	Inputs            []string           `json:"inputs,omitempty"`
	Evaluates         []string           `json:"evaluates,omitempty"`
	RetrainedFrom     string             `json:"retrained_from,omitempty"`
	Tags              map[string]string  `json:"tags,omitempty"`
	Description       string             `json:"description,omitempty"`
	Aliases           []string           `json:"aliases,omitempty"`
	// AlwaysCreate makes a new version even when the spec repeats the
	// model's latest version, which is otherwise returned as it is (a
	// retried push). Importers that keep another registry's numbering set
	// it: there, two versions may have the same files.
	AlwaysCreate bool `json:"always_create,omitempty"`
}

// Validate checks every field of the spec that can be checked without the
// store. References in DerivedFrom, Inputs and the datasets are checked for
// syntax here and resolved by the registry.
func (s *VersionSpec) Validate() error {
	if s.Kind != "" {
		if _, err := ParseKind(string(s.Kind)); err != nil {
			return err
		}
	}
	if err := ValidateManifest(s.Files); err != nil {
		return err
	}
	for field, v := range map[string]string{
		"run_id": s.RunID, "source": s.Source, "framework": s.Framework, "trained_by": s.TrainedBy,
		"training_dataset": s.TrainingDataset, "validation_dataset": s.ValidationDataset,
	} {
		if err := ValidateText(field, v); err != nil {
			return err
		}
	}
	if s.SourceCodeVersion != "" && !codeVersionPattern.MatchString(s.SourceCodeVersion) {
		return Errorf(EINVALID, "invalid source_code_version %q: want a git commit, 7 to 40 lower-case hex digits", truncate(s.SourceCodeVersion, 60))
	}
	for field, v := range map[string]string{"training_dataset": s.TrainingDataset, "validation_dataset": s.ValidationDataset} {
		if v != "" && !IsURI(v) {
			if _, err := ParseRef(v); err != nil {
				return WrapError(EINVALID, err, "%s is neither a URI nor a reference", field)
			}
		}
	}
	if err := ValidateMetrics(s.Metrics); err != nil {
		return err
	}
	if err := ValidateParams(s.Params); err != nil {
		return err
	}
	if len(s.Signature) > 0 {
		if err := validateSignature(s.Signature); err != nil {
			return err
		}
	}
	if s.Dependencies != "" {
		if !slices.ContainsFunc(s.Files, func(f File) bool { return f.Path == s.Dependencies }) {
			return Errorf(EINVALID, "dependencies %q is not a file of the version", truncate(s.Dependencies, 200))
		}
	}
	for field, refs := range map[string][]string{"derived_from": s.DerivedFrom, "inputs": s.Inputs, "evaluates": s.Evaluates} {
		if len(refs) > MaxRefs {
			return Errorf(EINVALID, "%s has %d entries; the limit is %d", field, len(refs), MaxRefs)
		}
		for _, r := range refs {
			if field == "inputs" && IsURI(r) {
				if err := ValidateText(field, r); err != nil {
					return err
				}
				continue
			}
			if _, err := ParseRef(r); err != nil {
				return WrapError(EINVALID, err, "%s", field)
			}
		}
	}
	if s.RetrainedFrom != "" {
		if _, err := ParseRef(s.RetrainedFrom); err != nil {
			return WrapError(EINVALID, err, "retrained_from")
		}
	}
	if len(s.Evaluates) > 0 && s.Kind != "" && s.Kind != KindEvaluation {
		return Errorf(EINVALID, "evaluates is for versions of kind evaluation, not %s", s.Kind)
	}
	if err := ValidateTags(s.Tags); err != nil {
		return err
	}
	if err := ValidateDescription(s.Description); err != nil {
		return err
	}
	for _, a := range s.Aliases {
		if err := ValidateAliasName(a); err != nil {
			return err
		}
	}
	return nil
}

// MaxSignatureSize bounds a signature document.
const MaxSignatureSize = 1 << 20

func validateSignature(raw json.RawMessage) error {
	if len(raw) > MaxSignatureSize {
		return Errorf(ETOOLARGE, "signature is %d bytes; the limit is %d", len(raw), MaxSignatureSize)
	}
	var sig map[string]json.RawMessage
	if err := json.Unmarshal(raw, &sig); err != nil {
		return Errorf(EINVALID, "signature must be a JSON object with inputs and outputs")
	}
	for k := range sig {
		switch k {
		case "inputs", "outputs", "params":
		default:
			return Errorf(EINVALID, "signature: unknown member %q; want inputs, outputs and optionally params", truncate(k, 60))
		}
	}
	if _, ok := sig["inputs"]; !ok {
		return Errorf(EINVALID, "signature: inputs is required")
	}
	return nil
}

// SameFixedFields reports whether v has the same content and fixed fields as
// would a version created from s (after the registry resolved s's references
// into canonical form). It decides whether a native push is a retry.
func (v *Version) SameFixedFields(s *VersionSpec) bool {
	sig := func(b json.RawMessage) string {
		if len(b) == 0 {
			return ""
		}
		var buf bytes.Buffer
		if json.Compact(&buf, b) != nil {
			return string(b)
		}
		return buf.String()
	}
	return v.Digest == ManifestDigest(s.Files) &&
		v.RunID == s.RunID && v.Source == s.Source &&
		v.SourceCodeVersion == s.SourceCodeVersion &&
		v.TrainingDataset == s.TrainingDataset && v.ValidationDataset == s.ValidationDataset &&
		maps.Equal(nonNilF(v.Metrics), nonNilF(s.Metrics)) &&
		maps.Equal(nonNilS(v.Params), nonNilS(s.Params)) &&
		sig(v.Signature) == sig(s.Signature) &&
		v.Dependencies == s.Dependencies && v.Framework == s.Framework && v.TrainedBy == s.TrainedBy &&
		slices.Equal(v.DerivedFrom, s.DerivedFrom) && slices.Equal(v.Inputs, s.Inputs) &&
		slices.Equal(v.Evaluates, s.Evaluates) && v.RetrainedFrom == s.RetrainedFrom
}

func nonNilF(m map[string]float64) map[string]float64 {
	if m == nil {
		return map[string]float64{}
	}
	return m
}

func nonNilS(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}
