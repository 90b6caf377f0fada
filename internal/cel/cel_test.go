package cel_test

import (
	"strings"
	"testing"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/internal/cel"
)

func vars() cel.Vars {
	return cel.Vars{
		Version: map[string]any{
			"model": "churn", "version": int64(7), "status": "ready", "archived": false,
			"metrics": map[string]any{"auc": 0.93, "n": int64(3)},
			"params":  map[string]any{"algo": "xgboost"},
			"tags":    map[string]any{"team": "fraud"},
		},
		Evaluations: map[string]any{
			"fairness": map[string]any{"ref": "churn-fairness@v2", "metrics": map[string]any{"disparity": 0.04}, "tags": map[string]any{"verdict": "pass"}},
		},
	}
}

func TestEval(t *testing.T) {
	t.Parallel()
	env, err := cel.NewEnv()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		expr    string
		want    bool
		wantErr string
	}{
		{`version.metrics.auc >= 0.9`, true, ""},
		{`version.metrics.auc >= 0.95`, false, ""},
		{`version.metrics.n > 2`, true, ""}, // int against int literal
		{`version.metrics.auc > 0`, true, ""},
		{`version.metrics.n >= 2.5`, true, ""}, // cross-type numeric comparison
		{`"fairness" in evaluations`, true, ""},
		{`"risk" in evaluations`, false, ""},
		{`"fairness" in evaluations && evaluations.fairness.metrics.disparity < 0.1`, true, ""},
		{`evaluations.fairness.tags.verdict == "pass"`, true, ""},
		{`version.params.algo in ["xgboost", "lightgbm"]`, true, ""},
		{`version.tags.team == "fraud" && version.status == "ready" && !version.archived`, true, ""},
		{`has(version.metrics.f1) && version.metrics.f1 > 0.5`, false, ""},
		{`version.metrics.f1 > 0.5`, false, "no such key: f1"},
		{`evaluations.risk.metrics.score < 3`, false, "no such key: risk"},
		{`version.metrics.auc`, false, "not a bool"},
	} {
		t.Run(tc.expr, func(t *testing.T) {
			t.Parallel()
			p, err := env.Compile(tc.expr)
			if err != nil {
				t.Fatalf("Compile: %v", err)
			}
			got, err := p.Eval(vars())
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Eval = %v, %v; want an error containing %q", got, err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("Eval = %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

func TestCompileRefusals(t *testing.T) {
	t.Parallel()
	env, err := cel.NewEnv()
	if err != nil {
		t.Fatal(err)
	}
	for _, expr := range []string{
		`version.metrics.auc >=`,  // syntax
		`model.metrics.auc > 0.9`, // undeclared variable
		`1 + 2`,                   // not a bool
		`"a" + "b"`,               // not a bool
	} {
		t.Run(expr, func(t *testing.T) {
			t.Parallel()
			_, err := env.Compile(expr)
			if cairn.ErrorCodeOf(err) != cairn.EINVALID {
				t.Fatalf("Compile(%q) = %v, want invalid", expr, err)
			}
			if strings.Contains(cairn.ErrorMessage(err), "\n") {
				t.Errorf("message spans lines: %q", cairn.ErrorMessage(err))
			}
		})
	}
}

// TestCostLimit checks that an expression that would do too much work is
// stopped rather than run.
func TestCostLimit(t *testing.T) {
	t.Parallel()
	env, err := cel.NewEnv()
	if err != nil {
		t.Fatal(err)
	}
	p, err := env.Compile(`[1,2,3,4,5,6,7,8,9,10].all(a, [1,2,3,4,5,6,7,8,9,10].all(b, [1,2,3,4,5,6,7,8,9,10].all(c, [1,2,3,4,5,6,7,8,9,10].all(d, [1,2,3,4,5,6,7,8,9,10].all(e, a+b+c+d+e > 0)))))`)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Eval(vars()); err == nil || !strings.Contains(err.Error(), "cost") {
		t.Fatalf("Eval = %v, want a cost limit error", err)
	}
}
