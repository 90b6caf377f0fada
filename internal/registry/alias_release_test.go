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
