package mlflowapi_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"

	"github.com/cairn-registry/cairn/internal/httpapi/apitest"
	"github.com/cairn-registry/cairn/internal/mlflowapi"
)

// env is a real Cairn server (SQLite and a blob directory in t.TempDir(),
// the native API's middleware) with the MLflow API mounted the way
// 'cairn serve' mounts it.
type env struct {
	*apitest.Env
	t *testing.T
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := apitest.New(t, apitest.Options{})
	log := slog.New(slog.NewJSONHandler(e.Logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	mlflowapi.New(e.Service, mlflowapi.Options{Logger: log}).Register(e.API.Mount)
	for _, p := range mlflowapi.PartPrefixes() {
		e.API.AllowCapability("PUT", p)
	}
	return &env{Env: e, t: t}
}

// response is a decoded answer. Body keeps numbers as json.Number so that
// tests can tell a JSON number from a string.
type response struct {
	Status int
	Header http.Header
	Raw    []byte
	Body   map[string]any
}

// do sends a request to path (below /api/2.0/mlflow/ unless it starts with
// '/'), with body as the JSON body if non-empty and query as the query
// string, and the extra headers given as name, value pairs.
func (e *env) do(method, path, body, query string, headers ...string) *response {
	e.t.Helper()
	if !strings.HasPrefix(path, "/") {
		path = "/api/2.0/mlflow/" + path
	}
	u := e.Server.URL + path
	if query != "" {
		u += "?" + query
	}
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := e.Server.Client().Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatalf("%s %s: reading the answer: %v", method, path, err)
	}
	out := &response{Status: res.StatusCode, Header: res.Header, Raw: raw}
	if len(raw) > 0 {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(&out.Body); err != nil {
			e.t.Fatalf("%s %s: answer is not a JSON object (status %d): %q", method, path, res.StatusCode, raw)
		}
	}
	return out
}

// ok sends a request and fails the test unless it answers 200.
func (e *env) ok(method, path, body, query string) *response {
	e.t.Helper()
	r := e.do(method, path, body, query)
	if r.Status != http.StatusOK {
		e.t.Fatalf("%s %s %s %s: status %d, want 200: %s", method, path, body, query, r.Status, r.Raw)
	}
	return r
}

// jsonBody marshals v for a request body.
func jsonBody(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func q(kv ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return v.Encode()
}

// anyNumber, anyString and absent are placeholders in expected JSON.
const (
	anyMillis = "<ms>"     // a JSON integer that is a plausible unix time in milliseconds
	anyString = "<string>" // any non-empty JSON string
	absent    = "<absent>" // the member must not be there
)

// match checks that got contains want: every member of a want object is in
// got with a matching value (members got has beyond want are allowed),
// arrays match element by element and have the same length, and the
// placeholders above match as documented. It returns the differences.
func match(path string, want, got any) []string {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return []string{fmt.Sprintf("%s: got %s, want an object", path, show(got))}
		}
		var diffs []string
		keys := make([]string, 0, len(w))
		for k := range w {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			gv, present := g[k]
			if w[k] == absent {
				if present {
					diffs = append(diffs, fmt.Sprintf("%s.%s: got %s, want no such member", path, k, show(gv)))
				}
				continue
			}
			if !present {
				diffs = append(diffs, fmt.Sprintf("%s.%s: missing, want %s", path, k, show(w[k])))
				continue
			}
			diffs = append(diffs, match(path+"."+k, w[k], gv)...)
		}
		return diffs
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return []string{fmt.Sprintf("%s: got %s, want %s", path, show(got), show(want))}
		}
		var diffs []string
		for i := range w {
			diffs = append(diffs, match(fmt.Sprintf("%s[%d]", path, i), w[i], g[i])...)
		}
		return diffs
	case string:
		switch w {
		case anyMillis:
			n, ok := got.(json.Number)
			if !ok {
				return []string{fmt.Sprintf("%s: got %s, want a JSON number of milliseconds", path, show(got))}
			}
			ms, err := n.Int64()
			if err != nil || ms < 1_700_000_000_000 || ms > 4_000_000_000_000 {
				return []string{fmt.Sprintf("%s: got %s, want unix milliseconds", path, n)}
			}
			return nil
		case anyString:
			if s, ok := got.(string); !ok || s == "" {
				return []string{fmt.Sprintf("%s: got %s, want a non-empty string", path, show(got))}
			}
			return nil
		}
		if got != want {
			return []string{fmt.Sprintf("%s: got %s, want %s", path, show(got), show(want))}
		}
		return nil
	case json.Number:
		if g, ok := got.(json.Number); !ok || g != w {
			return []string{fmt.Sprintf("%s: got %s, want the number %s", path, show(got), w)}
		}
		return nil
	default:
		if fmt.Sprint(got) != fmt.Sprint(want) {
			return []string{fmt.Sprintf("%s: got %s, want %s", path, show(got), show(want))}
		}
		return nil
	}
}

func show(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// decodeWant parses an expected-JSON literal with numbers as json.Number.
func decodeWant(t *testing.T, s string) any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("bad expected JSON %q: %v", s, err)
	}
	return v
}

// TestMatch checks the comparison the fixtures rely on: a helper that
// always agreed would make every fixture pass.
func TestMatch(t *testing.T) {
	t.Parallel()
	got := decodeWant(t, `{"a": "x", "n": 1795676693138, "s": "str", "l": [{"k": 1}], "extra": true}`)
	for _, tt := range []struct {
		want  string
		diffs int
	}{
		{`{"a": "x"}`, 0},
		{`{"a": "x", "n": "<ms>", "s": "<string>", "l": [{"k": 1}], "gone": "<absent>"}`, 0},
		{`{"a": "y"}`, 1},
		{`{"missing": "x"}`, 1},
		{`{"extra": "<absent>"}`, 1},
		{`{"s": "<ms>"}`, 1},
		{`{"n": "<string>"}`, 1},
		{`{"l": [{"k": 2}]}`, 1},
		{`{"l": [{"k": 1}, {"k": 1}]}`, 1},
		{`{"n": "1795676693138"}`, 1},
		{`{"l": []}`, 1},
	} {
		if d := match("$", decodeWant(t, tt.want), got); len(d) != tt.diffs {
			t.Errorf("match(%s): %d differences %v, want %d", tt.want, len(d), d, tt.diffs)
		}
	}
}
