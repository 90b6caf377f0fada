package storetest

import (
	"encoding/json"
	"testing"

	"github.com/cairn-registry/cairn"
	"github.com/google/go-cmp/cmp"
)

var policyTests = []test{
	{"PutGetList", testPolicyPutGetList},
	{"Versions", testPolicyVersions},
	{"Delete", testPolicyDelete},
}

func newPolicy(name string, version int64, i int) *cairn.Policy {
	return &cairn.Policy{
		Name: name, Version: version,
		PolicySpec: cairn.PolicySpec{
			Scope:            "churn-*",
			Description:      "gate for " + name,
			NamePattern:      &cairn.NamePattern{Regex: `[a-z]+_[a-z]+_v[0-9]+`, Example: "churn_xgb_v1"},
			RequiredMetadata: json.RawMessage(`{"required":["run_id"],"type":"object"}`),
			ProtectedAliases: []cairn.Gate{{Alias: "production", Approvals: 2, Conditions: []cairn.Condition{{Name: "auc", Expr: "version.metrics.auc >= 0.9"}}}},
			ProtectedStages:  []cairn.Gate{{Stage: cairn.StageProduction, Approvals: 1}},
			Deletion:         &cairn.DeletionRule{RetainPromoted: true},
			Signals:          map[string]float64{"drift": 0.3},
		},
		CreatedBy: "alice", CreatedAt: at(i),
	}
}

func putPolicy(t testing.TB, s cairn.Store, p *cairn.Policy) {
	t.Helper()
	update(t, s, func(tx cairn.Tx) error { return tx.PutPolicy(t.Context(), p) })
}

func testPolicyPutGetList(t *testing.T, s cairn.Store) {
	ctx := t.Context()
	_, err := s.GetPolicy(ctx, "nope")
	wantCode(t, err, cairn.ENOTFOUND)
	ps, err := s.ListPolicies(ctx, false)
	if err != nil || ps == nil || len(ps) != 0 {
		t.Fatalf("ListPolicies of an empty store = %v, %v; want an empty, non-nil list", ps, err)
	}
	b, a := newPolicy("b", 1, 1), newPolicy("a", 1, 2)
	a.PolicySpec = cairn.PolicySpec{Scope: "*"}
	putPolicy(t, s, b)
	putPolicy(t, s, a)
	got, err := s.GetPolicy(ctx, "b")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(b, got); diff != "" {
		t.Errorf("GetPolicy (-want +got):\n%s", diff)
	}
	ps, err = s.ListPolicies(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]*cairn.Policy{a, b}, ps); diff != "" {
		t.Errorf("ListPolicies, by name (-want +got):\n%s", diff)
	}
}

func testPolicyVersions(t *testing.T, s cairn.Store) {
	ctx := t.Context()
	v1, v2 := newPolicy("gate", 1, 1), newPolicy("gate", 2, 2)
	v2.Scope, v2.Signals = "*", map[string]float64{"drift": 0.1}
	putPolicy(t, s, v1)
	putPolicy(t, s, v2)
	// A second writer that read version 1 and also writes version 2 loses.
	err := s.Update(ctx, func(tx cairn.Tx) error { return tx.PutPolicy(ctx, newPolicy("gate", 2, 3)) })
	wantCode(t, err, cairn.ECONFLICT)
	cur, err := s.GetPolicy(ctx, "gate")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(v2, cur); diff != "" {
		t.Errorf("current version (-want +got):\n%s", diff)
	}
	old, err := s.GetPolicyVersion(ctx, "gate", 1)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(v1, old); diff != "" {
		t.Errorf("version 1 (-want +got):\n%s", diff)
	}
	_, err = s.GetPolicyVersion(ctx, "gate", 3)
	wantCode(t, err, cairn.ENOTFOUND)
	all, err := s.ListPolicyVersions(ctx, "gate")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]*cairn.Policy{v2, v1}, all); diff != "" {
		t.Errorf("ListPolicyVersions, newest first (-want +got):\n%s", diff)
	}
	_, err = s.ListPolicyVersions(ctx, "nope")
	wantCode(t, err, cairn.ENOTFOUND)
	ps, err := s.ListPolicies(ctx, false)
	if err != nil || len(ps) != 1 || ps[0].Version != 2 {
		t.Fatalf("ListPolicies = %v, %v; want gate at version 2 only", ps, err)
	}
}

func testPolicyDelete(t *testing.T, s cairn.Store) {
	ctx := t.Context()
	putPolicy(t, s, newPolicy("gate", 1, 1))
	err := s.Update(ctx, func(tx cairn.Tx) error { return tx.DeletePolicy(ctx, "nope", at(2)) })
	wantCode(t, err, cairn.ENOTFOUND)
	update(t, s, func(tx cairn.Tx) error { return tx.DeletePolicy(ctx, "gate", at(2)) })
	err = s.Update(ctx, func(tx cairn.Tx) error { return tx.DeletePolicy(ctx, "gate", at(3)) })
	wantCode(t, err, cairn.ENOTFOUND)
	p, err := s.GetPolicy(ctx, "gate")
	if err != nil || p.DeletedAt == nil || !p.DeletedAt.Equal(at(2)) {
		t.Fatalf("GetPolicy of a deleted policy = %+v, %v; want it with deleted_at", p, err)
	}
	if ps, err := s.ListPolicies(ctx, false); err != nil || len(ps) != 0 {
		t.Fatalf("ListPolicies = %v, %v; want no live policy", ps, err)
	}
	if ps, err := s.ListPolicies(ctx, true); err != nil || len(ps) != 1 {
		t.Fatalf("ListPolicies(includeDeleted) = %v, %v; want the deleted one", ps, err)
	}
	if ps, err := s.ListPolicyVersions(ctx, "gate"); err != nil || len(ps) != 1 {
		t.Fatalf("ListPolicyVersions of a deleted policy = %v, %v; want its version kept", ps, err)
	}
	// Writing the next version brings it back.
	putPolicy(t, s, newPolicy("gate", 2, 4))
	p, err = s.GetPolicy(ctx, "gate")
	if err != nil || p.DeletedAt != nil || p.Version != 2 {
		t.Fatalf("GetPolicy after a new version = %+v, %v; want version 2, live", p, err)
	}
}
