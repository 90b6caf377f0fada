package webui_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/client"
	"github.com/cairn-registry/cairn/internal/httpapi/apitest"
	"github.com/cairn-registry/cairn/internal/registry"
)

// Flow 4: a maintainer's move of a protected alias opens an approval
// request; an approver signs in, approves it in the queue, and the alias
// moves.
func TestBrowserApproverApprovesAliasMove(t *testing.T) {
	t.Parallel()
	e, admin := newAuthUIEnv(t)
	ctx := t.Context()
	push(t, admin, "churn", "weights-1", cairn.VersionSpec{Metrics: map[string]float64{"auc": 0.90}}, "production")
	push(t, admin, "churn", "weights-2", cairn.VersionSpec{Metrics: map[string]float64{"auc": 0.93}})
	if _, err := admin.CreatePolicy(ctx, client.PolicyCreate{Name: "prod-gate", PolicySpec: cairn.PolicySpec{
		Scope: "*", ProtectedAliases: []cairn.Gate{{Alias: "production", Approvals: 1}},
	}}); err != nil {
		t.Fatal(err)
	}
	miaToken := addUser(t, admin, "mia", "maintainer password", client.RoleGrant{Role: cairn.RoleMaintainer, Scope: "*"})
	addUser(t, admin, "ann", "approver password", client.RoleGrant{Role: cairn.RoleApprover, Scope: "*"})
	mia := client.New(e.Server.URL, client.WithToken(miaToken), client.WithHTTPClient(e.Server.Client()))
	_, err := mia.SetAlias(ctx, "churn", "production", 2, nil)
	if !cairn.IsCode(err, cairn.EPENDINGAPPROVAL) {
		t.Fatalf("moving a protected alias: %v, want pending_approval", err)
	}

	tb := newTab(t, e.Server.URL)
	tb.open("/ui/approvals")
	tb.waitPath("/ui/login?next=%2Fapprovals")
	tb.do(
		chromedp.SendKeys(chromedp.CSS(`#login-password input[name=username]`), "ann"),
		chromedp.SendKeys(chromedp.CSS(`#login-password input[name=password]`), "approver password"),
		chromedp.Click(chromedp.CSS(`#login-password button[type=submit]`)),
	)
	tb.waitPath("/ui/approvals")
	row := tb.waitText("#approvals tbody", "churn @production")
	for _, want := range []string{"v1 → v2", "pending", "mia", "0 of 1"} {
		if !strings.Contains(row, want) {
			t.Errorf("the queue lacks %q:\n%s", want, row)
		}
	}
	tb.shot("queue")
	tb.do(
		chromedp.SendKeys(chromedp.CSS(`#approvals input[name=comment]`), "auc up, looks good"),
		chromedp.Click(chromedp.Search(`//table[@id="approvals"]//button[text()="Approve"]`)),
	)
	tb.waitText("#flash", "now applied")
	tb.shot("approved")

	// The alias moved: in the API and on the model page.
	a, err := admin.GetAlias(ctx, "churn", "production")
	if err != nil || a.Version != 2 {
		t.Fatalf("production = %+v, %v; want v2", a, err)
	}
	tb.open("/ui/models/churn")
	aliases := tb.waitText("#aliases", "churn@production")
	if !strings.Contains(aliases, "v2") {
		t.Errorf("aliases after approval:\n%s", aliases)
	}
	if hist := tb.text("#alias-history tbody"); !strings.Contains(hist, "v1 → v2") {
		t.Errorf("alias history lacks the approved move:\n%s", hist)
	}
	if status := tb.waitText("#versions tbody", "approved"); !strings.Contains(status, "approved") {
		t.Errorf("versions table: %s", status)
	}
	tb.shot("moved")
	// The request is listed as applied, with ann's approval.
	tb.open("/ui/approvals?status=applied")
	if got := tb.waitText("#approvals", "applied"); !strings.Contains(got, "1 of 1") || !strings.Contains(got, "ann: auc up, looks good") {
		t.Errorf("applied requests:\n%s", got)
	}
}

// A request to move a version out of a protected stage (an MLflow stage
// transition, made here through the service as MLflow's endpoint makes
// it) reads as the move it is: the stage it leaves and the one it goes to.
func TestBrowserApprovalsShowStageLeft(t *testing.T) {
	t.Parallel()
	e := newUIEnv(t, apitest.Options{})
	ctx, c := t.Context(), e.Client
	push(t, c, "churn", "weights-1", cairn.VersionSpec{})
	if _, err := c.CreatePolicy(ctx, client.PolicyCreate{Name: "stage-gate", PolicySpec: cairn.PolicySpec{
		Scope: "*", ProtectedStages: []cairn.Gate{{Stage: cairn.StageProduction, Approvals: 1}},
	}}); err != nil {
		t.Fatal(err)
	}
	as := func(name string) context.Context { return cairn.NewContextWithActor(ctx, cairn.Actor{Name: name}) }
	var pa *cairn.PendingApprovalError
	if _, err := e.Service.SetStage(as("mia"), "churn", 1, cairn.StageProduction, false); !errors.As(err, &pa) {
		t.Fatalf("into Production: %v, want pending_approval", err)
	}
	if _, err := e.Service.Approve(as("ann"), pa.Request.ID, registry.Decision{}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Service.SetStage(as("mia"), "churn", 1, cairn.StageArchived, false); !errors.As(err, &pa) {
		t.Fatalf("out of Production: %v, want pending_approval", err)
	}

	tb := newTab(t, e.Server.URL)
	tb.open("/ui/approvals")
	row := tb.text(`#approvals [data-approval="` + pa.Request.ID + `"]`)
	if row != "churn stage Production → Archived: v1" {
		t.Errorf("the request reads %q, want churn stage Production → Archived: v1", row)
	}
	tb.shot("stage-left")
}
