package mlflowapi_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// Recorded fixtures: what a real MLflow server answered, replayed against
// Cairn. scripts/mlflow_record.py drives MLflow 2.17 (SQLite store,
// proxied artifacts) through four scenarios and writes each, request by
// request with the status and body MLflow answered, to
// testdata/fixtures/<scenario>.json. TestRecordedFixtures sends the same
// requests, in order, to a fresh Cairn server (the real handler chain,
// over httptest) and compares:
//
//   - the status and, for errors, the error_code (messages are free text
//     and differ: MLflow's carry SQL errors and stack hints);
//   - for successes, the body: every member MLflow sent must be there with
//     the same value, and Cairn may add only the members in cairnExtras.
//
// What legitimately differs is normalized, never skipped: server clocks
// (timeKeys match any number), the ids a server generates (experiment and
// run ids, page tokens, generated run names: the first time a recorded id
// meets Cairn's in the same place the two are bound, and later requests and
// expected values have the recorded id replaced by Cairn's), and the
// proto2-versus-absent encoding of empty values ("" / false / [] / {} in
// one, absent in the other: MLflow's client reads both as the default).

// recordedStep is one request of a recorded scenario and MLflow's answer.
type recordedStep struct {
	Name         string          `json:"name"`
	Method       string          `json:"method"`
	Path         string          `json:"path"`
	Query        string          `json:"query"`
	Body         json.RawMessage `json:"body"`
	RawBody      *string         `json:"raw_body"`
	ContentType  string          `json:"content_type"`
	Status       int             `json:"status"`
	Response     json.RawMessage `json:"response"`
	ResponseText *string         `json:"response_text"`
}

type recordedScenario struct {
	MLflowVersion string         `json:"mlflow_version"`
	Scenario      string         `json:"scenario"`
	Steps         []recordedStep `json:"steps"`
}

// pendingEndpoints are endpoints of MLFLOW.md §2–§3 whose implementation
// has not landed on main yet, with who is building them. A scenario is
// replayed up to its first request to a pending endpoint and the rest is
// skipped, loudly. TestPendingEndpointsArePending fails once one of them
// answers, so that this list only shrinks.
var pendingEndpoints = map[string]string{}

// knownDivergences are steps where Cairn answers differently from MLflow
// 2.17 on purpose. The step still runs (later steps depend on its effect);
// a mismatch is logged, not failed.
var knownDivergences = map[string]string{
	"registry/archive existing from a non-active stage":  "MLflow 2.17 raises a bare MlflowException here (500 INTERNAL_ERROR); the request is invalid, and Cairn says so with 400 INVALID_PARAMETER_VALUE",
	"registry/its alias went with it":                    "MLflow 2.17 keeps an alias pointing at a deleted version (a dangling alias that then answers 404); Cairn deletes a version's aliases with it",
	"proxy/download a missing file":                      "MLflow 2.17 answers 500 INTERNAL_ERROR for a missing artifact; Cairn answers 404 RESOURCE_DOES_NOT_EXIST",
	"artifacts/download a missing file":                  "MLflow 2.17 answers 500 INTERNAL_ERROR for a missing artifact; Cairn answers 404 RESOURCE_DOES_NOT_EXIST",
	"proxy/start a multipart upload":                     "MLflow 2.17 over a local artifact store has no multipart upload (501 NOT_IMPLEMENTED, whereupon the client sends one PUT); Cairn has it (registry/artifact_uploads.go) and answers an upload id and part URLs",
	"proxy/complete a multipart upload":                  "the recorded upload id u1 was never started on Cairn: 404 RESOURCE_DOES_NOT_EXIST where MLflow answered 501",
	"proxy/abort a multipart upload":                     "as for complete: 404 for an upload that does not exist",
	"artifacts/start a multipart upload":                 "MLflow 2.17 over a local artifact store has no multipart upload (501 NOT_IMPLEMENTED, whereupon the client sends one PUT); Cairn has it (registry/artifact_uploads.go) and answers an upload id and part URLs",
	"artifacts/complete a multipart upload":              "the recorded upload id u1 was never started on Cairn: 404 RESOURCE_DOES_NOT_EXIST where MLflow answered 501",
	"artifacts/abort a multipart upload":                 "as for complete: 404 for an upload that does not exist",
	"artifacts/download uri of the runs:/ version":       "MLflow 2.17 answers the source verbatim; Cairn snapshotted the run's files at registration and answers where that snapshot is (mlflow-artifacts:/_cairn/versions/NAME/N), so later writes to the run cannot change what the version loads",
	"artifacts/download uri of the artifact URI version": "as for the runs:/ version: the snapshot's location, not the (mutable) source",
}

// cairnExtras are members Cairn sends that MLflow 2.17 does not: later
// MLflow versions' fields, and the registry's user_id, which MLflow 2.17's
// SQL store leaves empty.
var cairnExtras = map[string]bool{
	"user_id": true, "model_id": true, "deployment_job_state": true, "deployment_job_id": true,
	// MLflow 2.17 leaves a version's aliases out of searches and
	// latest_versions (MLFLOW.md §2: "aliases may be omitted"); Cairn
	// always includes them.
	"aliases": true,
}

// unorderedKeys are arrays whose order in MLflow's answer is an accident of
// its store: latest_versions is built from a dict filled while iterating
// an ORM relationship loaded without ORDER BY. They are compared as sets,
// ordered by version.
var unorderedKeys = map[string]bool{"latest_versions": true}

// timeKeys are members holding a server's clock in milliseconds.
var timeKeys = map[string]bool{
	"creation_timestamp": true, "last_updated_timestamp": true, "creation_time": true, "last_update_time": true,
	"start_time": true, "end_time": true,
}

// idKeys are members holding values a server generates: the recorded value
// is bound to Cairn's at the first meeting.
var idKeys = map[string]bool{
	"experiment_id": true, "run_id": true, "run_uuid": true, "model_id": true, "next_page_token": true,
}

// contractEndpoints are the endpoints of MLFLOW.md §2 (model registry) and
// §3 (tracking subset, logged models, artifact proxy), in the notation of
// endpointOf. Each needs a recorded fixture, unless MLflow 2.17 does not
// have it (notIn217).
var contractEndpoints = []string{
	"POST registered-models/create", "POST registered-models/rename", "PATCH registered-models/update",
	"DELETE registered-models/delete", "GET registered-models/get", "GET registered-models/search",
	"POST registered-models/get-latest-versions", "GET registered-models/get-latest-versions",
	"POST model-versions/create", "GET model-versions/get", "PATCH model-versions/update",
	"POST model-versions/transition-stage", "DELETE model-versions/delete", "GET model-versions/search",
	"GET model-versions/get-download-uri", "POST registered-models/set-tag", "POST model-versions/set-tag",
	"DELETE registered-models/delete-tag", "DELETE model-versions/delete-tag",
	"POST registered-models/alias", "DELETE registered-models/alias", "GET registered-models/alias",

	"GET experiments/get-by-name", "POST experiments/create", "GET experiments/get", "POST experiments/search",
	"POST runs/create", "GET runs/get", "POST runs/update", "POST runs/log-batch", "POST runs/log-metric",
	"POST runs/log-parameter", "POST runs/set-tag", "POST runs/delete-tag", "GET metrics/get-history",
	"POST runs/log-model", "POST runs/log-inputs", "POST runs/outputs", "GET artifacts/list",
	"POST logged-models", "GET logged-models/{id}", "PATCH logged-models/{id}", "DELETE logged-models/{id}",
	"POST logged-models/search", "PATCH logged-models/{id}/tags", "DELETE logged-models/{id}/tags/{key}",
	"POST logged-models/{id}/params",

	"PUT mlflow-artifacts/artifacts/{path}", "GET mlflow-artifacts/artifacts/{path}", "GET mlflow-artifacts/artifacts",
	"DELETE mlflow-artifacts/artifacts/{path}", "POST mlflow-artifacts/mpu/create/{path}",
	"POST mlflow-artifacts/mpu/complete/{path}", "POST mlflow-artifacts/mpu/abort/{path}",
}

// notIn217 are contract endpoints MLflow 2.17 does not have (they came with
// MLflow 3), so no 2.17 recording of them can exist.
var notIn217 = map[string]bool{
	"POST runs/outputs": true, "POST logged-models": true, "GET logged-models/{id}": true,
	"PATCH logged-models/{id}": true, "DELETE logged-models/{id}": true, "POST logged-models/search": true,
	"PATCH logged-models/{id}/tags": true, "DELETE logged-models/{id}/tags/{key}": true,
	"POST logged-models/{id}/params": true,
}

var loggedModelPath = regexp.MustCompile(`^logged-models/[^/]+(/tags/[^/]+|/tags|/params)?$`)

// endpointOf names the endpoint a request goes to: "POST
// registered-models/create", "PUT mlflow-artifacts/artifacts/{path}".
func endpointOf(method, path string) string {
	for _, p := range []string{"/api/2.0/mlflow/", "/ajax-api/2.0/mlflow/"} {
		if rest, ok := strings.CutPrefix(path, p); ok {
			if rest != "logged-models/search" && loggedModelPath.MatchString(rest) {
				m := loggedModelPath.FindStringSubmatch(rest)
				switch {
				case m[1] == "":
					return method + " logged-models/{id}"
				case strings.HasPrefix(m[1], "/tags/"):
					return method + " logged-models/{id}/tags/{key}"
				default:
					return method + " logged-models/{id}" + m[1]
				}
			}
			return method + " " + rest
		}
	}
	if rest, ok := strings.CutPrefix(path, "/api/2.0/mlflow-artifacts/"); ok {
		if rest == "artifacts" {
			return method + " mlflow-artifacts/artifacts"
		}
		for _, p := range []string{"artifacts/", "mpu/create/", "mpu/complete/", "mpu/abort/"} {
			if strings.HasPrefix(rest, p) {
				return method + " mlflow-artifacts/" + p + "{path}"
			}
		}
	}
	return method + " " + strings.TrimPrefix(path, "/")
}

func loadRecorded(t *testing.T) []recordedScenario {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "fixtures", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no recorded fixtures in testdata/fixtures (%v)", err)
	}
	sort.Strings(files)
	var out []recordedScenario
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var s recordedScenario
		if err := json.Unmarshal(b, &s); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if !strings.HasPrefix(s.MLflowVersion, "2.17.") || len(s.Steps) == 0 {
			t.Fatalf("%s: recorded from MLflow %q with %d steps; want MLflow 2.17.x", f, s.MLflowVersion, len(s.Steps))
		}
		out = append(out, s)
	}
	return out
}

func TestRecordedFixtures(t *testing.T) {
	t.Parallel()
	for _, sc := range loadRecorded(t) {
		t.Run(sc.Scenario, func(t *testing.T) {
			t.Parallel()
			replay(t, sc)
		})
	}
}

// replay sends a scenario's requests to a fresh Cairn server and compares
// the answers with MLflow's.
func replay(t *testing.T, sc recordedScenario) {
	e := newEnv(t)
	b := newBindings()
	for i, st := range sc.Steps {
		ep := endpointOf(st.Method, st.Path)
		where := fmt.Sprintf("step %d %q (%s)", i, st.Name, ep)
		if owner, ok := pendingEndpoints[ep]; ok {
			t.Skipf("PENDING: %s: %s is not on main yet (%s); %d of %d steps replayed, the rest of %s.json is not checked",
				where, ep, owner, i, len(sc.Steps), sc.Scenario)
		}
		status, ctype, raw := sendRecorded(t, e, b, st)
		diffs := compareStep(b, st, status, ctype, raw)
		if len(diffs) == 0 {
			continue
		}
		msg := fmt.Sprintf("%s: %s %s\n  %s\n  MLflow %d: %s\n  Cairn  %d: %s", where, st.Method, b.subString(st.Path),
			strings.Join(diffs, "\n  "), st.Status, recordedBody(st), status, raw)
		if why, ok := knownDivergences[sc.Scenario+"/"+st.Name]; ok {
			t.Logf("known divergence, %s\n  why: %s", msg, why)
			continue
		}
		t.Error(msg)
	}
}

func recordedBody(st recordedStep) string {
	if st.ResponseText != nil {
		return *st.ResponseText
	}
	return string(st.Response)
}

// sendRecorded sends a step's request, with recorded ids replaced by
// Cairn's.
func sendRecorded(t *testing.T, e *env, b *bindings, st recordedStep) (int, string, []byte) {
	t.Helper()
	u := e.Server.URL + b.subString(st.Path)
	if st.Query != "" {
		vals, err := url.ParseQuery(st.Query)
		if err != nil {
			t.Fatalf("%s: bad recorded query %q", st.Name, st.Query)
		}
		keys := make([]string, 0, len(vals))
		for k := range vals {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		out := url.Values{}
		for _, k := range keys {
			for _, v := range vals[k] {
				out.Add(k, b.subValue(k, v))
			}
		}
		u += "?" + out.Encode()
	}
	var body io.Reader
	switch {
	case st.RawBody != nil:
		body = strings.NewReader(b.subLong(*st.RawBody))
	case len(st.Body) > 0:
		var v any
		dec := json.NewDecoder(bytes.NewReader(st.Body))
		dec.UseNumber()
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("%s: bad recorded body: %v", st.Name, err)
		}
		enc, err := json.Marshal(b.subJSON("", v))
		if err != nil {
			t.Fatal(err)
		}
		body = bytes.NewReader(enc)
	}
	req, err := http.NewRequest(st.Method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	if st.ContentType != "" {
		req.Header.Set("Content-Type", st.ContentType)
	}
	res, err := e.Server.Client().Do(req)
	if err != nil {
		t.Fatalf("%s: %v", st.Name, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s: reading the answer: %v", st.Name, err)
	}
	return res.StatusCode, res.Header.Get("Content-Type"), raw
}

// compareStep compares Cairn's answer with MLflow's and returns the
// differences.
func compareStep(b *bindings, st recordedStep, status int, ctype string, raw []byte) []string {
	var diffs []string
	if status != st.Status {
		diffs = append(diffs, fmt.Sprintf("status %d, MLflow answered %d", status, st.Status))
	}
	if st.ResponseText != nil {
		if status == st.Status && string(raw) != *st.ResponseText {
			diffs = append(diffs, fmt.Sprintf("body %q, MLflow sent %q", raw, *st.ResponseText))
		}
		return diffs
	}
	want, err := decodeNumbers(st.Response)
	if err != nil {
		return append(diffs, "unreadable recorded response: "+err.Error())
	}
	got, err := decodeNumbers(raw)
	if err != nil {
		return append(diffs, fmt.Sprintf("answer is not JSON (Content-Type %q)", ctype))
	}
	if st.Status != http.StatusOK {
		wm, _ := want.(map[string]any)
		gm, _ := got.(map[string]any)
		if gm == nil || gm["error_code"] != wm["error_code"] {
			diffs = append(diffs, fmt.Sprintf("error_code %v, MLflow answered %v", gm["error_code"], wm["error_code"]))
		}
		if _, ok := gm["message"].(string); gm != nil && !ok {
			diffs = append(diffs, "no message")
		}
		return diffs
	}
	if status != http.StatusOK {
		return diffs
	}
	b.latest = strings.HasSuffix(st.Path, "/get-latest-versions")
	return append(diffs, b.compare("$", "", want, got)...)
}

func decodeNumbers(raw []byte) (any, error) {
	if len(bytes.TrimSpace(raw)) == 0 || string(bytes.TrimSpace(raw)) == "null" {
		return map[string]any{}, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	err := dec.Decode(&v)
	return v, err
}

// bindings map the ids MLflow generated to the ones Cairn generated.
type bindings struct {
	ids map[string]string
	// latest is set while comparing a get-latest-versions answer, whose
	// model_versions are unordered like latest_versions.
	latest bool
}

func newBindings() *bindings { return &bindings{ids: map[string]string{}} }

// longID reports whether a bound id is distinctive enough to replace
// wherever it occurs (a run id: 32 hex digits), as opposed to short ones
// (experiment "3") that are replaced only where an id stands.
func longID(s string) bool { return len(s) >= 16 }

func (b *bindings) bind(key, recorded, cairn string) {
	if recorded == "" || cairn == "" || recorded == cairn {
		return
	}
	if _, ok := b.ids[recorded]; !ok {
		b.ids[recorded] = cairn
	}
}

// subLong replaces every long recorded id in s.
func (b *bindings) subLong(s string) string {
	for rec, c := range b.ids {
		if longID(rec) {
			s = strings.ReplaceAll(s, rec, c)
		}
	}
	return s
}

// subString replaces recorded ids in a path or URI: long ids anywhere,
// short ones as a path segment followed by a long id's segment (the
// experiment in "<exp>/<run>/artifacts").
func (b *bindings) subString(s string) string {
	if c, ok := b.ids[s]; ok {
		return c
	}
	segs := strings.Split(s, "/")
	for i := 0; i+1 < len(segs); i++ {
		if c, ok := b.ids[segs[i]]; ok && !longID(segs[i]) {
			if next := segs[i+1]; longID(next) {
				if _, bound := b.ids[next]; bound {
					segs[i] = c
				}
			}
		}
	}
	return b.subLong(strings.Join(segs, "/"))
}

// subValue replaces recorded ids in the value of a query parameter or JSON
// member named key.
func (b *bindings) subValue(key, v string) string {
	if idKeys[key] || key == "page_token" || key == "experiment_ids" {
		if c, ok := b.ids[v]; ok {
			return c
		}
	}
	return b.subString(v)
}

func (b *bindings) subJSON(key string, v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = b.subJSON(k, e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = b.subJSON(key, e)
		}
		return out
	case string:
		return b.subValue(key, x)
	}
	return v
}

// zero reports whether v is what protobuf JSON may leave out: "", false,
// 0, [], {} or null.
func zero(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case bool:
		return !x
	case json.Number:
		return x == "0"
	case []any:
		return len(x) == 0
	case map[string]any:
		return len(x) == 0
	}
	return false
}

// compare checks got (Cairn's) against want (MLflow's) at path, member key.
func (b *bindings) compare(path, key string, want, got any) []string {
	if zero(want) && zero(got) {
		return nil
	}
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return []string{fmt.Sprintf("%s: got %s, MLflow sent %s", path, show(got), show(want))}
		}
		// Bind this object's ids before comparing its members, so that a
		// member sorted before an id (artifact_uri before run_id) that
		// holds the id is compared with the id bound.
		b.preBind(w, g)
		var diffs []string
		for _, k := range unionKeys(w, g) {
			wv, inW := w[k]
			gv, inG := g[k]
			switch {
			case inW:
				diffs = append(diffs, b.compare(path+"."+k, k, wv, gv)...)
			case inG && !zero(gv) && !cairnExtras[k]:
				diffs = append(diffs, fmt.Sprintf("%s.%s: Cairn sends %s, MLflow sends nothing", path, k, show(gv)))
			}
		}
		return diffs
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return []string{fmt.Sprintf("%s: got %s, MLflow sent %s", path, show(got), show(want))}
		}
		if keyed(w) && keyed(g) {
			// Tags, params and metrics: MLflow keeps insertion order,
			// Cairn orders by key; clients read them as maps.
			w, g = sortedByKey(w), sortedByKey(g)
		}
		if unorderedKeys[key] || (key == "model_versions" && strings.HasSuffix(path, "$.model_versions") && b.latest) {
			w, g = sortedByVersion(w), sortedByVersion(g)
		}
		var diffs []string
		for i := range w {
			diffs = append(diffs, b.compare(fmt.Sprintf("%s[%d]", path, i), key, w[i], g[i])...)
		}
		return diffs
	case json.Number:
		g, ok := got.(json.Number)
		if ok && timeKeys[key] {
			return nil
		}
		if !ok || g != w {
			return []string{fmt.Sprintf("%s: got %s, MLflow sent %s", path, show(got), w)}
		}
		return nil
	case string:
		g, ok := got.(string)
		if !ok {
			return []string{fmt.Sprintf("%s: got %s, MLflow sent %q", path, show(got), w)}
		}
		if idKeys[key] || key == "run_name" {
			b.bind(key, w, g)
		}
		if sw := b.subValue(key, w); sw != g && !sameJSON(sw, g) {
			return []string{fmt.Sprintf("%s: got %q, MLflow sent %q", path, g, w)}
		}
		return nil
	default:
		if fmt.Sprint(got) != fmt.Sprint(want) {
			return []string{fmt.Sprintf("%s: got %s, MLflow sent %s", path, show(got), show(want))}
		}
		return nil
	}
}

// preBind binds the ids (and generated run names) of an object and of the
// objects nested in it, before any member is compared: a run's data.tags
// hold its generated name, compared before info.run_name.
func (b *bindings) preBind(w, g map[string]any) {
	for k := range w {
		switch wv := w[k].(type) {
		case string:
			if gs, ok := g[k].(string); ok && (idKeys[k] || k == "run_name") {
				b.bind(k, wv, gs)
			}
		case map[string]any:
			if gm, ok := g[k].(map[string]any); ok {
				b.preBind(wv, gm)
			}
		}
	}
}

// sameJSON reports whether two strings both hold a JSON object or array
// and the same one: a tag whose value is JSON (mlflow.log-model.history)
// is encoded by MLflow's Python json.dumps, with its spacing and its key
// order, and by Cairn compactly; clients parse it.
func sameJSON(a, b string) bool {
	if strings.TrimSpace(a) == "" || strings.TrimSpace(b) == "" {
		return false
	}
	va, errA := decodeNumbers([]byte(a))
	vb, errB := decodeNumbers([]byte(b))
	if errA != nil || errB != nil {
		return false
	}
	switch va.(type) {
	case map[string]any, []any:
		return reflect.DeepEqual(va, vb)
	}
	return false
}

func unionKeys(a, b map[string]any) []string {
	seen := map[string]bool{}
	var out []string
	for _, m := range []map[string]any{a, b} {
		for k := range m {
			if !seen[k] {
				seen[k] = true
				out = append(out, k)
			}
		}
	}
	sort.Strings(out)
	return out
}

// keyed reports whether every element is an object with a string "key".
func keyed(l []any) bool {
	for _, e := range l {
		m, ok := e.(map[string]any)
		if !ok {
			return false
		}
		if _, ok := m["key"].(string); !ok {
			return false
		}
	}
	return len(l) > 0
}

func sortedByVersion(l []any) []any {
	out := append([]any(nil), l...)
	version := func(v any) int {
		m, _ := v.(map[string]any)
		s, _ := m["version"].(string)
		n, _ := strconv.Atoi(s)
		return n
	}
	sort.SliceStable(out, func(i, j int) bool { return version(out[i]) < version(out[j]) })
	return out
}

func sortedByKey(l []any) []any {
	out := append([]any(nil), l...)
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i].(map[string]any), out[j].(map[string]any)
		if a["key"] != b["key"] {
			return a["key"].(string) < b["key"].(string)
		}
		return show(a) < show(b)
	})
	return out
}

// TestRecordedFixturesCoverTheContract fails when an endpoint of MLFLOW.md
// §2–§3 has no recorded fixture (endpoints MLflow 2.17 lacks excepted),
// and when a pending endpoint is not one the fixtures use.
func TestRecordedFixturesCoverTheContract(t *testing.T) {
	t.Parallel()
	recorded := map[string]bool{}
	for _, sc := range loadRecorded(t) {
		for _, st := range sc.Steps {
			recorded[endpointOf(st.Method, st.Path)] = true
		}
	}
	for _, ep := range contractEndpoints {
		if !recorded[ep] && !notIn217[ep] {
			t.Errorf("%s (MLFLOW.md §2–§3) has no recorded fixture: add it to scripts/mlflow_record.py and record again", ep)
		}
		if recorded[ep] && notIn217[ep] {
			t.Errorf("%s is recorded but listed as absent from MLflow 2.17", ep)
		}
	}
	for ep := range pendingEndpoints {
		if !recorded[ep] {
			t.Errorf("pending endpoint %s is in no fixture", ep)
		}
	}
	var missing []string
	for ep := range notIn217 {
		missing = append(missing, ep)
	}
	sort.Strings(missing)
	t.Logf("not recordable from MLflow 2.17 (MLflow 3 endpoints): %s", strings.Join(missing, ", "))
}

// TestPendingEndpointsArePending fails when an endpoint listed as pending
// is served: then its fixtures can be replayed, and it must leave the list.
func TestPendingEndpointsArePending(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	paths := map[string]string{}
	for _, sc := range loadRecorded(t) {
		for _, st := range sc.Steps {
			ep := endpointOf(st.Method, st.Path)
			if _, ok := paths[ep]; !ok {
				paths[ep] = st.Method + " " + st.Path
			}
		}
	}
	var still []string
	for ep, owner := range pendingEndpoints {
		method, path, _ := strings.Cut(paths[ep], " ")
		req, err := http.NewRequest(method, e.Server.URL+path, strings.NewReader("{}"))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		res, err := e.Server.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(res.Body)
		res.Body.Close()
		var body struct {
			ErrorCode string `json:"error_code"`
		}
		_ = json.Unmarshal(raw, &body)
		if res.StatusCode != http.StatusNotFound || (body.ErrorCode != "ENDPOINT_NOT_FOUND" && body.ErrorCode != "") {
			t.Errorf("%s is served now (%d %s): remove it from pendingEndpoints so that its fixtures are replayed", ep, res.StatusCode, raw)
			continue
		}
		still = append(still, ep+" ("+owner+")")
	}
	sort.Strings(still)
	t.Logf("PENDING, not replayed yet: %s", strings.Join(still, ", "))
}
