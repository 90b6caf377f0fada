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
	{"SearchDatasets", testLoggedModelSearchDatasets},
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
		{"order by metric", cairn.LoggedModelSearch{ExperimentIDs: zero, OrderBy: []cairn.LoggedModelOrder{{OrderBy: cairn.OrderBy{Field: "metrics.auc", Desc: true}}}}, []string{"model-1", "model-2"}},
		{"order by name", cairn.LoggedModelSearch{ExperimentIDs: []string{"0", e.ID}, OrderBy: []cairn.LoggedModelOrder{{OrderBy: cairn.OrderBy{Field: "name"}}}}, []string{"model-1", "model-2", "model-3"}},
	} {
		if got := searchLoggedModelIDs(t, s, tc.q); !cmp.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	_, err := s.SearchLoggedModels(ctx, cairn.LoggedModelSearch{ExperimentIDs: zero, Filter: filter("nope = 'x'")})
	wantCode(t, err, cairn.EINVALID)
}

// MLflow 3's search_logged_models(datasets=[...]) and its order_by on a
// dataset: metrics are those logged on the datasets, the latest on each
// dataset (name and digest) apart.
func testLoggedModelSearchDatasets(t *testing.T, s cairn.Store) {
	ctx := t.Context()
	a, b, c, d, e := newLoggedModel(1, 1), newLoggedModel(2, 2), newLoggedModel(3, 3), newLoggedModel(4, 4), newLoggedModel(5, 5)
	a.Metrics = []cairn.LoggedModelMetric{
		{Key: "acc", Value: 0.9, Timestamp: at(1), DatasetName: "eval", DatasetDigest: "d1"},
		{Key: "acc", Value: 0.2, Timestamp: at(2), DatasetName: "train"}, // a's latest acc over every dataset
	}
	b.Metrics = []cairn.LoggedModelMetric{
		{Key: "acc", Value: 0.4, Timestamp: at(1), DatasetName: "eval", DatasetDigest: "d1"},
		{Key: "acc", Value: 0.95, Timestamp: at(2), DatasetName: "eval", DatasetDigest: "d2"},
	}
	c.Metrics = []cairn.LoggedModelMetric{{Key: "acc", Value: 0.8, Timestamp: at(1), DatasetName: "train"}}
	d.Metrics = []cairn.LoggedModelMetric{{Key: "acc", Value: 0.7, Timestamp: at(1)}} // on no dataset
	// e's latest acc on eval@d1 is its highest step's, 0.3.
	e.Metrics = []cairn.LoggedModelMetric{
		{Key: "acc", Value: 0.99, Timestamp: at(2), Step: 0, DatasetName: "eval", DatasetDigest: "d1"},
		{Key: "acc", Value: 0.3, Timestamp: at(1), Step: 1, DatasetName: "eval", DatasetDigest: "d1"},
	}
	createLoggedModels(t, s, a, b, c, d)
	// e gets its metrics by an update, as MLflow's log-batch adds them.
	metrics := e.Metrics
	e.Metrics = []cairn.LoggedModelMetric{}
	createLoggedModels(t, s, e)
	e.Metrics = metrics
	update(t, s, func(tx cairn.Tx) error { return tx.UpdateLoggedModel(ctx, e) })

	filter := func(expr string) *cairn.Filter {
		f, err := cairn.ParseFilter(expr)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	eval, evalD1, evalD2, train := cairn.LoggedModelDataset{Name: "eval"}, cairn.LoggedModelDataset{Name: "eval", Digest: "d1"},
		cairn.LoggedModelDataset{Name: "eval", Digest: "d2"}, cairn.LoggedModelDataset{Name: "train"}
	sortOn := func(field string, desc bool, ds cairn.LoggedModelDataset) []cairn.LoggedModelOrder {
		return []cairn.LoggedModelOrder{{OrderBy: cairn.OrderBy{Field: field, Desc: desc}, Dataset: ds}}
	}
	zero := []string{cairn.DefaultExperimentID}
	for _, tc := range []struct {
		name     string
		filter   string
		datasets []cairn.LoggedModelDataset
		order    []cairn.LoggedModelOrder
		want     []string
	}{
		{"datasets alone keep the models with a metric on them", "", []cairn.LoggedModelDataset{eval}, nil,
			[]string{"model-5", "model-2", "model-1"}},
		{"a digest narrows the dataset", "", []cairn.LoggedModelDataset{evalD2}, nil, []string{"model-2"}},
		{"several datasets", "", []cairn.LoggedModelDataset{evalD2, train}, nil, []string{"model-3", "model-2", "model-1"}},
		{"with a filter on no metric", "name != 'model-2'", []cairn.LoggedModelDataset{evalD2, train}, nil,
			[]string{"model-3", "model-1"}},
		{"without datasets: the latest over every dataset", "metrics.acc > 0.5", nil, nil,
			[]string{"model-4", "model-3", "model-2"}},
		{"the latest on each dataset of the name", "metrics.acc > 0.5", []cairn.LoggedModelDataset{eval}, nil,
			[]string{"model-2", "model-1"}},
		{"on one digest", "metrics.acc > 0.5", []cairn.LoggedModelDataset{evalD1}, nil, []string{"model-1"}},
		{"on another dataset", "metrics.acc > 0.5", []cairn.LoggedModelDataset{train}, nil, []string{"model-3"}},
		{"any of the datasets", "metrics.acc >= 0.8", []cairn.LoggedModelDataset{evalD1, train}, nil,
			[]string{"model-3", "model-1"}},
		{"IN", "metrics.acc IN (0.3, 0.4)", []cairn.LoggedModelDataset{evalD1}, nil, []string{"model-5", "model-2"}},
		{"!= is the negation of =", "metrics.acc != 0.9", []cairn.LoggedModelDataset{evalD1}, nil,
			[]string{"model-5", "model-4", "model-3", "model-2"}},
		{"with other comparisons", "metrics.acc > 0.1 AND name LIKE 'model-%' AND metrics.acc < 0.5", []cairn.LoggedModelDataset{evalD1}, nil,
			[]string{"model-5", "model-2"}},
		{"sort by the latest on a dataset, models without it last", "", nil, sortOn("metrics.acc", true, eval),
			[]string{"model-2", "model-1", "model-5", "model-4", "model-3"}},
		{"sort on a digest", "", nil, sortOn("metrics.acc", false, evalD1),
			[]string{"model-5", "model-2", "model-1", "model-4", "model-3"}},
		{"sort and datasets", "metrics.acc > 0", []cairn.LoggedModelDataset{train}, sortOn("metrics.acc", false, train),
			[]string{"model-1", "model-3"}},
		{"the same metric on two datasets", "", []cairn.LoggedModelDataset{eval, train}, []cairn.LoggedModelOrder{
			{OrderBy: cairn.OrderBy{Field: "metrics.acc", Desc: true}, Dataset: train},
			{OrderBy: cairn.OrderBy{Field: "metrics.acc", Desc: true}, Dataset: eval},
		}, []string{"model-3", "model-1", "model-2", "model-5"}},
	} {
		q := cairn.LoggedModelSearch{ExperimentIDs: zero, Datasets: tc.datasets, OrderBy: tc.order}
		if tc.filter != "" {
			q.Filter = filter(tc.filter)
		}
		if got := searchLoggedModelIDs(t, s, q); !cmp.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	// Searching by dataset leaves the models' metrics whole.
	page, err := s.SearchLoggedModels(ctx, cairn.LoggedModelSearch{ExperimentIDs: zero, Datasets: []cairn.LoggedModelDataset{evalD2}})
	if err != nil || len(page.Items) != 1 || !cmp.Equal(page.Items[0].Metrics, b.Metrics) {
		t.Errorf("a search on eval@d2 gave %+v, %v; want model-2 with all its metrics", page, err)
	}
	for _, q := range []cairn.LoggedModelSearch{
		{ExperimentIDs: zero, Datasets: []cairn.LoggedModelDataset{{Digest: "d1"}}},
		{ExperimentIDs: zero, Datasets: make([]cairn.LoggedModelDataset, cairn.MaxLoggedModelDatasets+1)},
		{ExperimentIDs: zero, OrderBy: sortOn("metrics.acc", false, cairn.LoggedModelDataset{Digest: "d1"})},
		{ExperimentIDs: zero, OrderBy: sortOn("name", false, eval)},
		{ExperimentIDs: zero, Datasets: []cairn.LoggedModelDataset{eval}, Filter: filter("metrics.acc LIKE 'x'")},
	} {
		_, err := s.SearchLoggedModels(ctx, q)
		wantCode(t, err, cairn.EINVALID)
	}
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
