package mlflowapi_test

import (
	"encoding/json"
	"log/slog"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cairn-registry/cairn/internal/httpapi/apitest"
	"github.com/cairn-registry/cairn/internal/mlflowapi"
)

type runListing struct {
	RootURI       string     `json:"root_uri"`
	Files         []fileInfo `json:"files"`
	NextPageToken string     `json:"next_page_token"`
}

// listRun calls GET artifacts/list under prefix with query and decodes a
// 200 answer.
func (e *env) listRun(prefix, query string) runListing {
	e.t.Helper()
	r := e.do("GET", prefix+"artifacts/list", "", query)
	if r.Status != 200 {
		e.t.Fatalf("artifacts/list?%s: %d %s", query, r.Status, r.Raw)
	}
	var out runListing
	if err := json.Unmarshal(r.Raw, &out); err != nil {
		e.t.Fatal(err)
	}
	return out
}

// newRun creates an experiment and a run in it through the MLflow API and
// returns the run's id and artifact root below the proxy.
func (e *env) newRun(experiment, location string) (id, root string) {
	e.t.Helper()
	body := map[string]string{"name": experiment}
	if location != "" {
		body["artifact_location"] = location
	}
	exp := str(e.ok("POST", "experiments/create", jsonBody(e.t, body), ""), "experiment_id")
	r := e.ok("POST", "runs/create", `{"experiment_id": "`+exp+`"}`, "")
	run, _ := r.Body["run"].(map[string]any)
	info, _ := run["info"].(map[string]any)
	id, _ = info["run_id"].(string)
	uri, _ := info["artifact_uri"].(string)
	return id, strings.TrimPrefix(uri, "mlflow-artifacts:/")
}

// A run's files are listed relative to its artifact root, directory by
// directory, under both prefixes, as MLflow's tracking server lists a
// proxied run's artifacts.
func TestListRunArtifacts(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id, root := e.newRun("listing", "")
	e.put(root+"/model/MLmodel", "flavors: {}\n")
	e.put(root+"/model/model.pkl", "0123456789")
	e.put(root+"/model/data/weights.bin", "w")
	e.put(root+"/notes.txt", "n")
	other, otherRoot := e.newRun("other", "")
	e.put(otherRoot+"/secret.txt", "not this run's")

	rootURI := "mlflow-artifacts:/" + root
	for _, prefix := range []string{"/api/2.0/mlflow/", "/ajax-api/2.0/mlflow/"} {
		got := e.listRun(prefix, q("run_id", id))
		want := runListing{RootURI: rootURI, Files: []fileInfo{{Path: "model", IsDir: true}, {Path: "notes.txt", FileSize: size(1)}}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s: the run's root (-want +got):\n%s", prefix, diff)
		}
	}
	got := e.listRun("", q("run_uuid", id, "path", "model"))
	want := runListing{RootURI: rootURI, Files: []fileInfo{
		{Path: "model/MLmodel", FileSize: size(12)}, {Path: "model/data", IsDir: true}, {Path: "model/model.pkl", FileSize: size(10)}}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("path=model (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]fileInfo{{Path: "model/data/weights.bin", FileSize: size(1)}}, e.listRun("", q("run_id", id, "path", "model/data")).Files); diff != "" {
		t.Errorf("path=model/data (-want +got):\n%s", diff)
	}
	// A directory that does not exist, and a file, list empty (MLflow's
	// answer: root_uri and no files member).
	for _, p := range []string{"nothing", "notes.txt", "model/MLmodel"} {
		r := e.ok("GET", "artifacts/list", "", q("run_id", id, "path", p))
		if string(r.Raw) != `{"root_uri":"`+rootURI+`"}` {
			t.Errorf("path=%s: %s, want only the root_uri", p, r.Raw)
		}
	}
	if got := e.listRun("", q("run_id", other)); len(got.Files) != 1 || got.Files[0].Path != "secret.txt" {
		t.Errorf("the other run lists %v", got.Files)
	}

	// A deleted run's files still list, as runs/get still answers it.
	e.ok("POST", "runs/delete", `{"run_id": "`+id+`"}`, "")
	if got := e.listRun("", q("run_id", id)); len(got.Files) != 2 {
		t.Errorf("deleted run lists %v", got.Files)
	}

	e.wantErr(e.do("GET", "artifacts/list", "", q("run_id", "0123456789abcdef0123456789abcdef")), 404, "RESOURCE_DOES_NOT_EXIST", "Run with id=0123456789abcdef0123456789abcdef not found")
	e.wantErr(e.do("GET", "artifacts/list", "", ""), 400, "INVALID_PARAMETER_VALUE", "'run_id'")
	e.wantErr(e.do("POST", "artifacts/list", `{"run_id": "`+id+`"}`, ""), 405, "BAD_REQUEST", "allowed: GET")

	// A run whose experiment keeps artifacts elsewhere: Cairn cannot list
	// them, and says so rather than answer an empty list.
	s3run, _ := e.newRun("on-s3", "s3://bucket/exp")
	e.wantErr(e.do("GET", "artifacts/list", "", q("run_id", s3run)), 501, "NOT_IMPLEMENTED", "s3://bucket/exp/"+s3run+"/artifacts")
}

// The path parameter is checked as the proxy checks paths: every
// traversal form is 400 INVALID_PARAMETER_VALUE, before the run is looked
// up, and lists nothing of another run's or the reserved root's.
func TestListRunArtifactsTraversal(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id, root := e.newRun("traversal", "")
	e.put(root+"/ok.txt", "fine")
	for _, p := range []string{
		"..", "../..", "../../other", "model/../..", "./x", "%2e%2e", "%2E%2E/x", "%252e%252e/x", "..%2f..", "..%252f..",
		"/etc", "//proc/self/root", "%2fetc", "a\\b", "..\\..", "%5c..", "C:/x", "C:%5cwindows", "file:///etc/passwd",
		"x#/../..", "ok.txt#", "..;/x", "a;b", "a\x00b", "a\nb", "a//b", "a/", "/",
	} {
		for _, run := range []string{id, "0123456789abcdef0123456789abcdef"} {
			r := e.do("GET", "artifacts/list", "", url.Values{"run_id": {run}, "path": {p}}.Encode())
			if r.Status != 400 || str(r, "error_code") != "INVALID_PARAMETER_VALUE" {
				t.Errorf("path=%q (run %s): %d %s, want 400 INVALID_PARAMETER_VALUE", p, run[:4], r.Status, r.Raw)
			}
		}
	}
	// Names that merely look odd are fine.
	for _, p := range []string{"a..b", "..a", ".hidden", "100%", "sp ace"} {
		e.ok("GET", "artifacts/list", "", q("run_id", id, "path", p))
	}
}

// Pages: next_page_token walks a large directory in order; a forged
// token is refused.
func TestListRunArtifactsPages(t *testing.T) {
	t.Parallel()
	a := apitest.New(t, apitest.Options{})
	srv := mlflowapi.New(a.Service, mlflowapi.Options{Logger: slog.New(slog.NewJSONHandler(a.Logs, nil))})
	srv.SetRunArtifactPage(2)
	srv.Register(a.API.Mount)
	e := &env{Env: a, t: t}
	id, root := e.newRun("pages", "")
	for _, p := range []string{"a", "b/1", "b/2", "c", "d/x/y", "e"} {
		e.put(root+"/"+p, p)
	}
	var got []string
	token, pages := "", 0
	for {
		l := e.listRun("", q("run_id", id, "page_token", token))
		pages++
		for _, f := range l.Files {
			got = append(got, f.Path)
		}
		if token = l.NextPageToken; token == "" || pages > 5 {
			break
		}
	}
	if want := []string{"a", "b", "c", "d", "e"}; !cmp.Equal(got, want) || pages != 3 {
		t.Errorf("%d pages list %v, want 3 pages listing %v", pages, got, want)
	}
	for _, bad := range []string{"!!", "Zm9v" /* "foo": not under the run */} {
		e.wantErr(e.do("GET", "artifacts/list", "", q("run_id", id, "page_token", bad)), 400, "INVALID_PARAMETER_VALUE", "page")
	}
}
