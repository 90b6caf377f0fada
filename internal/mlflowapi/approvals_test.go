package mlflowapi_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/client"
)

// MLflow's alias endpoint and stage transitions pass the same gate as the
// native API: a protected move answers PERMISSION_DENIED naming the
// request, and applies once approved.
func TestMLflowMovesAreGated(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	if _, err := e.Client.CreatePolicy(ctx, client.PolicyCreate{Name: "gate", PolicySpec: cairn.PolicySpec{
		Scope:            "m",
		ProtectedAliases: []cairn.Gate{{Alias: "production", Approvals: 1}},
		ProtectedStages:  []cairn.Gate{{Stage: cairn.StageProduction, Approvals: 1}},
	}}); err != nil {
		t.Fatal(err)
	}
	e.ok("POST", "registered-models/create", `{"name":"m"}`, "")
	e.ok("POST", "model-versions/create", `{"name":"m","source":"s3://bucket/m/1"}`, "")
	ml := []string{"X-Cairn-User", "mlflow-user"}

	r := e.do("POST", "registered-models/alias", `{"name":"m","alias":"production","version":"1"}`, "", ml...)
	if r.Status != http.StatusForbidden || r.Body["error_code"] != "PERMISSION_DENIED" || !strings.Contains(r.Body["message"].(string), "approval request") {
		t.Fatalf("alias set on a protected alias: %d %s", r.Status, r.Raw)
	}
	r = e.do("POST", "model-versions/transition-stage", `{"name":"m","version":"1","stage":"Production","archive_existing_versions":true}`, "", ml...)
	if r.Status != http.StatusForbidden || r.Body["error_code"] != "PERMISSION_DENIED" || !strings.Contains(r.Body["message"].(string), "m stage Production") {
		t.Fatalf("transition to a protected stage: %d %s", r.Status, r.Raw)
	}
	r = e.ok("GET", "model-versions/get", "", "name=m&version=1")
	if !strings.Contains(string(r.Raw), `"current_stage":"None"`) {
		t.Fatalf("the stage moved before approval: %s", r.Raw)
	}
	page, err := e.Client.ListApprovals(ctx, client.ApprovalList{Status: cairn.RequestPending})
	if err != nil || len(page.Items) != 2 {
		t.Fatalf("pending requests = %v, %v; want 2", page, err)
	}
	for _, a := range page.Items {
		if a.RequestedBy != "mlflow-user" {
			t.Errorf("request %s by %q, want mlflow-user", a.ID, a.RequestedBy)
		}
		done, err := e.Client.Approve(ctx, a.ID, client.Decision{Comment: "ok"})
		if err != nil || done.Status != cairn.RequestApplied {
			t.Fatalf("approve %s = %+v, %v", a.Target(), done, err)
		}
	}
	r = e.ok("GET", "registered-models/alias", "", "name=m&alias=production")
	if !strings.Contains(string(r.Raw), `"version":"1"`) {
		t.Errorf("alias after approval: %s", r.Raw)
	}
	r = e.ok("GET", "model-versions/get", "", "name=m&version=1")
	if !strings.Contains(string(r.Raw), `"current_stage":"Production"`) {
		t.Errorf("stage after approval: %s", r.Raw)
	}

	// The native API answers pending_approval with the request's id.
	e.ok("POST", "model-versions/create", `{"name":"m","source":"s3://bucket/m/2"}`, "")
	_, err = e.Client.SetAlias(ctx, "m", "production", 2, nil)
	var se *client.StatusError
	if cairn.ErrorCodeOf(err) != cairn.EPENDINGAPPROVAL || !errors.As(err, &se) || len(se.ApprovalRequest) != 32 || se.StatusCode != http.StatusConflict {
		t.Fatalf("native alias set = %v (%+v), want pending_approval with the request id", err, se)
	}

	// Deleting the protected alias is gated the same way, from both
	// front doors, and applies once approved.
	r = e.do("DELETE", "registered-models/alias", "", "name=m&alias=production", ml...)
	if r.Status != http.StatusForbidden || r.Body["error_code"] != "PERMISSION_DENIED" ||
		!strings.Contains(r.Body["message"].(string), "approval request") || !strings.Contains(r.Body["message"].(string), "deleting it") {
		t.Fatalf("alias delete on a protected alias: %d %s", r.Status, r.Raw)
	}
	r = e.ok("GET", "registered-models/alias", "", "name=m&alias=production")
	if !strings.Contains(string(r.Raw), `"version":"1"`) {
		t.Fatalf("the alias went before approval: %s", r.Raw)
	}
	err = e.Client.DeleteAlias(ctx, "m", "production", nil)
	if cairn.ErrorCodeOf(err) != cairn.EPENDINGAPPROVAL || !errors.As(err, &se) || se.StatusCode != http.StatusConflict {
		t.Fatalf("native alias delete = %v (%+v), want pending_approval", err, se)
	}
	del, err := e.Client.GetApproval(ctx, se.ApprovalRequest)
	if err != nil || del.Version != 0 || del.FromVersion != 1 || del.RequestedBy != "mlflow-user" || del.Alias != "production" {
		t.Fatalf("the delete request = %+v, %v; want the one MLflow's delete opened, version 0 from v1", del, err)
	}
	if done, err := e.Client.Approve(ctx, del.ID, client.Decision{}); err != nil || done.Status != cairn.RequestApplied {
		t.Fatalf("approve the delete = %+v, %v", done, err)
	}
	r = e.do("GET", "registered-models/alias", "", "name=m&alias=production")
	if r.Status == http.StatusOK || !strings.Contains(string(r.Raw), "alias production not found") {
		t.Errorf("alias after the approved delete: %d %s", r.Status, r.Raw)
	}
}

// A transition out of a protected stage changes what the stage serves,
// as deleting a protected alias does: moving the version in Production
// out of it, directly or by archive_existing_versions when another
// version moves in, opens a request (PERMISSION_DENIED naming it) and
// happens once approved. The gate's conditions speak about a version
// moving in, so they do not hold back a version leaving.
func TestMLflowTransitionsOutOfProtectedStageAreGated(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	if _, err := e.Client.CreatePolicy(ctx, client.PolicyCreate{Name: "gate", PolicySpec: cairn.PolicySpec{
		Scope: "m",
		ProtectedStages: []cairn.Gate{{Stage: cairn.StageProduction, Approvals: 1,
			Conditions: []cairn.Condition{{Name: "validated", Expr: `version.tags.validated == "yes"`}}}},
	}}); err != nil {
		t.Fatal(err)
	}
	e.ok("POST", "registered-models/create", `{"name":"m"}`, "")
	for range 2 {
		e.ok("POST", "model-versions/create", `{"name":"m","source":"s3://bucket/m","tags":[{"key":"validated","value":"yes"}]}`, "")
	}
	ml := []string{"X-Cairn-User", "mlflow-user"}
	stage := func(n string) string {
		t.Helper()
		r := e.ok("GET", "model-versions/get", "", "name=m&version="+n)
		return r.Body["model_version"].(map[string]any)["current_stage"].(string)
	}
	// transition asks for a transition that must be gated and returns
	// the request it opened, checked against want.
	transition := func(body, inMessage string, want cairn.ApprovalRequest) *cairn.ApprovalRequest {
		t.Helper()
		r := e.do("POST", "model-versions/transition-stage", body, "", ml...)
		msg, _ := r.Body["message"].(string)
		if r.Status != http.StatusForbidden || r.Body["error_code"] != "PERMISSION_DENIED" ||
			!strings.Contains(msg, "m stage Production is protected: approval request") || !strings.Contains(msg, inMessage) {
			t.Fatalf("transition %s: %d %s, want PERMISSION_DENIED naming the request for %q", body, r.Status, r.Raw, inMessage)
		}
		page, err := e.Client.ListApprovals(ctx, client.ApprovalList{Status: cairn.RequestPending})
		if err != nil || len(page.Items) != 1 {
			t.Fatalf("pending requests = %+v, %v; want 1", page, err)
		}
		a := page.Items[0]
		if !strings.Contains(msg, a.ID) || a.Version != want.Version || a.Stage != want.Stage || a.FromStage != want.FromStage ||
			a.ArchiveExisting != want.ArchiveExisting || a.RequestedBy != "mlflow-user" || a.Target() != "m stage Production" {
			t.Fatalf("request %+v (target %q), want %+v", a, a.Target(), want)
		}
		return a
	}
	approve := func(a *cairn.ApprovalRequest) {
		t.Helper()
		if done, err := e.Client.Approve(ctx, a.ID, client.Decision{}); err != nil || done.Status != cairn.RequestApplied {
			t.Fatalf("approve %s = %+v, %v", a.ID, done, err)
		}
	}

	// Into Production: gated, as before.
	approve(transition(`{"name":"m","version":"1","stage":"Production","archive_existing_versions":false}`,
		"for moving it to v1", cairn.ApprovalRequest{Version: 1, Stage: cairn.StageProduction, FromStage: cairn.StageNone}))
	if got := stage("1"); got != "Production" {
		t.Fatalf("v1 in %s after the approved transition, want Production", got)
	}

	// archive_existing_versions: v2 moving in demotes v1; nothing moves
	// before the approval, both do after.
	req := transition(`{"name":"m","version":"2","stage":"Production","archive_existing_versions":true}`,
		"for moving it to v2", cairn.ApprovalRequest{Version: 2, Stage: cairn.StageProduction, FromStage: cairn.StageNone, ArchiveExisting: true})
	if v1, v2 := stage("1"), stage("2"); v1 != "Production" || v2 != "None" {
		t.Fatalf("before approval: v1 in %s, v2 in %s; want Production and None", v1, v2)
	}
	approve(req)
	if v1, v2 := stage("1"), stage("2"); v1 != "Archived" || v2 != "Production" {
		t.Fatalf("after approval: v1 in %s, v2 in %s; want Archived and Production", v1, v2)
	}

	// Out of Production directly, although v2 no longer passes the
	// gate's conditions (they are about a version moving in).
	e.ok("POST", "model-versions/set-tag", `{"name":"m","version":"2","key":"validated","value":"no"}`, "")
	req = transition(`{"name":"m","version":"2","stage":"Archived","archive_existing_versions":false}`,
		"for moving v2 out of it (to Archived)", cairn.ApprovalRequest{Version: 2, Stage: cairn.StageArchived, FromStage: cairn.StageProduction})
	if got := stage("2"); got != "Production" {
		t.Fatalf("v2 in %s before the approval, want Production still", got)
	}
	// Asking again finds the same request.
	r := e.do("POST", "model-versions/transition-stage", `{"name":"m","version":"2","stage":"Archived","archive_existing_versions":false}`, "", ml...)
	if r.Status != http.StatusForbidden || !strings.Contains(string(r.Raw), req.ID) {
		t.Fatalf("the same transition again: %d %s, want request %s named", r.Status, r.Raw, req.ID)
	}
	approve(req)
	if got := stage("2"); got != "Archived" {
		t.Fatalf("v2 in %s after the approved transition out, want Archived", got)
	}
	// Leaving promotes nothing: v2's approval status is still the one its
	// move into Production earned.
	if v, err := e.Client.GetVersion(ctx, "m", 2); err != nil || v.ApprovalStatus != cairn.ApprovalApproved {
		t.Errorf("v2 approval_status = %+v, %v; want approved", v, err)
	}
	// Out of a stage nothing protects: at once.
	e.ok("POST", "model-versions/transition-stage", `{"name":"m","version":"2","stage":"None","archive_existing_versions":false}`, "")
	if got := stage("2"); got != "None" {
		t.Errorf("v2 in %s after Archived → None, want None", got)
	}
}
