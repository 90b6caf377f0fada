package cairn

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode/utf8"
)

// Policy is a governance policy: a declarative document that applies to
// the models whose name falls under its Scope. Policies are versioned:
// every change writes a new version (Version 1, 2, …) and keeps the old
// ones readable. Several policies may apply to one model; their rules add
// up (see docs/governance.md).
type Policy struct {
	Name    string `json:"name"`
	Version int64  `json:"version"`
	PolicySpec
	CreatedBy string     `json:"created_by"` // who wrote this version
	CreatedAt time.Time  `json:"created_at"` // when this version was written
	DeletedAt *time.Time `json:"deleted_at,omitempty"`
}

// PolicySpec is the document a client writes: everything of a policy but
// its name and bookkeeping.
type PolicySpec struct {
	// Scope is "*" or a model-name glob (fraud-*): the models it governs.
	Scope       string `json:"scope"`
	Description string `json:"description,omitempty"`
	// NamePattern constrains the names of new models.
	NamePattern *NamePattern `json:"name_pattern,omitempty"`
	// RequiredMetadata is a JSON Schema (draft 2020-12 unless $schema says
	// otherwise) that the version record must satisfy when a version is
	// created, through any front door.
	RequiredMetadata json.RawMessage `json:"required_metadata,omitempty"`
	// ProtectedAliases are aliases whose moves pass a gate.
	ProtectedAliases []Gate `json:"protected_aliases,omitempty"`
	// ProtectedStages are MLflow stages whose transitions pass a gate.
	ProtectedStages []Gate `json:"protected_stages,omitempty"`
	// Deletion restricts deleting versions.
	Deletion *DeletionRule `json:"deletion,omitempty"`
	// Signals are thresholds per monitoring signal kind ({"drift": 0.3}).
	Signals map[string]float64 `json:"signals,omitempty"`
}

// NamePattern is a regular expression (RE2 syntax, matched against the
// whole name) that names of new models must match.
type NamePattern struct {
	Regex       string `json:"regex"`
	Example     string `json:"example,omitempty"`     // a name that matches, shown in errors
	Description string `json:"description,omitempty"` // what the parts mean
}

// Gate guards one protected alias or stage: moving it needs Approvals
// approvals from approvers other than the requester, and every condition
// to hold on the version's evidence. Exactly one of Alias and Stage is set.
type Gate struct {
	Alias      string      `json:"alias,omitempty"`
	Stage      Stage       `json:"stage,omitempty"`
	Approvals  int         `json:"approvals"`
	Conditions []Condition `json:"conditions,omitempty"`
}

// Target names what the gate protects: "alias production" or
// "stage Production".
func (g *Gate) Target() string {
	if g.Stage != "" {
		return "stage " + string(g.Stage)
	}
	return "alias " + g.Alias
}

// Condition is a CEL expression over a version's evidence that must be
// true (see docs/governance.md for the variables).
type Condition struct {
	Name string `json:"name"`
	Expr string `json:"expr"`
}

// DeletionRule restricts deletion. With RetainPromoted, a version that
// ever held an alias or stage this policy protects can be archived, never
// deleted or purged (nor can its model be deleted).
type DeletionRule struct {
	RetainPromoted bool `json:"retain_promoted"`
}

// Limits of a policy document.
const (
	MaxGateApprovals  = 10
	MaxConditions     = 32
	MaxConditionSize  = 4096
	MaxPolicySchema   = 256 << 10
	MaxSignals        = 64
	MaxPolicyGates    = 64
	maxPolicyNameSize = 128
)

// ValidatePolicyName checks a policy name: 1 to 128 letters, digits and
// . _ -, starting with a letter or digit.
func ValidatePolicyName(name string) error {
	if name == "" {
		return Errorf(EINVALID, "policy name is empty")
	}
	if len(name) > maxPolicyNameSize {
		return Errorf(EINVALID, "policy name is %d characters long; the limit is %d", len(name), maxPolicyNameSize)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		ok := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			i > 0 && (c == '.' || c == '_' || c == '-')
		if !ok {
			return Errorf(EINVALID, "invalid policy name %q: use letters, digits and . _ -, starting with a letter or digit", truncate(name, 60))
		}
	}
	return nil
}

// Validate checks everything of a policy document that the domain can
// check: the scope, the name pattern (it compiles and its example
// matches), that the required metadata is a JSON object, the gates and
// the signal thresholds. Compiling the JSON Schema and the CEL conditions
// is the registry's business. EINVALID, naming the member at fault.
func (s *PolicySpec) Validate() error {
	if err := ValidateScope(s.Scope); err != nil {
		return err
	}
	if err := ValidateDescription(s.Description); err != nil {
		return err
	}
	if p := s.NamePattern; p != nil {
		if _, err := p.Compile(); err != nil {
			return err
		}
		if p.Example != "" && !p.Matches(p.Example) {
			return Errorf(EINVALID, "name_pattern: example %q does not match %q", truncate(p.Example, 80), truncate(p.Regex, 80))
		}
		if len(p.Description) > 1024 {
			return Errorf(EINVALID, "name_pattern: description is longer than 1024 bytes")
		}
	}
	if len(s.RequiredMetadata) > 0 {
		if len(s.RequiredMetadata) > MaxPolicySchema {
			return Errorf(ETOOLARGE, "required_metadata is %d bytes; the limit is %d", len(s.RequiredMetadata), MaxPolicySchema)
		}
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(s.RequiredMetadata, &obj); err != nil || obj == nil {
			return Errorf(EINVALID, "required_metadata must be a JSON Schema object")
		}
	}
	if n := len(s.ProtectedAliases) + len(s.ProtectedStages); n > MaxPolicyGates {
		return Errorf(EINVALID, "a policy protects at most %d aliases and stages; this one %d", MaxPolicyGates, n)
	}
	seen := map[string]bool{}
	for i := range s.ProtectedAliases {
		g := &s.ProtectedAliases[i]
		if g.Stage != "" {
			return Errorf(EINVALID, "protected_aliases[%d]: set alias, not stage (stages go in protected_stages)", i)
		}
		if err := ValidateAliasName(g.Alias); err != nil {
			return WrapError(EINVALID, err, "protected_aliases[%d]", i)
		}
		if err := g.validate(fmt.Sprintf("protected_aliases[%d]", i), seen); err != nil {
			return err
		}
	}
	for i := range s.ProtectedStages {
		g := &s.ProtectedStages[i]
		if g.Alias != "" {
			return Errorf(EINVALID, "protected_stages[%d]: set stage, not alias (aliases go in protected_aliases)", i)
		}
		st, err := ParseStage(string(g.Stage))
		if err != nil || st == StageNone || st == StageArchived {
			return Errorf(EINVALID, "protected_stages[%d]: stage %q cannot be protected: want Staging or Production", i, truncate(string(g.Stage), 40))
		}
		g.Stage = st
		if err := g.validate(fmt.Sprintf("protected_stages[%d]", i), seen); err != nil {
			return err
		}
	}
	if len(s.Signals) > MaxSignals {
		return Errorf(EINVALID, "signals: at most %d signal kinds", MaxSignals)
	}
	for _, k := range sortedStringKeys(s.Signals) {
		if len(k) > MaxSignalKindLength || !SignalKindPattern.MatchString(k) {
			return Errorf(EINVALID, "signals: invalid signal kind %q: want lower-case letters, digits and _ . -, starting with a letter", truncate(k, 60))
		}
		if v := s.Signals[k]; math.IsNaN(v) || math.IsInf(v, 0) {
			return Errorf(EINVALID, "signals: threshold of %q must be a finite number", k)
		}
	}
	return nil
}

func (g *Gate) validate(where string, seen map[string]bool) error {
	if seen[g.Target()] {
		return Errorf(EINVALID, "%s: %s is protected twice in this policy", where, g.Target())
	}
	seen[g.Target()] = true
	if g.Approvals < 0 || g.Approvals > MaxGateApprovals {
		return Errorf(EINVALID, "%s: approvals must be between 0 and %d", where, MaxGateApprovals)
	}
	if len(g.Conditions) > MaxConditions {
		return Errorf(EINVALID, "%s: at most %d conditions", where, MaxConditions)
	}
	names := map[string]bool{}
	for j, c := range g.Conditions {
		at := fmt.Sprintf("%s.conditions[%d]", where, j)
		if c.Name == "" {
			return Errorf(EINVALID, "%s: name is empty", at)
		}
		if err := ValidateText(at+".name", c.Name); err != nil {
			return err
		}
		if len(c.Name) > 128 {
			return Errorf(EINVALID, "%s: name is longer than 128 bytes", at)
		}
		if names[c.Name] {
			return Errorf(EINVALID, "%s: two conditions are named %q", at, c.Name)
		}
		names[c.Name] = true
		if strings.TrimSpace(c.Expr) == "" {
			return Errorf(EINVALID, "%s (%s): expr is empty", at, c.Name)
		}
		if len(c.Expr) > MaxConditionSize || !utf8.ValidString(c.Expr) {
			return Errorf(EINVALID, "%s (%s): expr must be valid UTF-8 of at most %d bytes", at, c.Name, MaxConditionSize)
		}
	}
	if g.Approvals == 0 && len(g.Conditions) == 0 {
		return Errorf(EINVALID, "%s: a gate needs approvals or conditions (or both)", where)
	}
	return nil
}

// Compile compiles the pattern, anchored at both ends.
func (p *NamePattern) Compile() (*regexp.Regexp, error) {
	if p.Regex == "" {
		return nil, Errorf(EINVALID, "name_pattern: regex is empty")
	}
	if len(p.Regex) > 1024 {
		return nil, Errorf(EINVALID, "name_pattern: regex is longer than 1024 bytes")
	}
	re, err := regexp.Compile(`^(?:` + p.Regex + `)$`)
	if err != nil {
		return nil, Errorf(EINVALID, "name_pattern: invalid regular expression %q: %s", truncate(p.Regex, 80), err.Error())
	}
	return re, nil
}

// Matches reports whether name matches the whole pattern; false if the
// pattern does not compile.
func (p *NamePattern) Matches(name string) bool {
	re, err := p.Compile()
	return err == nil && re.MatchString(name)
}

// Applies reports whether the policy governs the model name.
func (p *Policy) Applies(model string) bool {
	return p.DeletedAt == nil && ScopeMatches(p.Scope, model)
}

// GateFor returns the policy's gate for an alias, or nil.
func (s *PolicySpec) GateFor(alias string) *Gate {
	for i := range s.ProtectedAliases {
		if s.ProtectedAliases[i].Alias == alias {
			return &s.ProtectedAliases[i]
		}
	}
	return nil
}

// StageGate returns the policy's gate for a stage, or nil.
func (s *PolicySpec) StageGate(stage Stage) *Gate {
	for i := range s.ProtectedStages {
		if s.ProtectedStages[i].Stage == stage {
			return &s.ProtectedStages[i]
		}
	}
	return nil
}

// ScopeSpecificity orders scopes from the most specific: an exact name
// beats any glob, a glob with more literal characters beats one with
// fewer, and "*" comes last. SignalThreshold uses it to pick one policy's
// threshold when several apply.
func ScopeSpecificity(scope string) int {
	if !strings.Contains(scope, "*") {
		return math.MaxInt32
	}
	return len(strings.ReplaceAll(scope, "*", ""))
}

// SortPoliciesBySpecificity sorts policies most specific scope first,
// then by name.
func SortPoliciesBySpecificity(ps []*Policy) {
	sort.SliceStable(ps, func(i, j int) bool {
		a, b := ScopeSpecificity(ps[i].Scope), ScopeSpecificity(ps[j].Scope)
		if a != b {
			return a > b
		}
		return ps[i].Name < ps[j].Name
	})
}

// PolicyPage is one page of policies.
type PolicyPage struct {
	Items     []*Policy `json:"items"`
	NextToken string    `json:"next_page_token"`
}

func sortedStringKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// policyReader and policyWriter are the parts of Reader and Tx that keep
// policies and their versions.
type policyReader interface {
	// GetPolicy returns a policy at its current version, a deleted one
	// too; ENOTFOUND if there is none.
	GetPolicy(ctx context.Context, name string) (*Policy, error)
	// GetPolicyVersion returns one version of a policy; ENOTFOUND.
	GetPolicyVersion(ctx context.Context, name string, version int64) (*Policy, error)
	// ListPolicies returns every policy at its current version, by name;
	// deleted ones only if includeDeleted.
	ListPolicies(ctx context.Context, includeDeleted bool) ([]*Policy, error)
	// ListPolicyVersions returns every version of a policy, newest first;
	// ENOTFOUND if there is no such policy.
	ListPolicyVersions(ctx context.Context, name string) ([]*Policy, error)
}

type policyWriter interface {
	// PutPolicy writes p as version p.Version of policy p.Name and makes it
	// the current version, undeleting the policy. ECONFLICT if that version
	// exists already (a concurrent writer took the number).
	PutPolicy(ctx context.Context, p *Policy) error
	// DeletePolicy marks a live policy deleted at at, keeping its
	// versions; ENOTFOUND if there is no live policy of that name.
	DeletePolicy(ctx context.Context, name string, at time.Time) error
}
