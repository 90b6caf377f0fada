package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/client"
	"github.com/cairn-registry/cairn/internal/httpapi/apitest"
	"github.com/cairn-registry/cairn/internal/registry"
)

func newEnv(t testing.TB) *apitest.Env {
	t.Helper()
	return apitest.New(t, apitest.Options{})
}

// raw sends a request without the client, for what the client cannot send
// (malformed JSON, unknown fields, odd headers). Headers come as
// "Name: value" strings.
func raw(t testing.TB, e *apitest.Env, method, path, body string, headers ...string) (*http.Response, []byte) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.Server.URL+path, r)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ":")
		req.Header.Set(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	resp, err := e.Server.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// problemDoc is the problem+json body as a client sees it.
type problemDoc struct {
	Type      string `json:"type"`
	Title     string `json:"title"`
	Status    int    `json:"status"`
	Detail    string `json:"detail"`
	Code      string `json:"code"`
	RequestID string `json:"request_id"`
}

// wantProblem checks that a raw answer is a problem document with the
// given status and code, and returns it.
func wantProblem(t testing.TB, resp *http.Response, body []byte, status int, code cairn.ErrorCode) problemDoc {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("status = %d, want %d; body %s", resp.StatusCode, status, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type = %q, want application/problem+json", ct)
	}
	var p problemDoc
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		t.Fatalf("problem body %s: %v", body, err)
	}
	if p.Code != string(code) || p.Status != status || p.Title == "" || p.Detail == "" ||
		p.Type != "urn:cairn:problem:"+string(code) || p.RequestID == "" || p.RequestID != resp.Header.Get("X-Request-Id") {
		t.Fatalf("problem = %+v (X-Request-Id %q), want code %s status %d with every member set", p, resp.Header.Get("X-Request-Id"), code, status)
	}
	return p
}

// wantCode checks that err carries code.
func wantCode(t testing.TB, err error, code cairn.ErrorCode) {
	t.Helper()
	if got := cairn.ErrorCodeOf(err); got != code {
		t.Fatalf("error = %v (code %q), want code %q", err, got, code)
	}
	var se *client.StatusError
	if !errors.As(err, &se) || se.RequestID == "" {
		t.Fatalf("error %v carries no *client.StatusError with a request id", err)
	}
}

func must[T any](t testing.TB) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// pushBytes registers a ready version of model holding the given files
// (path → content) through the client's low-level calls, and returns it.
func pushBytes(t testing.TB, e *apitest.Env, model string, files map[string]string, spec cairn.VersionSpec) *cairn.Version {
	t.Helper()
	ctx := context.Background()
	spec.Files = nil
	content := map[cairn.Digest]string{}
	for p, c := range files {
		d := cairn.DigestOf([]byte(c))
		content[d] = c
		spec.Files = append(spec.Files, cairn.File{Path: p, Size: int64(len(c)), Digest: d})
	}
	res, err := e.Client.CreateVersion(ctx, model, spec)
	if err != nil {
		t.Fatalf("CreateVersion %s: %v", model, err)
	}
	for _, d := range res.Missing {
		if err := e.Client.PutBlob(ctx, d, int64(len(content[d])), strings.NewReader(content[d])); err != nil {
			t.Fatalf("PutBlob: %v", err)
		}
	}
	v, err := e.Client.FinalizeVersion(ctx, model, res.Version.Number, spec.Aliases)
	if err != nil {
		t.Fatalf("FinalizeVersion: %v", err)
	}
	return v
}

// snapshot is the observable state that a refused request must leave as
// it was: the audit chain's head, the event feed's head, and every model
// and version listing.
type snapshot struct {
	AuditSeq int64
	EventSeq int64
	Models   string
	Versions string
	Aliases  string
	Blobs    []string
}

func takeSnapshot(t testing.TB, e *apitest.Env) snapshot {
	t.Helper()
	ctx := context.Background()
	var s snapshot
	audit, err := e.Service.ListAudit(ctx, cairn.AuditQuery{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(audit); n > 0 {
		s.AuditSeq = audit[n-1].Seq
	}
	events, err := e.Service.ListEvents(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(events); n > 0 {
		s.EventSeq = events[n-1].Seq
	}
	models, err := e.Service.ListModels(ctx, registry.ListRequest{PageSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	s.Models = mustJSON(t, models)
	versions, err := e.Service.ListVersions(ctx, "", registry.ListRequest{PageSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	s.Versions = mustJSON(t, versions)
	for _, m := range models.Items {
		h, err := e.Service.AliasHistory(ctx, m.Name, "", 1000, "")
		if err != nil {
			t.Fatal(err)
		}
		s.Aliases += mustJSON(t, h)
	}
	err = e.Blobs.Walk(ctx, func(d cairn.Digest, _ int64, _ time.Time) error {
		s.Blobs = append(s.Blobs, string(d))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(s.Blobs)
	return s
}

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

func cmpSnap(before, after snapshot) string { return cmp.Diff(before, after) }

// rawChunked is raw with a body of unannounced length, sent chunked.
func rawChunked(t testing.TB, e *apitest.Env, method, path, body string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, e.Server.URL+path, io.MultiReader(strings.NewReader(body)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := e.Server.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if req.ContentLength != 0 && req.ContentLength != -1 {
		t.Fatalf("request was not chunked")
	}
	return resp, b
}
