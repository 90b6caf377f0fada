package httpapi_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/internal/registry"
)

func TestModelRoutes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	c := e.Client

	m, err := c.CreateModel(ctx, registry.ModelCreate{Name: "churn", Kind: cairn.KindModel, Description: "# Churn", Tags: map[string]string{"team": "fraud"}})
	if err != nil {
		t.Fatal(err)
	}
	if m.Name != "churn" || m.Kind != cairn.KindModel || m.Tags["team"] != "fraud" || m.CreatedBy != "tester" {
		t.Fatalf("created %+v", m)
	}
	_, err = c.CreateModel(ctx, registry.ModelCreate{Name: "churn"})
	wantCode(t, err, cairn.ECONFLICT)

	// A name that needs escaping in a URL path round-trips.
	odd := "my model? #1 100%"
	if _, err := c.CreateModel(ctx, registry.ModelCreate{Name: odd}); err != nil {
		t.Fatal(err)
	}
	got, err := c.GetModel(ctx, odd)
	if err != nil || got.Name != odd {
		t.Fatalf("GetModel(%q) = %+v, %v", odd, got, err)
	}

	got, err = c.GetModel(ctx, "churn")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(m, got); diff != "" {
		t.Fatalf("GetModel differs from CreateModel (-create +get):\n%s", diff)
	}
	_, err = c.GetModel(ctx, "nope")
	wantCode(t, err, cairn.ENOTFOUND)

	// List with paging: two models, one per page.
	p1, err := c.ListModels(ctx, registry.ListRequest{PageSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(p1.Items) != 1 || p1.NextToken == "" {
		t.Fatalf("page 1 = %d items, token %q", len(p1.Items), p1.NextToken)
	}
	p2, err := c.ListModels(ctx, registry.ListRequest{PageSize: 1, PageToken: p1.NextToken})
	if err != nil {
		t.Fatal(err)
	}
	if len(p2.Items) != 1 || p2.Items[0].Name == p1.Items[0].Name {
		t.Fatalf("page 2 = %+v", p2.Items)
	}

	desc := "new description"
	up, err := c.UpdateModel(ctx, "churn", registry.ModelUpdate{Description: &desc, SetTags: map[string]string{"stage": "dev"}, DeleteTags: []string{"team"}})
	if err != nil {
		t.Fatal(err)
	}
	if up.Description != desc || up.Tags["stage"] != "dev" || up.Tags["team"] != "" {
		t.Fatalf("updated %+v", up)
	}

	renamed, err := c.RenameModel(ctx, "churn", "churn2")
	if err != nil || renamed.Name != "churn2" {
		t.Fatalf("rename = %+v, %v", renamed, err)
	}
	_, err = c.GetModel(ctx, "churn")
	wantCode(t, err, cairn.ENOTFOUND)
	_, err = c.RenameModel(ctx, "churn2", odd)
	wantCode(t, err, cairn.ECONFLICT)

	a, err := c.ArchiveModel(ctx, "churn2")
	if err != nil || !a.Archived {
		t.Fatalf("archive = %+v, %v", a, err)
	}
	r, err := c.RestoreModel(ctx, "churn2")
	if err != nil || r.Archived {
		t.Fatalf("restore = %+v, %v", r, err)
	}

	if err := c.DeleteModel(ctx, "churn2"); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetModel(ctx, "churn2")
	wantCode(t, err, cairn.ENOTFOUND)
	u, err := c.UndeleteModel(ctx, "churn2")
	if err != nil || u.DeletedAt != nil {
		t.Fatalf("undelete = %+v, %v", u, err)
	}
	if _, err := c.GetModel(ctx, "churn2"); err != nil {
		t.Fatal(err)
	}

	// Statuses and Location on the wire.
	resp, body := raw(t, e, "POST", "/api/v1/models", `{"name":"wire"}`)
	if resp.StatusCode != http.StatusCreated || resp.Header.Get("Location") != "/api/v1/models/wire" {
		t.Fatalf("POST /models = %d, Location %q; %s", resp.StatusCode, resp.Header.Get("Location"), body)
	}
	resp, body = raw(t, e, "DELETE", "/api/v1/models/wire", "")
	if resp.StatusCode != http.StatusNoContent || len(body) != 0 {
		t.Fatalf("DELETE = %d %q", resp.StatusCode, body)
	}
}

func TestModelActionBodies(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	raw(t, e, "POST", "/api/v1/models", `{"name":"m"}`)
	// Action routes take no body, {} or nothing else.
	for _, body := range []string{"", "{}", " {} \n"} {
		resp, b := raw(t, e, "POST", "/api/v1/models/m/archive", body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("archive with body %q = %d %s", body, resp.StatusCode, b)
		}
	}
	resp, b := raw(t, e, "POST", "/api/v1/models/m/restore", `{"force":true}`)
	p := wantProblem(t, resp, b, http.StatusBadRequest, cairn.EINVALID)
	if want := `unknown field "force"`; !contains(p.Detail, want) {
		t.Fatalf("detail %q lacks %q", p.Detail, want)
	}
}

// TestListFilterAndOrder: filter and order_by reach the store's compiler.
func TestListFilterAndOrder(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	c := e.Client
	for _, name := range []string{"churn-a", "churn-b", "fraud"} {
		must[*cairn.Model](t)(c.CreateModel(ctx, registry.ModelCreate{Name: name, Tags: map[string]string{"team": name[:5]}}))
	}
	page, err := c.ListModels(ctx, registry.ListRequest{Filter: "name LIKE 'churn%'", OrderBy: []string{"name DESC"}})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range page.Items {
		names = append(names, m.Name)
	}
	if diff := cmp.Diff([]string{"churn-b", "churn-a"}, names); diff != "" {
		t.Fatalf("filtered models (-want +got):\n%s", diff)
	}
	page, err = c.ListModels(ctx, registry.ListRequest{Filter: "tags.team = 'fraud' OR name = 'churn-a'", OrderBy: []string{"name"}})
	if err != nil || len(page.Items) != 2 || page.Items[0].Name != "churn-a" {
		t.Fatalf("OR filter = %+v, %v", page, err)
	}

	pushBytes(t, e, "churn-a", map[string]string{"w": "1"}, cairn.VersionSpec{Metrics: map[string]float64{"auc": 0.7}})
	pushBytes(t, e, "churn-a", map[string]string{"w": "2"}, cairn.VersionSpec{Metrics: map[string]float64{"auc": 0.9}})
	pushBytes(t, e, "churn-a", map[string]string{"w": "3"}, cairn.VersionSpec{Metrics: map[string]float64{"auc": 0.8}})
	vp, err := c.ListVersions(ctx, "churn-a", registry.ListRequest{Filter: "metrics.auc >= 0.75", OrderBy: []string{"metrics.auc DESC"}})
	if err != nil {
		t.Fatal(err)
	}
	var nums []int64
	for _, v := range vp.Items {
		nums = append(nums, v.Number)
	}
	if diff := cmp.Diff([]int64{2, 3}, nums); diff != "" {
		t.Fatalf("filtered versions (-want +got):\n%s", diff)
	}
	// order_by repeats on the wire.
	resp, body := raw(t, e, "GET", "/api/v1/models?order_by=team&order_by=name", "")
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("order by an unknown field = %d %s", resp.StatusCode, body)
	}
	resp, body = raw(t, e, "GET", "/api/v1/models?order_by=created_at%20DESC&order_by=name", "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("two order_by = %d %s", resp.StatusCode, body)
	}
}
