package storetest

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/cairn-registry/cairn"
)

var aliasTests = []test{
	{"MoveGetHistory", testAliasMove},
	{"Errors", testAliasErrors},
	{"HistoryPages", testAliasHistoryPages},
	{"AliasedVersion", testAliasedVersion},
	{"Origin", testAliasMoveOrigin},
}

// An imported move keeps its origin; moves made here have none. The
// history and AliasAt return it as written.
func testAliasMoveOrigin(t *testing.T, s cairn.Store) {
	ctx := t.Context()
	createModel(t, s, "churn", cairn.KindModel)
	createVersion(t, s, "churn", nil)
	createVersion(t, s, "churn", nil)
	origin := &cairn.MoveOrigin{System: "gto", Ref: "churn#prod#2", Actor: "Alice <alice@example.com>", At: at(-500)}
	set := &cairn.AliasMove{Model: "churn", Alias: "prod", To: 1, Actor: "importer", At: at(10), Origin: origin}
	update(t, s, func(tx cairn.Tx) error { return tx.MoveAlias(ctx, set) })
	del := &cairn.AliasMove{Model: "churn", Alias: "prod", From: 1, Actor: "importer", At: at(11),
		Origin: &cairn.MoveOrigin{System: "gto", Ref: "churn#prod!#3", At: at(-400)}}
	update(t, s, func(tx cairn.Tx) error { return tx.MoveAlias(ctx, del) })
	plain := moveAlias(t, s, "churn", "prod", 0, 2, at(12))
	h, err := s.AliasHistory(ctx, "churn", "prod", cairn.Page{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]*cairn.AliasMove{plain, del, set}, h.Items); diff != "" {
		t.Errorf("AliasHistory (-want +got):\n%s", diff)
	}
	m, err := s.AliasAt(ctx, "churn", "prod", at(10))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(set, m); diff != "" {
		t.Errorf("AliasAt (-want +got):\n%s", diff)
	}
}

// moveSummary is an alias move without its sequence number, which is the
// store's to choose (increasing, not necessarily dense).
func moveSummary(ms []*cairn.AliasMove) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = fmt.Sprintf("%s@%s %d->%d", m.Model, m.Alias, m.From, m.To)
	}
	return out
}

func testAliasMove(t *testing.T, s cairn.Store) {
	ctx := t.Context()
	createModel(t, s, "churn", cairn.KindModel)
	for i := 0; i < 3; i++ {
		createVersion(t, s, "churn", nil)
	}
	m1 := moveAlias(t, s, "churn", "champion", 0, 1, at(10))
	m2 := moveAlias(t, s, "churn", "staging", 0, 2, at(11))
	m3 := moveAlias(t, s, "churn", "champion", 1, 3, at(12))
	if !(m1.Seq > 0 && m2.Seq > m1.Seq && m3.Seq > m2.Seq) {
		t.Fatalf("MoveAlias seqs = %d, %d, %d; want positive and increasing", m1.Seq, m2.Seq, m3.Seq)
	}

	a, err := s.GetAlias(ctx, "churn", "champion")
	if err != nil {
		t.Fatal(err)
	}
	want := &cairn.Alias{Model: "churn", Name: "champion", Version: 3, UpdatedBy: "carol", UpdatedAt: at(12)}
	if diff := cmp.Diff(want, a); diff != "" {
		t.Errorf("GetAlias (-want +got):\n%s", diff)
	}
	m, err := s.GetModel(ctx, "churn")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]int64{"champion": 3, "staging": 2}, m.Aliases); diff != "" {
		t.Errorf("model aliases (-want +got):\n%s", diff)
	}

	h, err := s.AliasHistory(ctx, "churn", "champion", cairn.Page{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]*cairn.AliasMove{m3, m1}, h.Items); diff != "" {
		t.Errorf("AliasHistory(champion) (-want +got):\n%s", diff)
	}
	if h.NextToken != "" {
		t.Errorf("single page of history has next token %q", h.NextToken)
	}

	// Deleting is a move to 0.
	m4 := moveAlias(t, s, "churn", "staging", 2, 0, at(13))
	_, err = s.GetAlias(ctx, "churn", "staging")
	wantCode(t, err, cairn.ENOTFOUND)
	h, err = s.AliasHistory(ctx, "churn", "", cairn.Page{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]*cairn.AliasMove{m4, m3, m2, m1}, h.Items); diff != "" {
		t.Errorf("AliasHistory(all) (-want +got):\n%s", diff)
	}
	h, err = s.AliasHistory(ctx, "churn", "staging", cairn.Page{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"churn@staging 2->0", "churn@staging 0->2"}, moveSummary(h.Items)); diff != "" {
		t.Errorf("AliasHistory(staging) (-want +got):\n%s", diff)
	}
	v, err := s.GetVersion(ctx, "churn", 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(v.Aliases) != 0 {
		t.Errorf("version 2 still has aliases %v after staging was deleted", v.Aliases)
	}
	// An alias that never existed has an empty history.
	h, err = s.AliasHistory(ctx, "churn", "never", cairn.Page{})
	if err != nil {
		t.Fatal(err)
	}
	if h.Items == nil || len(h.Items) != 0 {
		t.Errorf("AliasHistory(never) = %#v, want an empty slice", h.Items)
	}

	// Inside a transaction, reads see the move at once.
	update(t, s, func(tx cairn.Tx) error {
		mv := &cairn.AliasMove{Model: "churn", Alias: "champion", From: 3, To: 2, Actor: "erin", At: at(14)}
		if err := tx.MoveAlias(ctx, mv); err != nil {
			return err
		}
		a, err := tx.GetAlias(ctx, "churn", "champion")
		if err != nil {
			return err
		}
		if a.Version != 2 || a.UpdatedBy != "erin" {
			return fmt.Errorf("tx.GetAlias after MoveAlias = %+v", a)
		}
		h, err := tx.AliasHistory(ctx, "churn", "champion", cairn.Page{Size: 1})
		if err != nil {
			return err
		}
		if diff := cmp.Diff([]*cairn.AliasMove{mv}, h.Items, cmpopts.EquateEmpty()); diff != "" {
			return fmt.Errorf("tx.AliasHistory (-want +got):\n%s", diff)
		}
		return nil
	})
}

func testAliasErrors(t *testing.T, s cairn.Store) {
	ctx := t.Context()
	createModel(t, s, "churn", cairn.KindModel)
	createVersion(t, s, "churn", nil)
	for name, mv := range map[string]*cairn.AliasMove{
		"to a missing version":  {Model: "churn", Alias: "a", To: 9, Actor: "x", At: at(1)},
		"of a missing model":    {Model: "nope", Alias: "a", To: 1, Actor: "x", At: at(1)},
		"delete an unset alias": {Model: "churn", Alias: "a", From: 1, To: 0, Actor: "x", At: at(1)},
	} {
		t.Run(name, func(t *testing.T) {
			wantCode(t, s.Update(ctx, func(tx cairn.Tx) error { return tx.MoveAlias(ctx, mv) }), cairn.ENOTFOUND)
		})
	}
	h, err := s.AliasHistory(ctx, "churn", "", cairn.Page{})
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Items) != 0 {
		t.Errorf("failed moves left history: %v", moveSummary(h.Items))
	}
	_, err = s.GetAlias(ctx, "churn", "a")
	wantCode(t, err, cairn.ENOTFOUND)
	_, err = s.GetAlias(ctx, "nope", "a")
	wantCode(t, err, cairn.ENOTFOUND)
	_, err = s.AliasHistory(ctx, "nope", "", cairn.Page{})
	wantCode(t, err, cairn.ENOTFOUND)
	_, err = s.AliasHistory(ctx, "churn", "", cairn.Page{Token: "!!"})
	wantCode(t, err, cairn.EINVALID)
}

// History pages, newest first, neither repeat nor skip a move, even when
// moves are made between pages.
func testAliasHistoryPages(t *testing.T, s cairn.Store) {
	ctx := t.Context()
	createModel(t, s, "churn", cairn.KindModel)
	createVersion(t, s, "churn", nil)
	createVersion(t, s, "churn", nil)
	var want []string
	cur := int64(0)
	for i := 0; i < 7; i++ {
		to := int64(i%2 + 1)
		moveAlias(t, s, "churn", "champion", cur, to, at(i))
		want = append([]string{fmt.Sprintf("churn@champion %d->%d", cur, to)}, want...)
		cur = to
	}
	var got []*cairn.AliasMove
	token := ""
	for pages := 0; ; pages++ {
		if pages > 3 {
			t.Fatal("more than 3 pages of 3 for 7 moves")
		}
		p, err := s.AliasHistory(ctx, "churn", "champion", cairn.Page{Size: 3, Token: token})
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Items) > 3 {
			t.Fatalf("page of %d, asked for 3", len(p.Items))
		}
		got = append(got, p.Items...)
		if pages == 0 {
			// A move made while paging shows up on no later page.
			moveAlias(t, s, "churn", "champion", cur, 0, at(20))
		}
		if p.NextToken == "" {
			break
		}
		token = p.NextToken
	}
	if diff := cmp.Diff(want, moveSummary(got)); diff != "" {
		t.Errorf("history over pages (-want +got):\n%s", diff)
	}
	for i := 1; i < len(got); i++ {
		if got[i].Seq >= got[i-1].Seq {
			t.Errorf("history not newest first: seq %d after %d", got[i].Seq, got[i-1].Seq)
		}
	}
}

func testAliasedVersion(t *testing.T, s cairn.Store) {
	ctx := t.Context()
	createModel(t, s, "churn", cairn.KindModel)
	for i := 0; i < 3; i++ {
		createVersion(t, s, "churn", nil)
	}
	// AliasedVersion is GetVersion of the alias's target, aliases included,
	// on the store and inside a transaction.
	moveAlias(t, s, "churn", "champion", 0, 3, at(11))
	moveAlias(t, s, "churn", "blue", 0, 3, at(12))
	moveAlias(t, s, "churn", "staging", 0, 2, at(13))
	want3, err := s.GetVersion(ctx, "churn", 3)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"blue", "champion"}, want3.Aliases); diff != "" {
		t.Errorf("version 3 aliases (-want +got):\n%s", diff)
	}
	got3, err := s.AliasedVersion(ctx, "churn", "champion")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want3, got3); diff != "" {
		t.Errorf("AliasedVersion(champion) (-want +got):\n%s", diff)
	}
	if err := s.Update(ctx, func(tx cairn.Tx) error {
		v, err := tx.AliasedVersion(ctx, "churn", "blue")
		if err != nil {
			return err
		}
		if diff := cmp.Diff(want3, v); diff != "" {
			t.Errorf("tx.AliasedVersion(blue) (-want +got):\n%s", diff)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	_, err = s.AliasedVersion(ctx, "churn", "nope")
	wantCode(t, err, cairn.ENOTFOUND)
	_, err = s.AliasedVersion(ctx, "no-such-model", "champion")
	wantCode(t, err, cairn.ENOTFOUND)
}
