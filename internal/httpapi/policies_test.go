package httpapi_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/client"
)

func TestPolicyRoutes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	c := e.Client

	in := client.PolicyCreate{Name: "gate", PolicySpec: cairn.PolicySpec{
		Scope:            "churn*",
		RequiredMetadata: json.RawMessage(`{"type":"object","required":["run_id"]}`),
		ProtectedAliases: []cairn.Gate{{Alias: "production", Approvals: 2, Conditions: []cairn.Condition{{Name: "auc", Expr: "version.metrics.auc >= 0.9"}}}},
		Signals:          map[string]float64{"drift": 0.3},
	}}
	p, err := c.CreatePolicy(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if p.Version != 1 || p.CreatedBy != "tester" || p.Scope != "churn*" || len(p.ProtectedAliases) != 1 {
		t.Fatalf("created %+v", p)
	}
	spec := in.PolicySpec
	spec.Signals = map[string]float64{"drift": 0.2}
	p2, err := c.UpdatePolicy(ctx, "gate", spec)
	if err != nil || p2.Version != 2 {
		t.Fatalf("UpdatePolicy = %+v, %v", p2, err)
	}
	if got, err := c.GetPolicy(ctx, "gate", 1); err != nil || got.Signals["drift"] != 0.3 {
		t.Fatalf("GetPolicy version 1 = %+v, %v", got, err)
	}
	if got, err := c.GetPolicy(ctx, "gate", 0); err != nil || got.Version != 2 {
		t.Fatalf("GetPolicy = %+v, %v", got, err)
	}
	vs, err := c.ListPolicyVersions(ctx, "gate")
	if err != nil || len(vs) != 2 {
		t.Fatalf("ListPolicyVersions = %v, %v", vs, err)
	}
	// The required metadata applies to pushes through the API.
	_, err = c.CreateVersion(ctx, "churn", cairn.VersionSpec{})
	if !cairn.IsCode(err, cairn.EINVALID) || !strings.Contains(cairn.ErrorMessage(err), "run_id") {
		t.Fatalf("push without run_id under the policy: %v, want invalid naming run_id", err)
	}

	// Strict decoding: a misspelt member is refused, not ignored.
	resp, body := raw(t, e, "POST", "/api/v1/policies", `{"name":"typo","scope":"*","protected_alias":[{"alias":"production","approvals":1}]}`)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "protected_alias") {
		t.Errorf("unknown member: %d %s", resp.StatusCode, body)
	}
	for name, bad := range map[string]client.PolicyCreate{
		"bad CEL":   {Name: "x", PolicySpec: cairn.PolicySpec{Scope: "*", ProtectedAliases: []cairn.Gate{{Alias: "production", Conditions: []cairn.Condition{{Name: "c", Expr: "version.metrics.auc >"}}}}}},
		"bad name":  {Name: "no spaces", PolicySpec: cairn.PolicySpec{Scope: "*"}},
		"no scope":  {Name: "x"},
		"bad regex": {Name: "x", PolicySpec: cairn.PolicySpec{Scope: "*", NamePattern: &cairn.NamePattern{Regex: "[a-"}}},
	} {
		if _, err := c.CreatePolicy(ctx, bad); !cairn.IsCode(err, cairn.EINVALID) {
			t.Errorf("%s: %v, want invalid", name, err)
		}
	}
	if _, err := c.CreatePolicy(ctx, in); !cairn.IsCode(err, cairn.ECONFLICT) {
		t.Errorf("create twice: %v, want conflict", err)
	}
	if _, err := c.GetPolicy(ctx, "nope", 0); !cairn.IsCode(err, cairn.ENOTFOUND) {
		t.Errorf("get a missing policy: %v, want not_found", err)
	}
	resp, body = raw(t, e, "GET", "/api/v1/policies/gate?version=zero", "")
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("bad version parameter: %d %s", resp.StatusCode, body)
	}

	if err := c.DeletePolicy(ctx, "gate"); err != nil {
		t.Fatal(err)
	}
	if ps, err := c.ListPolicies(ctx, false); err != nil || len(ps) != 0 {
		t.Fatalf("ListPolicies after delete = %v, %v", ps, err)
	}
	if ps, err := c.ListPolicies(ctx, true); err != nil || len(ps) != 1 || ps[0].DeletedAt == nil {
		t.Fatalf("ListPolicies(include deleted) = %v, %v", ps, err)
	}
	if _, err := c.CreateVersion(ctx, "churn", cairn.VersionSpec{}); err != nil {
		t.Fatalf("push after the policy was deleted: %v", err)
	}
}
