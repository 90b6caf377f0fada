package mlflowapi_test

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/internal/registry"
)

func registryModelCreate(name string, kind cairn.Kind) registry.ModelCreate {
	return registry.ModelCreate{Name: name, Kind: kind}
}

// TestVisibleNatively registers through the MLflow API and reads back
// through the native API and the service: the version record filled in,
// audit entries and events written, lineage to a Cairn run recorded.
func TestVisibleNatively(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	run, err := e.Service.CreateRun(ctx, registry.RunCreate{Name: "train"})
	if err != nil {
		t.Fatal(err)
	}
	r := e.do("POST", "registered-models/create", `{"name": "churn", "description": "d"}`, "", "X-Cairn-User", "alice")
	if r.Status != 200 {
		t.Fatalf("create: %d %s", r.Status, r.Raw)
	}
	body := jsonBody(t, map[string]any{
		"name": "churn", "source": "s3://models/churn", "run_id": run.ID, "run_link": "http://ui/runs/" + run.ID,
		"description": "first", "tags": []map[string]string{{"key": "k", "value": "v"}},
	})
	for range 2 {
		if r := e.do("POST", "model-versions/create", body, "", "X-Cairn-User", "alice"); r.Status != 200 {
			t.Fatalf("create version: %d %s", r.Status, r.Raw)
		}
	}
	// A client that identifies itself with basic auth (MLFLOW_TRACKING_USERNAME).
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("bob:secret"))
	if r := e.do("POST", "model-versions/create", `{"name": "churn", "source": "gs://b/c"}`, "", "Authorization", basic); r.Status != 200 {
		t.Fatalf("create version: %d %s", r.Status, r.Raw)
	}

	// The same source twice is two versions, never deduplicated.
	page, err := e.Client.ListVersions(ctx, "churn", registry.ListRequest{OrderBy: []string{"version ASC"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != 3 {
		t.Fatalf("%d versions natively, want 3", len(page.Items))
	}
	v1, v2, v3 := page.Items[0], page.Items[1], page.Items[2]
	for _, v := range []*cairn.Version{v1, v2} {
		if v.Source != "s3://models/churn" || v.RunID != run.ID || v.CreatedBy != "alice" || v.CreatedByVerified ||
			v.Status != cairn.StatusReady || len(v.Files) != 0 || v.Description != "first" ||
			v.Tags["k"] != "v" || v.Tags["cairn.mlflow.run_link"] != "http://ui/runs/"+run.ID || v.Stage != cairn.StageNone {
			t.Errorf("version %d natively: %+v", v.Number, v)
		}
	}
	if v1.Number != 1 || v2.Number != 2 || v3.Number != 3 {
		t.Errorf("numbers %d %d %d", v1.Number, v2.Number, v3.Number)
	}
	if v3.CreatedBy != "bob" || v3.Source != "gs://b/c" {
		t.Errorf("basic-auth version: created_by %q source %q", v3.CreatedBy, v3.Source)
	}
	// churn@latest resolves to the newest MLflow registration.
	if v, err := e.Client.Resolve(ctx, "churn@latest"); err != nil || v.Number != 3 {
		t.Errorf("churn@latest = %v, %v", v, err)
	}

	// Audit: one entry per change, with the actor.
	entries, err := e.Service.ListAudit(ctx, cairn.AuditQuery{Target: "churn", Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range entries {
		got = append(got, a.Actor+" "+a.Action+" "+a.Target)
	}
	for _, want := range []string{
		"alice model.created churn",
		"alice version.created churn@v1", "alice version.ready churn@v1", "alice lineage.added churn@v1",
		"alice version.created churn@v2", "alice version.ready churn@v2",
		"bob version.created churn@v3", "bob version.ready churn@v3",
	} {
		if !slices.Contains(got, want) {
			t.Errorf("no audit entry %q in %v", want, got)
		}
	}
	events, err := e.Service.ListEvents(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, ev := range events {
		if ev.Model == "churn" {
			types = append(types, ev.Type)
		}
	}
	if n := count(types, cairn.EventVersionReady); n != 3 {
		t.Errorf("%d version.ready events, want 3: %v", n, types)
	}
	if n := count(types, cairn.EventVersionCreated); n != 3 {
		t.Errorf("%d version.created events, want 3: %v", n, types)
	}

	// Lineage: the run produced the versions registered with its id.
	g, err := e.Service.Lineage(ctx, "churn@v1", cairn.Upstream, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Edges) != 1 || g.Edges[0].Type != cairn.EdgeProduced || g.Edges[0].From.RunID != run.ID {
		t.Errorf("lineage of churn@v1: %+v", g.Edges)
	}

	// MLflow changes show natively, native changes show through MLflow.
	if _, err := e.Client.SetAlias(ctx, "churn", "champion", 2, nil); err != nil {
		t.Fatal(err)
	}
	r = e.ok("GET", "registered-models/alias", "", "name=churn&alias=champion")
	if diffs := match("$", decodeWant(t, `{"model_version": {"version": "2", "aliases": ["champion"], "user_id": "alice"}}`), any(map[string]any(r.Body))); len(diffs) > 0 {
		t.Error(diffs)
	}
	e.ok("POST", "model-versions/transition-stage", `{"name": "churn", "version": "1", "stage": "Staging", "archive_existing_versions": false}`, "")
	if v, _ := e.Client.GetVersion(ctx, "churn", 1); v == nil || v.Stage != cairn.StageStaging {
		t.Errorf("stage natively: %+v", v)
	}
}

func count(xs []string, x string) int {
	n := 0
	for _, y := range xs {
		if y == x {
			n++
		}
	}
	return n
}

// TestCopyFromCairnVersion registers models:/NAME/N of a Cairn version that
// has files, as MlflowClient.copy_model_version does: the copy gets the
// same files and is ready at once, and its download URI is the source.
func TestCopyFromCairnVersion(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	data := []byte("model bytes")
	d := cairn.DigestOf(data)
	if err := e.Blobs.Put(ctx, d, int64(len(data)), bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	res, err := e.Service.CreateVersion(ctx, "src", cairn.VersionSpec{Files: []cairn.File{{Path: "model.pkl", Size: int64(len(data)), Digest: d}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Service.FinalizeVersion(ctx, "src", res.Version.Number, []string{"prod"}); err != nil {
		t.Fatal(err)
	}
	// The native version has files but no source: MLflow clients download
	// its files through the artifact proxy.
	r := e.do("GET", "model-versions/get-download-uri", "", "name=src&version=1")
	if r.Status != http.StatusOK || r.Body["artifact_uri"] != "mlflow-artifacts:/_cairn/versions/src/1" {
		t.Errorf("download uri of a stored version without source: %d %s", r.Status, r.Raw)
	}
	if st, body := e.get("_cairn/versions/src/1/model.pkl"); st != 200 || body != "model bytes" {
		t.Errorf("the native version's file through the proxy: %d %q", st, body)
	}
	e.ok("POST", "registered-models/create", `{"name": "dst"}`, "")
	for i, source := range []string{"models:/src/1", "models:/src@prod"} {
		r := e.ok("POST", "model-versions/create", jsonBody(t, map[string]string{"name": "dst", "source": source}), "")
		if diffs := match("$", decodeWant(t, `{"model_version": {"status": "READY", "source": "`+source+`"}}`), any(map[string]any(r.Body))); len(diffs) > 0 {
			t.Error(diffs)
		}
		v, err := e.Service.GetVersion(ctx, "dst", int64(i+1))
		if err != nil {
			t.Fatal(err)
		}
		if len(v.Files) != 1 || v.Files[0].Digest != d || v.Digest != res.Version.Digest || v.Status != cairn.StatusReady {
			t.Errorf("copy %s: files %+v digest %s status %s", source, v.Files, v.Digest, v.Status)
		}
		r = e.ok("GET", "model-versions/get-download-uri", "", q("name", "dst", "version", v.Ref()[len("dst@v"):]))
		if want := "mlflow-artifacts:/_cairn/versions/dst/" + v.Ref()[len("dst@v"):]; r.Body["artifact_uri"] != want {
			t.Errorf("download uri %v, want %s", r.Body["artifact_uri"], want)
		}
	}
	// A version's download URI copies it too.
	r = e.ok("POST", "model-versions/create", `{"name": "dst", "source": "mlflow-artifacts:/_cairn/versions/src/1"}`, "")
	if v, _ := e.Service.GetVersion(ctx, "dst", 3); v == nil || v.Digest != res.Version.Digest {
		t.Errorf("copy from a download URI: %+v (%s)", v, r.Raw)
	}
	// A models:/ URI Cairn cannot resolve is an external reference.
	r = e.ok("POST", "model-versions/create", `{"name": "dst", "source": "models:/elsewhere/4"}`, "")
	if v, _ := e.Service.GetVersion(ctx, "dst", 4); v == nil || len(v.Files) != 0 || v.Source != "models:/elsewhere/4" {
		t.Errorf("external models:/ reference: %+v (%s)", v, r.Raw)
	}
}

// TestMiddleware checks that the native API's middleware wraps the MLflow
// API: the route label of the access log and metrics is the MLflow route,
// unknown paths are one bounded label, and a request id is returned.
func TestMiddleware(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.do("POST", "registered-models/create", `{"name": "m"}`, "", "X-Request-Id", "req-123")
	if r.Header.Get("X-Request-Id") != "req-123" {
		t.Errorf("X-Request-Id %q", r.Header.Get("X-Request-Id"))
	}
	e.do("GET", "no/such/endpoint", "", "")
	e.do("GET", "registered-models/get", "", "name=ghost", "X-Request-Id", "req-456")
	logs := e.Logs.String()
	for _, want := range []string{
		`"route":"/api/2.0/mlflow/registered-models/create"`,
		`"request_id":"req-123"`,
		`"route":"/api/2.0/mlflow/"`,
		`"route":"/api/2.0/mlflow/registered-models/get"`,
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("access log lacks %s:\n%s", want, logs)
		}
	}
	metrics, err := e.Client.Metrics(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(metrics, `route="/api/2.0/mlflow/registered-models/create"`) {
		t.Errorf("metrics lack the MLflow route:\n%s", metrics)
	}
}
