package storetest

import (
	"testing"

	"github.com/cairn-registry/cairn"
	"github.com/google/go-cmp/cmp"
)

var approvalTests = []test{
	{"CreateGetUpdateList", testApprovals},
}

func newApproval(id, model string, version int64, i int) *cairn.ApprovalRequest {
	return &cairn.ApprovalRequest{
		ID: id, Model: model, Version: version, Alias: "production", FromVersion: 1,
		Status: cairn.RequestPending, RequestedBy: "alice", Required: 2, Policies: []string{"gate@v1"},
		EvidenceHash: "sha256:00", Approvals: []cairn.ApprovalDecision{},
		CreatedAt: at(i), UpdatedAt: at(i), ExpiresAt: at(i + 100),
	}
}

func testApprovals(t *testing.T, s cairn.Store) {
	ctx := t.Context()
	createModel(t, s, "churn", cairn.KindModel)
	createModel(t, s, "fraud", cairn.KindModel)
	_, err := s.GetApproval(ctx, "nope")
	wantCode(t, err, cairn.ENOTFOUND)
	err = s.Update(ctx, func(tx cairn.Tx) error { return tx.CreateApproval(ctx, newApproval("x", "nope", 1, 0)) })
	wantCode(t, err, cairn.ENOTFOUND)

	a := newApproval("a", "churn", 2, 1)
	b := newApproval("b", "churn", 3, 2)
	b.Stage, b.FromStage, b.Alias, b.ArchiveExisting = cairn.StageProduction, cairn.StageStaging, "", true
	c := newApproval("c", "fraud", 1, 3)
	update(t, s, func(tx cairn.Tx) error {
		for _, r := range []*cairn.ApprovalRequest{a, b, c} {
			if err := tx.CreateApproval(ctx, r); err != nil {
				return err
			}
		}
		return nil
	})
	got, err := s.GetApproval(ctx, "b")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(b, got); diff != "" {
		t.Errorf("GetApproval (-want +got):\n%s", diff)
	}

	a.Status, a.StatusMessage, a.UpdatedAt = cairn.RequestRejected, "rejected by bob", at(5)
	a.Approvals = []cairn.ApprovalDecision{{Actor: "carol", Verified: true, Comment: "ok", At: at(4)}}
	a.Rejection = &cairn.ApprovalDecision{Actor: "bob", Comment: "no", At: at(5)}
	update(t, s, func(tx cairn.Tx) error { return tx.UpdateApproval(ctx, a) })
	got, err = s.GetApproval(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(a, got); diff != "" {
		t.Errorf("after UpdateApproval (-want +got):\n%s", diff)
	}

	ids := func(q cairn.ApprovalQuery) []string {
		t.Helper()
		var out []string
		for {
			page, err := s.ListApprovals(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range page.Items {
				out = append(out, r.ID)
			}
			if page.NextToken == "" {
				return out
			}
			q.Page.Token = page.NextToken
		}
	}
	for _, tc := range []struct {
		name string
		q    cairn.ApprovalQuery
		want []string
	}{
		{"all, newest first, paged", cairn.ApprovalQuery{Page: cairn.Page{Size: 1}}, []string{"c", "b", "a"}},
		{"by model", cairn.ApprovalQuery{Model: "churn"}, []string{"b", "a"}},
		{"by version", cairn.ApprovalQuery{Model: "churn", Version: 2}, []string{"a"}},
		{"by status", cairn.ApprovalQuery{Status: cairn.RequestPending}, []string{"c", "b"}},
		{"by scope", cairn.ApprovalQuery{Scopes: []string{"fr*"}}, []string{"c"}},
		{"no scope", cairn.ApprovalQuery{Scopes: []string{}}, nil},
	} {
		if diff := cmp.Diff(tc.want, ids(tc.q)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, diff)
		}
	}
	exp, err := s.ExpiredApprovals(ctx, at(102), 10)
	if err != nil || len(exp) != 1 || exp[0].ID != "b" {
		t.Fatalf("ExpiredApprovals = %v, %v; want b (a is not pending, c not yet due)", exp, err)
	}
}
