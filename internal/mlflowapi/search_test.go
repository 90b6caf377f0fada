package mlflowapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/cairn-registry/cairn"
)

// versionRec is what the test registered, to compute expected results.
type versionRec struct {
	model   string
	version int64
	team    string
	runID   string
	source  string
}

// seedVersions registers n versions round robin over four models through
// the MLflow API, with version tags team and run ids that vary.
func seedVersions(t *testing.T, e *env, n int) []versionRec {
	t.Helper()
	models := []string{"churn-a", "churn-b", "churn-c", "other"}
	for _, m := range models {
		e.ok("POST", "registered-models/create", jsonBody(t, map[string]any{"name": m}), "")
	}
	next := map[string]int64{}
	var recs []versionRec
	for i := range n {
		m := models[i%len(models)]
		team := "risk"
		if i%3 == 0 {
			team = "fraud"
		}
		rec := versionRec{model: m, team: team, runID: fmt.Sprintf("run%d", i%5), source: fmt.Sprintf("s3://b/%s/%d", m, i)}
		r := e.ok("POST", "model-versions/create", jsonBody(t, map[string]any{
			"name": m, "source": rec.source, "run_id": rec.runID,
			"tags": []map[string]string{{"key": "team", "value": team}},
		}), "")
		next[m]++
		mv := r.Body["model_version"].(map[string]any)
		if mv["version"] != strconv.FormatInt(next[m], 10) {
			t.Fatalf("version %d of %s registered as %v", next[m], m, mv["version"])
		}
		rec.version = next[m]
		recs = append(recs, rec)
	}
	return recs
}

// searchAll pages through model-versions/search and returns "model/version"
// keys in the order received, and how many pages it took.
func searchAll(t *testing.T, e *env, filter string, orderBy []string, max int) ([]string, int) {
	t.Helper()
	var keys []string
	token := ""
	pages := 0
	for {
		params := []string{"filter", filter, "max_results", strconv.Itoa(max)}
		for _, o := range orderBy {
			params = append(params, "order_by", o)
		}
		if token != "" {
			params = append(params, "page_token", token)
		}
		r := e.ok("GET", "model-versions/search", "", q(params...))
		pages++
		list, _ := r.Body["model_versions"].([]any)
		if len(list) > max {
			t.Fatalf("page of %d versions for max_results=%d", len(list), max)
		}
		for _, x := range list {
			mv := x.(map[string]any)
			keys = append(keys, fmt.Sprintf("%s/%s", mv["name"], mv["version"]))
		}
		tok, has := r.Body["next_page_token"]
		if !has {
			return keys, pages
		}
		token = tok.(string)
		if token == "" || pages > 1000 {
			t.Fatalf("bad next_page_token %q after %d pages", token, pages)
		}
	}
}

func TestSearchModelVersionsPagination(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	recs := seedVersions(t, e, 300)

	expect := func(keep func(versionRec) bool, less func(a, b versionRec) int) []string {
		var sel []versionRec
		for _, r := range recs {
			if keep(r) {
				sel = append(sel, r)
			}
		}
		slices.SortStableFunc(sel, less)
		out := make([]string, len(sel))
		for i, r := range sel {
			out[i] = fmt.Sprintf("%s/%d", r.model, r.version)
		}
		return out
	}
	byNameThenVersionAsc := func(a, b versionRec) int {
		if c := strings.Compare(a.model, b.model); c != 0 {
			return c
		}
		return int(a.version - b.version)
	}

	tests := []struct {
		name    string
		filter  string
		orderBy []string
		max     int
		keep    func(versionRec) bool
	}{
		{"name LIKE and tag", "name LIKE 'churn%' AND tags.team = 'fraud'", []string{"name ASC", "version_number ASC"}, 17,
			func(r versionRec) bool { return strings.HasPrefix(r.model, "churn") && r.team == "fraud" }},
		{"run_id IN and version_number", "run_id IN ('run1', 'run3') AND version_number > 10", []string{"name", "version_number"}, 50,
			func(r versionRec) bool { return (r.runID == "run1" || r.runID == "run3") && r.version > 10 }},
		{"source_path LIKE", "source_path LIKE 's3://b/other/%'", []string{"name ASC", "version_number ASC"}, 1000,
			func(r versionRec) bool { return r.model == "other" }},
		{"ILIKE and !=", "name ILIKE 'CHURN-_' AND tags.team != 'fraud'", []string{"name", "version_number"}, 33,
			func(r versionRec) bool { return strings.HasPrefix(r.model, "churn") && r.team != "fraud" }},
		{"quoted version number", "name = 'churn-b' AND version_number <= '5'", []string{"name", "version_number"}, 2,
			func(r versionRec) bool { return r.model == "churn-b" && r.version <= 5 }},
		{"everything", "", []string{"name", "version_number"}, 64,
			func(versionRec) bool { return true }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := expect(tt.keep, byNameThenVersionAsc)
			if len(want) == 0 {
				t.Fatal("the test selects nothing; it could not fail")
			}
			got, pages := searchAll(t, e, tt.filter, tt.orderBy, tt.max)
			if !slices.Equal(got, want) {
				t.Errorf("got %d versions %v\nwant %d %v", len(got), got, len(want), want)
			}
			if wantPages := (len(want) + tt.max - 1) / tt.max; pages < wantPages || pages > wantPages+1 {
				t.Errorf("%d pages of %d for %d results", pages, tt.max, len(want))
			}
		})
	}

	t.Run("descending version order", func(t *testing.T) {
		got, _ := searchAll(t, e, "name = 'churn-c'", []string{"version_number DESC"}, 20)
		want := expect(func(r versionRec) bool { return r.model == "churn-c" }, func(a, b versionRec) int { return int(b.version - a.version) })
		if !slices.Equal(got, want) {
			t.Errorf("got %v, want %v", got, want)
		}
	})

	t.Run("default order and size", func(t *testing.T) {
		// MLflow's default: the most recently updated first, up to 10,000,
		// which takes several registry pages streamed into one answer.
		r := e.ok("GET", "model-versions/search", "", "")
		list := r.Body["model_versions"].([]any)
		if len(list) != len(recs) {
			t.Fatalf("%d versions, want %d", len(list), len(recs))
		}
		if _, has := r.Body["next_page_token"]; has {
			t.Errorf("a complete answer has a next_page_token: %v", r.Body["next_page_token"])
		}
		var prev int64 = 1 << 62
		for _, x := range list {
			n, err := x.(map[string]any)["last_updated_timestamp"].(json.Number).Int64()
			if err != nil || n > prev {
				t.Fatalf("not ordered by last_updated_timestamp descending: %d after %d", n, prev)
			}
			prev = n
		}
	})
}

func TestSearchModelVersionsLargePages(t *testing.T) {
	t.Parallel()
	// More than one registry page (1,000) in one MLflow page, and a token
	// that continues exactly where the page stopped.
	if testing.Short() {
		t.Skip("registers over a thousand versions")
	}
	e := newEnv(t)
	e.ok("POST", "registered-models/create", `{"name": "big"}`, "")
	// Seeded through the service (what model-versions/create calls) to
	// keep the test fast; the scenario covers the endpoint.
	const n = 1005
	for i := range n {
		if _, err := e.Service.RegisterExternal(t.Context(), "big", cairn.VersionSpec{Source: fmt.Sprintf("s3://b/%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	got, pages := searchAll(t, e, "name = 'big'", []string{"version_number ASC"}, 1002)
	if pages != 2 || len(got) != n {
		t.Fatalf("%d versions in %d pages, want %d in 2", len(got), pages, n)
	}
	for i, k := range got {
		if k != fmt.Sprintf("big/%d", i+1) {
			t.Fatalf("result %d is %s, want big/%d", i, k, i+1)
		}
	}
}

func TestSearchErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.ok("POST", "registered-models/create", `{"name": "m"}`, "")
	tests := []struct {
		path, filter, extra, msg string
	}{
		{"model-versions/search", "name = 'm' OR name = 'n'", "", "Invalid clause(s) in filter string: 'OR'"},
		{"model-versions/search", "NOT name = 'm'", "", "Invalid clause(s) in filter string: 'NOT'"},
		{"model-versions/search", "(name = 'm') AND run_id = 'x'", "", "Invalid clause(s) in filter string: '('"},
		{"model-versions/search", "stage = 'None'", "", "Invalid attribute key 'stage' specified. Valid keys are '{'name', 'run_id', 'source_path', 'version_number'}'"},
		{"model-versions/search", "name IN ('m')", "", "Only the 'run_id' attribute supports comparison with a list"},
		{"model-versions/search", "metrics.auc > 0.9", "", "Invalid entity type 'metrics'"},
		{"model-versions/search", "version_number LIKE '1%'", "", "Invalid comparator"},
		{"model-versions/search", "version_number = 'x'", "", "Expected a numeric value for attribute 'version_number'"},
		{"model-versions/search", "tags.a > 'b'", "", "Invalid comparator for tag: >"},
		{"model-versions/search", "tags.a = 3", "", "Expected a quoted string value for tag"},
		{"model-versions/search", "name = 3", "", "support comparison with numeric values"},
		{"model-versions/search", "name = ", "", "Error on parsing filter"},
		{"model-versions/search", "", "max_results=200001", "It must be at most 200000, but got value 200001"},
		{"model-versions/search", "", "max_results=abc", "Invalid value abc for parameter 'max_results'"},
		{"model-versions/search", "", "page_token=bogus", "invalid page token"},
		{"model-versions/search", "", "order_by=stage", "Invalid order by key 'stage' specified."},
		{"model-versions/search", "", "order_by=name&order_by=name+DESC", "`order_by` contains duplicate fields"},
		{"model-versions/search", "", "order_by=name+SIDEWAYS", "Invalid order_by clause 'name SIDEWAYS'"},
		{"registered-models/search", "version_number = 1", "", "Invalid attribute key 'version_number' specified. Valid keys are '{'name'}'"},
		{"registered-models/search", "name = 'a' OR name = 'b'", "", "Invalid clause(s) in filter string: 'OR'"},
		{"registered-models/search", "", "max_results=1001", "It must be at most 1000, but got value 1001"},
		{"registered-models/search", "", "max_results=0", "It must be a positive integer"},
		{"registered-models/search", "", "order_by=version_number", "Invalid order by key 'version_number' specified."},
	}
	for _, tt := range tests {
		query := q("filter", tt.filter)
		if tt.extra != "" {
			query += "&" + tt.extra
		}
		r := e.do("GET", tt.path, "", query)
		msg, _ := r.Body["message"].(string)
		if r.Status != http.StatusBadRequest || r.Body["error_code"] != "INVALID_PARAMETER_VALUE" || !strings.Contains(msg, tt.msg) {
			t.Errorf("%s ?%s: %d %s, want 400 INVALID_PARAMETER_VALUE containing %q", tt.path, query, r.Status, r.Raw, tt.msg)
		}
	}
}

func TestSearchRegisteredModels(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var all []string
	for i := range 30 {
		name := fmt.Sprintf("churn-%02d", i)
		if i%4 == 0 {
			name = fmt.Sprintf("other-%02d", i)
		}
		team := "risk"
		if i%2 == 0 {
			team = "fraud"
		}
		e.ok("POST", "registered-models/create", jsonBody(t, map[string]any{"name": name, "tags": []map[string]string{{"key": "team", "value": team}}}), "")
		all = append(all, name)
	}
	e.ok("POST", "model-versions/create", `{"name": "churn-02", "source": "s3://b/1"}`, "")

	collect := func(filter string, orderBy []string, max int) []string {
		var names []string
		token := ""
		for pages := 0; ; pages++ {
			params := []string{"filter", filter, "max_results", strconv.Itoa(max)}
			for _, o := range orderBy {
				params = append(params, "order_by", o)
			}
			if token != "" {
				params = append(params, "page_token", token)
			}
			r := e.ok("GET", "registered-models/search", "", q(params...))
			for _, x := range r.Body["registered_models"].([]any) {
				names = append(names, x.(map[string]any)["name"].(string))
			}
			tok, has := r.Body["next_page_token"]
			if !has || pages > 100 {
				return names
			}
			token = tok.(string)
		}
	}
	var want []string
	for i, n := range all {
		if strings.HasPrefix(n, "churn") && i%2 == 0 {
			want = append(want, n)
		}
	}
	slices.Sort(want)
	slices.Reverse(want)
	got := collect("name LIKE 'churn%' AND tags.team = 'fraud'", []string{"name DESC"}, 4)
	if !slices.Equal(got, want) {
		t.Errorf("got %v\nwant %v", got, want)
	}

	// Default order is by name, and search results carry latest_versions.
	r := e.ok("GET", "registered-models/search", "", q("filter", "name = 'churn-02'"))
	rm := r.Body["registered_models"].([]any)
	if len(rm) != 1 {
		t.Fatalf("got %s", r.Raw)
	}
	if diffs := match("$", decodeWant(t, `{"name": "churn-02", "latest_versions": [{"version": "1", "current_stage": "None", "status": "READY"}]}`), rm[0]); len(diffs) > 0 {
		t.Errorf("%v", diffs)
	}
	// A latest version's aliases are the model's that point at it, sorted,
	// in search, get and get-latest-versions alike.
	e.ok("POST", "model-versions/create", `{"name": "churn-02", "source": "s3://b/2"}`, "")
	e.ok("POST", "model-versions/transition-stage", `{"name": "churn-02", "version": "2", "stage": "Staging", "archive_existing_versions": false}`, "")
	for _, a := range []string{"zeta", "alpha"} {
		e.ok("POST", "registered-models/alias", `{"name": "churn-02", "alias": "`+a+`", "version": "2"}`, "")
	}
	e.ok("POST", "registered-models/alias", `{"name": "churn-02", "alias": "old", "version": "1"}`, "")
	latest := `[{"version": "1", "current_stage": "None", "aliases": ["old"]}, {"version": "2", "current_stage": "Staging", "aliases": ["alpha", "zeta"]}]`
	r = e.ok("GET", "registered-models/search", "", q("filter", "name = 'churn-02'"))
	if diffs := match("$", decodeWant(t, `{"registered_models": [{"name": "churn-02", "latest_versions": `+latest+`}]}`), r.Body); len(diffs) > 0 {
		t.Errorf("search: %v", diffs)
	}
	r = e.ok("GET", "registered-models/get", "", q("name", "churn-02"))
	if diffs := match("$", decodeWant(t, `{"registered_model": {"latest_versions": `+latest+`}}`), r.Body); len(diffs) > 0 {
		t.Errorf("get: %v", diffs)
	}
	r = e.ok("POST", "registered-models/get-latest-versions", `{"name": "churn-02", "stages": ["Staging"]}`, "")
	if diffs := match("$", decodeWant(t, `{"model_versions": [{"version": "2", "aliases": ["alpha", "zeta"]}]}`), r.Body); len(diffs) > 0 {
		t.Errorf("get-latest-versions: %v", diffs)
	}
	everything := collect("", nil, 1000)
	sorted := slices.Clone(all)
	slices.Sort(sorted)
	if !slices.Equal(everything, sorted) {
		t.Errorf("default order: got %v, want %v", everything, sorted)
	}
}

func TestPromptFilter(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	e.ok("POST", "registered-models/create", `{"name": "greeting", "tags": [{"key": "mlflow.prompt.is_prompt", "value": "true"}]}`, "")
	e.ok("POST", "registered-models/create", `{"name": "classifier"}`, "")
	// A prompt registered natively, without MLflow's tag.
	if _, err := e.Client.CreateModel(ctx, registryModelCreate("native-prompt", "prompt")); err != nil {
		t.Fatal(err)
	}
	m, err := e.Service.GetModel(ctx, "greeting")
	if err != nil || m.Kind != "prompt" {
		t.Fatalf("greeting: kind %v (%v), want prompt", m, err)
	}
	names := func(filter string) []string {
		r := e.ok("GET", "registered-models/search", "", q("filter", filter))
		var out []string
		for _, x := range r.Body["registered_models"].([]any) {
			out = append(out, x.(map[string]any)["name"].(string))
		}
		return out
	}
	for filter, want := range map[string][]string{
		"tags.`mlflow.prompt.is_prompt` != 'true'":                          {"classifier"},
		"tags.`mlflow.prompt.is_prompt` = 'false'":                          {"classifier"},
		"tags.`mlflow.prompt.is_prompt` = 'true'":                           {"greeting", "native-prompt"},
		"tags.\"mlflow.prompt.is_prompt\" = 'true' AND name LIKE 'native%'": {"native-prompt"},
	} {
		if got := names(filter); !slices.Equal(got, want) {
			t.Errorf("%s: got %v, want %v", filter, got, want)
		}
	}
	// The native prompt shows MLflow's tag.
	r := e.ok("GET", "registered-models/get", "", "name=native-prompt")
	if diffs := match("$", decodeWant(t, `{"registered_model": {"tags": [{"key": "mlflow.prompt.is_prompt", "value": "true"}]}}`), any(map[string]any(r.Body))); len(diffs) > 0 {
		t.Error(diffs)
	}
	// Prompt versions: MLflow's client registers them with a dummy source.
	r = e.ok("POST", "model-versions/create", `{"name": "greeting", "source": "dummy-source", "tags": [{"key": "mlflow.prompt.is_prompt", "value": "true"}, {"key": "mlflow.prompt.text", "value": "Hello {{name}}"}]}`, "")
	if diffs := match("$", decodeWant(t, `{"model_version": {"version": "1", "status": "READY", "source": "dummy-source"}}`), any(map[string]any(r.Body))); len(diffs) > 0 {
		t.Error(diffs)
	}
	v, err := e.Service.GetVersion(ctx, "greeting", 1)
	if err != nil || v.Kind != "prompt" || v.Tags["mlflow.prompt.text"] != "Hello {{name}}" {
		t.Errorf("prompt version natively: %+v, %v", v, err)
	}
}

// A request its client gave up on is answered 499 and logged as canceled,
// not as a server's internal error.
func TestCanceledRequest(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	r := httptest.NewRequestWithContext(ctx, http.MethodGet, "/api/2.0/mlflow/registered-models/search", nil)
	w := httptest.NewRecorder()
	e.API.Handler().ServeHTTP(w, r)
	if w.Code != 499 {
		t.Errorf("canceled search: %d %s, want 499", w.Code, w.Body)
	}
	logs := e.Logs.String()
	if !strings.Contains(logs, "request canceled") || strings.Contains(logs, "internal error") {
		t.Errorf("logs of a canceled request:\n%s", logs)
	}
}
