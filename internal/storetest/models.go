package storetest

import (
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cairn-registry/cairn"
)

var updateTests = []test{
	{"ReadsInsideSeeWrites", testUpdateReadsInside},
	{"RollbackReturnsFnError", testUpdateRollback},
}

var modelTests = []test{
	{"CreateGet", testModelCreateGet},
	{"CreateConflict", testModelCreateConflict},
	{"InvalidKind", testModelInvalidKind},
	{"NotFound", testModelNotFound},
	{"UpdateWritesOnlyMutable", testModelUpdate},
	{"Rename", testModelRename},
	{"ListPages", testModelListPages},
	{"ListPageSizes", testModelListPageSizes},
	{"ListIncludeDeleted", testModelListDeleted},
}

// A transaction reads its own writes; other readers see them only after
// the commit.
func testUpdateReadsInside(t *testing.T, s cairn.Store) {
	ctx := t.Context()
	update(t, s, func(tx cairn.Tx) error {
		if err := tx.CreateModel(ctx, newModel("churn")); err != nil {
			return err
		}
		if _, err := tx.GetModel(ctx, "churn"); err != nil {
			return fmt.Errorf("tx.GetModel after CreateModel in the same tx: %w", err)
		}
		if _, err := s.GetModel(ctx, "churn"); !cairn.IsCode(err, cairn.ENOTFOUND) {
			return fmt.Errorf("GetModel outside the tx before commit: err = %v, want not_found", err)
		}
		return nil
	})
	if _, err := s.GetModel(ctx, "churn"); err != nil {
		t.Fatalf("GetModel after commit: %v", err)
	}
}

// A failing fn rolls everything back, and Update returns its error as is.
func testUpdateRollback(t *testing.T, s cairn.Store) {
	ctx := t.Context()
	sentinel := errors.New("fn failed")
	err := s.Update(ctx, func(tx cairn.Tx) error {
		if err := tx.CreateModel(ctx, newModel("churn")); err != nil {
			return err
		}
		return sentinel
	})
	if !errors.Is(err, sentinel) {
		t.Fatalf("Update = %v, want fn's error", err)
	}
	_, err = s.GetModel(ctx, "churn")
	wantCode(t, err, cairn.ENOTFOUND)
}

func testModelCreateGet(t *testing.T, s cairn.Store) {
	ctx := t.Context()
	m := newModel("churn")
	m.Kind = cairn.KindDataset
	m.Archived = true
	m.UpdatedAt = at(5)
	m.Aliases = map[string]int64{"ignored": 9} // CreateModel ignores these two
	m.LatestVersion = 7
	update(t, s, func(tx cairn.Tx) error { return tx.CreateModel(ctx, m) })

	want := *m
	want.Aliases = map[string]int64{}
	want.LatestVersion = 0
	got, err := s.GetModel(ctx, "churn")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(&want, got); diff != "" {
		t.Errorf("GetModel (-want +got):\n%s", diff)
	}
	update(t, s, func(tx cairn.Tx) error {
		got, err := tx.LockModel(ctx, "churn")
		if err != nil {
			return err
		}
		if diff := cmp.Diff(&want, got); diff != "" {
			t.Errorf("LockModel (-want +got):\n%s", diff)
		}
		return nil
	})

	// nil maps are stored and returned as empty ones.
	bare := &cairn.Model{Name: "bare", Kind: cairn.KindModel, CreatedBy: "bob", CreatedAt: at(1), UpdatedAt: at(1)}
	update(t, s, func(tx cairn.Tx) error { return tx.CreateModel(ctx, bare) })
	got, err = s.GetModel(ctx, "bare")
	if err != nil {
		t.Fatal(err)
	}
	if got.Tags == nil || got.Aliases == nil {
		t.Errorf("GetModel of a model without tags: Tags = %#v, Aliases = %#v; want empty maps", got.Tags, got.Aliases)
	}
}

func testModelCreateConflict(t *testing.T, s cairn.Store) {
	ctx := t.Context()
	createModel(t, s, "churn", cairn.KindModel)
	err := s.Update(ctx, func(tx cairn.Tx) error { return tx.CreateModel(ctx, newModel("churn")) })
	wantCode(t, err, cairn.ECONFLICT)

	// A deleted model keeps its name.
	gone := newModel("gone")
	gone.DeletedAt = ptr(at(3))
	update(t, s, func(tx cairn.Tx) error { return tx.CreateModel(ctx, gone) })
	err = s.Update(ctx, func(tx cairn.Tx) error { return tx.CreateModel(ctx, newModel("gone")) })
	wantCode(t, err, cairn.ECONFLICT)
	got, err := s.GetModel(ctx, "gone")
	if err != nil {
		t.Fatalf("GetModel of a deleted model: %v", err)
	}
	if got.DeletedAt == nil || !got.DeletedAt.Equal(at(3)) {
		t.Errorf("DeletedAt = %v, want %v", got.DeletedAt, at(3))
	}
}

func testModelInvalidKind(t *testing.T, s cairn.Store) {
	ctx := t.Context()
	m := newModel("churn")
	m.Kind = "spreadsheet"
	err := s.Update(ctx, func(tx cairn.Tx) error { return tx.CreateModel(ctx, m) })
	wantCode(t, err, cairn.EINVALID)
}

func testModelNotFound(t *testing.T, s cairn.Store) {
	ctx := t.Context()
	_, err := s.GetModel(ctx, "nope")
	wantCode(t, err, cairn.ENOTFOUND)
	for name, fn := range map[string]func(tx cairn.Tx) error{
		"LockModel":       func(tx cairn.Tx) error { _, err := tx.LockModel(ctx, "nope"); return err },
		"UpdateModel":     func(tx cairn.Tx) error { return tx.UpdateModel(ctx, newModel("nope")) },
		"RenameModel":     func(tx cairn.Tx) error { return tx.RenameModel(ctx, "nope", "other", at(1)) },
		"AllocateVersion": func(tx cairn.Tx) error { _, err := tx.AllocateVersion(ctx, "nope"); return err },
	} {
		t.Run(name, func(t *testing.T) {
			wantCode(t, s.Update(ctx, fn), cairn.ENOTFOUND)
		})
	}
}

// UpdateModel writes description, tags, archived, deleted_at and
// updated_at, and nothing else.
func testModelUpdate(t *testing.T, s cairn.Store) {
	ctx := t.Context()
	orig := createModel(t, s, "churn", cairn.KindModel)
	orig.Aliases = map[string]int64{}
	changed := &cairn.Model{
		Name:          "churn",
		Kind:          cairn.KindPrompt,
		Description:   "new description",
		Tags:          map[string]string{"team": "risk", "tier": "1"},
		Aliases:       map[string]int64{"x": 1},
		LatestVersion: 42,
		Archived:      true,
		CreatedBy:     "mallory",
		CreatedAt:     at(100),
		UpdatedAt:     at(101),
		DeletedAt:     ptr(at(102)),
	}
	want := wantAfterUpdate(t, orig, changed,
		[]string{"Description", "Tags", "Archived", "DeletedAt", "UpdatedAt"},
		[]string{"Name"})
	update(t, s, func(tx cairn.Tx) error { return tx.UpdateModel(ctx, changed) })
	got, err := s.GetModel(ctx, "churn")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("after UpdateModel (-want +got):\n%s", diff)
	}

	// And back: clearing deleted_at and archived.
	changed.DeletedAt, changed.Archived, changed.Tags = nil, false, nil
	update(t, s, func(tx cairn.Tx) error { return tx.UpdateModel(ctx, changed) })
	got, err = s.GetModel(ctx, "churn")
	if err != nil {
		t.Fatal(err)
	}
	if got.DeletedAt != nil || got.Archived || len(got.Tags) != 0 || got.Tags == nil {
		t.Errorf("after restoring: DeletedAt = %v, Archived = %v, Tags = %#v; want nil, false, empty map", got.DeletedAt, got.Archived, got.Tags)
	}
}

// A rename keeps every version, alias and history entry.
func testModelRename(t *testing.T, s cairn.Store) {
	ctx := t.Context()
	createModel(t, s, "churn", cairn.KindModel)
	createVersion(t, s, "churn", nil)
	createVersion(t, s, "churn", nil)
	moveAlias(t, s, "churn", "champion", 0, 1, at(10))
	moveAlias(t, s, "churn", "champion", 1, 2, at(11))
	createModel(t, s, "taken", cairn.KindModel)
	gone := newModel("deleted")
	gone.DeletedAt = ptr(at(1))
	update(t, s, func(tx cairn.Tx) error { return tx.CreateModel(ctx, gone) })

	for _, newName := range []string{"taken", "deleted"} {
		err := s.Update(ctx, func(tx cairn.Tx) error { return tx.RenameModel(ctx, "churn", newName, at(20)) })
		wantCode(t, err, cairn.ECONFLICT)
	}
	update(t, s, func(tx cairn.Tx) error { return tx.RenameModel(ctx, "churn", "churn-v2", at(20)) })

	_, err := s.GetModel(ctx, "churn")
	wantCode(t, err, cairn.ENOTFOUND)
	m, err := s.GetModel(ctx, "churn-v2")
	if err != nil {
		t.Fatal(err)
	}
	if m.LatestVersion != 2 || !m.UpdatedAt.Equal(at(20)) || !m.CreatedAt.Equal(at(0)) {
		t.Errorf("renamed model: LatestVersion = %d, UpdatedAt = %v, CreatedAt = %v; want 2, %v, %v",
			m.LatestVersion, m.UpdatedAt, m.CreatedAt, at(20), at(0))
	}
	if diff := cmp.Diff(map[string]int64{"champion": 2}, m.Aliases); diff != "" {
		t.Errorf("renamed model's aliases (-want +got):\n%s", diff)
	}
	v, err := s.GetVersion(ctx, "churn-v2", 2)
	if err != nil {
		t.Fatal(err)
	}
	if v.Model != "churn-v2" || !cmp.Equal(v.Aliases, []string{"champion"}) {
		t.Errorf("version after rename: Model = %q, Aliases = %v", v.Model, v.Aliases)
	}
	a, err := s.GetAlias(ctx, "churn-v2", "champion")
	if err != nil {
		t.Fatal(err)
	}
	if a.Model != "churn-v2" || a.Version != 2 {
		t.Errorf("alias after rename = %+v", a)
	}
	h, err := s.AliasHistory(ctx, "churn-v2", "champion", cairn.Page{})
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Items) != 2 || h.Items[0].Model != "churn-v2" || h.Items[0].To != 2 || h.Items[1].To != 1 {
		t.Errorf("alias history after rename = %v", h.Items)
	}
	page, err := s.ListVersions(ctx, cairn.VersionQuery{Model: "churn-v2"})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != 2 {
		t.Errorf("ListVersions after rename: %d versions, want 2", len(page.Items))
	}
	// The old name is free again, and numbering for the new model under it
	// starts over.
	createModel(t, s, "churn", cairn.KindModel)
	if v := createVersion(t, s, "churn", nil); v.Number != 1 {
		t.Errorf("first version of a new model under a freed name = %d, want 1", v.Number)
	}
}

func modelNames(ms []*cairn.Model) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.Name
	}
	return out
}

// Pages of models follow each other without duplicates or omissions, in
// name order by default; list items carry their aliases.
func testModelListPages(t *testing.T, s cairn.Store) {
	ctx := t.Context()
	var want []string
	update(t, s, func(tx cairn.Tx) error {
		for i := 24; i >= 0; i-- { // inserted in reverse: the order must come from the query
			name := fmt.Sprintf("model-%02d", i)
			if err := tx.CreateModel(ctx, newModel(name)); err != nil {
				return err
			}
		}
		return nil
	})
	for i := 0; i < 25; i++ {
		want = append(want, fmt.Sprintf("model-%02d", i))
	}
	createVersion(t, s, "model-03", nil)
	moveAlias(t, s, "model-03", "prod", 0, 1, at(5))

	var got []string
	token := ""
	for pages := 0; ; pages++ {
		if pages > 3 {
			t.Fatal("more than 3 pages of 10 for 25 models")
		}
		p, err := s.ListModels(ctx, cairn.ModelQuery{Page: cairn.Page{Size: 10, Token: token}})
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Items) > 10 {
			t.Fatalf("page of %d items, asked for 10", len(p.Items))
		}
		for _, m := range p.Items {
			if m.Name == "model-03" && m.Aliases["prod"] != 1 {
				t.Errorf("listed model-03 has aliases %v, want prod: 1", m.Aliases)
			}
			if m.Aliases == nil || m.Tags == nil {
				t.Errorf("listed model %s has nil maps", m.Name)
			}
		}
		got = append(got, modelNames(p.Items)...)
		if p.NextToken == "" {
			break
		}
		token = p.NextToken
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("models over all pages (-want +got):\n%s", diff)
	}

	_, err := s.ListModels(ctx, cairn.ModelQuery{Page: cairn.Page{Size: -1}})
	wantCode(t, err, cairn.EINVALID)
	_, err = s.ListModels(ctx, cairn.ModelQuery{Page: cairn.Page{Token: "not a token!"}})
	wantCode(t, err, cairn.EINVALID)

	// An exactly full last page has no next token.
	p, err := s.ListModels(ctx, cairn.ModelQuery{Page: cairn.Page{Size: 25}})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Items) != 25 || p.NextToken != "" {
		t.Errorf("page of 25 over 25 models: %d items, next token %q; want 25 and none", len(p.Items), p.NextToken)
	}
}

// Page size 0 means 100; more than 1000 means 1000.
func testModelListPageSizes(t *testing.T, s cairn.Store) {
	ctx := t.Context()
	update(t, s, func(tx cairn.Tx) error {
		for i := 0; i < 1001; i++ {
			if err := tx.CreateModel(ctx, newModel(fmt.Sprintf("m%04d", i))); err != nil {
				return err
			}
		}
		return nil
	})
	for _, tc := range []struct {
		size, want int
	}{
		{0, 100},
		{1000, 1000},
		{5000, 1000},
	} {
		p, err := s.ListModels(ctx, cairn.ModelQuery{Page: cairn.Page{Size: tc.size}})
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Items) != tc.want || p.NextToken == "" {
			t.Errorf("page size %d: %d items, next token %q; want %d items and a token", tc.size, len(p.Items), p.NextToken, tc.want)
		}
	}
}

func testModelListDeleted(t *testing.T, s cairn.Store) {
	ctx := t.Context()
	createModel(t, s, "a", cairn.KindModel)
	gone := newModel("b")
	gone.DeletedAt = ptr(at(1))
	update(t, s, func(tx cairn.Tx) error { return tx.CreateModel(ctx, gone) })
	archived := newModel("c")
	archived.Archived = true
	update(t, s, func(tx cairn.Tx) error { return tx.CreateModel(ctx, archived) })

	for _, tc := range []struct {
		include bool
		want    []string
	}{
		{false, []string{"a", "c"}},
		{true, []string{"a", "b", "c"}},
	} {
		p, err := s.ListModels(ctx, cairn.ModelQuery{IncludeDeleted: tc.include})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tc.want, modelNames(p.Items)); diff != "" {
			t.Errorf("IncludeDeleted=%v (-want +got):\n%s", tc.include, diff)
		}
	}
}
