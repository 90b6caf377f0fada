package storetest

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cairn-registry/cairn"
)

var loggedModelTests = []test{
	{"CreateGet", testLoggedModelCreateGet},
	{"Update", testLoggedModelUpdate},
	{"Search", testLoggedModelSearch},
	{"SearchPages", testLoggedModelSearchPages},
	{"ExportImport", testLoggedModelExportImport},
}

// newLoggedModel returns a pending logged model of experiment "0" with
// id m-<32 hex> built from n.
func newLoggedModel(n, created int) *cairn.LoggedModel {
	id := fmt.Sprintf("m-%032x", n)
	return &cairn.LoggedModel{
		ID: id, ExperimentID: cairn.DefaultExperimentID, Name: fmt.Sprintf("model-%d", n), Status: cairn.LoggedModelPending,
		ArtifactLocation: "mlflow-artifacts:/0/models/" + id + "/artifacts",
		Params:           map[string]string{}, Tags: map[string]string{}, Metrics: []cairn.LoggedModelMetric{},
		CreatedBy: "alice", CreatedAt: at(created), UpdatedAt: at(created),
	}
}

func createLoggedModels(t testing.TB, s cairn.Store, ms ...*cairn.LoggedModel) {
	t.Helper()
	update(t, s, func(tx cairn.Tx) error {
		for _, m := range ms {
			if err := tx.CreateLoggedModel(t.Context(), m); err != nil {
				return err
			}
		}
		return nil
	})
}

func testLoggedModelCreateGet(t *testing.T, s cairn.Store) {
	ctx := t.Context()
	a := newLoggedModel(1, 1)
	a.ModelType, a.SourceRunID = "classifier", "r1"
	a.Params = map[string]string{"alpha": "0.5"}
	a.Tags = map[string]string{"mlflow.user": "ana"}
	a.Metrics = []cairn.LoggedModelMetric{{Key: "auc", Value: 0.9, Timestamp: at(2), Step: 1, DatasetName: "test", DatasetDigest: "abc", RunID: "r1"}}
	createLoggedModels(t, s, a)
	got, err := s.GetLoggedModel(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(a, got); diff != "" {
		t.Errorf("GetLoggedModel (-want +got):\n%s", diff)
	}
	_, err = s.GetLoggedModel(ctx, "m-nope")
	wantCode(t, err, cairn.ENOTFOUND)
	// The same id twice is a conflict, and the first stays.
	err = s.Update(ctx, func(tx cairn.Tx) error {
		dup := newLoggedModel(1, 5)
		dup.Name = "other"
		return tx.CreateLoggedModel(ctx, dup)
	})
	wantCode(t, err, cairn.ECONFLICT)
	if got, err := s.GetLoggedModel(ctx, a.ID); err != nil || got.Name != a.Name {
		t.Errorf("after a conflicting create: %+v, %v", got, err)
	}
}

func testLoggedModelUpdate(t *testing.T, s cairn.Store) {
	ctx := t.Context()
	a := newLoggedModel(1, 1)
	createLoggedModels(t, s, a)
	a.Status, a.StatusMessage = cairn.LoggedModelReady, "uploaded"
	a.Params = map[string]string{"p": "1"}
	a.Tags = map[string]string{"k": "v"}
	a.Metrics = []cairn.LoggedModelMetric{
		{Key: "auc", Value: 0.7, Timestamp: at(3), Step: 2},
		{Key: "auc", Value: 0.8, Timestamp: at(2), Step: 1},
	}
	a.UpdatedAt = at(4)
	deleted := at(5)
	update(t, s, func(tx cairn.Tx) error { return tx.UpdateLoggedModel(ctx, a) })
	got, err := s.GetLoggedModel(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(a, got); diff != "" {
		t.Errorf("after update (-want +got):\n%s", diff)
	}
	a.DeletedAt = &deleted
	update(t, s, func(tx cairn.Tx) error { return tx.UpdateLoggedModel(ctx, a) })
	if got, err := s.GetLoggedModel(ctx, a.ID); err != nil || got.DeletedAt == nil || !got.DeletedAt.Equal(deleted) {
		t.Errorf("a deleted logged model reads %+v, %v; want it with deleted_at", got, err)
	}
	err = s.Update(ctx, func(tx cairn.Tx) error { return tx.UpdateLoggedModel(ctx, newLoggedModel(9, 1)) })
	wantCode(t, err, cairn.ENOTFOUND)
}

func searchLoggedModelIDs(t *testing.T, s cairn.Store, q cairn.LoggedModelSearch) []string {
	t.Helper()
	page, err := s.SearchLoggedModels(t.Context(), q)
	if err != nil {
		t.Fatalf("SearchLoggedModels(%+v): %v", q, err)
	}
	ids := []string{}
	for _, m := range page.Items {
		ids = append(ids, m.Name)
	}
	return ids
}

func testLoggedModelSearch(t *testing.T, s cairn.Store) {
	ctx := t.Context()
	e := createExperiment(t, s, newExperiment("other", 1))
	a, b, c, d := newLoggedModel(1, 1), newLoggedModel(2, 2), newLoggedModel(3, 3), newLoggedModel(4, 4)
	a.Params, a.Tags = map[string]string{"alpha": "0.1"}, map[string]string{"team": "risk"}
	a.Metrics = []cairn.LoggedModelMetric{{Key: "auc", Value: 0.95, Timestamp: at(1), Step: 0}}
	b.Params = map[string]string{"alpha": "0.5"}
	// b's latest auc is the highest step's (0.6), not the highest value.
	b.Metrics = []cairn.LoggedModelMetric{{Key: "auc", Value: 0.99, Timestamp: at(2), Step: 0}, {Key: "auc", Value: 0.6, Timestamp: at(1), Step: 5}}
	b.SourceRunID, b.Status = "r1", cairn.LoggedModelReady
	c.ExperimentID = e.ID
	deleted := at(9)
	d.DeletedAt = &deleted
	createLoggedModels(t, s, a, b, c, d)
	filter := func(expr string) *cairn.Filter {
		f, err := cairn.ParseFilter(expr)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	zero := []string{cairn.DefaultExperimentID}
	for _, tc := range []struct {
		name string
		q    cairn.LoggedModelSearch
		want []string
	}{
		{"newest first, deleted ones left out", cairn.LoggedModelSearch{ExperimentIDs: zero}, []string{"model-2", "model-1"}},
		{"two experiments", cairn.LoggedModelSearch{ExperimentIDs: []string{"0", e.ID}}, []string{"model-3", "model-2", "model-1"}},
		{"no experiments", cairn.LoggedModelSearch{}, []string{}},
		{"latest metric", cairn.LoggedModelSearch{ExperimentIDs: zero, Filter: filter("metrics.auc > 0.9")}, []string{"model-1"}},
		{"param", cairn.LoggedModelSearch{ExperimentIDs: zero, Filter: filter("params.alpha = '0.5'")}, []string{"model-2"}},
		{"tag", cairn.LoggedModelSearch{ExperimentIDs: zero, Filter: filter("tags.team = 'risk'")}, []string{"model-1"}},
		{"attributes", cairn.LoggedModelSearch{ExperimentIDs: zero, Filter: filter("source_run_id = 'r1' AND status = 'READY'")}, []string{"model-2"}},
		{"name like", cairn.LoggedModelSearch{ExperimentIDs: zero, Filter: filter("name LIKE 'model-%'")}, []string{"model-2", "model-1"}},
		// MLflow 3's search_logged_models: IN and NOT IN on attributes,
		// params and tags; a missing tag or param satisfies NOT IN.
		{"name not in", cairn.LoggedModelSearch{ExperimentIDs: zero, Filter: filter("name NOT IN ('model-2', 'x')")}, []string{"model-1"}},
		{"param in", cairn.LoggedModelSearch{ExperimentIDs: zero, Filter: filter("params.alpha IN ('0.5', '0.9')")}, []string{"model-2"}},
		{"tag not in", cairn.LoggedModelSearch{ExperimentIDs: zero, Filter: filter("tags.team NOT IN ('risk')")}, []string{"model-2"}},
		{"status in", cairn.LoggedModelSearch{ExperimentIDs: zero, Filter: filter("status IN ('READY', 'FAILED')")}, []string{"model-2"}},
		{"order by metric", cairn.LoggedModelSearch{ExperimentIDs: zero, OrderBy: []cairn.OrderBy{{Field: "metrics.auc", Desc: true}}}, []string{"model-1", "model-2"}},
		{"order by name", cairn.LoggedModelSearch{ExperimentIDs: []string{"0", e.ID}, OrderBy: []cairn.OrderBy{{Field: "name"}}}, []string{"model-1", "model-2", "model-3"}},
	} {
		if got := searchLoggedModelIDs(t, s, tc.q); !cmp.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	_, err := s.SearchLoggedModels(ctx, cairn.LoggedModelSearch{ExperimentIDs: zero, Filter: filter("nope = 'x'")})
	wantCode(t, err, cairn.EINVALID)
}

func testLoggedModelSearchPages(t *testing.T, s cairn.Store) {
	ctx := t.Context()
	var all []*cairn.LoggedModel
	for i := 1; i <= 5; i++ {
		all = append(all, newLoggedModel(i, i))
	}
	createLoggedModels(t, s, all...)
	var got []string
	q := cairn.LoggedModelSearch{ExperimentIDs: []string{"0"}, Page: cairn.Page{Size: 2}}
	for range 10 {
		page, err := s.SearchLoggedModels(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range page.Items {
			got = append(got, m.Name)
		}
		if page.NextToken == "" {
			break
		}
		q.Page.Token = page.NextToken
	}
	want := []string{"model-5", "model-4", "model-3", "model-2", "model-1"}
	if !cmp.Equal(got, want) {
		t.Errorf("paged: %v, want %v", got, want)
	}
	_, err := s.SearchLoggedModels(ctx, cairn.LoggedModelSearch{ExperimentIDs: []string{"0"}, Page: cairn.Page{Token: "garbage!"}})
	wantCode(t, err, cairn.EINVALID)
}

func testLoggedModelExportImport(t *testing.T, s cairn.Store) {
	ctx := t.Context()
	exp, ok := s.(cairn.Exporter)
	if !ok {
		t.Skip("the store does not export")
	}
	a, b, c := newLoggedModel(3, 1), newLoggedModel(1, 2), newLoggedModel(2, 3)
	b.DeletedAt = ptr(at(4))
	c.Metrics = []cairn.LoggedModelMetric{{Key: "auc", Value: 0.5, Timestamp: at(3), Step: 1, DatasetName: "d"}}
	createLoggedModels(t, s, a, b, c)
	var all []*cairn.LoggedModel
	for tok := ""; ; {
		p, err := exp.ExportLoggedModels(ctx, cairn.Page{Size: 2, Token: tok})
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, p.Items...)
		if tok = p.NextToken; tok == "" {
			break
		}
	}
	if diff := cmp.Diff([]*cairn.LoggedModel{b, c, a}, all); diff != "" {
		t.Fatalf("exported, by id, deleted ones too (-want +got):\n%s", diff)
	}
	// Import into the same store: each exists, and a conflict leaves the
	// transaction usable; a new one is imported as it is.
	d := newLoggedModel(4, 5)
	d.Status, d.Params = cairn.LoggedModelReady, map[string]string{"p": "1"}
	update(t, s, func(tx cairn.Tx) error {
		imp := tx.(cairn.Importer)
		for _, m := range all {
			wantCode(t, imp.ImportLoggedModel(ctx, m), cairn.ECONFLICT)
		}
		return imp.ImportLoggedModel(ctx, d)
	})
	got, err := s.GetLoggedModel(ctx, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(d, got); diff != "" {
		t.Errorf("imported (-want +got):\n%s", diff)
	}
}
