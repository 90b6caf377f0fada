package storetest

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cairn-registry/cairn"
)

var filterTests = []test{
	{"Models", testFilterModels},
	{"Versions", testFilterVersions},
}

// parseFilter parses a filter expression; "" is no filter.
func parseFilter(t testing.TB, s string) *cairn.Filter {
	t.Helper()
	if s == "" {
		return nil
	}
	f, err := cairn.ParseFilter(s)
	if err != nil {
		t.Fatalf("ParseFilter(%q): %v", s, err)
	}
	return f
}

// listAllModels pages through ListModels and returns the names listed.
func listAllModels(t testing.TB, s cairn.Store, q cairn.ModelQuery) []string {
	t.Helper()
	names := []string{}
	for pages := 0; ; pages++ {
		if pages > 1000 {
			t.Fatal("ListModels never ends")
		}
		p, err := s.ListModels(t.Context(), q)
		if err != nil {
			t.Fatal(err)
		}
		if q.Page.Size > 0 && len(p.Items) > q.Page.Size {
			t.Fatalf("page of %d items, asked for %d", len(p.Items), q.Page.Size)
		}
		names = append(names, modelNames(p.Items)...)
		if p.NextToken == "" {
			return names
		}
		q.Page.Token = p.NextToken
	}
}

// filterFixture is a small registry to filter:
//
//	model       kind     tags         versions (metrics.auc, params, tags)   aliases
//	churn       model    team=fraud   v1 .85, v2 .93 team=x, v3 .95          champion→v2, beta→v3
//	churn-lite  model    team=growth  v1 .91 lr=0.1                          champion→v1
//	fraud       dataset  team=fraud   v1 (no metrics) team=x
//	other       model    (none)       —
//	gone        model    team=fraud   v1 .99 (model deleted)
func filterFixture(t testing.TB, s cairn.Store) {
	t.Helper()
	ctx := t.Context()
	model := func(name string, kind cairn.Kind, tags map[string]string, deleted bool) {
		m := newModel(name)
		m.Kind, m.Tags = kind, tags
		if deleted {
			m.DeletedAt = ptr(at(1))
		}
		update(t, s, func(tx cairn.Tx) error { return tx.CreateModel(ctx, m) })
	}
	model("churn", cairn.KindModel, map[string]string{"team": "fraud"}, false)
	model("churn-lite", cairn.KindModel, map[string]string{"team": "growth"}, false)
	model("fraud", cairn.KindDataset, map[string]string{"team": "fraud"}, false)
	model("other", cairn.KindModel, nil, false)
	model("gone", cairn.KindModel, map[string]string{"team": "fraud"}, true)
	auc := func(x float64) func(*cairn.Version) {
		return func(v *cairn.Version) { v.Metrics = map[string]float64{"auc": x} }
	}
	createVersion(t, s, "churn", auc(0.85))
	createVersion(t, s, "churn", func(v *cairn.Version) { auc(0.93)(v); v.Tags = map[string]string{"team": "x"} })
	createVersion(t, s, "churn", auc(0.95))
	createVersion(t, s, "churn-lite", func(v *cairn.Version) { auc(0.91)(v); v.Params = map[string]string{"lr": "0.1"} })
	createVersion(t, s, "fraud", func(v *cairn.Version) {
		v.Tags = map[string]string{"team": "x"}
		v.Flag, v.Flagged = &cairn.Flag{Signal: 1, Kind: "drift", Value: 1, Threshold: 0.5, FlaggedBy: "m", FlaggedAt: at(9)}, true
	})
	createVersion(t, s, "gone", auc(0.99))
	moveAlias(t, s, "churn", "champion", 0, 2, at(10))
	moveAlias(t, s, "churn", "beta", 0, 3, at(11))
	moveAlias(t, s, "churn-lite", "champion", 0, 1, at(12))
}

func testFilterModels(t *testing.T, s cairn.Store) {
	filterFixture(t, s)
	for _, tc := range []struct {
		name    string
		filter  string
		order   []cairn.OrderBy
		deleted bool
		want    []string
	}{
		{"none", "", nil, false, []string{"churn", "churn-lite", "fraud", "other"}},
		{"tag", "tags.team = 'fraud'", nil, false, []string{"churn", "fraud"}},
		{"tag with deleted", "tags.team = 'fraud'", nil, true, []string{"churn", "fraud", "gone"}},
		{"name like", "name LIKE 'ch%'", nil, false, []string{"churn", "churn-lite"}},
		{"alias", "alias = 'champion'", nil, false, []string{"churn", "churn-lite"}},
		{"kind", "kind = 'dataset'", nil, false, []string{"fraud"}},
		{"or", "tags.team = 'fraud' OR name = 'other'", nil, false, []string{"churn", "fraud", "other"}},
		{"parentheses", "(name LIKE 'ch%' OR kind = 'dataset') AND tags.team = 'fraud'", nil, false, []string{"churn", "fraud"}},
		{"not", "NOT name LIKE 'ch%'", nil, false, []string{"fraud", "other"}},
		{"order name desc", "", []cairn.OrderBy{{Field: "name", Desc: true}}, false, []string{"other", "fraud", "churn-lite", "churn"}},
		{"filter and order", "name LIKE '%r%'", []cairn.OrderBy{{Field: "name", Desc: true}}, false, []string{"other", "fraud", "churn-lite", "churn"}},
		{"matches nothing", "name = 'nope'", nil, false, []string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, size := range []int{0, 1, 3} {
				got := listAllModels(t, s, cairn.ModelQuery{Filter: parseFilter(t, tc.filter), OrderBy: tc.order,
					IncludeDeleted: tc.deleted, Page: cairn.Page{Size: size}})
				if diff := cmp.Diff(tc.want, got); diff != "" {
					t.Errorf("page size %d (-want +got):\n%s", size, diff)
				}
			}
		})
	}
	ctx := t.Context()
	_, err := s.ListModels(ctx, cairn.ModelQuery{Filter: parseFilter(t, "bogus = 'x'")})
	wantCode(t, err, cairn.EINVALID)
	_, err = s.ListModels(ctx, cairn.ModelQuery{OrderBy: []cairn.OrderBy{{Field: "bogus"}}})
	wantCode(t, err, cairn.EINVALID)
}

func testFilterVersions(t *testing.T, s cairn.Store) {
	filterFixture(t, s)
	byAUC := []cairn.OrderBy{{Field: "metrics.auc", Desc: true}}
	for _, tc := range []struct {
		name   string
		model  string
		filter string
		order  []cairn.OrderBy
		want   []string
	}{
		{"none", "", "", nil, []string{"churn@v3", "churn@v2", "churn@v1", "churn-lite@v1", "fraud@v1"}},
		{"metric", "", "metrics.auc > 0.9", nil, []string{"churn@v3", "churn@v2", "churn-lite@v1"}},
		{"metric in one model", "churn", "metrics.auc > 0.9", nil, []string{"churn@v3", "churn@v2"}},
		{"tag", "", "tags.team = 'x'", nil, []string{"churn@v2", "fraud@v1"}},
		{"alias", "", "alias = 'champion'", nil, []string{"churn@v2", "churn-lite@v1"}},
		{"alias in one model", "churn", "alias = 'beta'", nil, []string{"churn@v3"}},
		{"name like and metric", "", "name LIKE 'ch%' AND metrics.auc < 0.9", nil, []string{"churn@v1"}},
		{"or", "", "metrics.auc > 0.94 OR params.lr = '0.1'", nil, []string{"churn@v3", "churn-lite@v1"}},
		{"parentheses", "", "(alias = 'champion' OR version = 3) AND name = 'churn'", nil, []string{"churn@v3", "churn@v2"}},
		// Versions lacking the metric sort last, whichever the direction.
		{"order metric desc", "", "", byAUC, []string{"churn@v3", "churn@v2", "churn-lite@v1", "churn@v1", "fraud@v1"}},
		{"order metric asc", "", "", []cairn.OrderBy{{Field: "metrics.auc"}},
			[]string{"churn@v1", "churn-lite@v1", "churn@v2", "churn@v3", "fraud@v1"}},
		// A model, a filter and an order each bind parameters; their
		// order must survive paging.
		{"model, filter and order", "churn", "metrics.auc > 0.8 AND tags.team != 'y'", []cairn.OrderBy{{Field: "metrics.auc"}},
			[]string{"churn@v1", "churn@v2", "churn@v3"}},
		{"order version asc", "churn", "", []cairn.OrderBy{{Field: "version"}}, []string{"churn@v1", "churn@v2", "churn@v3"}},
		{"matches nothing", "", "metrics.auc > 2", nil, []string{}},
		{"flagged", "", "flagged = true", nil, []string{"fraud@v1"}},
		{"not flagged", "", "flagged != true AND name LIKE 'churn%'", nil, []string{"churn@v3", "churn@v2", "churn@v1", "churn-lite@v1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, size := range []int{0, 1, 2} {
				got := listAllVersions(t, s, cairn.VersionQuery{Model: tc.model, Filter: parseFilter(t, tc.filter),
					OrderBy: tc.order, Page: cairn.Page{Size: size}})
				if diff := cmp.Diff(tc.want, versionNumbers(got)); diff != "" {
					t.Errorf("page size %d (-want +got):\n%s", size, diff)
				}
			}
		})
	}
	// Deleted models' versions come back with IncludeDeleted.
	got := listAllVersions(t, s, cairn.VersionQuery{Filter: parseFilter(t, "metrics.auc > 0.96"), IncludeDeleted: true})
	if diff := cmp.Diff([]string{"gone@v1"}, versionNumbers(got)); diff != "" {
		t.Errorf("IncludeDeleted (-want +got):\n%s", diff)
	}
	ctx := t.Context()
	_, err := s.ListVersions(ctx, cairn.VersionQuery{Filter: parseFilter(t, "bogus = 1")})
	wantCode(t, err, cairn.EINVALID)
	_, err = s.ListVersions(ctx, cairn.VersionQuery{OrderBy: []cairn.OrderBy{{Field: "bogus"}}})
	wantCode(t, err, cairn.EINVALID)
	_, err = s.ListVersions(ctx, cairn.VersionQuery{Filter: parseFilter(t, "metrics.auc = 'high'")})
	wantCode(t, err, cairn.EINVALID)
}
