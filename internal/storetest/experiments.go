package storetest

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cairn-registry/cairn"
)

var experimentTests = []test{
	{"DefaultExists", testExperimentDefault},
	{"CreateAllocatesIDs", testExperimentCreate},
	{"UniqueNames", testExperimentUniqueNames},
	{"Update", testExperimentUpdate},
	{"List", testExperimentList},
	{"ConcurrentCreates", testExperimentConcurrentCreates},
	{"ExportImport", testExperimentExportImport},
	{"SearchRuns", testSearchRuns},
	{"LatestMetrics", testLatestMetrics},
	{"DeleteRestoreRuns", testExperimentRuns},
}

func newExperiment(name string, created int) *cairn.Experiment {
	return &cairn.Experiment{Name: name, Tags: map[string]string{}, CreatedBy: "alice", CreatedAt: at(created), UpdatedAt: at(created)}
}

func createExperiment(t testing.TB, s cairn.Store, e *cairn.Experiment) *cairn.Experiment {
	t.Helper()
	update(t, s, func(tx cairn.Tx) error { return tx.CreateExperiment(t.Context(), e) })
	return e
}

func testExperimentDefault(t *testing.T, s cairn.Store) {
	e, err := s.GetExperiment(t.Context(), cairn.DefaultExperimentID)
	if err != nil {
		t.Fatal(err)
	}
	if e.Name != cairn.DefaultExperimentName || e.ArtifactLocation != "mlflow-artifacts:/0" || e.DeletedAt != nil || e.CreatedAt.IsZero() {
		t.Errorf("default experiment = %+v", e)
	}
	byName, err := s.GetExperimentByName(t.Context(), "Default")
	if err != nil || byName.ID != "0" {
		t.Errorf("GetExperimentByName(Default) = %+v, %v", byName, err)
	}
}

func testExperimentCreate(t *testing.T, s cairn.Store) {
	ctx := t.Context()
	a := newExperiment("a", 1)
	a.Tags = map[string]string{"team": "risk"}
	createExperiment(t, s, a)
	b := createExperiment(t, s, newExperiment("b", 2))
	if a.ID != "1" || b.ID != "2" || a.ArtifactLocation != "mlflow-artifacts:/1" {
		t.Fatalf("ids %q, %q and location %q; want 1, 2 and mlflow-artifacts:/1", a.ID, b.ID, a.ArtifactLocation)
	}
	c := newExperiment("c", 3)
	c.ArtifactLocation = "s3://bucket/c"
	createExperiment(t, s, c)
	for _, want := range []*cairn.Experiment{a, b, c} {
		got, err := s.GetExperiment(ctx, want.ID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("GetExperiment(%s) (-want +got):\n%s", want.ID, diff)
		}
	}
	_, err := s.GetExperiment(ctx, "99")
	wantCode(t, err, cairn.ENOTFOUND)
	_, err = s.GetExperimentByName(ctx, "nope")
	wantCode(t, err, cairn.ENOTFOUND)
	// A failed create gives its id back.
	err = s.Update(ctx, func(tx cairn.Tx) error {
		if err := tx.CreateExperiment(ctx, newExperiment("d", 4)); err != nil {
			return err
		}
		return fmt.Errorf("roll back")
	})
	if err == nil {
		t.Fatal("want the rollback error")
	}
	if d := createExperiment(t, s, newExperiment("d", 4)); d.ID != "4" {
		t.Errorf("id after a rollback %q, want 4", d.ID)
	}
}

func testExperimentUniqueNames(t *testing.T, s cairn.Store) {
	ctx := t.Context()
	a := createExperiment(t, s, newExperiment("a", 1))
	err := s.Update(ctx, func(tx cairn.Tx) error { return tx.CreateExperiment(ctx, newExperiment("a", 2)) })
	wantCode(t, err, cairn.ECONFLICT)
	err = s.Update(ctx, func(tx cairn.Tx) error { return tx.CreateExperiment(ctx, newExperiment("Default", 2)) })
	wantCode(t, err, cairn.ECONFLICT)
	b := createExperiment(t, s, newExperiment("b", 3))
	b.Name = "a"
	err = s.Update(ctx, func(tx cairn.Tx) error { return tx.UpdateExperiment(ctx, b) })
	wantCode(t, err, cairn.ECONFLICT)
	// A deleted experiment keeps its name.
	a.DeletedAt = ptr(at(5))
	update(t, s, func(tx cairn.Tx) error { return tx.UpdateExperiment(ctx, a) })
	err = s.Update(ctx, func(tx cairn.Tx) error { return tx.CreateExperiment(ctx, newExperiment("a", 6)) })
	wantCode(t, err, cairn.ECONFLICT)
}

func testExperimentUpdate(t *testing.T, s cairn.Store) {
	ctx := t.Context()
	e := createExperiment(t, s, newExperiment("a", 1))
	changed := *e
	changed.Name = "renamed"
	changed.Tags = map[string]string{"k": "v"}
	changed.UpdatedAt = at(7)
	changed.DeletedAt = ptr(at(8))
	changed.ArtifactLocation = "s3://ignored"
	changed.CreatedBy = "mallory"
	update(t, s, func(tx cairn.Tx) error { return tx.UpdateExperiment(ctx, &changed) })
	got, err := s.GetExperiment(ctx, e.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := changed
	want.ArtifactLocation, want.CreatedBy = e.ArtifactLocation, e.CreatedBy
	if diff := cmp.Diff(&want, got); diff != "" {
		t.Errorf("after UpdateExperiment (-want +got):\n%s", diff)
	}
	missing := newExperiment("x", 1)
	missing.ID = "77"
	err = s.Update(ctx, func(tx cairn.Tx) error { return tx.UpdateExperiment(ctx, missing) })
	wantCode(t, err, cairn.ENOTFOUND)
}

func testExperimentList(t *testing.T, s cairn.Store) {
	ctx := t.Context()
	for i, name := range []string{"alpha", "beta", "gamma", "delta"} {
		e := newExperiment(name, 10+i)
		if i%2 == 0 {
			e.Tags = map[string]string{"team": "risk"}
		}
		createExperiment(t, s, e)
	}
	gone, err := s.GetExperimentByName(ctx, "delta")
	if err != nil {
		t.Fatal(err)
	}
	gone.DeletedAt = ptr(at(20))
	update(t, s, func(tx cairn.Tx) error { return tx.UpdateExperiment(ctx, gone) })
	names := func(q cairn.ExperimentQuery) []string {
		t.Helper()
		var out []string
		for {
			p, err := s.ListExperiments(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range p.Items {
				out = append(out, e.Name)
			}
			if p.NextToken == "" {
				return out
			}
			q.Page.Token = p.NextToken
		}
	}
	for _, tc := range []struct {
		name string
		q    cairn.ExperimentQuery
		want []string
	}{
		// The default experiment was created when the store was: the newest.
		{"default order newest first", cairn.ExperimentQuery{}, []string{"Default", "gamma", "beta", "alpha"}},
		{"pages", cairn.ExperimentQuery{Page: cairn.Page{Size: 1}}, []string{"Default", "gamma", "beta", "alpha"}},
		{"by name", cairn.ExperimentQuery{OrderBy: []cairn.OrderBy{{Field: "name"}}}, []string{"Default", "alpha", "beta", "gamma"}},
		{"tag filter", cairn.ExperimentQuery{Filter: parseFilter(t, "tags.team = 'risk'"), OrderBy: []cairn.OrderBy{{Field: "name"}}}, []string{"alpha", "gamma"}},
		{"name like", cairn.ExperimentQuery{Filter: parseFilter(t, "name LIKE '%a'")}, []string{"gamma", "beta", "alpha"}},
		{"deleted only", cairn.ExperimentQuery{Lifecycle: cairn.DeletedOnly}, []string{"delta"}},
		{"all", cairn.ExperimentQuery{Lifecycle: cairn.AllLifecycles, OrderBy: []cairn.OrderBy{{Field: "name", Desc: true}}}, []string{"gamma", "delta", "beta", "alpha", "Default"}},
		{"created after", cairn.ExperimentQuery{Filter: parseFilter(t, fmt.Sprintf("creation_time >= %d", at(11).UnixMilli()))}, []string{"Default", "gamma", "beta"}},
	} {
		if got := names(tc.q); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	_, err = s.ListExperiments(ctx, cairn.ExperimentQuery{Filter: parseFilter(t, "size > 3")})
	wantCode(t, err, cairn.EINVALID)
}

// Concurrent creates get distinct ids, none lost.
func testExperimentConcurrentCreates(t *testing.T, s cairn.Store) {
	ctx := t.Context()
	const n = 8
	var wg sync.WaitGroup
	ids := make([]string, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e := newExperiment(fmt.Sprintf("e%d", i), i)
			errs[i] = s.Update(ctx, func(tx cairn.Tx) error { return tx.CreateExperiment(ctx, e) })
			ids[i] = e.ID
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	slices.Sort(ids)
	if len(slices.Compact(ids)) != n {
		t.Errorf("ids %v are not distinct", ids)
	}
}

func testExperimentExportImport(t *testing.T, s cairn.Store) {
	ctx := t.Context()
	exp, ok := s.(cairn.Exporter)
	if !ok {
		t.Skip("the store does not export")
	}
	createExperiment(t, s, newExperiment("a", 1))
	b := createExperiment(t, s, newExperiment("b", 2))
	b.DeletedAt = ptr(at(3))
	update(t, s, func(tx cairn.Tx) error { return tx.UpdateExperiment(ctx, b) })
	var all []*cairn.Experiment
	for tok := ""; ; {
		p, err := exp.ExportExperiments(ctx, cairn.Page{Size: 2, Token: tok})
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, p.Items...)
		if tok = p.NextToken; tok == "" {
			break
		}
	}
	if len(all) != 3 || all[0].ID != "0" || all[2].DeletedAt == nil {
		t.Fatalf("exported %+v", all)
	}
	// Import into the same store: every one exists; the default equal.
	update(t, s, func(tx cairn.Tx) error {
		imp := tx.(cairn.Importer)
		for _, e := range all {
			wantCode(t, imp.ImportExperiment(ctx, e), cairn.ECONFLICT)
		}
		// A changed default replaces the store's own; others are imported
		// with their ids and move the counter.
		def := *all[0]
		def.Tags = map[string]string{"from": "source"}
		if err := imp.ImportExperiment(ctx, &def); err != nil {
			return err
		}
		far := newExperiment("far", 9)
		far.ID, far.ArtifactLocation = "40", "mlflow-artifacts:/40"
		return imp.ImportExperiment(ctx, far)
	})
	got, err := s.GetExperiment(ctx, "0")
	if err != nil || got.Tags["from"] != "source" {
		t.Errorf("default after import = %+v, %v", got, err)
	}
	if next := createExperiment(t, s, newExperiment("next", 10)); next.ID != "41" {
		t.Errorf("id after importing 40: %q, want 41", next.ID)
	}
}

func testSearchRuns(t *testing.T, s cairn.Store) {
	ctx := t.Context()
	for i := range 6 {
		r := newRun(fmt.Sprintf("r%d", i), []string{"1", "2"}[i%2], i)
		r.Name = fmt.Sprintf("run-%d", i)
		r.StartTime = at(100 - i) // older runs start later
		r.Tags = map[string]string{"team": []string{"a", "b", "c"}[i%3]}
		r.UserID = "u" + fmt.Sprint(i%2)
		if i == 5 {
			r.DeletedAt = ptr(at(200))
		}
		createRun(t, s, r)
		update(t, s, func(tx cairn.Tx) error {
			return tx.LogRun(ctx, r.ID, []cairn.MetricPoint{{Key: "auc", Value: float64(i) / 10, Timestamp: at(1)}}, map[string]string{"depth": fmt.Sprint(i)})
		})
	}
	ids := func(q cairn.RunSearch) []string {
		t.Helper()
		var out []string
		for {
			p, err := s.SearchRuns(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range p.Items {
				out = append(out, r.ID)
			}
			if p.NextToken == "" {
				return out
			}
			q.Page.Token = p.NextToken
		}
	}
	for _, tc := range []struct {
		name string
		q    cairn.RunSearch
		want []string
	}{
		{"default order: start time descending", cairn.RunSearch{ExperimentIDs: []string{"1", "2"}}, []string{"r0", "r1", "r2", "r3", "r4"}},
		{"one experiment, pages", cairn.RunSearch{ExperimentIDs: []string{"2"}, Page: cairn.Page{Size: 1}}, []string{"r1", "r3"}},
		{"no experiments", cairn.RunSearch{}, nil},
		{"metric", cairn.RunSearch{ExperimentIDs: []string{"1", "2"}, Filter: parseFilter(t, "metrics.auc >= 0.2")}, []string{"r2", "r3", "r4"}},
		{"param", cairn.RunSearch{ExperimentIDs: []string{"1", "2"}, Filter: parseFilter(t, "params.depth = '3'")}, []string{"r3"}},
		{"tag and user", cairn.RunSearch{ExperimentIDs: []string{"1", "2"}, Filter: parseFilter(t, "tags.team = 'a' AND user_id = 'u1'")}, []string{"r3"}},
		{"order by metric desc", cairn.RunSearch{ExperimentIDs: []string{"1", "2"}, OrderBy: []cairn.OrderBy{{Field: "metrics.auc", Desc: true}}}, []string{"r4", "r3", "r2", "r1", "r0"}},
		{"order by name", cairn.RunSearch{ExperimentIDs: []string{"1", "2"}, OrderBy: []cairn.OrderBy{{Field: "run_name"}}}, []string{"r0", "r1", "r2", "r3", "r4"}},
		{"deleted only", cairn.RunSearch{ExperimentIDs: []string{"2"}, Lifecycle: cairn.DeletedOnly}, []string{"r5"}},
		{"all", cairn.RunSearch{ExperimentIDs: []string{"2"}, Lifecycle: cairn.AllLifecycles}, []string{"r1", "r3", "r5"}},
		{"start time", cairn.RunSearch{ExperimentIDs: []string{"1", "2"}, Filter: parseFilter(t, fmt.Sprintf("start_time >= %d", at(98).UnixMilli()))}, []string{"r0", "r1", "r2"}},
	} {
		if got := ids(tc.q); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	_, err := s.SearchRuns(ctx, cairn.RunSearch{ExperimentIDs: []string{"1"}, Filter: parseFilter(t, "size = 1")})
	wantCode(t, err, cairn.EINVALID)
}

func testLatestMetrics(t *testing.T, s cairn.Store) {
	ctx := t.Context()
	createRun(t, s, newRun("a", "0", 1))
	createRun(t, s, newRun("b", "0", 2))
	createRun(t, s, newRun("c", "0", 3))
	update(t, s, func(tx cairn.Tx) error {
		if err := tx.LogRun(ctx, "a", []cairn.MetricPoint{
			{Key: "loss", Value: 0.9, Timestamp: at(1), Step: 1}, {Key: "loss", Value: 0.5, Timestamp: at(2), Step: 2},
			{Key: "loss", Value: 0.7, Timestamp: at(3), Step: 1}, {Key: "auc", Value: 0.6, Timestamp: at(4)},
		}, nil); err != nil {
			return err
		}
		return tx.LogRun(ctx, "b", []cairn.MetricPoint{{Key: "auc", Value: 0.1, Timestamp: at(5), Step: 7}}, nil)
	})
	got, err := s.LatestMetrics(ctx, []string{"a", "b", "c", "missing"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]cairn.MetricPoint{
		"a": {{Key: "auc", Value: 0.6, Timestamp: at(4)}, {Key: "loss", Value: 0.5, Timestamp: at(2), Step: 2}},
		"b": {{Key: "auc", Value: 0.1, Timestamp: at(5), Step: 7}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("LatestMetrics (-want +got):\n%s", diff)
	}
	if got, err := s.LatestMetrics(ctx, nil); err != nil || len(got) != 0 {
		t.Errorf("LatestMetrics(nil) = %v, %v", got, err)
	}
}

// Deleting an experiment's runs marks the active ones, of that experiment
// only; restoring brings back exactly those deleted at that time.
func testExperimentRuns(t *testing.T, s cairn.Store) {
	ctx := t.Context()
	e := createExperiment(t, s, newExperiment("with-runs", 1))
	other := createExperiment(t, s, newExperiment("other", 1))
	for _, r := range []*cairn.Run{newRun("a", e.ID, 2), newRun("b", e.ID, 2), newRun("early", e.ID, 2), newRun("elsewhere", other.ID, 2)} {
		createRun(t, s, r)
	}
	early, err := s.GetRun(ctx, "early")
	if err != nil {
		t.Fatal(err)
	}
	early.DeletedAt, early.UpdatedAt = ptr(at(3)), at(3)
	update(t, s, func(tx cairn.Tx) error { return tx.UpdateRun(ctx, early) })

	deletedAt := at(4)
	var n int64
	update(t, s, func(tx cairn.Tx) (err error) { n, err = tx.DeleteExperimentRuns(ctx, e.ID, deletedAt); return err })
	if n != 2 {
		t.Errorf("DeleteExperimentRuns marked %d runs, want 2", n)
	}
	state := func() map[string]string {
		out := map[string]string{}
		for _, id := range []string{"a", "b", "early", "elsewhere"} {
			r, err := s.GetRun(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			out[id] = "active"
			if r.DeletedAt != nil {
				out[id] = fmt.Sprintf("deleted at %d, updated at %d", r.DeletedAt.Sub(base)/time.Second, r.UpdatedAt.Sub(base)/time.Second)
			}
		}
		return out
	}
	want := map[string]string{"a": "deleted at 4, updated at 4", "b": "deleted at 4, updated at 4", "early": "deleted at 3, updated at 3", "elsewhere": "active"}
	if diff := cmp.Diff(want, state()); diff != "" {
		t.Errorf("after DeleteExperimentRuns (-want +got):\n%s", diff)
	}
	page, err := s.SearchRuns(ctx, cairn.RunSearch{ExperimentIDs: []string{e.ID}})
	if err != nil || len(page.Items) != 0 {
		t.Errorf("active runs of the deleted experiment: %v (%v), want none", page, err)
	}

	update(t, s, func(tx cairn.Tx) (err error) {
		n, err = tx.RestoreExperimentRuns(ctx, e.ID, deletedAt, at(5))
		return err
	})
	if n != 2 {
		t.Errorf("RestoreExperimentRuns restored %d runs, want 2", n)
	}
	want = map[string]string{"a": "active", "b": "active", "early": "deleted at 3, updated at 3", "elsewhere": "active"}
	if diff := cmp.Diff(want, state()); diff != "" {
		t.Errorf("after RestoreExperimentRuns (-want +got):\n%s", diff)
	}
	if r, err := s.GetRun(ctx, "a"); err != nil || !r.UpdatedAt.Equal(at(5)) {
		t.Errorf("restored run updated at %v (%v), want %v", r.UpdatedAt, err, at(5))
	}
	update(t, s, func(tx cairn.Tx) (err error) {
		n, err = tx.RestoreExperimentRuns(ctx, e.ID, deletedAt, at(6))
		return err
	})
	if n != 0 {
		t.Errorf("restoring again restored %d runs, want 0", n)
	}
}
