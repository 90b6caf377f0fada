package mlflowapi_test

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/client"
	"github.com/cairn-registry/cairn/internal/registry"
)

// An MLmodel file as mlflow.sklearn.log_model writes it.
const sklearnMLmodel = `artifact_path: model
flavors:
  sklearn:
    pickled_model: model.pkl
    serialization_format: cloudpickle
    sklearn_version: 1.5.2
  python_function:
    env:
      conda: conda.yaml
      virtualenv: python_env.yaml
    loader_module: mlflow.sklearn
    model_path: model.pkl
    python_version: 3.11.10
mlflow_version: 2.17.2
signature:
  inputs: '[{"type": "double", "name": "x", "required": true}]'
  outputs: '[{"type": "long", "required": true}]'
  params: null
`

const gitCommit = "3f786850e387550fdab836ed7e6dc881de23001b"

// trainedRun makes a run as mlflow.start_run + log_model leaves it: metrics,
// params, the git commit and user tags, and the model's files uploaded
// through the proxy under the run's artifact directory.
func (e *env) trainedRun() (*cairn.Run, string) {
	e.t.Helper()
	ctx := e.t.Context()
	run, err := e.Client.CreateRun(ctx, client.RunCreate{Tags: map[string]string{gitCommitTagName: gitCommit, "mlflow.user": "ada"}})
	if err != nil {
		e.t.Fatal(err)
	}
	err = e.Client.LogRun(ctx, run.ID, client.RunLog{
		Metrics: []cairn.MetricPoint{{Key: "auc", Value: 0.91}, {Key: "loss", Value: 0.3}},
		Params:  map[string]string{"lr": "0.01", "depth": "6"},
	})
	if err != nil {
		e.t.Fatal(err)
	}
	dir := run.ExperimentID + "/" + run.ID + "/artifacts/model"
	e.put(dir+"/MLmodel", sklearnMLmodel)
	e.put(dir+"/model.pkl", "pickled weights v1")
	e.put(dir+"/requirements.txt", "scikit-learn==1.5.2\n")
	e.put(dir+"/conda.yaml", "dependencies: [python=3.11]\n")
	e.put(dir+"/data/extra.bin", "nested")
	return run, dir
}

const gitCommitTagName = "mlflow.source.git.commit"

func (e *env) createVersion(name, source, runID string) map[string]any {
	e.t.Helper()
	body := map[string]any{"name": name, "source": source}
	if runID != "" {
		body["run_id"] = runID
	}
	r := e.ok("POST", "model-versions/create", jsonBody(e.t, body), "")
	return r.Body["model_version"].(map[string]any)
}

// Registration from runs:/ snapshots the files under the source into the
// version's manifest and fills the record: the run's metrics, params,
// git commit (code version) and user, the MLmodel's flavor (framework)
// and signature, requirements.txt as dependencies, the registering user,
// and the run → version lineage edge.
func TestRegistrationFillsTheVersionRecord(t *testing.T) {
	e := newEnv(t)
	run, _ := e.trainedRun()
	e.ok("POST", "registered-models/create", `{"name": "churn"}`, "")
	r := e.do("POST", "model-versions/create", jsonBody(t, map[string]any{"name": "churn", "source": "runs:/" + run.ID + "/model"}), "",
		"Content-Type", "application/json", "X-Cairn-User", "grace")
	if r.Status != 200 {
		t.Fatalf("create: %d %s", r.Status, r.Raw)
	}
	mv := r.Body["model_version"].(map[string]any)
	if mv["status"] != "READY" || mv["source"] != "runs:/"+run.ID+"/model" || mv["run_id"] != run.ID {
		t.Errorf("model_version %v: want READY, the source verbatim and the run id", mv)
	}
	v, err := e.Client.GetVersion(t.Context(), "churn", 1)
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, f := range v.Files {
		paths = append(paths, f.Path)
	}
	if diff := cmp.Diff([]string{"MLmodel", "conda.yaml", "data/extra.bin", "model.pkl", "requirements.txt"}, paths); diff != "" {
		t.Errorf("manifest (-want +got):\n%s", diff)
	}
	if v.Files[3].Digest != cairn.DigestOf([]byte("pickled weights v1")) || v.Size != int64(len(sklearnMLmodel)+18+20+28+6) {
		t.Errorf("model.pkl %s, size %d", v.Files[3].Digest, v.Size)
	}
	want := struct {
		Metrics                   map[string]float64
		Params                    map[string]string
		Code, By, Framework, Deps string
		TrainedBy, RunID          string
		Signature                 string
	}{
		Metrics: map[string]float64{"auc": 0.91, "loss": 0.3}, Params: map[string]string{"lr": "0.01", "depth": "6"},
		Code: gitCommit, By: "grace", Framework: "sklearn", Deps: "requirements.txt", TrainedBy: "ada", RunID: run.ID,
		Signature: compact(t, json.RawMessage(`{"inputs":[{"type":"double","name":"x","required":true}],"outputs":[{"type":"long","required":true}]}`)),
	}
	got := want
	got.Metrics, got.Params, got.Code, got.By, got.Framework, got.Deps = v.Metrics, v.Params, v.SourceCodeVersion, v.CreatedBy, v.Framework, v.Dependencies
	got.TrainedBy, got.RunID, got.Signature = v.TrainedBy, v.RunID, compact(t, v.Signature)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("version record (-want +got):\n%s", diff)
	}
	g, err := e.Client.Lineage(t.Context(), "churn@v1", cairn.Upstream, 1)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := json.Marshal(g); !strings.Contains(string(b), run.ID) {
		t.Errorf("lineage of churn@v1 lacks run %s: %s", run.ID, b)
	}
	// The MLflow 2.x form: the run's artifact URI as the source, with run_id.
	mv = e.createVersion("churn", "mlflow-artifacts:/"+run.ExperimentID+"/"+run.ID+"/artifacts/model", run.ID)
	v2, err := e.Client.GetVersion(t.Context(), "churn", 2)
	if err != nil {
		t.Fatal(err)
	}
	if mv["version"] != "2" || v2.Digest != v.Digest || v2.Framework != "sklearn" || v2.SourceCodeVersion != gitCommit {
		t.Errorf("mlflow-artifacts: source: version %v, digest %s (want %s), framework %q, code %q", mv["version"], v2.Digest, v.Digest, v2.Framework, v2.SourceCodeVersion)
	}
}

func compact(t *testing.T, raw json.RawMessage) string {
	t.Helper()
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("signature %s: %v", raw, err)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// Overwriting or deleting a run's artifacts after registration changes
// nothing of the registered version: not its manifest, not the bytes
// get-download-uri leads the client to, not what garbage collection keeps.
func TestRegisteredVersionIsImmutable(t *testing.T) {
	e := newEnv(t)
	run, dir := e.trainedRun()
	e.ok("POST", "registered-models/create", `{"name": "churn"}`, "")
	e.createVersion("churn", "runs:/"+run.ID+"/model", "")
	e.ok("POST", "registered-models/alias", `{"name": "churn", "alias": "champion", "version": "1"}`, "")
	before, err := e.Client.GetVersion(t.Context(), "churn", 1)
	if err != nil {
		t.Fatal(err)
	}

	e.put(dir+"/model.pkl", "OVERWRITTEN weights")
	e.put(dir+"/MLmodel", "flavors: {pytorch: {}}\n")
	st, _, raw := e.raw("DELETE", artifactsBase+dir+"/requirements.txt", "", nil)
	if st != 200 {
		t.Fatalf("delete: %d %s", st, raw)
	}
	if st, body := e.get(dir + "/model.pkl"); st != 200 || body != "OVERWRITTEN weights" {
		t.Fatalf("the run's artifact: %d %q", st, body)
	}

	after, err := e.Client.GetVersion(t.Context(), "churn", 1)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(before.Files, after.Files); diff != "" || after.Framework != "sklearn" {
		t.Errorf("the version changed (-before +after):\n%s framework %q", diff, after.Framework)
	}

	// What mlflow.pyfunc.load_model("models:/churn@champion") does: alias,
	// download URI, listing and downloads through the proxy.
	mv := e.ok("GET", "registered-models/alias", "", q("name", "churn", "alias", "champion")).Body["model_version"].(map[string]any)
	uri := e.ok("GET", "model-versions/get-download-uri", "", q("name", "churn", "version", mv["version"].(string))).Body["artifact_uri"].(string)
	if uri != "mlflow-artifacts:/_cairn/versions/churn/1" {
		t.Fatalf("download URI %q", uri)
	}
	root := strings.TrimPrefix(uri, "mlflow-artifacts:/")
	got := e.list(artifactsBase[:len(artifactsBase)-len("artifacts/")], root)
	want := []fileInfo{{Path: "MLmodel", FileSize: size(int64(len(sklearnMLmodel)))}, {Path: "conda.yaml", FileSize: size(28)},
		{Path: "data", IsDir: true}, {Path: "model.pkl", FileSize: size(18)}, {Path: "requirements.txt", FileSize: size(20)}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("listing of the version (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]fileInfo{{Path: "extra.bin", FileSize: size(6)}}, e.list("/api/2.0/mlflow-artifacts/", root+"/data")); diff != "" {
		t.Errorf("listing of data/ (-want +got):\n%s", diff)
	}
	for file, content := range map[string]string{"model.pkl": "pickled weights v1", "MLmodel": sklearnMLmodel, "requirements.txt": "scikit-learn==1.5.2\n", "data/extra.bin": "nested"} {
		if st, body := e.get(root + "/" + file); st != 200 || body != content {
			t.Errorf("download %s of the version: %d %q, want %q", file, st, body, content)
		}
	}
	// The UI route serves the same file.
	st, _, raw = e.raw("GET", "/model-versions/get-artifact", q("name", "churn", "version", "1", "path", "model.pkl"), nil)
	if st != 200 || string(raw) != "pickled weights v1" {
		t.Errorf("get-artifact: %d %q", st, raw)
	}
	// The version's files are read-only.
	st, _, raw = e.raw("PUT", artifactsBase+root+"/model.pkl", "", strings.NewReader("x"))
	if st != 400 {
		t.Errorf("PUT into a version: %d %s, want 400", st, raw)
	}
	st, _, raw = e.raw("DELETE", artifactsBase+root+"/model.pkl", "", nil)
	if st != 400 {
		t.Errorf("DELETE in a version: %d %s, want 400", st, raw)
	}

	// Garbage collection keeps the overwritten bytes the version refers to.
	if _, err := e.Service.GC(t.Context(), registry.GCOptions{Grace: 1}); err != nil {
		t.Fatal(err)
	}
	if st, body := e.get(root + "/model.pkl"); st != 200 || body != "pickled weights v1" {
		t.Errorf("after GC: %d %q", st, body)
	}
}

// The MLflow door never deduplicates: the same source twice is two
// versions. A source Cairn cannot read is an external reference, as MLflow
// records it, and get-download-uri answers it verbatim.
func TestRegistrationSourcesCairnCannotRead(t *testing.T) {
	e := newEnv(t)
	run, _ := e.trainedRun()
	e.ok("POST", "registered-models/create", `{"name": "m"}`, "")
	a := e.createVersion("m", "runs:/"+run.ID+"/model", "")
	b := e.createVersion("m", "runs:/"+run.ID+"/model", "")
	if a["version"] != "1" || b["version"] != "2" {
		t.Errorf("same source twice: versions %v and %v, want 1 and 2", a["version"], b["version"])
	}
	for i, tc := range []struct{ source, runID string }{
		{"runs:/0123456789abcdef0123456789abcdef/model", ""}, // no such run
		{"s3://bucket/models/churn", ""},
		{"mlflow-artifacts:/" + run.ExperimentID + "/" + run.ID + "/artifacts/empty", ""}, // nothing there
		{"mlflow-artifacts://other-server:5000/1/r/artifacts/model", ""},                  // another server's
		{"models:/m-0123456789abcdef0123456789abcdef", ""},                                // a logged model Cairn does not have
	} {
		mv := e.createVersion("m", tc.source, tc.runID)
		n := int64(i + 3)
		v, err := e.Client.GetVersion(t.Context(), "m", n)
		if err != nil {
			t.Fatal(err)
		}
		if mv["status"] != "READY" || len(v.Files) != 0 || v.Source != tc.source {
			t.Errorf("%s: status %v, %d files, source %q; want a READY external reference", tc.source, mv["status"], len(v.Files), v.Source)
		}
		uri := e.ok("GET", "model-versions/get-download-uri", "", q("name", "m", "version", mv["version"].(string))).Body["artifact_uri"]
		if uri != tc.source {
			t.Errorf("%s: download URI %v, want the source", tc.source, uri)
		}
	}
	// A known run_id with an external source still fills the record from
	// the run.
	e.createVersion("m", "s3://bucket/models/churn", run.ID)
	v, err := e.Client.GetVersion(t.Context(), "m", 8)
	if err != nil {
		t.Fatal(err)
	}
	if len(v.Files) != 0 || v.Metrics["auc"] != 0.91 || v.SourceCodeVersion != gitCommit {
		t.Errorf("external source with a run: files %d metrics %v code %q", len(v.Files), v.Metrics, v.SourceCodeVersion)
	}
	// get-artifact of an external reference Cairn does not store: 404.
	st, _, raw := e.raw("GET", "/model-versions/get-artifact", q("name", "m", "version", "4", "path", "MLmodel"), nil)
	if st != 404 {
		t.Errorf("get-artifact of an s3 reference: %d %s, want 404", st, raw)
	}
	for _, p := range []string{"../x", "%2e%2e/x", "/etc/passwd", "a\\b", "a#b"} {
		st, _, raw := e.raw("GET", "/model-versions/get-artifact", "name=m&version=1&path="+url.QueryEscape(p), nil)
		if st != 400 {
			t.Errorf("get-artifact path=%q: %d %s, want 400", p, st, raw)
		}
	}
	// Traversal through the version namespace is refused like any other.
	for _, p := range []string{"_cairn/versions/m/1/../../../x", "_cairn/versions/m/1/%2e%2e/x", "_cairn/versions/m/1//etc"} {
		if st, body := e.get(p); st != 400 {
			t.Errorf("GET %s: %d %s, want 400", p, st, body)
		}
	}
	if st, _ := e.get("_cairn/versions/m/99/MLmodel"); st != 404 {
		t.Errorf("a file of a missing version: %d, want 404", st)
	}
}

// A prompt (a registered model created with mlflow.prompt.is_prompt) gets
// versions of kind prompt, registered as given.
func TestPromptVersionsArePrompts(t *testing.T) {
	e := newEnv(t)
	e.ok("POST", "registered-models/create", `{"name": "greeting", "tags": [{"key": "mlflow.prompt.is_prompt", "value": "true"}]}`, "")
	e.ok("POST", "model-versions/create", `{"name": "greeting", "source": "dummy-source", "tags": [{"key": "mlflow.prompt.is_prompt", "value": "true"}, {"key": "mlflow.prompt.text", "value": "Hello {{name}}"}]}`, "")
	v, err := e.Client.GetVersion(t.Context(), "greeting", 1)
	if err != nil {
		t.Fatal(err)
	}
	if v.Kind != cairn.KindPrompt || v.Source != "dummy-source" || v.Tags["mlflow.prompt.text"] != "Hello {{name}}" {
		t.Errorf("prompt version: kind %q source %q tags %v", v.Kind, v.Source, v.Tags)
	}
}
