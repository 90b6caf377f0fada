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
