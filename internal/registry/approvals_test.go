package registry_test

import (
	"errors"
	"testing"
	"time"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/internal/registry"
)

// gateFixture has a policy protecting churn@production (2 approvals, AUC
// at least 0.9, a fairness evaluation with a small gap) and the Production
// stage (1 approval), with retain_promoted; churn@v1 (auc 0.95) with its
// fairness evaluation, and churn@v2 (auc 0.5).
func gateFixture(t *testing.T) *fixture {
	t.Helper()
	f := newFixture(t)
	_, err := f.svc.CreatePolicy(f.ctx, registry.PolicyCreate{Name: "prod", PolicySpec: cairn.PolicySpec{
		Scope: "churn",
		ProtectedAliases: []cairn.Gate{{Alias: "production", Approvals: 2, Conditions: []cairn.Condition{
			{Name: "auc", Expr: "version.metrics.auc >= 0.9"},
			{Name: "fairness", Expr: `"fairness" in evaluations && evaluations.fairness.metrics.gap <= 0.1`},
		}}},
		ProtectedStages: []cairn.Gate{{Stage: cairn.StageProduction, Approvals: 1}},
		Deletion:        &cairn.DeletionRule{RetainPromoted: true},
	}})
	if err != nil {
		t.Fatal(err)
	}
	f.push(t, "churn", "v1", cairn.VersionSpec{Metrics: map[string]float64{"auc": 0.95}})
	f.push(t, "churn", "v2", cairn.VersionSpec{Metrics: map[string]float64{"auc": 0.5}})
	f.push(t, "churn-fairness", "audit", cairn.VersionSpec{Kind: cairn.KindEvaluation, Evaluates: []string{"churn@v1"},
		Metrics: map[string]float64{"gap": 0.04}, Tags: map[string]string{"evaluation": "fairness"}})
	return f
}

func (f *fixture) as(name string) *fixture {
	g := *f
	g.ctx = cairn.NewContextWithActor(f.ctx, cairn.Actor{Name: name})
	return &g
}

// requestOf returns the request a pending_approval error names.
func requestOf(t *testing.T, err error) *cairn.ApprovalRequest {
	t.Helper()
	var pa *cairn.PendingApprovalError
	if cairn.ErrorCodeOf(err) != cairn.EPENDINGAPPROVAL || !errors.As(err, &pa) {
		t.Fatalf("error = %v, want pending_approval naming a request", err)
	}
	return pa.Request
}

func (f *fixture) versionApproval(t *testing.T, n int64) string {
	t.Helper()
	v, err := f.svc.GetVersion(f.ctx, "churn", n)
	if err != nil {
		t.Fatal(err)
	}
	return v.ApprovalStatus
}

func TestApprovalHappyPathTwoOfThree(t *testing.T) {
	t.Parallel()
	f := gateFixture(t)
	if got := f.versionApproval(t, 1); got != cairn.ApprovalNone {
		t.Fatalf("approval status before = %q, want none", got)
	}
	_, err := f.svc.SetAlias(f.ctx, "churn", "production", 1, nil)
	req := requestOf(t, err)
	if req.Required != 2 || req.RequestedBy != "alice" || req.Status != cairn.RequestPending || req.Policies[0] != "prod@v1" {
		t.Fatalf("request = %+v", req)
	}
	if _, err := f.svc.GetAlias(f.ctx, "churn", "production"); !cairn.IsCode(err, cairn.ENOTFOUND) {
		t.Fatalf("the alias moved before approval: %v", err)
	}
	if got := f.versionApproval(t, 1); got != cairn.ApprovalPending {
		t.Fatalf("approval status = %q, want pending", got)
	}
	// Asking again finds the same request.
	_, err = f.svc.SetAlias(f.ctx, "churn", "production", 1, nil)
	if again := requestOf(t, err); again.ID != req.ID {
		t.Fatalf("a second move opened %s, want %s again", again.ID, req.ID)
	}
	// Self-approval is refused.
	_, err = f.svc.Approve(f.ctx, req.ID, registry.Decision{})
	wantCode(t, err, cairn.EPERMISSION, "requested this move")
	// Anonymous approval too.
	anon := *f
	anon.ctx = cairn.NewContextWithActor(t.Context(), cairn.Actor{})
	_, err = anon.svc.Approve(anon.ctx, req.ID, registry.Decision{})
	wantCode(t, err, cairn.EPERMISSION)

	a, err := f.as("bob").svc.Approve(f.as("bob").ctx, req.ID, registry.Decision{Comment: "metrics look right"})
	if err != nil || a.Status != cairn.RequestPending || len(a.Approvals) != 1 || a.Approvals[0].Comment != "metrics look right" {
		t.Fatalf("first approval = %+v, %v", a, err)
	}
	_, err = f.as("bob").svc.Approve(f.as("bob").ctx, req.ID, registry.Decision{})
	wantCode(t, err, cairn.ECONFLICT, "already")
	a, err = f.as("carol").svc.Approve(f.as("carol").ctx, req.ID, registry.Decision{})
	if err != nil || a.Status != cairn.RequestApplied {
		t.Fatalf("second approval = %+v, %v; want applied", a, err)
	}
	al, err := f.svc.GetAlias(f.ctx, "churn", "production")
	if err != nil || al.Version != 1 {
		t.Fatalf("alias after approval = %+v, %v", al, err)
	}
	if got := f.versionApproval(t, 1); got != cairn.ApprovalApproved {
		t.Fatalf("approval status = %q, want approved", got)
	}
	// Audited and evented: requested, approved twice, the alias move, applied.
	evs, err := f.store.ListEvents(f.ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, ev := range evs {
		switch ev.Type {
		case cairn.EventApprovalRequest, cairn.EventApprovalApproved, cairn.EventApprovalApplied, cairn.EventAliasSet:
			types = append(types, ev.Type)
		}
	}
	want := []string{"approval.requested", "approval.approved", "approval.approved", "alias.set", "approval.applied"}
	if len(types) != len(want) {
		t.Fatalf("events %v, want %v", types, want)
	}
	for i := range want {
		if types[i] != want[i] {
			t.Fatalf("events %v, want %v", types, want)
		}
	}
	// A decided request takes no more decisions.
	_, err = f.as("dave").svc.Reject(f.as("dave").ctx, req.ID, registry.Decision{})
	wantCode(t, err, cairn.EFAILEDPRECONDITION, "applied")

	// Deletion rule: a version that held production is archived, never deleted.
	err = f.svc.DeleteVersion(f.ctx, "churn", 1, true)
	wantCode(t, err, cairn.EFAILEDPRECONDITION, "policy prod keeps")
	if err := f.svc.DeleteVersion(f.ctx, "churn", 2, false); err != nil {
		t.Fatalf("deleting a version that never held production: %v", err)
	}
	// Archiving it with its aliases would delete production past its gate.
	_, err = f.svc.ArchiveVersion(f.ctx, "churn", 1, true)
	wantCode(t, err, cairn.EFAILEDPRECONDITION, "churn@production is protected")
	err = f.svc.DeleteModelAndAliases(f.ctx, "churn")
	wantCode(t, err, cairn.EFAILEDPRECONDITION, "policy prod keeps")
}

func TestApprovalConditionsRefuse(t *testing.T) {
	t.Parallel()
	f := gateFixture(t)
	_, err := f.svc.SetAlias(f.ctx, "churn", "production", 2, nil)
	wantCode(t, err, cairn.EFAILEDPRECONDITION, "prod/auc", "prod/fairness")
	page, err := f.svc.ListApprovals(f.ctx, registry.ApprovalList{})
	if err != nil || len(page.Items) != 0 {
		t.Fatalf("a refused move opened requests: %v, %v", page, err)
	}
	ex, err := f.svc.ExplainGate(f.ctx, "churn@v2", "production", "")
	if err != nil {
		t.Fatal(err)
	}
	if !ex.Protected || ex.Conditions || len(ex.Clauses) != 3 {
		t.Fatalf("explain = %+v", ex)
	}
	for _, c := range ex.Clauses {
		if c.Pass {
			t.Errorf("clause %s passes on v2, want it to fail", c.Name)
		}
	}
	ex, err = f.svc.ExplainGate(f.ctx, "churn@v1", "production", "")
	if err != nil || !ex.Conditions || ex.Clauses[0].Pass || !ex.Clauses[1].Pass || !ex.Clauses[2].Pass {
		t.Fatalf("explain v1 = %+v, %v; want the conditions to pass and the approvals not yet", ex, err)
	}
	ex, err = f.svc.ExplainGate(f.ctx, "churn@v1", "champion", "")
	if err != nil || ex.Protected {
		t.Fatalf("explain of an unprotected alias = %+v, %v", ex, err)
	}
	// Unprotected aliases move at once.
	if _, err := f.svc.SetAlias(f.ctx, "churn", "champion", 2, nil); err != nil {
		t.Fatal(err)
	}
}

func TestApprovalRejection(t *testing.T) {
	t.Parallel()
	f := gateFixture(t)
	_, err := f.svc.SetAlias(f.ctx, "churn", "production", 1, nil)
	req := requestOf(t, err)
	_, err = f.svc.Reject(f.ctx, req.ID, registry.Decision{})
	wantCode(t, err, cairn.EPERMISSION)
	a, err := f.as("bob").svc.Reject(f.as("bob").ctx, req.ID, registry.Decision{Comment: "no risk review"})
	if err != nil || a.Status != cairn.RequestRejected || a.Rejection == nil || a.Rejection.Actor != "bob" {
		t.Fatalf("reject = %+v, %v", a, err)
	}
	if got := f.versionApproval(t, 1); got != cairn.ApprovalRejected {
		t.Fatalf("approval status = %q, want rejected", got)
	}
	_, err = f.as("carol").svc.Approve(f.as("carol").ctx, req.ID, registry.Decision{})
	wantCode(t, err, cairn.EFAILEDPRECONDITION, "rejected")
	// A new move opens a new request.
	_, err = f.svc.SetAlias(f.ctx, "churn", "production", 1, nil)
	if again := requestOf(t, err); again.ID == req.ID {
		t.Fatal("the rejected request was reused")
	}
}

func TestApprovalExpiry(t *testing.T) {
	t.Parallel()
	f := gateFixture(t)
	_, err := f.svc.SetAlias(f.ctx, "churn", "production", 1, nil)
	req := requestOf(t, err)
	f.clock = f.clock.Add(registry.DefaultApprovalTTL + time.Second)
	rep, err := f.svc.Expire(f.ctx)
	if err != nil || rep.Approvals != 1 {
		t.Fatalf("Expire = %+v, %v; want 1 approval expired", rep, err)
	}
	a, err := f.svc.GetApproval(f.ctx, req.ID)
	if err != nil || a.Status != cairn.RequestExpired {
		t.Fatalf("request after expiry = %+v, %v", a, err)
	}
	if got := f.versionApproval(t, 1); got != cairn.ApprovalNone {
		t.Fatalf("approval status = %q, want none", got)
	}
	_, err = f.as("bob").svc.Approve(f.as("bob").ctx, req.ID, registry.Decision{})
	wantCode(t, err, cairn.EFAILEDPRECONDITION, "expired")
}

// An approval after the deadline but before the sweep expires it then.
func TestApprovalExpiresOnDecision(t *testing.T) {
	t.Parallel()
	f := gateFixture(t)
	_, err := f.svc.SetAlias(f.ctx, "churn", "production", 1, nil)
	req := requestOf(t, err)
	f.clock = f.clock.Add(registry.DefaultApprovalTTL)
	_, err = f.as("bob").svc.Approve(f.as("bob").ctx, req.ID, registry.Decision{})
	wantCode(t, err, cairn.EFAILEDPRECONDITION, "expired")
	if a, _ := f.svc.GetApproval(f.ctx, req.ID); a.Status != cairn.RequestExpired {
		t.Fatalf("status = %s, want expired (written even though the approval was refused)", a.Status)
	}
}

func TestApprovalInvalidation(t *testing.T) {
	t.Parallel()
	f := gateFixture(t)
	// Evidence changes: a tag on the version.
	_, err := f.svc.SetAlias(f.ctx, "churn", "production", 1, nil)
	req := requestOf(t, err)
	if _, err := f.svc.UpdateVersion(f.ctx, "churn", 1, registry.VersionUpdate{SetTags: map[string]string{"note": "retrained"}}); err != nil {
		t.Fatal(err)
	}
	_, err = f.as("bob").svc.Approve(f.as("bob").ctx, req.ID, registry.Decision{})
	wantCode(t, err, cairn.EFAILEDPRECONDITION, "invalidated", "evidence")
	if a, _ := f.svc.GetApproval(f.ctx, req.ID); a.Status != cairn.RequestInvalidated {
		t.Fatalf("status = %s, want invalidated", a.Status)
	}
	// Archiving the version invalidates at once.
	_, err = f.svc.SetAlias(f.ctx, "churn", "production", 1, nil)
	req = requestOf(t, err)
	if _, err := f.svc.ArchiveVersion(f.ctx, "churn", 1, false); err != nil {
		t.Fatal(err)
	}
	if a, _ := f.svc.GetApproval(f.ctx, req.ID); a.Status != cairn.RequestInvalidated || a.StatusMessage != "the version was archived" {
		t.Fatalf("after archive: %+v", a)
	}
}

func TestApprovalStageTransition(t *testing.T) {
	t.Parallel()
	f := gateFixture(t)
	// Staging is not protected.
	if _, err := f.svc.SetStage(f.ctx, "churn", 2, cairn.StageStaging, false); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.SetStage(f.ctx, "churn", 2, cairn.StageProduction, false); err != nil {
		req := requestOf(t, err)
		if req.Stage != cairn.StageProduction || req.Required != 1 {
			t.Fatalf("request = %+v", req)
		}
		v, _ := f.svc.GetVersion(f.ctx, "churn", 2)
		if v.Stage != cairn.StageStaging {
			t.Fatalf("stage moved before approval: %s", v.Stage)
		}
		a, err := f.as("bob").svc.Approve(f.as("bob").ctx, req.ID, registry.Decision{})
		if err != nil || a.Status != cairn.RequestApplied {
			t.Fatalf("approve = %+v, %v", a, err)
		}
		v, _ = f.svc.GetVersion(f.ctx, "churn", 2)
		if v.Stage != cairn.StageProduction || v.ApprovalStatus != cairn.ApprovalApproved {
			t.Fatalf("after approval: stage %s, approval %s", v.Stage, v.ApprovalStatus)
		}
	} else {
		t.Fatal("a transition to a protected stage happened without approval")
	}
	// The deletion rule covers stages too.
	err := f.svc.DeleteVersion(f.ctx, "churn", 2, true)
	wantCode(t, err, cairn.EFAILEDPRECONDITION, "stage Production")
}

// A push that sets a protected alias: the version is ready, the alias waits.
func TestApprovalOnPush(t *testing.T) {
	t.Parallel()
	f := gateFixture(t)
	res, err := f.svc.CreateVersion(f.ctx, "churn", cairn.VersionSpec{Files: []cairn.File{}, Metrics: map[string]float64{"auc": 0.99}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.svc.FinalizeVersion(f.ctx, "churn", res.Version.Number, []string{"production", "candidate"})
	wantCode(t, err, cairn.EFAILEDPRECONDITION, "prod/fairness") // no fairness evaluation yet
	if v, _ := f.svc.GetVersion(f.ctx, "churn", res.Version.Number); v.Status != cairn.StatusPending {
		t.Fatalf("a refused finalize left the version %s", v.Status)
	}
}
