package registry_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/internal/fsblob"
	"github.com/cairn-registry/cairn/internal/postgres"
	"github.com/cairn-registry/cairn/internal/registry"
	"github.com/cairn-registry/cairn/internal/testenv"
)

// pgFixture is newFixture on a fresh PostgreSQL database.
func pgFixture(t *testing.T) *fixture {
	t.Helper()
	db, err := postgres.Open(t.Context(), testenv.PostgresURL(t), postgres.Options{MaxConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	blobs, err := fsblob.New(filepath.Join(t.TempDir(), "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{store: db, ctx: newFixture(t).ctx, clock: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	f.svc = registry.New(db, blobs, registry.Options{Now: func() time.Time { return f.clock }})
	return f
}

// Deleting a protected alias passes the gate of a move: a request with
// version 0 from the version the alias holds, N approvals by others than
// the requester, applied once approved; the gate's conditions do not
// apply (churn@v2 fails them, and its alias can still be deleted). Both
// stores.
func TestApprovalAliasDelete(t *testing.T) {
	t.Parallel()
	for name, open := range map[string]func(*testing.T) *fixture{"sqlite": newFixture, "postgres": pgFixture} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			testAliasDelete(t, open(t))
		})
	}
}

func testAliasDelete(t *testing.T, f *fixture) {
	f.push(t, "churn", "v1", cairn.VersionSpec{Metrics: map[string]float64{"auc": 0.95}})
	f.push(t, "churn", "v2", cairn.VersionSpec{Metrics: map[string]float64{"auc": 0.5}})
	for alias, v := range map[string]int64{"production": 2, "staging": 2, "champion": 1} {
		if _, err := f.svc.SetAlias(f.ctx, "churn", alias, v, nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.svc.CreatePolicy(f.ctx, registry.PolicyCreate{Name: "prod", PolicySpec: cairn.PolicySpec{
		Scope: "churn",
		ProtectedAliases: []cairn.Gate{
			{Alias: "production", Approvals: 2, Conditions: []cairn.Condition{{Name: "auc", Expr: "version.metrics.auc >= 0.9"}}},
			{Alias: "staging", Approvals: 1},
		},
	}}); err != nil {
		t.Fatal(err)
	}
	alias := func(name string) int64 {
		t.Helper()
		a, err := f.svc.GetAlias(f.ctx, "churn", name)
		if cairn.IsCode(err, cairn.ENOTFOUND) {
			return 0
		}
		if err != nil {
			t.Fatal(err)
		}
		return a.Version
	}

	// An unprotected alias goes at once.
	if err := f.svc.DeleteAlias(f.ctx, "churn", "champion", nil); err != nil || alias("champion") != 0 {
		t.Fatalf("deleting an unprotected alias: %v, alias at v%d", err, alias("champion"))
	}
	// A lost compare-and-swap opens nothing.
	wantCode(t, f.svc.DeleteAlias(f.ctx, "churn", "production", ptr(int64(1))), cairn.ECONFLICT)

	// Happy path: two approvals by others than the requester.
	err := f.svc.DeleteAlias(f.ctx, "churn", "production", ptr(int64(2)))
	wantCode(t, err, cairn.EPENDINGAPPROVAL, "churn@production is protected", "for deleting it (it points at v2)", "2 approval(s)")
	req := requestOf(t, err)
	if req.Version != 0 || req.FromVersion != 2 || req.Alias != "production" || req.Required != 2 || req.RequestedBy != "alice" || req.Status != cairn.RequestPending {
		t.Fatalf("request = %+v", req)
	}
	if alias("production") != 2 {
		t.Fatalf("production went before approval")
	}
	if got := f.versionApproval(t, 2); got != cairn.ApprovalNone {
		t.Errorf("v2's approval status = %q after a request to delete its alias, want none", got)
	}
	if again := requestOf(t, f.svc.DeleteAlias(f.ctx, "churn", "production", nil)); again.ID != req.ID {
		t.Fatalf("a second delete opened %s, want %s again", again.ID, req.ID)
	}
	// A pending move of the same alias is a different request.
	if _, err := f.svc.SetAlias(f.ctx, "churn", "production", 1, nil); requestOf(t, err).ID == req.ID {
		t.Fatalf("a move found the delete's request")
	}
	_, err = f.svc.Approve(f.ctx, req.ID, registry.Decision{})
	wantCode(t, err, cairn.EPERMISSION, "requested this move")
	if a, err := f.as("bob").svc.Approve(f.as("bob").ctx, req.ID, registry.Decision{Comment: "retiring it"}); err != nil || a.Status != cairn.RequestPending {
		t.Fatalf("first approval = %+v, %v", a, err)
	}
	if alias("production") != 2 {
		t.Fatalf("production went after one of two approvals")
	}
	a, err := f.as("carol").svc.Approve(f.as("carol").ctx, req.ID, registry.Decision{})
	if err != nil || a.Status != cairn.RequestApplied {
		t.Fatalf("second approval = %+v, %v; want applied", a, err)
	}
	if alias("production") != 0 {
		t.Fatalf("production still points at v%d after the approved delete", alias("production"))
	}
	h, err := f.svc.AliasHistory(f.ctx, "churn", "production", 10, "")
	if err != nil || len(h.Items) == 0 || h.Items[0].From != 2 || h.Items[0].To != 0 || h.Items[0].Actor != "carol" {
		t.Fatalf("history = %+v, %v; want the delete from v2 by the last approver", h, err)
	}
	evs, err := f.store.ListEvents(f.ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, ev := range evs {
		if ev.Alias == "production" && (ev.Type == cairn.EventAliasDeleted || ev.Type == cairn.EventApprovalApplied) {
			types = append(types, ev.Type)
		}
	}
	if len(types) != 2 || types[0] != cairn.EventAliasDeleted || types[1] != cairn.EventApprovalApplied {
		t.Errorf("events %v, want alias.deleted then approval.applied", types)
	}

	// Rejection: the alias stays; a new delete opens a new request.
	err = f.svc.DeleteAlias(f.ctx, "churn", "staging", nil)
	wantCode(t, err, cairn.EPENDINGAPPROVAL, "1 approval(s)")
	rej := requestOf(t, err)
	_, err = f.svc.Reject(f.ctx, rej.ID, registry.Decision{})
	wantCode(t, err, cairn.EPERMISSION)
	if r, err := f.as("dave").svc.Reject(f.as("dave").ctx, rej.ID, registry.Decision{Comment: "still serving"}); err != nil || r.Status != cairn.RequestRejected {
		t.Fatalf("reject = %+v, %v", r, err)
	}
	if alias("staging") != 2 {
		t.Fatalf("staging went after a rejection")
	}
	_, err = f.as("bob").svc.Approve(f.as("bob").ctx, rej.ID, registry.Decision{})
	wantCode(t, err, cairn.EFAILEDPRECONDITION, "rejected")

	// A request whose alias moved meanwhile is invalidated, not applied.
	stale := requestOf(t, f.svc.DeleteAlias(f.ctx, "churn", "staging", nil))
	if stale.ID == rej.ID {
		t.Fatalf("a new delete found the rejected request")
	}
	move := requestOf(t, func() error { _, err := f.svc.SetAlias(f.ctx, "churn", "staging", 1, nil); return err }())
	if _, err := f.as("bob").svc.Approve(f.as("bob").ctx, move.ID, registry.Decision{}); err != nil || alias("staging") != 1 {
		t.Fatalf("approving the move of staging: %v, staging at v%d", err, alias("staging"))
	}
	_, err = f.as("bob").svc.Approve(f.as("bob").ctx, stale.ID, registry.Decision{})
	wantCode(t, err, cairn.EFAILEDPRECONDITION, "invalidated", "moved from v2 to v1")
	if got, err := f.svc.GetApproval(f.ctx, stale.ID); err != nil || got.Status != cairn.RequestInvalidated {
		t.Fatalf("the stale request = %+v, %v; want invalidated", got, err)
	}
	if alias("staging") != 1 {
		t.Fatalf("an invalidated delete removed staging")
	}
}
