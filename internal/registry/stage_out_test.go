package registry_test

import (
	"testing"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/internal/registry"
)

// A stage transition out of a protected stage passes its gate like
// deleting a protected alias: the gate's approvals, not its conditions;
// the request records the stage the version left and is invalidated if
// the version leaves it meanwhile; it promotes nothing. Moving between
// two protected stages needs the most approvals of both. Both stores.
func TestApprovalStageOut(t *testing.T) {
	t.Parallel()
	for name, open := range map[string]func(*testing.T) *fixture{"sqlite": newFixture, "postgres": pgFixture} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			testStageOut(t, open(t))
		})
	}
}

func testStageOut(t *testing.T, f *fixture) {
	for _, content := range []string{"v1", "v2", "v3"} {
		f.push(t, "churn", content, cairn.VersionSpec{Metrics: map[string]float64{"auc": 0.95}})
	}
	if _, err := f.svc.CreatePolicy(f.ctx, registry.PolicyCreate{Name: "prod", PolicySpec: cairn.PolicySpec{
		Scope: "churn",
		ProtectedStages: []cairn.Gate{
			{Stage: cairn.StageProduction, Approvals: 2, Conditions: []cairn.Condition{{Name: "auc", Expr: "version.metrics.auc >= 0.9"}}},
			{Stage: cairn.StageStaging, Approvals: 1},
		},
	}}); err != nil {
		t.Fatal(err)
	}
	stage := func(n int64) cairn.Stage {
		t.Helper()
		v, err := f.svc.GetVersion(f.ctx, "churn", n)
		if err != nil {
			t.Fatal(err)
		}
		return v.Stage
	}
	// approve has bob and carol approve req; it must apply.
	approve := func(req *cairn.ApprovalRequest) {
		t.Helper()
		for i, who := range []string{"bob", "carol"}[:req.Required] {
			a, err := f.as(who).svc.Approve(f.as(who).ctx, req.ID, registry.Decision{})
			if err != nil || (i == req.Required-1) != (a.Status == cairn.RequestApplied) {
				t.Fatalf("approval %d of %d by %s = %+v, %v", i+1, req.Required, who, a, err)
			}
		}
	}
	setStage := func(n int64, st cairn.Stage, archive bool) error {
		_, err := f.svc.SetStage(f.ctx, "churn", n, st, archive)
		return err
	}
	// v1 and v2 in Production (two transitions without archiving).
	for _, n := range []int64{1, 2} {
		approve(requestOf(t, setStage(n, cairn.StageProduction, false)))
	}
	if stage(1) != cairn.StageProduction || stage(2) != cairn.StageProduction {
		t.Fatalf("v1 in %s, v2 in %s; want both in Production", stage(1), stage(2))
	}

	// Out of Production, to None: 2 approvals, not by the requester.
	err := setStage(1, cairn.StageNone, false)
	wantCode(t, err, cairn.EPENDINGAPPROVAL, "churn stage Production is protected", "moving v1 out of it (to None)", "2 approval(s)")
	out := requestOf(t, err)
	if out.Version != 1 || out.Stage != cairn.StageNone || out.FromStage != cairn.StageProduction || !out.LeavesStage() ||
		out.EvidenceHash != "" || out.Required != 2 || out.Target() != "churn stage Production" {
		t.Fatalf("request = %+v", out)
	}
	if stage(1) != cairn.StageProduction {
		t.Fatalf("v1 left Production before approval")
	}
	if got := f.versionApproval(t, 1); got != cairn.ApprovalApproved {
		t.Errorf("v1 approval status = %q while a request to move it out is open, want approved (it promotes nothing)", got)
	}
	ex, err := f.svc.ExplainGate(f.ctx, "churn@v1", "", cairn.StageNone)
	if err != nil || !ex.Protected || ex.Target != "stage Production (leaving it for None)" || len(ex.Clauses) != 1 || ex.Pending == nil || ex.Pending.ID != out.ID {
		t.Errorf("explain v1 → None = %+v, %v; want protected, the approvals clause only, the open request", ex, err)
	}
	_, err = f.svc.Approve(f.ctx, out.ID, registry.Decision{})
	wantCode(t, err, cairn.EPERMISSION, "requested this move")
	approve(out)
	if stage(1) != cairn.StageNone {
		t.Fatalf("v1 in %s after the approved move out, want None", stage(1))
	}
	if got := f.versionApproval(t, 1); got != cairn.ApprovalApproved {
		t.Errorf("v1 approval status = %q after leaving, want approved still", got)
	}

	// A request whose version left the stage meanwhile is invalidated.
	stale := requestOf(t, setStage(2, cairn.StageArchived, false))
	if stale.FromStage != cairn.StageProduction || !stale.LeavesStage() {
		t.Fatalf("request = %+v", stale)
	}
	approve(requestOf(t, setStage(3, cairn.StageProduction, true))) // demotes v2
	if stage(2) != cairn.StageArchived || stage(3) != cairn.StageProduction {
		t.Fatalf("after v3 moved in with archive_existing: v2 in %s, v3 in %s", stage(2), stage(3))
	}
	_, err = f.as("bob").svc.Approve(f.as("bob").ctx, stale.ID, registry.Decision{})
	wantCode(t, err, cairn.EFAILEDPRECONDITION, "invalidated", "moved from stage Production to Archived")

	// archive_existing on a version already in the stage archives the
	// others only: the stage's leaving gate.
	approve(requestOf(t, setStage(1, cairn.StageProduction, false)))
	err = setStage(3, cairn.StageProduction, true)
	wantCode(t, err, cairn.EPENDINGAPPROVAL, "churn stage Production is protected", "archiving the other versions in it")
	if req := requestOf(t, err); !req.LeavesStage() || req.FromStage != cairn.StageProduction || req.Stage != cairn.StageProduction || !req.ArchiveExisting {
		t.Fatalf("request = %+v", req)
	} else {
		approve(req)
	}
	if stage(1) != cairn.StageArchived || stage(3) != cairn.StageProduction {
		t.Fatalf("after the approved archive_existing: v1 in %s, v3 in %s; want Archived and Production", stage(1), stage(3))
	}
	// Without another version in it, nothing to approve: nothing moves.
	if err := setStage(3, cairn.StageProduction, true); err != nil {
		t.Fatalf("archive_existing with nothing to archive: %v", err)
	}

	// Production → Staging passes both gates: Staging's (moving in) and
	// Production's (leaving): the most approvals of the two.
	err = setStage(3, cairn.StageStaging, false)
	wantCode(t, err, cairn.EPENDINGAPPROVAL, "churn stage Staging is protected", "moving it to v3 (from stage Production)")
	both := requestOf(t, err)
	if both.Required != 2 || both.LeavesStage() || both.EvidenceHash == "" || both.FromStage != cairn.StageProduction {
		t.Fatalf("request = %+v, want 2 approvals, moving in", both)
	}
	approve(both)
	if stage(3) != cairn.StageStaging {
		t.Fatalf("v3 in %s, want Staging", stage(3))
	}

	// Out of a stage nothing protects, with no gate in the way: at once.
	if err := setStage(2, cairn.StageNone, false); err != nil || stage(2) != cairn.StageNone {
		t.Fatalf("Archived → None: %v, v2 in %s", err, stage(2))
	}
}
