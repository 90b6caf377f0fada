package cli_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/cairn-registry/cairn/client"
)

// TestServeMountsMLflowAPI checks that 'cairn serve' answers MLflow's Model
// Registry API under both prefixes, beside /api/v1, over the same registry.
func TestServeMountsMLflowAPI(t *testing.T) {
	t.Parallel()
	s := serveInProcess(t, t.TempDir(), nil, "--addr", "127.0.0.1:0")
	base := s.first
	call := func(method, path, body string) (int, map[string]any) {
		t.Helper()
		req, err := http.NewRequest(method, base+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var out map[string]any
		if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
			t.Fatalf("%s %s: answer is not JSON: %v", method, path, err)
		}
		return res.StatusCode, out
	}
	if code, out := call("POST", "/api/2.0/mlflow/registered-models/create", `{"name": "churn"}`); code != 200 {
		t.Fatalf("create: %d %v", code, out)
	}
	if code, out := call("POST", "/ajax-api/2.0/mlflow/model-versions/create", `{"name": "churn", "source": "s3://b/m"}`); code != 200 || out["model_version"].(map[string]any)["status"] != "READY" {
		t.Fatalf("create version: %d %v", code, out)
	}
	if code, out := call("GET", "/api/2.0/mlflow/experiments/list", ""); code != 404 || out["error_code"] != "ENDPOINT_NOT_FOUND" {
		t.Errorf("unknown MLflow endpoint: %d %v", code, out)
	}
	v, err := client.New(base).GetVersion(context.Background(), "churn", 1)
	if err != nil || v.Source != "s3://b/m" {
		t.Errorf("the version through /api/v1: %+v, %v", v, err)
	}
	if code := s.stop(); code != 0 {
		t.Errorf("serve exited %d", code)
	}
}
