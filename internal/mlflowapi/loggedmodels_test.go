package mlflowapi_test

import (
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/cairn-registry/cairn"
)

var loggedModelIDPattern = regexp.MustCompile(`^m-[0-9a-f]{32}$`)

// createLoggedModel creates a logged model through the API and returns its
// info.
func (e *env) createLoggedModel(body string) map[string]any {
	e.t.Helper()
	r := e.ok("POST", "logged-models", body, "")
	return r.Body["model"].(map[string]any)["info"].(map[string]any)
}

// wantError checks an MLflow error answer.
func wantError(t *testing.T, r *response, status int, code, msg string) {
	t.Helper()
	if r.Status != status || r.Body["error_code"] != code || !strings.Contains(fmt.Sprint(r.Body["message"]), msg) {
		t.Errorf("got %d %s, want %d %s with %q", r.Status, r.Raw, status, code, msg)
	}
}

// MLflow 3's log_model: create (PENDING, an mlflow-artifacts: location),
// upload the files through the proxy to that location, finalize (READY);
// get answers the same model under both prefixes, and each change is an
// event of the feed.
func TestLoggedModelLifecycle(t *testing.T) {
	e := newEnv(t)
	info := e.createLoggedModel(`{"experiment_id": "0", "name": "model", "model_type": "classifier", "source_run_id": "r1",
		"params": [{"key": "alpha", "value": "0.5"}], "tags": [{"key": "mlflow.user", "value": "ada"}]}`)
	id, _ := info["model_id"].(string)
	if !loggedModelIDPattern.MatchString(id) {
		t.Fatalf("model_id %q, want m-<32 hex>", id)
	}
	want := decodeWant(t, `{"model_id": "`+id+`", "experiment_id": "0", "name": "model", "model_type": "classifier", "source_run_id": "r1",
		"status": "LOGGED_MODEL_PENDING", "artifact_uri": "mlflow-artifacts:/0/models/`+id+`/artifacts",
		"creation_timestamp_ms": "<ms>", "last_updated_timestamp_ms": "<ms>", "tags": [{"key": "mlflow.user", "value": "ada"}]}`)
	if d := match("info", want, info); len(d) > 0 {
		t.Errorf("created: %v", d)
	}
	// The client uploads to <tracking URI>/api/2.0/mlflow-artifacts/artifacts/<path of artifact_uri>.
	dir := strings.TrimPrefix(info["artifact_uri"].(string), "mlflow-artifacts:/")
	e.put(dir+"/MLmodel", sklearnMLmodel)
	e.put(dir+"/model.pkl", "weights")
	if st, body := e.get(dir + "/model.pkl"); st != 200 || body != "weights" {
		t.Errorf("download: %d %q", st, body)
	}
	// Loading models:/<id> lists the model's artifact_uri through the proxy.
	var listed []string
	for _, f := range e.list("/api/2.0/mlflow-artifacts/", dir) {
		listed = append(listed, f.Path)
	}
	if strings.Join(listed, " ") != "MLmodel model.pkl" {
		t.Errorf("listing %s: %v", dir, listed)
	}
	r := e.ok("PATCH", "logged-models/"+id, `{"model_id": "`+id+`", "status": "LOGGED_MODEL_READY"}`, "")
	if st := r.Body["model"].(map[string]any)["info"].(map[string]any)["status"]; st != "LOGGED_MODEL_READY" {
		t.Errorf("finalized status %v", st)
	}
	for _, prefix := range []string{"/api/2.0/mlflow/", "/ajax-api/2.0/mlflow/"} {
		r := e.ok("GET", prefix+"logged-models/"+id, "", "")
		got := r.Body["model"].(map[string]any)
		if d := match("model", decodeWant(t, `{"info": {"model_id": "`+id+`", "status": "LOGGED_MODEL_READY"},
			"data": {"params": [{"key": "alpha", "value": "0.5"}]}}`), got); len(d) > 0 {
			t.Errorf("GET %s: %v", prefix, d)
		}
	}
	// A failed upload is recorded as such.
	other := e.createLoggedModel(`{"experiment_id": "0"}`)["model_id"].(string)
	r = e.ok("PATCH", "logged-models/"+other, `{"status": 3}`, "")
	if st := r.Body["model"].(map[string]any)["info"].(map[string]any)["status"]; st != "LOGGED_MODEL_UPLOAD_FAILED" {
		t.Errorf("failed status %v", st)
	}
	e.ok("DELETE", "logged-models/"+other, "", "")
	wantError(t, e.do("GET", "logged-models/"+other, "", ""), 404, "RESOURCE_DOES_NOT_EXIST", "Logged model with ID '"+other+"' not found")
	wantError(t, e.do("DELETE", "logged-models/"+other, "", ""), 404, "RESOURCE_DOES_NOT_EXIST", "not found")

	page, err := e.Client.ListEvents(t.Context(), 0, 1000, 0)
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, ev := range page.Items {
		if strings.HasPrefix(ev.Type, "logged_model.") {
			types = append(types, ev.Type)
		}
	}
	wantTypes := []string{cairn.EventLoggedModelCreated, cairn.EventLoggedModelUpdated, cairn.EventLoggedModelCreated,
		cairn.EventLoggedModelUpdated, cairn.EventLoggedModelDeleted}
	if !slices.Equal(types, wantTypes) {
		t.Errorf("events %v, want %v", types, wantTypes)
	}
}

// Bad requests answer MLflow's codes and change nothing.
func TestLoggedModelErrors(t *testing.T) {
	e := newEnv(t)
	id := e.createLoggedModel(`{"experiment_id": "0", "name": "m"}`)["model_id"].(string)
	e.ok("POST", "experiments/create", `{"name": "gone"}`, "")
	gone := e.ok("GET", "experiments/get-by-name", "", q("experiment_name", "gone")).Body["experiment"].(map[string]any)["experiment_id"].(string)
	e.ok("POST", "experiments/delete", `{"experiment_id": "`+gone+`"}`, "")
	for _, tc := range []struct {
		method, path, body string
		status             int
		code, msg          string
	}{
		{"POST", "logged-models", `{"name": "m"}`, 400, "INVALID_PARAMETER_VALUE", "Missing value for required parameter 'experiment_id'"},
		{"POST", "logged-models", `{"experiment_id": 0}`, 400, "INVALID_PARAMETER_VALUE", "'experiment_id'"},
		{"POST", "logged-models", `{"experiment_id": "99"}`, 404, "RESOURCE_DOES_NOT_EXIST", "No Experiment with id=99 exists"},
		{"POST", "logged-models", `{"experiment_id": "` + gone + `"}`, 400, "INVALID_PARAMETER_VALUE", "must be in the 'active' state"},
		{"POST", "logged-models", `{"experiment_id": "0", "params": [{"value": "x"}]}`, 400, "INVALID_PARAMETER_VALUE", "'params.key'"},
		{"POST", "logged-models", `{"experiment_id": "0", "tags": "x"}`, 400, "INVALID_PARAMETER_VALUE", "'tags'"},
		{"POST", "logged-models", `{"experiment_id": "0", "params": [{"key": "p", "value": "` + strings.Repeat("v", 6001) + `"}]}`, 400, "INVALID_PARAMETER_VALUE", "exceeded length limit of 6000"},
		{"GET", "logged-models/m-0123456789abcdef0123456789abcdef", "", 404, "RESOURCE_DOES_NOT_EXIST", "Logged model with ID 'm-0123456789abcdef0123456789abcdef' not found"},
		{"GET", "logged-models/garbage", "", 404, "RESOURCE_DOES_NOT_EXIST", "not found"},
		{"PATCH", "logged-models/" + id, `{}`, 400, "INVALID_PARAMETER_VALUE", "Missing value for required parameter 'status'"},
		{"PATCH", "logged-models/" + id, `{"status": "DONE"}`, 400, "INVALID_PARAMETER_VALUE", "LOGGED_MODEL_READY"},
		{"PATCH", "logged-models/" + id, `{"model_id": "m-other", "status": "LOGGED_MODEL_READY"}`, 400, "INVALID_PARAMETER_VALUE", "differs"},
		{"PATCH", "logged-models/m-0123456789abcdef0123456789abcdef", `{"status": "LOGGED_MODEL_READY"}`, 404, "RESOURCE_DOES_NOT_EXIST", "not found"},
		{"PATCH", "logged-models/" + id + "/tags", `{"tags": [{"key": "", "value": "v"}]}`, 400, "INVALID_PARAMETER_VALUE", "'tags.key'"},
		{"PATCH", "logged-models/m-0123456789abcdef0123456789abcdef/tags", `{"tags": [{"key": "k", "value": "v"}]}`, 404, "RESOURCE_DOES_NOT_EXIST", "not found"},
		{"DELETE", "logged-models/" + id + "/tags/nope", "", 404, "RESOURCE_DOES_NOT_EXIST", "No tag with key 'nope'"},
		{"POST", "logged-models/m-0123456789abcdef0123456789abcdef/params", `{"params": [{"key": "k", "value": "v"}]}`, 404, "RESOURCE_DOES_NOT_EXIST", "not found"},
		{"POST", "logged-models/search", `{}`, 400, "INVALID_PARAMETER_VALUE", "'experiment_ids'"},
		{"POST", "logged-models/search", `{"experiment_ids": ["0"], "max_results": 0}`, 400, "INVALID_PARAMETER_VALUE", "max_results"},
		{"POST", "logged-models/search", `{"experiment_ids": ["0"], "max_results": 1001}`, 400, "INVALID_PARAMETER_VALUE", "at most 1000"},
		{"POST", "logged-models/search", `{"experiment_ids": ["0"], "filter": "nope = 'x'"}`, 400, "INVALID_PARAMETER_VALUE", "Invalid attribute key 'nope'"},
		{"POST", "logged-models/search", `{"experiment_ids": ["0"], "filter": "name = 'a' OR name = 'b'"}`, 400, "INVALID_PARAMETER_VALUE", "Invalid clause(s)"},
		{"POST", "logged-models/search", `{"experiment_ids": ["0"], "filter": "metrics.auc > 'high'"}`, 400, "INVALID_PARAMETER_VALUE", "Expected numeric value type for metric"},
		{"POST", "logged-models/search", `{"experiment_ids": ["0"], "order_by": [{"field_name": "nope"}]}`, 400, "INVALID_PARAMETER_VALUE", "Invalid order by key 'nope'"},
		{"POST", "logged-models/search", `{"experiment_ids": ["0"], "order_by": [{"ascending": true}]}`, 400, "INVALID_PARAMETER_VALUE", "'order_by.field_name'"},
		// MLflow's messages for datasets without a name and a sort digest
		// without a dataset name.
		{"POST", "logged-models/search", `{"experiment_ids": ["0"], "datasets": [{"dataset_digest": "d1"}]}`, 400, "INVALID_PARAMETER_VALUE", "`dataset_name` in the `datasets` clause must be specified."},
		{"POST", "logged-models/search", `{"experiment_ids": ["0"], "datasets": [{"dataset_name": "test"}, {"dataset_name": ""}]}`, 400, "INVALID_PARAMETER_VALUE", "`dataset_name` in the `datasets` clause must be specified."},
		{"POST", "logged-models/search", `{"experiment_ids": ["0"], "datasets": {"dataset_name": "test"}}`, 400, "INVALID_PARAMETER_VALUE", "parameter 'datasets'"},
		{"POST", "logged-models/search", `{"experiment_ids": ["0"], "datasets": [{"dataset_name": 7}]}`, 400, "INVALID_PARAMETER_VALUE", "parameter 'datasets'"},
		{"POST", "logged-models/search", `{"experiment_ids": ["0"], "datasets": [` + strings.Repeat(`{"dataset_name": "d"},`, 100) + `{"dataset_name": "d"}]}`, 400, "INVALID_PARAMETER_VALUE", "At most 100 datasets"},
		{"POST", "logged-models/search", `{"experiment_ids": ["0"], "datasets": [{"dataset_name": "test"}], "filter": "metrics.auc > 'high'"}`, 400, "INVALID_PARAMETER_VALUE", "Expected numeric value type for metric"},
		{"POST", "logged-models/search", `{"experiment_ids": ["0"], "order_by": [{"field_name": "metrics.auc", "dataset_digest": "d1"}]}`, 400, "INVALID_PARAMETER_VALUE", "`dataset_digest` can only be specified if `dataset_name` is also specified."},
		{"POST", "logged-models/search", `{"experiment_ids": ["0"], "order_by": [{"field_name": "name", "dataset_name": "test"}]}`, 400, "INVALID_PARAMETER_VALUE", "only be set for a metric"},
		{"POST", "logged-models/search", `{"experiment_ids": ["0"], "order_by": [{"field_name": "metrics.auc", "dataset_name": "test"}, {"field_name": "metrics.auc", "dataset_name": "test", "ascending": false}]}`, 400, "INVALID_PARAMETER_VALUE", "duplicate fields"},
		{"POST", "logged-models/search", `{"experiment_ids": ["0"], "order_by": [{"field_name": "name"}, {"field_name": "name", "ascending": false}]}`, 400, "INVALID_PARAMETER_VALUE", "duplicate fields"},
		{"POST", "logged-models/search", `{"experiment_ids": ["0"], "page_token": "garbage!"}`, 400, "INVALID_PARAMETER_VALUE", "page token"},
		{"GET", "logged-models/search", "", 404, "RESOURCE_DOES_NOT_EXIST", "not found"},
		{"PUT", "logged-models/" + id, `{}`, 404, "ENDPOINT_NOT_FOUND", "No API endpoint"},
	} {
		r := e.do(tc.method, tc.path, tc.body, "")
		if r.Status != tc.status || r.Body["error_code"] != tc.code || !strings.Contains(fmt.Sprint(r.Body["message"]), tc.msg) {
			t.Errorf("%s %s %s: %d %s, want %d %s with %q", tc.method, tc.path, truncateName(tc.body), r.Status, r.Raw, tc.status, tc.code, tc.msg)
		}
	}
	// Nothing was written: the one model is as created.
	r := e.ok("POST", "logged-models/search", `{"experiment_ids": ["0", "`+gone+`"]}`, "")
	models := r.Body["models"].([]any)
	if len(models) != 1 {
		t.Fatalf("%d models after failed requests, want 1: %s", len(models), r.Raw)
	}
	if d := match("model", decodeWant(t, `{"info": {"model_id": "`+id+`", "status": "LOGGED_MODEL_PENDING", "tags": "<absent>"}, "data": {"params": "<absent>"}}`), models[0]); len(d) > 0 {
		t.Errorf("after failed requests: %v", d)
	}
}

func truncateName(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

// Tags can be set and deleted, params added (never changed).
func TestLoggedModelTagsAndParams(t *testing.T) {
	e := newEnv(t)
	id := e.createLoggedModel(`{"experiment_id": "0", "name": "m", "params": [{"key": "a", "value": "1"}]}`)["model_id"].(string)
	e.ok("PATCH", "logged-models/"+id+"/tags", `{"tags": [{"key": "mlflow.modelVersions", "value": "[]"}, {"key": "team", "value": "risk"}]}`, "")
	e.ok("DELETE", "logged-models/"+id+"/tags/team", "", "")
	// The client sends params past the first 100 in batches of 100.
	var batch []string
	for i := range 100 {
		batch = append(batch, fmt.Sprintf(`{"key": "p%03d", "value": "%d"}`, i, i))
	}
	e.ok("POST", "logged-models/"+id+"/params", `{"model_id": "`+id+`", "params": [`+strings.Join(batch, ",")+`]}`, "")
	e.ok("POST", "logged-models/"+id+"/params", `{"params": [{"key": "a", "value": "1"}]}`, "") // the same value again
	wantError(t, e.do("POST", "logged-models/"+id+"/params", `{"params": [{"key": "a", "value": "2"}]}`, ""),
		400, "INVALID_PARAMETER_VALUE", "Changing param values is not allowed")
	wantError(t, e.do("POST", "logged-models/"+id+"/params", `{"params": [`+strings.Join(append(batch, `{"key": "x", "value": "y"}`), ",")+`]}`, ""),
		400, "INVALID_PARAMETER_VALUE", "at most 100 params")
	r := e.ok("GET", "logged-models/"+id, "", "")
	m := r.Body["model"].(map[string]any)
	if d := match("tags", decodeWant(t, `[{"key": "mlflow.modelVersions", "value": "[]"}]`), m["info"].(map[string]any)["tags"]); len(d) > 0 {
		t.Errorf("tags: %v", d)
	}
	params := m["data"].(map[string]any)["params"].([]any)
	if len(params) != 101 || params[0].(map[string]any)["key"] != "a" || params[0].(map[string]any)["value"] != "1" {
		t.Errorf("%d params, first %v; want 101, a = 1", len(params), params[0])
	}
	// Tag keys with '/' and spaces travel escaped in the path.
	e.ok("PATCH", "logged-models/"+id+"/tags", `{"tags": [{"key": "a/b c", "value": "v"}]}`, "")
	e.ok("DELETE", "logged-models/"+id+"/tags/a%2Fb%20c", "", "")
	wantError(t, e.do("DELETE", "logged-models/"+id+"/tags/a%2Fb%20c", "", ""), 404, "RESOURCE_DOES_NOT_EXIST", "No tag with key 'a/b c'")
}

// Metrics logged to a run with a model_id are the model's metrics too
// (MLflow 3's log_model copies the run's metrics onto the model this way),
// and search filters and orders by their latest values; pages follow
// max_results and page_token.
func TestLoggedModelMetricsAndSearch(t *testing.T) {
	e := newEnv(t)
	run := e.ok("POST", "runs/create", `{"experiment_id": "0"}`, "").Body["run"].(map[string]any)["info"].(map[string]any)["run_id"].(string)
	var ids []string
	for i, auc := range []float64{0.7, 0.9, 0.8} {
		info := e.createLoggedModel(fmt.Sprintf(`{"experiment_id": "0", "name": "m%d", "source_run_id": "%s", "params": [{"key": "depth", "value": "%d"}]}`, i, run, i))
		id := info["model_id"].(string)
		ids = append(ids, id)
		e.ok("POST", "runs/log-batch", fmt.Sprintf(`{"run_id": "%s", "metrics": [{"key": "auc", "value": %g, "timestamp": 1700000000000, "step": 1,
			"model_id": "%s", "dataset_name": "test", "dataset_digest": "d1"}]}`, run, auc, id), "")
	}
	e.ok("POST", "runs/log-metric", fmt.Sprintf(`{"run_id": "%s", "key": "loss", "value": 0.25, "timestamp": 1700000000001, "model_id": "%s"}`, run, ids[0]), "")
	e.ok("PATCH", "logged-models/"+ids[1], `{"status": "LOGGED_MODEL_READY"}`, "")
	m := e.ok("GET", "logged-models/"+ids[0], "", "").Body["model"].(map[string]any)
	if d := match("metrics", decodeWant(t, `[
		{"key": "auc", "value": 0.7, "timestamp": 1700000000000, "step": 1, "dataset_name": "test", "dataset_digest": "d1", "model_id": "`+ids[0]+`", "run_id": "`+run+`"},
		{"key": "loss", "value": 0.25, "timestamp": 1700000000001, "step": 0, "dataset_name": "<absent>", "model_id": "`+ids[0]+`", "run_id": "`+run+`"}]`),
		m["data"].(map[string]any)["metrics"]); len(d) > 0 {
		t.Errorf("model metrics: %v", d)
	}
	// A metric naming a model Cairn does not have is refused whole.
	wantError(t, e.do("POST", "runs/log-batch", fmt.Sprintf(`{"run_id": "%s", "metrics": [{"key": "auc", "value": 1, "timestamp": 1, "model_id": "m-0123456789abcdef0123456789abcdef"}]}`, run), ""),
		404, "RESOURCE_DOES_NOT_EXIST", "not found")

	names := func(body string) ([]string, string) {
		t.Helper()
		r := e.ok("POST", "logged-models/search", body, "")
		var out []string
		for _, m := range r.Body["models"].([]any) {
			out = append(out, m.(map[string]any)["info"].(map[string]any)["name"].(string))
		}
		next, _ := r.Body["next_page_token"].(string)
		return out, next
	}
	for _, tc := range []struct{ body, want string }{
		{`{"experiment_ids": ["0"]}`, "m2 m1 m0"},
		{`{"experiment_ids": ["0"], "filter": "metrics.auc >= 0.8"}`, "m2 m1"},
		{`{"experiment_ids": ["0"], "filter": "params.depth = '0' AND metrics.loss < 1"}`, "m0"},
		{`{"experiment_ids": ["0"], "filter": "status = 'LOGGED_MODEL_READY'"}`, "m1"},
		{`{"experiment_ids": ["0"], "filter": "status = 'READY'"}`, "m1"},
		{`{"experiment_ids": ["0"], "filter": "attributes.name LIKE 'm%' AND source_run_id = '` + run + `'"}`, "m2 m1 m0"},
		{`{"experiment_ids": ["0"], "filter": "model_id = '` + ids[0] + `'"}`, "m0"},
		{`{"experiment_ids": ["0"], "filter": "creation_timestamp > 0"}`, "m2 m1 m0"},
		{`{"experiment_ids": ["0"], "order_by": [{"field_name": "metrics.auc", "ascending": false}]}`, "m1 m2 m0"},
		{`{"experiment_ids": ["0"], "order_by": [{"field_name": "name"}]}`, "m0 m1 m2"},
		{`{"experiment_ids": ["99"]}`, ""},
	} {
		got, _ := names(tc.body)
		if strings.Join(got, " ") != tc.want {
			t.Errorf("search %s: %v, want %s", tc.body, got, tc.want)
		}
	}
	// Pages of one.
	var all []string
	token := ""
	for range 5 {
		body := `{"experiment_ids": ["0"], "max_results": 1, "order_by": [{"field_name": "name"}]`
		if token != "" {
			body += `, "page_token": "` + token + `"`
		}
		got, next := names(body + "}")
		all = append(all, got...)
		if token = next; token == "" {
			break
		}
	}
	if strings.Join(all, " ") != "m0 m1 m2" {
		t.Errorf("paged search: %v", all)
	}
}

// MLflow 3's search_logged_models(datasets=[...]) and order_by on a
// dataset, through log-batch and log-metric as its client logs model
// metrics: metric filters and sorts see the metrics logged on the named
// datasets (every digest of a name, or the one given); datasets alone
// keep the models with some metric on them; each model comes back with
// all its metrics.
func TestLoggedModelSearchDatasets(t *testing.T) {
	e := newEnv(t)
	run := e.ok("POST", "runs/create", `{"experiment_id": "0"}`, "").Body["run"].(map[string]any)["info"].(map[string]any)["run_id"].(string)
	var ids []string
	for i := range 3 {
		ids = append(ids, e.createLoggedModel(fmt.Sprintf(`{"experiment_id": "0", "name": "m%d", "source_run_id": "%s"}`, i, run))["model_id"].(string))
	}
	point := func(id, key string, value float64, ts int, dataset string) string {
		p := fmt.Sprintf(`"key": %q, "value": %g, "timestamp": %d, "step": 0, "model_id": %q`, key, value, 1700000000000+ts, id)
		if name, digest, ok := strings.Cut(dataset, "@"); ok {
			p += fmt.Sprintf(`, "dataset_name": %q, "dataset_digest": %q`, name, digest)
		} else if dataset != "" {
			p += fmt.Sprintf(`, "dataset_name": %q`, dataset)
		}
		return p
	}
	e.ok("POST", "runs/log-batch", `{"run_id": "`+run+`", "metrics": [{`+point(ids[0], "auc", 0.9, 1, "eval@d1")+`}, {`+
		point(ids[1], "auc", 0.6, 1, "eval@d1")+`}, {`+point(ids[1], "auc", 0.95, 2, "eval@d2")+`}]}`, "")
	e.ok("POST", "runs/log-metric", `{"run_id": "`+run+`", `+point(ids[0], "auc", 0.5, 3, "train")+`}`, "")
	e.ok("POST", "runs/log-metric", `{"run_id": "`+run+`", `+point(ids[2], "auc", 0.8, 1, "")+`}`, "")
	e.ok("POST", "runs/log-metric", `{"run_id": "`+run+`", `+point(ids[2], "loss", 0.1, 1, "eval@d1")+`}`, "")

	search := func(body string) []any {
		t.Helper()
		return e.ok("POST", "logged-models/search", `{"experiment_ids": ["0"], `+body+`}`, "").Body["models"].([]any)
	}
	names := func(models []any) string {
		var out []string
		for _, m := range models {
			out = append(out, m.(map[string]any)["info"].(map[string]any)["name"].(string))
		}
		return strings.Join(out, " ")
	}
	for _, tc := range []struct{ body, want string }{
		{`"datasets": [{"dataset_name": "eval"}]`, "m2 m1 m0"},
		{`"datasets": [{"dataset_name": "eval", "dataset_digest": "d2"}]`, "m1"},
		{`"datasets": [{"dataset_name": "train"}, {"dataset_name": "eval", "dataset_digest": "d2"}]`, "m1 m0"},
		{`"datasets": [{"dataset_name": "nope"}]`, ""},
		{`"datasets": []`, "m2 m1 m0"},
		{`"filter": "metrics.auc > 0.7"`, "m2 m1"}, // the latest over every dataset: m0's is 0.5 on train
		{`"filter": "metrics.auc > 0.7", "datasets": [{"dataset_name": "eval"}]`, "m1 m0"},
		{`"filter": "metrics.auc > 0.7", "datasets": [{"dataset_name": "eval", "dataset_digest": ""}]`, "m1 m0"},
		{`"filter": "metrics.auc > 0.7", "datasets": [{"dataset_name": "eval", "dataset_digest": "d1"}]`, "m0"},
		{`"filter": "metrics.auc > 0.7", "datasets": [{"dataset_name": "train"}]`, ""},
		{`"filter": "metrics.auc < 0.7 AND name != 'm9'", "datasets": [{"dataset_name": "train"}, {"dataset_name": "eval", "dataset_digest": "d1"}]`, "m1 m0"},
		{`"filter": "name = 'm2'", "datasets": [{"dataset_name": "train"}]`, ""},
		{`"order_by": [{"field_name": "metrics.auc", "ascending": false, "dataset_name": "eval"}]`, "m1 m0 m2"},
		{`"order_by": [{"field_name": "metrics.auc", "ascending": true, "dataset_name": "eval", "dataset_digest": "d1"}]`, "m1 m0 m2"},
		{`"order_by": [{"field_name": "metrics.auc", "dataset_name": "train"}, {"field_name": "metrics.auc", "ascending": false}]`, "m0 m1 m2"},
		{`"filter": "metrics.auc > 0.5", "datasets": [{"dataset_name": "eval", "dataset_digest": "d1"}],
			"order_by": [{"field_name": "metrics.auc", "ascending": false, "dataset_name": "eval", "dataset_digest": "d1"}]`, "m0 m1"},
	} {
		if got := names(search(tc.body)); got != tc.want {
			t.Errorf("search %s: %q, want %q", tc.body, got, tc.want)
		}
	}
	// The models found keep all their metrics, those on other datasets too.
	models := search(`"filter": "metrics.auc > 0.9", "datasets": [{"dataset_name": "eval", "dataset_digest": "d2"}]`)
	if len(models) != 1 {
		t.Fatalf("found %s, want m1", names(models))
	}
	if d := match("metrics", decodeWant(t, `[
		{"key": "auc", "value": 0.6, "timestamp": 1700000000001, "step": 0, "dataset_name": "eval", "dataset_digest": "d1", "model_id": "`+ids[1]+`", "run_id": "`+run+`"},
		{"key": "auc", "value": 0.95, "timestamp": 1700000000002, "step": 0, "dataset_name": "eval", "dataset_digest": "d2", "model_id": "`+ids[1]+`", "run_id": "`+run+`"}]`),
		models[0].(map[string]any)["data"].(map[string]any)["metrics"]); len(d) > 0 {
		t.Errorf("model metrics: %v", d)
	}
	// Pages of one keep the datasets' filter and order.
	var all []string
	token := ""
	for range 5 {
		body := `"max_results": 1, "datasets": [{"dataset_name": "eval"}], "order_by": [{"field_name": "metrics.auc", "dataset_name": "eval"}]`
		if token != "" {
			body += `, "page_token": "` + token + `"`
		}
		r := e.ok("POST", "logged-models/search", `{"experiment_ids": ["0"], `+body+`}`, "")
		all = append(all, names(r.Body["models"].([]any)))
		if token, _ = r.Body["next_page_token"].(string); token == "" {
			break
		}
	}
	if strings.Join(all, " ") != "m0 m1 m2" {
		t.Errorf("paged search: %v", all)
	}
}

// MLflow 3's search_logged_models takes IN and NOT IN on every string
// attribute, param and tag (its docstring's example is
// tags.release IN ('v1.0', 'v1.1')). The bodies are what the 3.11 client
// sent; before, Cairn answered 400 "Invalid comparator for attribute: NOT
// IN" and "Invalid comparator for tag: IN".
func TestLoggedModelSearchLists(t *testing.T) {
	e := newEnv(t)
	for i, release := range []string{"v1.0", "v1.1", "v2.0"} {
		e.createLoggedModel(fmt.Sprintf(`{"experiment_id": "0", "name": "m%d", "model_type": "t%d",
			"params": [{"key": "opt", "value": "o%d"}], "tags": [{"key": "release", "value": "%s"}]}`, i, i%2, i, release))
	}
	e.createLoggedModel(`{"experiment_id": "0", "name": "bare"}`)
	for _, tc := range []struct{ filter, want string }{
		{"name NOT IN ('m0')", "bare m2 m1"},
		{"name IN ('m0', 'm2')", "m2 m0"},
		{"model_type IN ('t1')", "m1"},
		{"model_type NOT IN ('t1')", "bare m2 m0"},
		{"tags.release IN ('v1.0', 'v1.1')", "m1 m0"},
		// A missing tag or param satisfies NOT IN, as it satisfies != (see docs/mlflow.md).
		{"tags.release NOT IN ('v1.0', 'v1.1')", "bare m2"},
		{"params.opt IN ('o1', 'o2') AND tags.release NOT IN ('v2.0')", "m1"},
		{"status IN ('LOGGED_MODEL_PENDING')", "bare m2 m1 m0"},
		{"status NOT IN ('PENDING')", ""},
	} {
		r := e.ok("POST", "logged-models/search", jsonBody(t, map[string]any{"experiment_ids": []string{"0"}, "filter": tc.filter}), "")
		var got []string
		for _, m := range r.Body["models"].([]any) {
			got = append(got, m.(map[string]any)["info"].(map[string]any)["name"].(string))
		}
		if strings.Join(got, " ") != tc.want {
			t.Errorf("%s: %v, want %s", tc.filter, got, tc.want)
		}
	}
	for _, tc := range []struct{ filter, msg string }{
		{"name IN (1, 2)", "expected string value"},
		{"tags.release IN (1)", "expected string value"},
		{"metrics.auc IN (1)", "Invalid comparator 'IN'"},
		{"creation_timestamp IN (1)", "Invalid comparator 'IN'"},
	} {
		wantError(t, e.do("POST", "logged-models/search", jsonBody(t, map[string]any{"experiment_ids": []string{"0"}, "filter": tc.filter}), ""),
			400, "INVALID_PARAMETER_VALUE", tc.msg)
	}
	// Registry searches keep MLflow's registry grammar: IN on run_id only.
	wantError(t, e.do("GET", "model-versions/search", "", "filter="+url.QueryEscape("name IN ('a')")), 400, "INVALID_PARAMETER_VALUE", "Only the 'run_id' attribute")
	wantError(t, e.do("GET", "registered-models/search", "", "filter="+url.QueryEscape("tags.a IN ('a')")), 400, "INVALID_PARAMETER_VALUE", "Invalid comparator for tag: IN")
}

// MLflow 3 answers unknown methods on a logged model's path the way it
// answers every unknown path; Cairn's GET of a deleted model's tags path
// is no endpoint either.
func TestLoggedModelRoutes(t *testing.T) {
	e := newEnv(t)
	if r := e.do("GET", "logged-models/m-x/params", "", ""); r.Status != http.StatusNotFound || r.Body["error_code"] != "ENDPOINT_NOT_FOUND" {
		t.Errorf("GET params: %d %s", r.Status, r.Raw)
	}
}

// loggedModelOfRun makes what MLflow 3's log_model leaves in a run: a
// logged model produced by the run, with params, a metric logged with its
// id, its files uploaded to its artifact location, finalized READY. It
// returns the model's id and artifact directory.
func (e *env) loggedModelOfRun(run *cairn.Run) (string, string) {
	e.t.Helper()
	info := e.createLoggedModel(fmt.Sprintf(`{"experiment_id": "%s", "name": "model", "source_run_id": "%s",
		"params": [{"key": "alpha", "value": "0.5"}, {"key": "depth", "value": "8"}]}`, run.ExperimentID, run.ID))
	id := info["model_id"].(string)
	e.ok("POST", "runs/log-batch", fmt.Sprintf(`{"run_id": "%s", "metrics": [{"key": "acc", "value": 0.8, "timestamp": 1700000000000, "step": 0, "model_id": "%s"},
		{"key": "auc", "value": 0.95, "timestamp": 1700000000000, "step": 3, "model_id": "%s"}]}`, run.ID, id, id), "")
	dir := strings.TrimPrefix(info["artifact_uri"].(string), "mlflow-artifacts:/")
	e.put(dir+"/MLmodel", sklearnMLmodel)
	e.put(dir+"/model.pkl", "logged weights")
	e.put(dir+"/requirements.txt", "scikit-learn==1.5.2\n")
	e.ok("PATCH", "logged-models/"+id, `{"status": "LOGGED_MODEL_READY"}`, "")
	return id, dir
}

// MLflow 3's registration (MLFLOW.md §4 (a) step 8): model-versions/create
// with source models:/m-<id> and model_id snapshots the logged model's
// files into the version as a runs:/ source does, fills the record from
// the MLmodel (framework, signature), requirements.txt, the logged model's
// params and metrics over its run's, and the run (code version, trained
// by, the run → version lineage edge), and lists the version in the
// logged model's mlflow.modelVersions tag.
func TestRegistrationFromLoggedModel(t *testing.T) {
	e := newEnv(t)
	run, _ := e.trainedRun()
	id, dir := e.loggedModelOfRun(run)
	e.ok("POST", "registered-models/create", `{"name": "churn"}`, "")
	r := e.ok("POST", "model-versions/create", `{"name": "churn", "source": "models:/`+id+`", "model_id": "`+id+`"}`, "")
	mv := r.Body["model_version"].(map[string]any)
	if d := match("model_version", decodeWant(t, `{"version": "1", "source": "models:/`+id+`", "model_id": "`+id+`", "run_id": "`+run.ID+`", "status": "READY"}`), mv); len(d) > 0 {
		t.Errorf("created: %v", d)
	}
	v, err := e.Client.GetVersion(t.Context(), "churn", 1)
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, f := range v.Files {
		paths = append(paths, f.Path)
	}
	if strings.Join(paths, " ") != "MLmodel model.pkl requirements.txt" || v.Files[1].Digest != cairn.DigestOf([]byte("logged weights")) {
		t.Errorf("manifest %v (model.pkl %s)", paths, v.Files[1].Digest)
	}
	// The logged model's params and metrics win over the run's (depth 8,
	// auc 0.95 at step 3); the run's others stay (lr, loss).
	wantParams := map[string]string{"lr": "0.01", "depth": "8", "alpha": "0.5"}
	wantMetrics := map[string]float64{"auc": 0.95, "loss": 0.3, "acc": 0.8}
	if !maps.Equal(v.Params, wantParams) || !maps.Equal(v.Metrics, wantMetrics) {
		t.Errorf("params %v metrics %v, want %v and %v", v.Params, v.Metrics, wantParams, wantMetrics)
	}
	if v.Framework != "sklearn" || v.Dependencies != "requirements.txt" || len(v.Signature) == 0 || v.SourceCodeVersion != gitCommit ||
		v.TrainedBy != "ada" || v.RunID != run.ID {
		t.Errorf("record: framework %q deps %q signature %s code %q trained by %q run %q", v.Framework, v.Dependencies, v.Signature, v.SourceCodeVersion, v.TrainedBy, v.RunID)
	}
	g, err := e.Client.Lineage(t.Context(), "churn@v1", cairn.Upstream, 1)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(g.Edges, func(ed cairn.Edge) bool {
		return ed.From == cairn.RunNode(run.ID) && ed.Type == cairn.EdgeProduced
	}) {
		t.Errorf("lineage of churn@v1 lacks run %s produced it: %+v", run.ID, g.Edges)
	}
	// The version is listed on the logged model; a second registration
	// (what early 3.x clients' register_model does again) is appended.
	e.ok("POST", "registered-models/create", `{"name": "other"}`, "")
	e.ok("POST", "model-versions/create", `{"name": "other", "source": "models:/`+id+`"}`, "")
	tags := e.ok("GET", "logged-models/"+id, "", "").Body["model"].(map[string]any)["info"].(map[string]any)["tags"]
	if d := match("tags", decodeWant(t, `[{"key": "mlflow.modelVersions", "value": "[{\"name\":\"churn\",\"version\":1},{\"name\":\"other\",\"version\":1}]"}]`), tags); len(d) > 0 {
		t.Errorf("logged model tags: %v", d)
	}
	// The version is a snapshot: what the logged model's location holds
	// later changes nothing, and get-download-uri leads to the snapshot.
	e.put(dir+"/model.pkl", "OVERWRITTEN")
	uri := e.ok("GET", "model-versions/get-download-uri", "", q("name", "churn", "version", "1")).Body["artifact_uri"].(string)
	if st, body := e.get(strings.TrimPrefix(uri, "mlflow-artifacts:/") + "/model.pkl"); st != 200 || body != "logged weights" {
		t.Errorf("download %s/model.pkl: %d %q, want the registered bytes", uri, st, body)
	}
}

// Other shapes of a logged-model registration: the logged model's
// artifact location as the source with model_id (MlflowClient's
// create_model_version(source=model.artifact_location, model_id=…)), an
// unknown m- id (an external reference, as MLflow records it), a deleted
// logged model (likewise), and a pending one with no files yet.
func TestRegistrationFromLoggedModelShapes(t *testing.T) {
	e := newEnv(t)
	run, _ := e.trainedRun()
	id, _ := e.loggedModelOfRun(run)
	e.ok("POST", "registered-models/create", `{"name": "m"}`, "")
	loc := e.ok("GET", "logged-models/"+id, "", "").Body["model"].(map[string]any)["info"].(map[string]any)["artifact_uri"].(string)
	mv := e.createVersionBody(`{"name": "m", "source": "` + loc + `", "model_id": "` + id + `"}`)
	v := e.version("m", mv)
	if len(v.Files) != 3 || v.Params["alpha"] != "0.5" || v.RunID != run.ID || mv["model_id"] != id {
		t.Errorf("artifact location with model_id: %d files, params %v, run %q, model_id %v", len(v.Files), v.Params, v.RunID, mv["model_id"])
	}

	unknown := "m-0123456789abcdef0123456789abcdef"
	for _, body := range []string{
		`{"name": "m", "source": "models:/` + unknown + `", "model_id": "` + unknown + `"}`,
		`{"name": "m", "source": "s3://bucket/model", "model_id": "` + unknown + `"}`,
	} {
		mv := e.createVersionBody(body)
		v := e.version("m", mv)
		if mv["status"] != "READY" || len(v.Files) != 0 || mv["model_id"] != unknown || v.RunID != "" {
			t.Errorf("%s: status %v, %d files, model_id %v, run %q; want a READY external reference", body, mv["status"], len(v.Files), mv["model_id"], v.RunID)
		}
	}
	uri := e.ok("GET", "model-versions/get-download-uri", "", q("name", "m", "version", "2")).Body["artifact_uri"]
	if uri != "models:/"+unknown {
		t.Errorf("download URI of an unknown logged model's version: %v, want the source", uri)
	}

	pending := e.createLoggedModel(`{"experiment_id": "0", "name": "p"}`)["model_id"].(string)
	mv = e.createVersionBody(`{"name": "m", "source": "models:/` + pending + `", "model_id": "` + pending + `"}`)
	if v := e.version("m", mv); mv["status"] != "READY" || len(v.Files) != 0 {
		t.Errorf("a logged model without files: status %v, %d files; want a READY external reference", mv["status"], len(v.Files))
	}

	e.ok("DELETE", "logged-models/"+id, "", "")
	mv = e.createVersionBody(`{"name": "m", "source": "models:/` + id + `", "model_id": "` + id + `"}`)
	if v := e.version("m", mv); len(v.Files) != 0 || v.Params["alpha"] != "" {
		t.Errorf("a deleted logged model: %d files, params %v; want an external reference", len(v.Files), v.Params)
	}
}

func (e *env) createVersionBody(body string) map[string]any {
	e.t.Helper()
	return e.ok("POST", "model-versions/create", body, "").Body["model_version"].(map[string]any)
}

func (e *env) version(name string, mv map[string]any) *cairn.Version {
	e.t.Helper()
	var n int64
	fmt.Sscan(mv["version"].(string), &n)
	v, err := e.Client.GetVersion(e.t.Context(), name, n)
	if err != nil {
		e.t.Fatal(err)
	}
	return v
}

// What MLflow 3's UI calls around logged models: logged-models:batchGet
// (unknown and deleted ids left out), and a logged model's files listed
// (artifacts/directories, paths relative to its artifact root, paged) and
// read (artifacts/files) under the UI's prefix.
func TestLoggedModelUIEndpoints(t *testing.T) {
	e := newEnv(t)
	run, _ := e.trainedRun()
	id, dir := e.loggedModelOfRun(run)
	e.put(dir+"/data/weights.bin", "nested")
	gone := e.createLoggedModel(`{"experiment_id": "0"}`)["model_id"].(string)
	e.ok("DELETE", "logged-models/"+gone, "", "")

	r := e.ok("GET", "/ajax-api/2.0/mlflow/logged-models:batchGet", "", q("model_ids", id, "model_ids", gone, "model_ids", "m-0123456789abcdef0123456789abcdef", "model_ids", id))
	if d := match("batchGet", decodeWant(t, `{"models": [{"info": {"model_id": "`+id+`", "status": "LOGGED_MODEL_READY"}}]}`), r.Body); len(d) > 0 {
		t.Errorf("batchGet: %v", d)
	}
	many := make([]string, 0, 202)
	for range 101 {
		many = append(many, "model_ids", id)
	}
	wantError(t, e.do("GET", "logged-models:batchGet", "", q(many...)), 400, "INVALID_PARAMETER_VALUE", "At most 100")

	r = e.ok("GET", "/ajax-api/2.0/mlflow/logged-models/"+id+"/artifacts/directories", "", "")
	if d := match("list", decodeWant(t, `{"root_uri": "mlflow-artifacts:/`+dir+`", "files": [
		{"path": "MLmodel", "is_dir": false, "file_size": `+fmt.Sprint(len(sklearnMLmodel))+`},
		{"path": "data", "is_dir": true, "file_size": "<absent>"},
		{"path": "model.pkl", "is_dir": false, "file_size": 14},
		{"path": "requirements.txt", "is_dir": false, "file_size": 20}]}`), r.Body); len(d) > 0 {
		t.Errorf("list: %v", d)
	}
	r = e.ok("GET", "logged-models/"+id+"/artifacts/directories", "", q("artifact_directory_path", "data"))
	if d := match("list data", decodeWant(t, `{"files": [{"path": "data/weights.bin", "is_dir": false, "file_size": 6}]}`), r.Body); len(d) > 0 {
		t.Errorf("list data: %v", d)
	}
	st, _, body := e.raw("GET", "/ajax-api/2.0/mlflow/logged-models/"+id+"/artifacts/files", q("artifact_file_path", "data/weights.bin"), nil)
	if st != 200 || string(body) != "nested" {
		t.Errorf("file: %d %q", st, body)
	}
	wantError(t, e.do("GET", "logged-models/"+id+"/artifacts/files", "", q("artifact_file_path", "nope")), 404, "RESOURCE_DOES_NOT_EXIST", "")
	wantError(t, e.do("GET", "logged-models/"+id+"/artifacts/files", "", ""), 400, "INVALID_PARAMETER_VALUE", "'artifact_file_path'")
	for _, bad := range []string{"../x", "%2e%2e/x", "/etc/passwd", "a\\b"} {
		wantError(t, e.do("GET", "logged-models/"+id+"/artifacts/files", "", q("artifact_file_path", bad)), 400, "INVALID_PARAMETER_VALUE", "")
		wantError(t, e.do("GET", "logged-models/"+id+"/artifacts/directories", "", q("artifact_directory_path", bad)), 400, "INVALID_PARAMETER_VALUE", "")
	}
	wantError(t, e.do("GET", "logged-models/"+gone+"/artifacts/directories", "", ""), 404, "RESOURCE_DOES_NOT_EXIST", "Logged model with ID")
}

// The MLflow 3 client's call sequences of MLFLOW.md §4, request by
// request: (a) log_model with registered_model_name in a run, (b)
// register_model("runs:/<run>/model") finding the logged model by search,
// and (d) loading models:/name@alias.
func TestMLflow3CallSequences(t *testing.T) {
	e := newEnv(t)
	body := func(r *response, path ...string) any {
		t.Helper()
		var v any = r.Body
		for _, k := range path {
			m, ok := v.(map[string]any)
			if !ok {
				t.Fatalf("%s: no %q in %s", strings.Join(path, "."), k, r.Raw)
			}
			v = m[k]
		}
		return v
	}
	// (a) 1–2: set_experiment, start_run, runs/get.
	if r := e.do("GET", "experiments/get-by-name", "", q("experiment_name", "churn")); r.Status != 404 {
		t.Fatalf("get-by-name of a new experiment: %d", r.Status)
	}
	expID := body(e.ok("POST", "experiments/create", `{"name": "churn"}`, ""), "experiment_id").(string)
	runID := body(e.ok("POST", "runs/create", `{"experiment_id": "`+expID+`", "tags": [{"key": "mlflow.user", "value": "ada"}]}`, ""), "run", "info", "run_id").(string)
	e.ok("POST", "runs/log-batch", `{"run_id": "`+runID+`", "params": [{"key": "C", "value": "1.0"}], "metrics": [{"key": "acc", "value": 0.9, "timestamp": 1700000000000, "step": 0}]}`, "")
	e.ok("GET", "runs/get", "", q("run_id", runID))
	// 3: the logged model, with the run's params merged in.
	info := body(e.ok("POST", "logged-models", `{"experiment_id": "`+expID+`", "name": "model", "source_run_id": "`+runID+`",
		"params": [{"key": "C", "value": "1.0"}], "tags": [{"key": "mlflow.user", "value": "ada"}]}`, ""), "model", "info").(map[string]any)
	id, loc := info["model_id"].(string), info["artifact_uri"].(string)
	// 4–5: the run's output, its metrics copied onto the model.
	e.ok("POST", "runs/outputs", `{"run_id": "`+runID+`", "models": [{"model_id": "`+id+`", "step": 0}]}`, "")
	e.ok("GET", "runs/get", "", q("run_id", runID))
	hist := body(e.ok("GET", "metrics/get-history", "", q("run_id", runID, "metric_key", "acc")), "metrics").([]any)
	if len(hist) != 1 {
		t.Fatalf("history: %v", hist)
	}
	e.ok("POST", "runs/log-batch", `{"run_id": "`+runID+`", "metrics": [{"key": "acc", "value": 0.9, "timestamp": 1700000000000, "step": 0, "model_id": "`+id+`"}]}`, "")
	// 6: the files, uploaded to the artifact_uri the model answers.
	if got := body(e.ok("GET", "logged-models/"+id, "", ""), "model", "info", "artifact_uri"); got != loc {
		t.Fatalf("artifact_uri %v, then %v", loc, got)
	}
	dir := strings.TrimPrefix(loc, "mlflow-artifacts:/")
	for name, content := range map[string]string{"MLmodel": sklearnMLmodel, "model.pkl": "pickled", "conda.yaml": "dependencies: []\n",
		"python_env.yaml": "python: 3.11\n", "requirements.txt": "scikit-learn\n"} {
		e.put(dir+"/"+name, content)
	}
	// 7: finalize.
	e.ok("PATCH", "logged-models/"+id, `{"model_id": "`+id+`", "status": "LOGGED_MODEL_READY"}`, "")
	// 8: registration; RESOURCE_ALREADY_EXISTS on a second create is what
	// the client tolerates.
	e.ok("POST", "registered-models/create", `{"name": "rm"}`, "")
	wantError(t, e.do("POST", "registered-models/create", `{"name": "rm"}`, ""), 400, "RESOURCE_ALREADY_EXISTS", "")
	mv := body(e.ok("POST", "model-versions/create", `{"name": "rm", "source": "models:/`+id+`", "model_id": "`+id+`"}`, ""), "model_version").(map[string]any)
	if st := body(e.ok("GET", "model-versions/get", "", q("name", "rm", "version", mv["version"].(string))), "model_version", "status"); st != "READY" {
		t.Fatalf("polled status %v", st)
	}
	tags := body(e.ok("GET", "logged-models/"+id, "", ""), "model", "info", "tags")
	e.ok("PATCH", "logged-models/"+id+"/tags", `{"tags": [{"key": "mlflow.modelVersions", "value": "[{\"name\": \"rm\", \"version\": \"1\"}]"}]}`, "")
	// 9: end_run.
	e.ok("POST", "runs/update", `{"run_id": "`+runID+`", "status": "FINISHED", "end_time": 1700000001000}`, "")
	if !strings.Contains(fmt.Sprint(tags), `"name":"rm"`) {
		t.Errorf("the server did not list the version on the logged model: %v", tags)
	}
	outs := body(e.ok("GET", "runs/get", "", q("run_id", runID)), "run", "outputs", "model_outputs")
	if d := match("outputs", decodeWant(t, `[{"model_id": "`+id+`", "step": 0}]`), outs); len(d) > 0 {
		t.Errorf("run outputs: %v", d)
	}

	// (b) register_model("runs:/<run>/model"): the run has no such
	// directory, so the client searches the experiment's logged models for
	// the one the run produced under that name.
	if files := e.list("/api/2.0/mlflow-artifacts/", expID+"/"+runID+"/artifacts/model"); len(files) != 0 {
		t.Fatalf("the run's model directory lists %v, want nothing", files)
	}
	var found string
	token := ""
	for range 10 {
		req := `{"experiment_ids": ["` + expID + `"], "max_results": 1`
		if token != "" {
			req += `, "page_token": "` + token + `"`
		}
		r := e.ok("POST", "logged-models/search", req+"}", "")
		for _, m := range r.Body["models"].([]any) {
			in := m.(map[string]any)["info"].(map[string]any)
			if in["source_run_id"] == runID && in["name"] == "model" {
				found = in["model_id"].(string)
			}
		}
		if token, _ = r.Body["next_page_token"].(string); token == "" {
			break
		}
	}
	if found != id {
		t.Fatalf("search found %q, want %s", found, id)
	}
	mv2 := body(e.ok("POST", "model-versions/create", `{"name": "rm", "source": "models:/`+found+`", "model_id": "`+found+`"}`, ""), "model_version").(map[string]any)

	// (d) loading models:/rm@champion.
	e.ok("POST", "registered-models/alias", `{"name": "rm", "alias": "champion", "version": "`+mv2["version"].(string)+`"}`, "")
	v := body(e.ok("GET", "registered-models/alias", "", q("name", "rm", "alias", "champion")), "model_version").(map[string]any)
	uri := body(e.ok("GET", "model-versions/get-download-uri", "", q("name", "rm", "version", v["version"].(string))), "artifact_uri").(string)
	root := strings.TrimPrefix(uri, "mlflow-artifacts:/")
	var names []string
	for _, f := range e.list("/api/2.0/mlflow-artifacts/", root) {
		names = append(names, f.Path)
	}
	if strings.Join(names, " ") != "MLmodel conda.yaml model.pkl python_env.yaml requirements.txt" {
		t.Errorf("files of models:/rm@champion at %s: %v", uri, names)
	}
	if st, b := e.get(root + "/model.pkl"); st != 200 || b != "pickled" {
		t.Errorf("model.pkl of models:/rm@champion: %d %q", st, b)
	}
}
