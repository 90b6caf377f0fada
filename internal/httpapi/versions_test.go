package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/internal/registry"
)

func TestVersionRoutes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	c := e.Client

	files := map[string]string{"model.bin": "weights", "conf/config.json": `{"a":1}`}
	spec := cairn.VersionSpec{
		Metrics: map[string]float64{"auc": 0.91}, Params: map[string]string{"lr": "0.1"},
		Framework: "sklearn", SourceCodeVersion: "abcdef1", Tags: map[string]string{"t": "1"},
		Description: "first", Aliases: []string{"champion"},
	}
	v1 := pushBytes(t, e, "churn", files, spec)
	if v1.Number != 1 || v1.Status != cairn.StatusReady || len(v1.Files) != 2 || v1.CreatedBy != "tester" || v1.CreatedByVerified {
		t.Fatalf("v1 = %+v", v1)
	}
	if len(v1.Aliases) != 1 || v1.Aliases[0] != "champion" {
		t.Fatalf("v1 aliases = %v", v1.Aliases)
	}

	// Create answers 201 for a new version, 200 for a retry of the latest.
	specJSON := func(files map[string]string) string {
		var fs []cairn.File
		for p, c := range files {
			fs = append(fs, cairn.File{Path: p, Size: int64(len(c)), Digest: cairn.DigestOf([]byte(c))})
		}
		s := spec
		s.Files = fs
		return mustJSON(t, s)
	}
	resp, body := raw(t, e, "POST", "/api/v1/models/churn/versions", specJSON(files))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("identical push = %d %s, want 200", resp.StatusCode, body)
	}
	var res registry.CreateVersionResult
	if err := json.Unmarshal(body, &res); err != nil || !res.Existing || res.Version.Number != 1 || len(res.Missing) != 0 {
		t.Fatalf("identical push = %+v, %v", res, err)
	}
	resp, body = raw(t, e, "POST", "/api/v1/models/churn/versions", specJSON(map[string]string{"model.bin": "weights v2"}))
	if resp.StatusCode != http.StatusCreated || resp.Header.Get("Location") != "/api/v1/models/churn/versions/2" {
		t.Fatalf("new push = %d (Location %q) %s, want 201", resp.StatusCode, resp.Header.Get("Location"), body)
	}
	if err := json.Unmarshal(body, &res); err != nil || res.Existing || res.Version.Status != cairn.StatusPending || len(res.Missing) != 1 {
		t.Fatalf("new push = %+v, %v", res, err)
	}
	if err := c.PutBlob(ctx, res.Missing[0], 10, strings.NewReader("weights v2")); err != nil {
		t.Fatal(err)
	}
	v2, err := c.FinalizeVersion(ctx, "churn", 2, nil)
	if err != nil || v2.Status != cairn.StatusReady {
		t.Fatalf("finalize v2 = %+v, %v", v2, err)
	}

	// 3 and v3 both name a version.
	for _, p := range []string{"/api/v1/models/churn/versions/1", "/api/v1/models/churn/versions/v1", "/api/v1/models/churn/versions/V1"} {
		resp, body := raw(t, e, "GET", p, "")
		var v cairn.Version
		if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &v) != nil || v.Number != 1 || v.Digest != v1.Digest {
			t.Fatalf("GET %s = %d %s", p, resp.StatusCode, body)
		}
	}
	_, err = c.GetVersion(ctx, "churn", 9)
	wantCode(t, err, cairn.ENOTFOUND)
	resp, body = raw(t, e, "GET", "/api/v1/models/churn/versions/x1", "")
	wantProblem(t, resp, body, http.StatusBadRequest, cairn.EINVALID)

	page, err := c.ListVersions(ctx, "churn", registry.ListRequest{})
	if err != nil || len(page.Items) != 2 || page.Items[0].Number != 2 {
		t.Fatalf("ListVersions = %+v, %v", page, err)
	}

	desc := "changed"
	up, err := c.UpdateVersion(ctx, "churn", 1, registry.VersionUpdate{Description: &desc, SetTags: map[string]string{"u": "2"}})
	if err != nil || up.Description != desc || up.Tags["u"] != "2" || up.Digest != v1.Digest {
		t.Fatalf("UpdateVersion = %+v, %v", up, err)
	}

	// Archiving a version an alias points at needs remove_aliases.
	_, err = c.ArchiveVersion(ctx, "churn", 1, false)
	wantCode(t, err, cairn.EFAILEDPRECONDITION)
	av, err := c.ArchiveVersion(ctx, "churn", 1, true)
	if err != nil || !av.Archived || len(av.Aliases) != 0 {
		t.Fatalf("archive v1 = %+v, %v", av, err)
	}
	_, err = c.GetAlias(ctx, "churn", "champion")
	wantCode(t, err, cairn.ENOTFOUND)
	rv, err := c.RestoreVersion(ctx, "churn", 1)
	if err != nil || rv.Archived {
		t.Fatalf("restore v1 = %+v, %v", rv, err)
	}

	// Delete refuses while aliased, unless asked; undelete brings it back.
	if _, err := c.SetAlias(ctx, "churn", "prod", 2, nil); err != nil {
		t.Fatal(err)
	}
	err = c.DeleteVersion(ctx, "churn", 2, false)
	wantCode(t, err, cairn.EFAILEDPRECONDITION)
	if err := c.DeleteVersion(ctx, "churn", 2, true); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetVersion(ctx, "churn", 2)
	wantCode(t, err, cairn.ENOTFOUND)
	uv, err := c.UndeleteVersion(ctx, "churn", 2)
	if err != nil || uv.DeletedAt != nil {
		t.Fatalf("undelete = %+v, %v", uv, err)
	}
	resp, body = raw(t, e, "DELETE", "/api/v1/models/churn/versions/v1?remove_aliases=maybe", "")
	wantProblem(t, resp, body, http.StatusBadRequest, cairn.EINVALID)
}

// TestVersionImmutable: no route changes a version's fixed fields. PATCH
// accepts only description and tags; anything else is an unknown field,
// refused, and the version is unchanged.
func TestVersionImmutable(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	v := pushBytes(t, e, "m", map[string]string{"a": "A"}, cairn.VersionSpec{Metrics: map[string]float64{"auc": 0.5}})
	before := takeSnapshot(t, e)
	for _, body := range []string{
		`{"files":[]}`, `{"digest":"sha256:0000000000000000000000000000000000000000000000000000000000000000"}`,
		`{"metrics":{"auc":0.99}}`, `{"params":{"a":"b"}}`, `{"created_by":"mallory"}`, `{"status":"ready"}`,
		`{"run_id":"r"}`, `{"source":"s3://x"}`, `{"version":7}`, `{"kind":"dataset"}`, `{"signature":{}}`,
	} {
		resp, b := raw(t, e, "PATCH", "/api/v1/models/m/versions/1", body)
		p := wantProblem(t, resp, b, http.StatusBadRequest, cairn.EINVALID)
		if !strings.Contains(p.Detail, "unknown field") {
			t.Errorf("PATCH %s: detail %q", body, p.Detail)
		}
	}
	if diff := cmpSnap(before, takeSnapshot(t, e)); diff != "" {
		t.Fatalf("refused PATCHes changed state:\n%s", diff)
	}
	got := must[*cairn.Version](t)(e.Client.GetVersion(context.Background(), "m", 1))
	if got.Digest != v.Digest || got.Metrics["auc"] != 0.5 || !got.CreatedAt.Equal(v.CreatedAt) {
		t.Fatalf("version changed: %+v", got)
	}
}

func TestAliasRoutes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	c := e.Client
	pushBytes(t, e, "m", map[string]string{"a": "1"}, cairn.VersionSpec{})
	pushBytes(t, e, "m", map[string]string{"a": "2"}, cairn.VersionSpec{})
	pushBytes(t, e, "m", map[string]string{"a": "3"}, cairn.VersionSpec{})

	zero := int64(0)
	a, err := c.SetAlias(ctx, "m", "champion", 1, &zero) // create only if absent
	if err != nil || a.Version != 1 || a.UpdatedBy != "tester" {
		t.Fatalf("SetAlias = %+v, %v", a, err)
	}
	_, err = c.SetAlias(ctx, "m", "champion", 2, &zero)
	wantCode(t, err, cairn.ECONFLICT)
	three := int64(3)
	_, err = c.SetAlias(ctx, "m", "champion", 2, &three) // CAS lost
	wantCode(t, err, cairn.ECONFLICT)
	one := int64(1)
	if a, err = c.SetAlias(ctx, "m", "champion", 2, &one); err != nil || a.Version != 2 {
		t.Fatalf("CAS move = %+v, %v", a, err)
	}
	if a, err = c.SetAlias(ctx, "m", "champion", 3, nil); err != nil || a.Version != 3 {
		t.Fatalf("move = %+v, %v", a, err)
	}
	got, err := c.GetAlias(ctx, "m", "champion")
	if err != nil || got.Version != 3 {
		t.Fatalf("GetAlias = %+v, %v", got, err)
	}
	v, err := c.Resolve(ctx, "m@champion")
	if err != nil || v.Number != 3 {
		t.Fatalf("Resolve m@champion = %+v, %v", v, err)
	}
	_, err = c.SetAlias(ctx, "m", "champion", 99, nil)
	wantCode(t, err, cairn.ENOTFOUND)

	err = c.DeleteAlias(ctx, "m", "champion", &one)
	wantCode(t, err, cairn.ECONFLICT)
	if _, err := c.SetAlias(ctx, "m", "staging", 1, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteAlias(ctx, "m", "champion", &three); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetAlias(ctx, "m", "champion")
	wantCode(t, err, cairn.ENOTFOUND)
	err = c.DeleteAlias(ctx, "m", "champion", nil)
	wantCode(t, err, cairn.ENOTFOUND)

	// History: newest first, per alias and for the whole model, paged.
	h, err := c.AliasHistory(ctx, "m", "champion", 0, "")
	if err != nil {
		t.Fatal(err)
	}
	var moves []string
	for _, m := range h.Items {
		moves = append(moves, mustJSON(t, []int64{m.From, m.To}))
	}
	if want := "[3,0] [2,3] [1,2] [0,1]"; strings.Join(moves, " ") != want {
		t.Fatalf("champion history = %s, want %s", strings.Join(moves, " "), want)
	}
	for _, m := range h.Items {
		if m.Actor != "tester" || m.RequestID == "" {
			t.Fatalf("move %+v lacks actor or request id", m)
		}
	}
	all, err := c.AliasHistory(ctx, "m", "", 2, "")
	if err != nil || len(all.Items) != 2 || all.NextToken == "" {
		t.Fatalf("model history page 1 = %+v, %v", all, err)
	}
	rest, err := c.AliasHistory(ctx, "m", "", 10, all.NextToken)
	if err != nil || len(rest.Items) != 3 {
		t.Fatalf("model history page 2 = %+v, %v", rest, err)
	}

	// The wire format of PUT.
	resp, body := raw(t, e, "PUT", "/api/v1/models/m/aliases/wire", `{"version":2}`)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("PUT alias = %d %s", resp.StatusCode, body)
	}
	resp, body = raw(t, e, "PUT", "/api/v1/models/m/aliases/wire", `{}`)
	wantProblem(t, resp, body, http.StatusBadRequest, cairn.EINVALID)
	resp, body = raw(t, e, "DELETE", "/api/v1/models/m/aliases/wire?if_current=x", "")
	wantProblem(t, resp, body, http.StatusBadRequest, cairn.EINVALID)
}

func TestResolve(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	pushBytes(t, e, "m", map[string]string{"a": "1"}, cairn.VersionSpec{Aliases: []string{"prod"}})
	pushBytes(t, e, "m", map[string]string{"a": "2"}, cairn.VersionSpec{})
	for ref, want := range map[string]int64{
		"m": 2, "m@latest": 2, "m@LATEST": 2, "m@v1": 1, "m@V2": 2, "m@prod": 1,
		"models:/m/1": 1, "models:/m@prod": 1, "models:/m/latest": 2,
	} {
		v, err := e.Client.Resolve(ctx, ref)
		if err != nil || v.Number != want {
			t.Errorf("Resolve(%q) = %+v, %v; want version %d", ref, v, err, want)
		}
	}
	for ref, code := range map[string]cairn.ErrorCode{
		"m@v9": cairn.ENOTFOUND, "m@nope": cairn.ENOTFOUND, "other": cairn.ENOTFOUND,
		"m@": cairn.EINVALID, "m@a b": cairn.EINVALID, "models:/m": cairn.EINVALID,
	} {
		_, err := e.Client.Resolve(ctx, ref)
		if cairn.ErrorCodeOf(err) != code {
			t.Errorf("Resolve(%q) error = %v, want %s", ref, err, code)
		}
	}
}

// TestSearchVersionsAcrossModels: GET /api/v1/versions filters over every
// model, pages, and refuses what the filter grammar refuses.
func TestSearchVersionsAcrossModels(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	for i, m := range []string{"churn", "fraud", "churn-eu"} {
		for j := 0; j < 3; j++ {
			auc := 0.80 + 0.05*float64(j)
			pushBytes(t, e, m, map[string]string{"w": m + strings.Repeat("x", i*3+j)}, cairn.VersionSpec{
				Metrics: map[string]float64{"auc": auc}, Tags: map[string]string{"team": map[bool]string{true: "fraud", false: "growth"}[m == "fraud"]},
			})
		}
	}
	var got []string
	req := registry.ListRequest{Filter: "metrics.auc > 0.84 AND tags.team = 'growth'", PageSize: 2}
	for {
		page, err := e.Client.SearchVersions(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range page.Items {
			got = append(got, v.Ref())
		}
		if page.NextToken == "" {
			break
		}
		req.PageToken = page.NextToken
	}
	want := "churn@v3 churn@v2 churn-eu@v3 churn-eu@v2"
	if strings.Join(got, " ") != want {
		t.Errorf("search = %v, want %s", got, want)
	}
	_, err := e.Client.SearchVersions(ctx, registry.ListRequest{Filter: "nonsense.field = 1"})
	wantCode(t, err, cairn.EINVALID)
}

// The read routes render versions from their pre-encoded fixed fields (the
// fast path) into the very bytes that encoding the decoded version gives
// (the slow path): resolve, get, a model's list and the search across
// models, for ready versions and a pending one, after tag, description
// and alias changes.
func TestVersionReadsRenderAsDecoded(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	spec := cairn.VersionSpec{
		Metrics: map[string]float64{"auc": 0.91, "tiny": 1e-9}, Params: map[string]string{"html": "<b>&</b>"},
		Signature: json.RawMessage(` { "inputs" : [ {"name": "x<1>", "type": "double"} ] } `),
		Framework: "sklearn", SourceCodeVersion: "abcdef1", Source: "s3://b/k?a=1&b=2",
		Tags: map[string]string{"team": "fraud"}, Description: "<em>first</em> \u2028", Aliases: []string{"champion"},
	}
	pushBytes(t, e, "churn", map[string]string{"model.bin": "weights", "deps.txt": "x"}, spec)
	spec.Aliases = nil
	pushBytes(t, e, "churn", map[string]string{"model.bin": "weights 2"}, spec)
	pushBytes(t, e, "fraud", map[string]string{"m.bin": "w"}, cairn.VersionSpec{})
	if _, err := e.Client.CreateVersion(ctx, "fraud", cairn.VersionSpec{
		Files: []cairn.File{{Path: "p.bin", Size: 1, Digest: cairn.DigestOf([]byte("p"))}}}); err != nil {
		t.Fatal(err) // fraud@v2 stays pending
	}
	desc := "changed <again>"
	if _, err := e.Service.UpdateVersion(ctx, "churn", 1, registry.VersionUpdate{Description: &desc,
		SetTags: map[string]string{"stage": "a&b"}}); err != nil {
		t.Fatal(err)
	}
	if v, err := e.Store.GetVersion(cairn.NewContextWithFixedJSON(ctx), "churn", 1); err != nil || v.FixedJSON == nil {
		t.Fatalf("churn@v1 read to render: %+v, %v; want FixedJSON set", v, err)
	}

	get := func(path string) string {
		t.Helper()
		resp, body := raw(t, e, "GET", path, "")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s = %d %s", path, resp.StatusCode, body)
		}
		return string(body)
	}
	encode := func(v any) string {
		t.Helper()
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return string(b) + "\n"
	}
	for _, ref := range []string{"churn@champion", "churn@latest", "churn@v1", "fraud@v2", "fraud"} {
		want, err := e.Service.Resolve(ctx, ref)
		if err != nil {
			t.Fatal(err)
		}
		if got := get("/api/v1/resolve/" + ref); got != encode(want) {
			t.Errorf("resolve %s:\n%s\nwant\n%s", ref, got, encode(want))
		}
		if got := get(fmt.Sprintf("/api/v1/models/%s/versions/%d", want.Model, want.Number)); got != encode(want) {
			t.Errorf("get %s:\n%s\nwant\n%s", ref, got, encode(want))
		}
	}
	for _, l := range []struct {
		path, model string
		req         registry.ListRequest
	}{
		{"/api/v1/models/churn/versions", "churn", registry.ListRequest{}},
		{"/api/v1/models/churn/versions?page_size=1", "churn", registry.ListRequest{PageSize: 1}},
		{"/api/v1/versions", "", registry.ListRequest{}},
		{"/api/v1/versions?filter=metrics.auc+%3E+0.5", "", registry.ListRequest{Filter: "metrics.auc > 0.5"}},
	} {
		want, err := e.Service.ListVersions(ctx, l.model, l.req)
		if err != nil {
			t.Fatal(err)
		}
		if got := get(l.path); got != encode(want) {
			t.Errorf("GET %s:\n%s\nwant\n%s", l.path, got, encode(want))
		}
	}
}
