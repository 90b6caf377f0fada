package registry_test

import (
	"testing"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/internal/registry"
)

// Taking a version out of service with its aliases (archive or delete
// with remove-aliases, MLflow's registered-models/delete) must not remove
// a protected alias past its gate: that is a delete of the alias, which
// needs its approvals. Both stores.
func TestProtectedAliasNotReleasedPastGate(t *testing.T) {
	t.Parallel()
	for name, open := range map[string]func(*testing.T) *fixture{"sqlite": newFixture, "postgres": pgFixture} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := open(t)
			f.push(t, "churn", "v1", cairn.VersionSpec{})
			if _, err := f.svc.SetAlias(f.ctx, "churn", "production", 1, nil); err != nil {
				t.Fatal(err)
			}
			if _, err := f.svc.CreatePolicy(f.ctx, registry.PolicyCreate{Name: "prod", PolicySpec: cairn.PolicySpec{
				Scope: "churn", ProtectedAliases: []cairn.Gate{{Alias: "production", Approvals: 1}},
			}}); err != nil {
				t.Fatal(err)
			}
			_, err := f.svc.ArchiveVersion(f.ctx, "churn", 1, true)
			wantCode(t, err, cairn.EFAILEDPRECONDITION, "production", "protected")
			wantCode(t, f.svc.DeleteVersion(f.ctx, "churn", 1, true), cairn.EFAILEDPRECONDITION, "production", "protected")
			wantCode(t, f.svc.DeleteModelAndAliases(f.ctx, "churn"), cairn.EFAILEDPRECONDITION, "production", "protected")
			if a, err := f.svc.GetAlias(f.ctx, "churn", "production"); err != nil || a.Version != 1 {
				t.Fatalf("production = %+v, %v; want it at v1 still", a, err)
			}
		})
	}
}

// Linking a version in with aliases moves them: a protected alias is not
// moved past its gate (its approvals, its conditions). Both stores.
func TestLinkDoesNotMoveProtectedAlias(t *testing.T) {
	t.Parallel()
	for name, open := range map[string]func(*testing.T) *fixture{"sqlite": newFixture, "postgres": pgFixture} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := open(t)
			f.push(t, "churn", "v1", cairn.VersionSpec{Metrics: map[string]float64{"auc": 0.5}})
			f.push(t, "serving", "v1", cairn.VersionSpec{Metrics: map[string]float64{"auc": 0.95}})
			if _, err := f.svc.SetAlias(f.ctx, "serving", "production", 1, nil); err != nil {
				t.Fatal(err)
			}
			if _, err := f.svc.CreatePolicy(f.ctx, registry.PolicyCreate{Name: "prod", PolicySpec: cairn.PolicySpec{
				Scope: "serving", ProtectedAliases: []cairn.Gate{
					{Alias: "production", Approvals: 1},
					{Alias: "staging", Conditions: []cairn.Condition{{Name: "auc", Expr: "version.metrics.auc >= 0.9"}}},
				},
			}}); err != nil {
				t.Fatal(err)
			}
			_, err := f.svc.LinkVersion(f.ctx, "serving", registry.LinkRequest{Source: "churn@v1", Aliases: []string{"production"}})
			wantCode(t, err, cairn.EFAILEDPRECONDITION, "serving@production is protected")
			_, err = f.svc.LinkVersion(f.ctx, "serving", registry.LinkRequest{Source: "churn@v1", Aliases: []string{"staging"}})
			wantCode(t, err, cairn.EFAILEDPRECONDITION, "prod/auc")
			if a, err := f.svc.GetAlias(f.ctx, "serving", "production"); err != nil || a.Version != 1 {
				t.Fatalf("production = %+v, %v; want it at v1 still", a, err)
			}
			if _, err := f.svc.GetAlias(f.ctx, "serving", "staging"); !cairn.IsCode(err, cairn.ENOTFOUND) {
				t.Fatalf("staging was set past its conditions: %v", err)
			}
			m, err := f.svc.GetModel(f.ctx, "serving")
			if err != nil || m.LatestVersion != 1 {
				t.Fatalf("serving = %+v, %v; a refused link made no version", m, err)
			}
		})
	}
}
