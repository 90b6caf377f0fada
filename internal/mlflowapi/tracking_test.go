package mlflowapi_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/cairn-registry/cairn"
)

// wantJSON fails the test unless body contains want (see match).
func (e *env) wantJSON(r *response, want string) {
	e.t.Helper()
	if diffs := match("$", decodeWant(e.t, want), any(map[string]any(r.Body))); len(diffs) > 0 {
		e.t.Errorf("%s\n  body: %s", strings.Join(diffs, "\n  "), r.Raw)
	}
}

// wantErr fails the test unless the answer is MLflow's error with status,
// code and a message containing msg.
func (e *env) wantErr(r *response, status int, code, msg string) {
	e.t.Helper()
	got, _ := r.Body["error_code"].(string)
	m, _ := r.Body["message"].(string)
	if r.Status != status || got != code || !strings.Contains(m, msg) {
		e.t.Errorf("got %d %s, want %d %s with a message containing %q", r.Status, r.Raw, status, code, msg)
	}
}

func str(r *response, path ...string) string {
	var v any = map[string]any(r.Body)
	for _, k := range path {
		m, _ := v.(map[string]any)
		v = m[k]
	}
	s, _ := v.(string)
	return s
}

func TestExperiments(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// The default experiment exists from the start.
	r := e.ok("GET", "experiments/get", "", "experiment_id=0")
	e.wantJSON(r, `{"experiment": {"experiment_id": "0", "name": "Default", "artifact_location": "mlflow-artifacts:/0",
		"lifecycle_stage": "active", "creation_time": "<ms>", "last_update_time": "<ms>", "tags": "<absent>"}}`)
	e.wantJSON(e.ok("GET", "experiments/get-by-name", "", "experiment_name=Default"), `{"experiment": {"experiment_id": "0"}}`)

	r = e.ok("POST", "experiments/create", `{"name": "churn", "tags": [{"key": "team", "value": "risk"}]}`, "")
	id := str(r, "experiment_id")
	if id != "1" {
		t.Fatalf("first experiment id %q, want 1", id)
	}
	e.wantJSON(e.ok("GET", "experiments/get-by-name", "", "experiment_name=churn"), `{"experiment": {"experiment_id": "1", "name": "churn",
		"artifact_location": "mlflow-artifacts:/1", "lifecycle_stage": "active", "tags": [{"key": "team", "value": "risk"}]}}`)
	e.wantErr(e.do("POST", "experiments/create", `{"name": "churn"}`, ""), 400, "RESOURCE_ALREADY_EXISTS", "Experiment(name=churn) already exists.")
	e.wantErr(e.do("POST", "experiments/create", `{}`, ""), 400, "INVALID_PARAMETER_VALUE", "Missing value for required parameter 'name'")
	e.wantErr(e.do("POST", "experiments/create", `{"name": "`+strings.Repeat("x", 501)+`"}`, ""), 400, "INVALID_PARAMETER_VALUE", "exceeds the maximum length of 500")
	e.wantErr(e.do("POST", "experiments/create", `{"name": "t", "tags": [{"key": "a!b", "value": "v"}]}`, ""), 400, "INVALID_PARAMETER_VALUE", "Invalid tag name: 'a!b'")
	e.wantErr(e.do("GET", "experiments/get-by-name", "", "experiment_name=nope"), 404, "RESOURCE_DOES_NOT_EXIST", "Could not find experiment with name 'nope'")
	e.wantErr(e.do("GET", "experiments/get", "", "experiment_id=99"), 404, "RESOURCE_DOES_NOT_EXIST", "No Experiment with id=99 exists")
	e.wantErr(e.do("GET", "experiments/get", "", ""), 400, "INVALID_PARAMETER_VALUE", "Missing value for required parameter 'experiment_id'")

	// Custom artifact location.
	r = e.ok("POST", "experiments/create", `{"name": "custom", "artifact_location": "s3://bucket/exp"}`, "")
	custom := str(r, "experiment_id")
	e.wantJSON(e.ok("GET", "experiments/get", "", "experiment_id="+custom), `{"experiment": {"artifact_location": "s3://bucket/exp"}}`)

	// Tags, rename.
	e.ok("POST", "experiments/set-experiment-tag", `{"experiment_id": "1", "key": "owner", "value": "ana"}`, "")
	e.wantErr(e.do("POST", "experiments/set-experiment-tag", `{"experiment_id": "99", "key": "owner", "value": "ana"}`, ""), 404, "RESOURCE_DOES_NOT_EXIST", "No Experiment with id=99")
	e.ok("POST", "experiments/update", `{"experiment_id": "1", "new_name": "churn-v2"}`, "")
	e.wantJSON(e.ok("GET", "experiments/get", "", "experiment_id=1"), `{"experiment": {"name": "churn-v2",
		"tags": [{"key": "owner", "value": "ana"}, {"key": "team", "value": "risk"}]}}`)
	e.wantErr(e.do("POST", "experiments/update", `{"experiment_id": "1", "new_name": "custom"}`, ""), 400, "RESOURCE_ALREADY_EXISTS", "Experiment(name=custom) already exists.")
	e.wantErr(e.do("POST", "experiments/update", `{"experiment_id": "1"}`, ""), 400, "INVALID_PARAMETER_VALUE", "Invalid experiment name")

	// Search: default order newest first; filters; view types; pages.
	for i := range 3 {
		e.ok("POST", "experiments/create", fmt.Sprintf(`{"name": "search-%d"}`, i), "")
	}
	r = e.ok("POST", "experiments/search", `{"filter": "name LIKE 'search-%'", "max_results": 2, "order_by": ["name DESC"]}`, "")
	e.wantJSON(r, `{"experiments": [{"name": "search-2"}, {"name": "search-1"}], "next_page_token": "<string>"}`)
	r = e.ok("POST", "experiments/search", jsonBody(t, map[string]any{"filter": "name LIKE 'search-%'", "max_results": 2, "order_by": []string{"name DESC"}, "page_token": str(r, "next_page_token")}), "")
	e.wantJSON(r, `{"experiments": [{"name": "search-0"}], "next_page_token": "<absent>"}`)
	e.wantJSON(e.ok("GET", "experiments/search", "", q("filter", "tags.team = 'risk'", "max_results", "100")), `{"experiments": [{"name": "churn-v2"}]}`)
	e.wantErr(e.do("POST", "experiments/search", `{"filter": "name = 'a' OR name = 'b'", "max_results": 100}`, ""), 400, "INVALID_PARAMETER_VALUE", "Invalid clause(s) in filter string")
	e.wantErr(e.do("POST", "experiments/search", `{"order_by": ["size"], "max_results": 100}`, ""), 400, "INVALID_PARAMETER_VALUE", "Invalid order by key 'size'")
	e.wantErr(e.do("POST", "experiments/search", `{"max_results": 50001}`, ""), 400, "INVALID_PARAMETER_VALUE", "It must be at most 50000")
	e.wantErr(e.do("POST", "experiments/search", `{}`, ""), 400, "INVALID_PARAMETER_VALUE", "Invalid value 0 for parameter 'max_results' supplied. It must be a positive integer")

	// Delete and restore.
	e.ok("POST", "experiments/delete", `{"experiment_id": "1"}`, "")
	e.wantJSON(e.ok("GET", "experiments/get", "", "experiment_id=1"), `{"experiment": {"lifecycle_stage": "deleted"}}`)
	e.wantErr(e.do("POST", "experiments/delete", `{"experiment_id": "1"}`, ""), 404, "RESOURCE_DOES_NOT_EXIST", "No Experiment with id=1 exists")
	e.wantErr(e.do("POST", "experiments/update", `{"experiment_id": "1", "new_name": "x"}`, ""), 400, "INVALID_PARAMETER_VALUE", "Cannot rename a non-active experiment.")
	e.wantErr(e.do("POST", "experiments/create", `{"name": "churn-v2"}`, ""), 400, "RESOURCE_ALREADY_EXISTS", "It is deleted")
	e.wantErr(e.do("POST", "runs/create", `{"experiment_id": "1"}`, ""), 400, "INVALID_PARAMETER_VALUE", "The experiment 1 must be in the 'active' state. Current state is deleted.")
	e.wantJSON(e.ok("POST", "experiments/search", `{"view_type": "DELETED_ONLY", "max_results": 100}`, ""), `{"experiments": [{"experiment_id": "1"}]}`)
	r = e.ok("POST", "experiments/search", `{"view_type": "ACTIVE_ONLY", "filter": "name = 'churn-v2'", "max_results": 100}`, "")
	e.wantJSON(r, `{"experiments": "<absent>"}`)
	e.wantErr(e.do("POST", "experiments/search", `{"view_type": "SOME", "max_results": 100}`, ""), 400, "INVALID_PARAMETER_VALUE", "ACTIVE_ONLY, DELETED_ONLY, ALL")
	e.ok("POST", "experiments/restore", `{"experiment_id": "1"}`, "")
	e.wantErr(e.do("POST", "experiments/restore", `{"experiment_id": "1"}`, ""), 404, "RESOURCE_DOES_NOT_EXIST", "No Experiment with id=1 exists")
	e.wantErr(e.do("POST", "experiments/delete", `{"experiment_id": "0"}`, ""), 400, "INVALID_PARAMETER_VALUE", "Cannot delete the default experiment")

	// Every change is audited and evented.
	evs, err := e.Store.ListEvents(t.Context(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, ev := range evs {
		count[ev.Type]++
	}
	if count[cairn.EventExperimentCreated] != 5 || count[cairn.EventExperimentDeleted] != 1 || count[cairn.EventExperimentRestored] != 1 || count[cairn.EventExperimentUpdated] != 2 {
		t.Errorf("experiment events %v", count)
	}
}

func TestRuns(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	exp := str(e.ok("POST", "experiments/create", `{"name": "train"}`, ""), "experiment_id")

	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC).UnixMilli()
	r := e.ok("POST", "runs/create", jsonBody(t, map[string]any{"experiment_id": exp, "user_id": "ana", "start_time": start,
		"run_name": "first", "tags": []map[string]string{{"key": "mlflow.source.name", "value": "train.py"}}}), "")
	id := str(r, "run", "info", "run_id")
	e.wantJSON(r, fmt.Sprintf(`{"run": {"info": {"run_id": %q, "run_uuid": %q, "experiment_id": %q, "run_name": "first", "user_id": "ana",
		"status": "RUNNING", "start_time": %d, "end_time": "<absent>", "artifact_uri": "mlflow-artifacts:/%s/%s/artifacts", "lifecycle_stage": "active"},
		"data": {"tags": [{"key": "mlflow.runName", "value": "first"}, {"key": "mlflow.source.name", "value": "train.py"}], "metrics": "<absent>", "params": "<absent>"},
		"inputs": "<absent>"}}`, id, id, exp, start, exp, id))

	// A run without a name gets one; without an experiment it is in 0.
	r = e.ok("POST", "runs/create", `{}`, "")
	if n := str(r, "run", "info", "run_name"); n == "" || str(r, "run", "info", "experiment_id") != "0" {
		t.Errorf("unnamed run: %s", r.Raw)
	}
	e.wantErr(e.do("POST", "runs/create", `{"experiment_id": "42"}`, ""), 404, "RESOURCE_DOES_NOT_EXIST", "No Experiment with id=42 exists")

	// Logging.
	e.ok("POST", "runs/log-metric", jsonBody(t, map[string]any{"run_id": id, "key": "loss", "value": 0.9, "timestamp": start + 1000, "step": 1}), "")
	e.ok("POST", "runs/log-metric", jsonBody(t, map[string]any{"run_uuid": id, "key": "loss", "value": 0.5, "timestamp": start + 2000, "step": 2}), "")
	e.ok("POST", "runs/log-parameter", jsonBody(t, map[string]any{"run_id": id, "key": "lr", "value": "0.01"}), "")
	e.ok("POST", "runs/log-parameter", jsonBody(t, map[string]any{"run_id": id, "key": "lr", "value": "0.01"}), "") // same value: fine
	e.wantErr(e.do("POST", "runs/log-parameter", jsonBody(t, map[string]any{"run_id": id, "key": "lr", "value": "0.02"}), ""),
		400, "INVALID_PARAMETER_VALUE", "Changing param values is not allowed. Param with key='lr' was already logged with value='0.01'")
	e.ok("POST", "runs/set-tag", jsonBody(t, map[string]any{"run_id": id, "key": "phase", "value": "fit"}), "")
	e.ok("POST", "runs/log-batch", jsonBody(t, map[string]any{"run_id": id,
		"metrics": []map[string]any{{"key": "auc", "value": 0.8, "timestamp": start + 3000, "step": 0}, {"key": "auc", "value": 0.85, "timestamp": start + 4000, "step": 1}},
		"params":  []map[string]string{{"key": "depth", "value": "6"}},
		"tags":    []map[string]string{{"key": "stage", "value": "two"}}}), "")
	e.ok("POST", "runs/log-batch", jsonBody(t, map[string]any{"run_id": id}), "") // empty batch: fine
	r = e.ok("GET", "runs/get", "", "run_id="+id)
	e.wantJSON(r, fmt.Sprintf(`{"run": {"data": {
		"metrics": [{"key": "auc", "value": 0.85, "timestamp": %d, "step": 1}, {"key": "loss", "value": 0.5, "timestamp": %d, "step": 2}],
		"params": [{"key": "depth", "value": "6"}, {"key": "lr", "value": "0.01"}],
		"tags": [{"key": "mlflow.runName", "value": "first"}, {"key": "mlflow.source.name", "value": "train.py"}, {"key": "phase", "value": "fit"}, {"key": "stage", "value": "two"}]}}}`,
		start+4000, start+2000))
	r = e.ok("GET", "metrics/get-history", "", q("run_id", id, "metric_key", "loss"))
	e.wantJSON(r, fmt.Sprintf(`{"metrics": [{"key": "loss", "value": 0.9, "step": 1, "timestamp": %d}, {"key": "loss", "value": 0.5, "step": 2, "timestamp": %d}]}`, start+1000, start+2000))
	r = e.ok("GET", "metrics/get-history", "", q("run_id", id, "metric_key", "loss", "max_results", "1"))
	e.wantJSON(r, `{"metrics": [{"value": 0.9}], "next_page_token": "<string>"}`)
	r = e.ok("GET", "metrics/get-history", "", q("run_id", id, "metric_key", "loss", "max_results", "1", "page_token", str(r, "next_page_token")))
	e.wantJSON(r, `{"metrics": [{"value": 0.5}], "next_page_token": "<absent>"}`)
	e.wantJSON(e.ok("GET", "metrics/get-history", "", q("run_id", id, "metric_key", "never")), `{"metrics": "<absent>"}`)

	// Validation.
	for _, tc := range []struct{ name, path, body, msg string }{
		{"metric without timestamp", "runs/log-metric", `{"run_id": "%s", "key": "m", "value": 1}`, "Missing value for required parameter 'timestamp'"},
		{"metric with a bad name", "runs/log-metric", `{"run_id": "%s", "key": "a!", "value": 1, "timestamp": 1}`, "Invalid metric name: 'a!'"},
		{"metric with a path name", "runs/log-metric", `{"run_id": "%s", "key": "../x", "value": 1, "timestamp": 1}`, "Invalid metric name: '../x'"},
		{"metric with a string value", "runs/log-metric", `{"run_id": "%s", "key": "m", "value": "high", "timestamp": 1}`, "Got invalid value high for metric 'm' (timestamp=1)"},
		{"batch metric with a bad value", "runs/log-batch", `{"run_id": "%s", "metrics": [{"key": "m", "value": true, "timestamp": 1}]}`, "Got invalid value true for metric 'm'"},
		{"batch metric with a negative timestamp", "runs/log-batch", `{"run_id": "%s", "metrics": [{"key": "m", "value": 1, "timestamp": -1}]}`, "Got invalid timestamp -1 for metric 'm'"},
		{"param value too long", "runs/log-parameter", `{"run_id": "%s", "key": "p", "value": "` + strings.Repeat("v", 6001) + `"}`, "Param value '" + strings.Repeat("v", 250) + "' had length 6001, which exceeded length limit of 6000"},
		{"tag value too long", "runs/set-tag", `{"run_id": "%s", "key": "t", "value": "` + strings.Repeat("v", 5001) + `"}`, "had length 5001, which exceeded length limit of 5000"},
		{"duplicate params in a batch", "runs/log-batch", `{"run_id": "%s", "params": [{"key": "a", "value": "1"}, {"key": "a", "value": "2"}]}`, "Duplicate parameter keys have been submitted: ['a']"},
		{"batch changing a param", "runs/log-batch", `{"run_id": "%s", "params": [{"key": "depth", "value": "7"}]}`, "Changing param values is not allowed. Params were already logged='[{'key': 'depth', 'old_value': '6', 'new_value': '7'}]' for run ID="},
		{"tag without key", "runs/set-tag", `{"run_id": "%s", "value": "v"}`, "Missing value for required parameter 'key'"},
		{"run without id", "runs/log-parameter", `{"key": "p", "value": "v"}`, "Missing value for required parameter 'run_id'"},
	} {
		body := tc.body
		if strings.Contains(body, "%s") {
			body = fmt.Sprintf(body, id)
		}
		r := e.do("POST", tc.path, body, "")
		if r.Status != 400 || str(r, "error_code") != "INVALID_PARAMETER_VALUE" || !strings.Contains(str(r, "message"), tc.msg) {
			t.Errorf("%s: %d %.300s, want 400 INVALID_PARAMETER_VALUE containing %q", tc.name, r.Status, r.Raw, tc.msg)
		}
	}
	many := make([]map[string]any, 1001)
	for i := range many {
		many[i] = map[string]any{"key": "m", "value": i, "timestamp": 1}
	}
	e.wantErr(e.do("POST", "runs/log-batch", jsonBody(t, map[string]any{"run_id": id, "metrics": many}), ""), 400, "INVALID_PARAMETER_VALUE",
		"A batch logging request can contain at most 1000 metrics. Got 1001 metrics.")
	params := make([]map[string]string, 101)
	for i := range params {
		params[i] = map[string]string{"key": fmt.Sprintf("p%d", i), "value": "v"}
	}
	e.wantErr(e.do("POST", "runs/log-batch", jsonBody(t, map[string]any{"run_id": id, "params": params}), ""), 400, "INVALID_PARAMETER_VALUE",
		"at most 100 params")
	e.wantErr(e.do("POST", "runs/log-batch", jsonBody(t, map[string]any{"run_id": id, "tags": params}), ""), 400, "INVALID_PARAMETER_VALUE",
		"at most 100 tags")
	// Nothing of the refused requests was written.
	r = e.ok("GET", "runs/get", "", "run_id="+id)
	e.wantJSON(r, `{"run": {"data": {"params": [{"key": "depth", "value": "6"}, {"key": "lr", "value": "0.01"}]}}}`)
	e.wantErr(e.do("GET", "runs/get", "", "run_id=0123456789abcdef0123456789abcdef"), 404, "RESOURCE_DOES_NOT_EXIST", "Run with id=0123456789abcdef0123456789abcdef not found")
	e.wantErr(e.do("POST", "runs/log-metric", `{"run_id": "nope", "key": "m", "value": 1, "timestamp": 1}`, ""), 404, "RESOURCE_DOES_NOT_EXIST", "Run with id=nope not found")

	// Tags: delete; the run name tag follows the name.
	e.ok("POST", "runs/delete-tag", jsonBody(t, map[string]any{"run_id": id, "key": "stage"}), "")
	e.wantErr(e.do("POST", "runs/delete-tag", jsonBody(t, map[string]any{"run_id": id, "key": "stage"}), ""), 404, "RESOURCE_DOES_NOT_EXIST", "No tag with name: stage in run with id "+id)
	e.ok("POST", "runs/set-tag", jsonBody(t, map[string]any{"run_id": id, "key": "mlflow.runName", "value": "renamed"}), "")
	e.wantJSON(e.ok("GET", "runs/get", "", "run_id="+id), `{"run": {"info": {"run_name": "renamed"}}}`)

	// Update: end the run.
	end := start + 60000
	r = e.ok("POST", "runs/update", jsonBody(t, map[string]any{"run_id": id, "status": "FINISHED", "end_time": end, "run_name": "final"}), "")
	e.wantJSON(r, fmt.Sprintf(`{"run_info": {"run_id": %q, "status": "FINISHED", "end_time": %d, "run_name": "final"}}`, id, end))
	e.wantJSON(e.ok("GET", "runs/get", "", "run_id="+id), `{"run": {"info": {"run_name": "final"}}}`)
	// An unknown status is dropped, as MLflow's protobuf parsing drops it.
	e.wantJSON(e.ok("POST", "runs/update", jsonBody(t, map[string]any{"run_id": id, "status": "DONE"}), ""), `{"run_info": {"status": "FINISHED"}}`)

	// Inputs, outputs and the legacy model history.
	e.ok("POST", "runs/log-inputs", jsonBody(t, map[string]any{"run_id": id, "datasets": []map[string]any{{
		"dataset": map[string]string{"name": "train", "digest": "abc123", "source_type": "local", "source": `{"uri": "/data/train.csv"}`},
		"tags":    []map[string]string{{"key": "mlflow.data.context", "value": "training"}}}}}), "")
	e.wantErr(e.do("POST", "runs/log-inputs", jsonBody(t, map[string]any{"run_id": id, "datasets": []map[string]any{{"dataset": map[string]string{"name": "x"}}}}), ""),
		400, "INVALID_PARAMETER_VALUE", "Missing value for required parameter 'dataset.digest'")
	e.ok("POST", "runs/outputs", jsonBody(t, map[string]any{"run_id": id, "models": []map[string]any{{"model_id": "m-0123", "step": 3}}}), "")
	mj := `{"artifact_path": "model", "flavors": {"python_function": {}}, "run_id": "` + id + `", "utc_time_created": "2026-01-01 00:00:00.000000"}`
	e.ok("POST", "runs/log-model", jsonBody(t, map[string]any{"run_id": id, "model_json": mj}), "")
	e.wantErr(e.do("POST", "runs/log-model", jsonBody(t, map[string]any{"run_id": id, "model_json": "{"}), ""), 400, "INVALID_PARAMETER_VALUE", "Malformed model info.")
	e.wantErr(e.do("POST", "runs/log-model", jsonBody(t, map[string]any{"run_id": id, "model_json": "{}"}), ""), 400, "INVALID_PARAMETER_VALUE", "Model json is missing mandatory fields")
	r = e.ok("GET", "runs/get", "", "run_id="+id)
	e.wantJSON(r, `{"run": {"inputs": {"dataset_inputs": [{"dataset": {"name": "train", "digest": "abc123", "source_type": "local", "source": "{\"uri\": \"/data/train.csv\"}"},
		"tags": [{"key": "mlflow.data.context", "value": "training"}]}]}, "outputs": {"model_outputs": [{"model_id": "m-0123", "step": 3}]}}}`)
	var hist []map[string]any
	for _, tg := range r.Body["run"].(map[string]any)["data"].(map[string]any)["tags"].([]any) {
		if tg.(map[string]any)["key"] == "mlflow.log-model.history" {
			_ = json.Unmarshal([]byte(tg.(map[string]any)["value"].(string)), &hist)
		}
	}
	if len(hist) != 1 || hist[0]["artifact_path"] != "model" {
		t.Errorf("mlflow.log-model.history = %v", hist)
	}

	// The same run through the native API.
	nr, err := e.Client.GetRun(t.Context(), id)
	if err != nil || nr.Name != "final" || nr.Params["lr"] != "0.01" || nr.Metrics["loss"] != 0.5 || nr.UserID != "ana" || nr.Status != cairn.RunFinished {
		t.Errorf("native GetRun = %+v, %v", nr, err)
	}

	// Delete and restore.
	e.ok("POST", "runs/delete", jsonBody(t, map[string]any{"run_id": id}), "")
	e.wantJSON(e.ok("GET", "runs/get", "", "run_id="+id), `{"run": {"info": {"lifecycle_stage": "deleted"}}}`)
	e.wantErr(e.do("POST", "runs/log-metric", jsonBody(t, map[string]any{"run_id": id, "key": "m", "value": 1, "timestamp": 1}), ""),
		400, "INVALID_PARAMETER_VALUE", "The run "+id+" must be in the 'active' state. Current state is deleted.")
	e.ok("GET", "metrics/get-history", "", q("run_id", id, "metric_key", "loss"))
	if _, err := e.Client.GetRun(t.Context(), id); !cairn.IsCode(err, cairn.ENOTFOUND) {
		t.Errorf("native GetRun of a deleted run: %v", err)
	}
	e.ok("POST", "runs/restore", jsonBody(t, map[string]any{"run_id": id}), "")
	e.wantJSON(e.ok("GET", "runs/get", "", "run_id="+id), `{"run": {"info": {"lifecycle_stage": "active"}}}`)
	e.wantErr(e.do("POST", "runs/delete", `{"run_id": "nope"}`, ""), 404, "RESOURCE_DOES_NOT_EXIST", "Run with id=nope not found")
}

func TestSearchRuns(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	exp := str(e.ok("POST", "experiments/create", `{"name": "grid"}`, ""), "experiment_id")
	other := str(e.ok("POST", "experiments/create", `{"name": "other"}`, ""), "experiment_id")
	var ids []string
	for i := range 5 {
		r := e.ok("POST", "runs/create", jsonBody(t, map[string]any{"experiment_id": exp, "run_name": fmt.Sprintf("r%d", i), "start_time": 1_780_000_000_000 + i*1000}), "")
		id := str(r, "run", "info", "run_id")
		ids = append(ids, id)
		e.ok("POST", "runs/log-batch", jsonBody(t, map[string]any{"run_id": id,
			"metrics": []map[string]any{{"key": "auc", "value": 0.5 + float64(i)/10, "timestamp": 1, "step": 0}},
			"params":  []map[string]string{{"key": "depth", "value": fmt.Sprint(i % 2)}},
			"tags":    []map[string]string{{"key": "team", "value": []string{"a", "b"}[i%2]}}}), "")
	}
	e.ok("POST", "runs/create", jsonBody(t, map[string]any{"experiment_id": other, "run_name": "elsewhere"}), "")
	e.ok("POST", "runs/update", jsonBody(t, map[string]any{"run_id": ids[4], "status": "FINISHED"}), "")
	e.ok("POST", "runs/delete", jsonBody(t, map[string]any{"run_id": ids[0]}), "")

	names := func(r *response) string {
		var out []string
		runs, _ := r.Body["runs"].([]any)
		for _, x := range runs {
			info := x.(map[string]any)["info"].(map[string]any)
			out = append(out, info["run_name"].(string))
		}
		return strings.Join(out, ",")
	}
	for _, tc := range []struct {
		name, body, want string
	}{
		{"default order: newest first, deleted hidden", `{"experiment_ids": ["%s"]}`, "r4,r3,r2,r1"},
		{"metric filter", `{"experiment_ids": ["%s"], "filter": "metrics.auc > 0.65"}`, "r4,r3,r2"},
		{"param and tag filter", `{"experiment_ids": ["%s"], "filter": "params.depth = '1' and tags.team = 'b'"}`, "r3,r1"},
		{"attribute filter", `{"experiment_ids": ["%s"], "filter": "attributes.status = 'FINISHED'"}`, "r4"},
		{"run name like", `{"experiment_ids": ["%s"], "filter": "attributes.run_name LIKE 'r%%'", "order_by": ["attributes.run_name ASC"]}`, "r1,r2,r3,r4"},
		{"order by metric", `{"experiment_ids": ["%s"], "order_by": ["metrics.auc ASC"]}`, "r1,r2,r3,r4"},
		{"start time filter", `{"experiment_ids": ["%s"], "filter": "attributes.start_time >= 1780000003000"}`, "r4,r3"},
		{"deleted only", `{"experiment_ids": ["%s"], "run_view_type": "DELETED_ONLY"}`, "r0"},
		{"all", `{"experiment_ids": ["%s"], "run_view_type": "ALL", "max_results": 2}`, "r4,r3"},
		{"no experiments", `{"experiment_ids": []}`, ""},
	} {
		body := tc.body
		if strings.Contains(body, "%s") {
			body = fmt.Sprintf(body, exp)
		}
		r := e.do("POST", "runs/search", body, "")
		if r.Status != 200 || names(r) != tc.want {
			t.Errorf("%s: %d %s, want runs %q", tc.name, r.Status, r.Raw, tc.want)
		}
	}
	// Pages.
	r := e.ok("POST", "runs/search", jsonBody(t, map[string]any{"experiment_ids": []string{exp, other}, "max_results": 3}), "")
	if names(r) != "elsewhere,r4,r3" || str(r, "next_page_token") == "" {
		t.Fatalf("page 1: %s", r.Raw)
	}
	r = e.ok("POST", "runs/search", jsonBody(t, map[string]any{"experiment_ids": []string{exp, other}, "max_results": 3, "page_token": str(r, "next_page_token")}), "")
	if names(r) != "r2,r1" || str(r, "next_page_token") != "" {
		t.Fatalf("page 2: %s", r.Raw)
	}
	// A search result carries the run's data.
	r = e.ok("POST", "runs/search", jsonBody(t, map[string]any{"experiment_ids": []string{exp}, "filter": "attributes.run_name = 'r2'"}), "")
	e.wantJSON(r, `{"runs": [{"data": {"metrics": [{"key": "auc", "value": 0.7, "step": 0, "timestamp": 1}], "params": [{"key": "depth", "value": "0"}]}}]}`)
	for _, tc := range []struct{ name, filter, msg string }{
		{"OR", "metrics.auc > 1 OR metrics.auc < 0", "Invalid clause(s) in filter string"},
		{"metric against a string", "metrics.auc > 'x'", "Expected numeric value type for metric"},
		{"param comparator", "params.depth > '1'", "Invalid comparator '>'"},
		{"unknown attribute", "attributes.size = 1", "Invalid attribute key 'size'"},
	} {
		r := e.do("POST", "runs/search", jsonBody(t, map[string]any{"experiment_ids": []string{exp}, "filter": tc.filter}), "")
		if r.Status != 400 || !strings.Contains(str(r, "message"), tc.msg) {
			t.Errorf("%s: %d %s, want 400 with %q", tc.name, r.Status, r.Raw, tc.msg)
		}
	}
}

// Deleting an experiment deletes its active runs, as MLflow does:
// runs/get says deleted, search_runs' ACTIVE_ONLY hides them, logging to
// them is refused; restoring brings back those runs and only those (a run
// deleted on its own before stays deleted). One audit entry and event
// each, counting the runs. On both stores.
func TestExperimentDeleteCascadesToRuns(t *testing.T) {
	for _, st := range storeEnvs {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			e := st.open(t)
			ctx := t.Context()
			exp := str(e.ok("POST", "experiments/create", `{"name": "cascade"}`, ""), "experiment_id")
			other := str(e.ok("POST", "experiments/create", `{"name": "bystander"}`, ""), "experiment_id")
			newRun := func(exp string) string {
				r := e.ok("POST", "runs/create", `{"experiment_id": "`+exp+`"}`, "")
				return str(r, "run", "info", "run_id")
			}
			a, b, early, elsewhere := newRun(exp), newRun(exp), newRun(exp), newRun(other)
			e.ok("POST", "runs/delete", `{"run_id": "`+early+`"}`, "")

			stage := func(id string) string {
				return str(e.ok("GET", "runs/get", "", q("run_id", id)), "run", "info", "lifecycle_stage")
			}
			search := func(view string) []string {
				r := e.ok("POST", "runs/search", jsonBody(t, map[string]any{"experiment_ids": []string{exp}, "run_view_type": view}), "")
				var ids []string
				runs, _ := r.Body["runs"].([]any)
				for _, x := range runs {
					info := x.(map[string]any)["info"].(map[string]any)
					ids = append(ids, info["run_id"].(string))
				}
				sort.Strings(ids)
				return ids
			}
			sorted := func(ids ...string) []string { sort.Strings(ids); return ids }

			e.ok("POST", "experiments/delete", `{"experiment_id": "`+exp+`"}`, "")
			for id, want := range map[string]string{a: "deleted", b: "deleted", early: "deleted", elsewhere: "active"} {
				if got := stage(id); got != want {
					t.Errorf("after the delete, run %s is %s, want %s", id, got, want)
				}
			}
			if got := search("ACTIVE_ONLY"); len(got) != 0 {
				t.Errorf("ACTIVE_ONLY after the delete: %v, want none", got)
			}
			if got, want := search("DELETED_ONLY"), sorted(a, b, early); !slices.Equal(got, want) {
				t.Errorf("DELETED_ONLY after the delete: %v, want %v", got, want)
			}
			e.wantErr(e.do("POST", "runs/log-metric", `{"run_id": "`+a+`", "key": "m", "value": 1, "timestamp": 1}`, ""),
				400, "INVALID_PARAMETER_VALUE", "must be in the 'active' state")

			e.ok("POST", "experiments/restore", `{"experiment_id": "`+exp+`"}`, "")
			for id, want := range map[string]string{a: "active", b: "active", early: "deleted", elsewhere: "active"} {
				if got := stage(id); got != want {
					t.Errorf("after the restore, run %s is %s, want %s", id, got, want)
				}
			}
			if got, want := search("ACTIVE_ONLY"), sorted(a, b); !slices.Equal(got, want) {
				t.Errorf("ACTIVE_ONLY after the restore: %v, want %v", got, want)
			}
			if got, want := search("ALL"), sorted(a, b, early); !slices.Equal(got, want) {
				t.Errorf("ALL after the restore: %v, want %v", got, want)
			}

			// One audit entry and one event per change, with the count.
			for action, runs := range map[string]float64{cairn.EventExperimentDeleted: 2, cairn.EventExperimentRestored: 2} {
				audit, err := e.Client.ListAudit(ctx, cairn.AuditQuery{Action: action, Limit: 10})
				if err != nil {
					t.Fatal(err)
				}
				if len(audit.Items) != 1 {
					t.Fatalf("%d %s audit entries, want 1", len(audit.Items), action)
				}
				var after struct {
					ID   string  `json:"id"`
					Runs float64 `json:"runs"`
				}
				if err := json.Unmarshal(audit.Items[0].After, &after); err != nil || after.ID != exp || after.Runs != runs {
					t.Errorf("%s audit after = %s (%v), want experiment %s with runs %v", action, audit.Items[0].After, err, exp, runs)
				}
			}
			events, err := e.Client.ListEvents(ctx, 0, 1000, 0)
			if err != nil {
				t.Fatal(err)
			}
			var types []string
			for _, ev := range events.Items {
				if strings.HasPrefix(ev.Type, "experiment.") || strings.HasPrefix(ev.Type, "run.") {
					types = append(types, ev.Type)
				}
			}
			if n := strings.Count(strings.Join(types, " "), cairn.EventExperimentDeleted); n != 1 {
				t.Errorf("%d experiment.deleted events, want 1 (runs go with it, not one event each): %v", n, types)
			}
		})
	}
}
