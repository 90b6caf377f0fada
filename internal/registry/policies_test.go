package registry_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/internal/registry"
)

// loadPolicy reads one of the example policies shipped in docs/policies.
func loadPolicy(t *testing.T, name string) registry.PolicyCreate {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "policies", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var in registry.PolicyCreate
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		t.Fatalf("%s.json: %v", name, err)
	}
	return in
}

func wantCode(t *testing.T, err error, code cairn.ErrorCode, contains ...string) {
	t.Helper()
	if cairn.ErrorCodeOf(err) != code {
		t.Fatalf("error = %v, want code %s", err, code)
	}
	for _, c := range contains {
		if !strings.Contains(cairn.ErrorMessage(err), c) {
			t.Errorf("error %q does not contain %q", cairn.ErrorMessage(err), c)
		}
	}
}

// TestShippedPolicies creates every example in docs/policies, so that the
// documentation cannot ship a policy the server refuses.
func TestShippedPolicies(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	files, err := filepath.Glob(filepath.Join("..", "..", "docs", "policies", "*.json"))
	if err != nil || len(files) < 3 {
		t.Fatalf("docs/policies has %d files (%v), want at least 3", len(files), err)
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".json")
		in := loadPolicy(t, name)
		if in.Name != name {
			t.Errorf("%s: names policy %q; name the file after it", file, in.Name)
		}
		if _, err := f.svc.CreatePolicy(f.ctx, in); err != nil {
			t.Errorf("%s: %v", file, err)
		}
	}
}

func TestPolicyCRUD(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	a0, e0 := f.counts(t)
	in := registry.PolicyCreate{Name: "gate", PolicySpec: cairn.PolicySpec{Scope: "churn*",
		ProtectedAliases: []cairn.Gate{{Alias: "production", Approvals: 1}}}}
	p1, err := f.svc.CreatePolicy(f.ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if p1.Version != 1 || p1.CreatedBy != "alice" {
		t.Fatalf("created %+v, want version 1 by alice", p1)
	}
	_, err = f.svc.CreatePolicy(f.ctx, in)
	wantCode(t, err, cairn.ECONFLICT, "already exists")

	spec := in.PolicySpec
	spec.Signals = map[string]float64{"drift": 0.3}
	p2, err := f.svc.UpdatePolicy(f.ctx, "gate", spec)
	if err != nil || p2.Version != 2 {
		t.Fatalf("UpdatePolicy = %+v, %v; want version 2", p2, err)
	}
	// The same document again writes nothing.
	same, err := f.svc.UpdatePolicy(f.ctx, "gate", spec)
	if err != nil || same.Version != 2 {
		t.Fatalf("UpdatePolicy with the same document = %+v, %v; want version 2 unchanged", same, err)
	}
	old, err := f.svc.GetPolicy(f.ctx, "gate", 1)
	if err != nil || old.Version != 1 || len(old.Signals) != 0 {
		t.Fatalf("GetPolicy version 1 = %+v, %v", old, err)
	}
	vs, err := f.svc.ListPolicyVersions(f.ctx, "gate")
	if err != nil || len(vs) != 2 || vs[0].Version != 2 {
		t.Fatalf("ListPolicyVersions = %v, %v", vs, err)
	}
	if err := f.svc.DeletePolicy(f.ctx, "gate"); err != nil {
		t.Fatal(err)
	}
	_, err = f.svc.GetPolicy(f.ctx, "gate", 0)
	wantCode(t, err, cairn.ENOTFOUND, "deleted")
	_, err = f.svc.UpdatePolicy(f.ctx, "gate", spec)
	wantCode(t, err, cairn.ENOTFOUND)
	if _, err := f.svc.GetPolicy(f.ctx, "gate", 2); err != nil {
		t.Fatalf("an old version of a deleted policy: %v", err)
	}
	// Creating it again continues the numbering.
	p3, err := f.svc.CreatePolicy(f.ctx, in)
	if err != nil || p3.Version != 3 {
		t.Fatalf("re-create = %+v, %v; want version 3", p3, err)
	}
	// create, update, delete, create: four audited policy.changed events;
	// the unchanged update wrote nothing.
	a1, e1 := f.counts(t)
	if a1-a0 != 4 || e1-e0 != 4 {
		t.Fatalf("%d audit entries and %d events, want 4 each", a1-a0, e1-e0)
	}
	evs, err := f.store.ListEvents(f.ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range evs {
		if ev.Type != cairn.EventPolicyChanged {
			t.Errorf("event %s, want only policy.changed", ev.Type)
		}
	}
}

// TestPolicyValidation: a bad document is refused with a message naming
// the member at fault, and nothing is written.
func TestPolicyValidation(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	gate := func(g cairn.Gate) cairn.PolicySpec {
		return cairn.PolicySpec{Scope: "*", ProtectedAliases: []cairn.Gate{g}}
	}
	for _, tc := range []struct {
		name string
		spec cairn.PolicySpec
		want string
	}{
		{"no scope", cairn.PolicySpec{}, "scope is empty"},
		{"bad scope", cairn.PolicySpec{Scope: "a/b"}, "invalid scope"},
		{"bad regex", cairn.PolicySpec{Scope: "*", NamePattern: &cairn.NamePattern{Regex: "("}}, "invalid regular expression"},
		{"example does not match", cairn.PolicySpec{Scope: "*", NamePattern: &cairn.NamePattern{Regex: "[a-z]+", Example: "Churn"}}, "does not match"},
		{"schema not an object", cairn.PolicySpec{Scope: "*", RequiredMetadata: json.RawMessage(`[1]`)}, "JSON Schema object"},
		{"schema invalid", cairn.PolicySpec{Scope: "*", RequiredMetadata: json.RawMessage(`{"type": 5}`)}, "not a valid JSON Schema"},
		{"schema refers outside", cairn.PolicySpec{Scope: "*", RequiredMetadata: json.RawMessage(`{"$ref": "file:///etc/passwd"}`)}, "required_metadata"},
		{"empty gate", gate(cairn.Gate{Alias: "production"}), "needs approvals or conditions"},
		{"reserved alias", gate(cairn.Gate{Alias: "latest", Approvals: 1}), "protected_aliases[0]"},
		{"too many approvals", gate(cairn.Gate{Alias: "production", Approvals: 11}), "between 0 and 10"},
		{"cel syntax", gate(cairn.Gate{Alias: "production", Conditions: []cairn.Condition{{Name: "auc", Expr: "version.metrics.auc >="}}}), `alias production, condition "auc"`},
		{"cel unknown variable", gate(cairn.Gate{Alias: "production", Conditions: []cairn.Condition{{Name: "x", Expr: "model.auc > 1"}}}), "undeclared reference"},
		{"cel not bool", gate(cairn.Gate{Alias: "production", Conditions: []cairn.Condition{{Name: "x", Expr: "1 + 1"}}}), "not bool"},
		{"duplicate condition", gate(cairn.Gate{Alias: "production", Conditions: []cairn.Condition{{Name: "x", Expr: "true"}, {Name: "x", Expr: "true"}}}), "two conditions"},
		{"unprotectable stage", cairn.PolicySpec{Scope: "*", ProtectedStages: []cairn.Gate{{Stage: "Archived", Approvals: 1}}}, "cannot be protected"},
		{"bad signal kind", cairn.PolicySpec{Scope: "*", Signals: map[string]float64{"Drift!": 1}}, "invalid signal kind"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.svc.CreatePolicy(f.ctx, registry.PolicyCreate{Name: "p", PolicySpec: tc.spec})
			wantCode(t, err, cairn.EINVALID, tc.want)
		})
	}
	_, err := f.svc.CreatePolicy(f.ctx, registry.PolicyCreate{Name: "bad name!", PolicySpec: cairn.PolicySpec{Scope: "*"}})
	wantCode(t, err, cairn.EINVALID, "policy name")
	if a, e := f.counts(t); a != 0 || e != 0 {
		t.Fatalf("refused documents wrote %d audit entries and %d events", a, e)
	}
}

func TestPolicyNamePattern(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	in := loadPolicy(t, "model-naming")
	in.Scope = "team-a*" // only names under team-a… are governed
	in.NamePattern.Regex = "team-a_" + in.NamePattern.Regex
	in.NamePattern.Example = "team-a_" + in.NamePattern.Example
	if _, err := f.svc.CreatePolicy(f.ctx, in); err != nil {
		t.Fatal(err)
	}
	_, err := f.svc.CreateModel(f.ctx, registry.ModelCreate{Name: "team-a-churn"})
	wantCode(t, err, cairn.EINVALID, "does not match the pattern", "policy model-naming", `"team-a_churn_xgboost_v3"`)
	// A first push creates the model: the same rule applies.
	_, err = f.svc.CreateVersion(f.ctx, "team-a-fraud", cairn.VersionSpec{})
	wantCode(t, err, cairn.EINVALID, "does not match the pattern")
	for _, ok := range []string{"team-a_churn_xgboost_v3", "team-a_fraud-eu_lgbm_20260115", "other-name"} {
		if _, err := f.svc.CreateModel(f.ctx, registry.ModelCreate{Name: ok}); err != nil {
			t.Errorf("CreateModel(%q): %v", ok, err)
		}
	}
	// A rename into the scope is held to the pattern too.
	_, err = f.svc.RenameModel(f.ctx, "other-name", "team-a-bad")
	wantCode(t, err, cairn.EINVALID, "does not match the pattern")
}

func TestPolicyRequiredMetadata(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	in := loadPolicy(t, "core-metadata")
	in.Scope = "churn"
	if _, err := f.svc.CreatePolicy(f.ctx, in); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.CreateModel(f.ctx, registry.ModelCreate{Name: "churn"}); err != nil {
		t.Fatal(err)
	}
	content := "weights"
	files := []cairn.File{{Path: "model.bin", Size: int64(len(content)), Digest: cairn.DigestOf([]byte(content))},
		{Path: "requirements.txt", Size: 3, Digest: cairn.DigestOf([]byte("abc"))}}
	full := cairn.VersionSpec{
		Files: files, RunID: "r1", SourceCodeVersion: "0123abc", TrainingDataset: "s3://data/train", ValidationDataset: "s3://data/val",
		Metrics: map[string]float64{"auc": 0.91}, Signature: json.RawMessage(`{"inputs": [], "outputs": []}`),
		Dependencies: "requirements.txt", Description: "churn model",
	}
	_, err := f.svc.CreateVersion(f.ctx, "churn", cairn.VersionSpec{Files: files[:1]})
	wantCode(t, err, cairn.EINVALID, "policy core-metadata", "missing properties", "run_id")
	// Every missing part is named, each once.
	partial := full
	partial.Metrics, partial.Description = nil, ""
	_, err = f.svc.CreateVersion(f.ctx, "churn", partial)
	wantCode(t, err, cairn.EINVALID, "at /metrics", "at /description")
	// The MLflow front door (RegisterExternal) is held to it too.
	_, err = f.svc.RegisterExternal(f.ctx, "churn", cairn.VersionSpec{Source: "s3://bucket/model"})
	wantCode(t, err, cairn.EINVALID, "policy core-metadata")
	if _, err := f.svc.CreateVersion(f.ctx, "churn", full); err != nil {
		t.Fatalf("a version with the full core metadata: %v", err)
	}
	// Refusals allocated no number: the accepted version is 1.
	v, err := f.svc.GetVersion(f.ctx, "churn", 1)
	if err != nil || v.RunID != "r1" {
		t.Fatalf("GetVersion(1) = %+v, %v", v, err)
	}
	// Out of scope, nothing is required.
	if _, err := f.svc.CreateVersion(f.ctx, "fraud", cairn.VersionSpec{Files: files[:1]}); err != nil {
		t.Fatalf("a model outside the policy's scope: %v", err)
	}
}

func TestSignalThreshold(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for _, p := range []registry.PolicyCreate{
		{Name: "all", PolicySpec: cairn.PolicySpec{Scope: "*", Signals: map[string]float64{"drift": 0.3, "error_rate": 0.05}}},
		{Name: "fraud", PolicySpec: cairn.PolicySpec{Scope: "fraud-*", Signals: map[string]float64{"drift": 0.2}}},
		{Name: "fraud-eu", PolicySpec: cairn.PolicySpec{Scope: "fraud-eu", Signals: map[string]float64{"drift": 0.1}}},
	} {
		if _, err := f.svc.CreatePolicy(f.ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		model, kind string
		want        float64
		ok          bool
	}{
		{"churn", "drift", 0.3, true},
		{"fraud-us", "drift", 0.2, true},
		{"fraud-eu", "drift", 0.1, true},
		{"fraud-eu", "error_rate", 0.05, true},
		{"churn", "latency", 0, false},
	} {
		got, ok, err := f.svc.SignalThreshold(f.ctx, tc.model, tc.kind)
		if err != nil || got != tc.want || ok != tc.ok {
			t.Errorf("SignalThreshold(%s, %s) = %v, %v, %v; want %v, %v", tc.model, tc.kind, got, ok, err, tc.want, tc.ok)
		}
	}
}

// TestSignalFlaggedByPolicy: a recorded signal above the threshold a
// policy sets flags the version (issue #8 consumes the policy's signals).
func TestSignalFlaggedByPolicy(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	if _, err := f.svc.CreatePolicy(f.ctx, registry.PolicyCreate{Name: "watch", PolicySpec: cairn.PolicySpec{Scope: "churn", Signals: map[string]float64{"drift": 0.3}}}); err != nil {
		t.Fatal(err)
	}
	f.push(t, "churn", "weights", cairn.VersionSpec{})
	low, err := f.svc.RecordSignal(f.ctx, "churn@v1", cairn.SignalSpec{Kind: "drift", Value: 0.2})
	if err != nil || low.Flagged || low.Threshold == nil || *low.Threshold != 0.3 {
		t.Fatalf("signal below the threshold = %+v, %v", low, err)
	}
	high, err := f.svc.RecordSignal(f.ctx, "churn@v1", cairn.SignalSpec{Kind: "drift", Value: 0.5})
	if err != nil || !high.Flagged {
		t.Fatalf("signal above the threshold = %+v, %v", high, err)
	}
	if v, err := f.svc.GetVersion(f.ctx, "churn", 1); err != nil || !v.Flagged {
		t.Fatalf("version after a flagged signal = %+v, %v", v, err)
	}
}
