package httpapi_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/client"
)

func TestSignalAndEvaluationRoutes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	c := e.Client
	pushBytes(t, e, "churn", map[string]string{"model.bin": "v1"}, cairn.VersionSpec{})
	pushBytes(t, e, "churn", map[string]string{"model.bin": "v2"}, cairn.VersionSpec{Aliases: []string{"production"}})

	s, err := c.RecordSignal(ctx, "churn@production", cairn.SignalSpec{Kind: "drift", Value: 0.31, Detail: "PSI on tenure"})
	if err != nil {
		t.Fatal(err)
	}
	if s.ID == 0 || s.Ref() != "churn@v2" || s.Kind != "drift" || s.Value != 0.31 || s.Detail != "PSI on tenure" ||
		s.CreatedBy != "tester" || s.Flagged || s.Threshold != nil {
		t.Fatalf("recorded signal = %+v", s)
	}
	if _, err := c.RecordSignal(ctx, "churn@v2", cairn.SignalSpec{Kind: "error_rate", Value: 0.002}); err != nil {
		t.Fatal(err)
	}
	page, err := c.ListSignals(ctx, "churn@production", "", 1, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != 1 || page.Items[0].Kind != "error_rate" || page.NextToken == "" {
		t.Fatalf("first page = %+v", page)
	}
	page, err = c.ListSignals(ctx, "churn@production", "", 1, page.NextToken)
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != 1 || page.Items[0].ID != s.ID || page.NextToken != "" {
		t.Fatalf("second page = %+v", page)
	}
	if p, err := c.ListSignals(ctx, "churn@v2", "drift", 0, ""); err != nil || len(p.Items) != 1 {
		t.Fatalf("drift signals = %+v, %v", p, err)
	}
	if p, err := c.ListSignals(ctx, "churn@v1", "", 0, ""); err != nil || len(p.Items) != 0 || p.Items == nil {
		t.Fatalf("signals of churn@v1 = %+v, %v; want an empty list", p, err)
	}
	v, err := c.UnflagVersion(ctx, "churn@v2")
	if err != nil || v.Flagged || v.Ref() != "churn@v2" {
		t.Fatalf("unflag = %+v, %v", v, err)
	}

	// With a policy threshold, a signal above it flags the version.
	if _, err := c.CreatePolicy(ctx, client.PolicyCreate{Name: "monitoring", PolicySpec: cairn.PolicySpec{Scope: "churn", Signals: map[string]float64{"drift": 0.2}}}); err != nil {
		t.Fatal(err)
	}
	flagging, err := c.RecordSignal(ctx, "churn@production", cairn.SignalSpec{Kind: "drift", Value: 0.35})
	if err != nil || !flagging.Flagged || flagging.Threshold == nil || *flagging.Threshold != 0.2 {
		t.Fatalf("signal above the threshold = %+v, %v", flagging, err)
	}
	if v, err := c.Resolve(ctx, "churn@production"); err != nil || !v.Flagged || v.Flag == nil || v.Flag.Signal != flagging.ID {
		t.Fatalf("flagged version = %+v, %v", v, err)
	}
	flagged, err := c.SearchVersions(ctx, client.ListRequest{Filter: "flagged = true"})
	if err != nil || len(flagged.Items) != 1 || flagged.Items[0].Ref() != "churn@v2" {
		t.Fatalf("flagged versions = %+v, %v", flagged, err)
	}
	if v, err := c.UnflagVersion(ctx, "churn@v2"); err != nil || v.Flagged {
		t.Fatalf("unflag = %+v, %v", v, err)
	}

	// An evaluation is listed on the version it evaluates.
	ev := pushBytes(t, e, "churn-eval", map[string]string{"report.html": "<p>fair</p>"},
		cairn.VersionSpec{Kind: cairn.KindEvaluation, Evaluates: []string{"churn@production"}, Metrics: map[string]float64{"demographic_parity": 0.03}})
	if len(ev.Evaluates) != 1 || ev.Evaluates[0] != "churn@v2" {
		t.Fatalf("evaluation = %+v", ev)
	}
	evals, err := c.Evaluations(ctx, "churn@production")
	if err != nil || len(evals) != 1 || evals[0].Ref() != "churn-eval@v1" {
		t.Fatalf("evaluations = %+v, %v", evals, err)
	}
	if evals, err := c.Evaluations(ctx, "churn@v1"); err != nil || evals == nil || len(evals) != 0 {
		t.Fatalf("evaluations of churn@v1 = %#v, %v; want an empty list", evals, err)
	}
	// retrained_from round-trips through the API.
	v3 := pushBytes(t, e, "churn", map[string]string{"model.bin": "v3"}, cairn.VersionSpec{RetrainedFrom: "churn@production"})
	if v3.RetrainedFrom != "churn@v2" {
		t.Fatalf("retrained version = %+v", v3)
	}

	// Bad input is a precise 4xx that changes nothing.
	before, err := c.ListEvents(ctx, 0, 1000, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, method, path, body string
		status                   int
		code                     cairn.ErrorCode
	}{
		{"bad kind", "POST", "/api/v1/versions/churn@v2/signals", `{"kind":"Data Drift","value":1}`, 400, cairn.EINVALID},
		{"no kind", "POST", "/api/v1/versions/churn@v2/signals", `{"value":1}`, 400, cairn.EINVALID},
		{"value not a number", "POST", "/api/v1/versions/churn@v2/signals", `{"kind":"drift","value":"high"}`, 400, cairn.EINVALID},
		{"unknown field", "POST", "/api/v1/versions/churn@v2/signals", `{"kind":"drift","value":1,"severity":3}`, 400, cairn.EINVALID},
		{"not JSON", "POST", "/api/v1/versions/churn@v2/signals", `drift=1`, 400, cairn.EINVALID},
		{"no version", "POST", "/api/v1/versions/churn@v9/signals", `{"kind":"drift","value":1}`, 404, cairn.ENOTFOUND},
		{"no model", "POST", "/api/v1/versions/nope@v1/signals", `{"kind":"drift","value":1}`, 404, cairn.ENOTFOUND},
		{"bad ref", "POST", "/api/v1/versions/churn@@/signals", `{"kind":"drift","value":1}`, 400, cairn.EINVALID},
		{"list bad kind", "GET", "/api/v1/versions/churn@v2/signals?kind=Bad%20Kind", "", 400, cairn.EINVALID},
		{"list bad token", "GET", "/api/v1/versions/churn@v2/signals?page_token=!!", "", 400, cairn.EINVALID},
		{"list bad page size", "GET", "/api/v1/versions/churn@v2/signals?page_size=0", "", 400, cairn.EINVALID},
		{"evaluations of nothing", "GET", "/api/v1/versions/churn@v9/evaluations", "", 404, cairn.ENOTFOUND},
		{"unflag nothing", "POST", "/api/v1/versions/churn@staging/unflag", "", 404, cairn.ENOTFOUND},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := raw(t, e, tc.method, tc.path, tc.body)
			wantProblem(t, resp, body, tc.status, tc.code)
		})
	}
	after, err := c.ListEvents(ctx, 0, 1000, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(after.Items) != len(before.Items) {
		t.Errorf("refused requests emitted %d events", len(after.Items)-len(before.Items))
	}
	resp, body := raw(t, e, "GET", "/api/v1/versions/churn@v2/signals", "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("list = %d %s", resp.StatusCode, body)
	}
}
