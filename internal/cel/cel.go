// Package cel compiles and evaluates the conditions of policy gates,
// written in the Common Expression Language (github.com/google/cel-go):
// small, side-effect free, guaranteed to terminate, and bounded in cost,
// so that a policy author cannot hang or overload the server.
//
// An expression sees two variables (see docs/governance.md):
//
//	version      the version's evidence: metrics, params, tags, status,
//	             archived, stage, kind, model, number, …
//	evaluations  the evaluation versions linked to it, by key
//	             ("fairness" in evaluations,
//	             evaluations.fairness.metrics.disparity < 0.1)
//
// and must yield a bool.
package cel

import (
	"fmt"
	"strings"

	celgo "github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"

	"github.com/cairn-registry/cairn"
)

// CostLimit bounds the work one evaluation may do, in cel-go's cost units
// (roughly one per operation and per element a comprehension visits).
const CostLimit = 100_000

// Env compiles expressions. It is safe for concurrent use.
type Env struct {
	env *celgo.Env
}

// NewEnv returns an environment declaring the variables of a gate
// condition.
func NewEnv() (*Env, error) {
	env, err := celgo.NewEnv(
		celgo.Variable("version", celgo.MapType(celgo.StringType, celgo.DynType)),
		celgo.Variable("evaluations", celgo.MapType(celgo.StringType, celgo.DynType)),
		// 0.9 >= 1 and metrics.n > 3 compare across int and double.
		celgo.CrossTypeNumericComparisons(true),
	)
	if err != nil {
		return nil, fmt.Errorf("cel: new environment: %w", err)
	}
	return &Env{env: env}, nil
}

// Program is a compiled condition, safe for concurrent use.
type Program struct {
	expr string
	prg  celgo.Program
}

// Compile parses and type-checks expr. EINVALID, with CEL's message, if it
// does not compile or does not yield a bool.
func (e *Env) Compile(expr string) (*Program, error) {
	ast, iss := e.env.Compile(expr)
	if iss != nil && iss.Err() != nil {
		return nil, cairn.Errorf(cairn.EINVALID, "%s", oneLine(iss.Err().Error()))
	}
	if t := ast.OutputType(); !t.IsExactType(types.BoolType) && !t.IsExactType(types.DynType) {
		return nil, cairn.Errorf(cairn.EINVALID, "expression yields %s, not bool", t)
	}
	prg, err := e.env.Program(ast, celgo.CostLimit(CostLimit), celgo.EvalOptions(celgo.OptOptimize))
	if err != nil {
		return nil, cairn.Errorf(cairn.EINVALID, "%s", oneLine(err.Error()))
	}
	return &Program{expr: expr, prg: prg}, nil
}

// Vars are the values an expression sees. Maps hold JSON-like values:
// map[string]any, []any, string, float64, int64, bool.
type Vars struct {
	Version     map[string]any
	Evaluations map[string]any
}

// Eval evaluates the program. It returns whether the condition holds, or
// an error saying why it could not be decided (a missing key, a type
// mismatch, the cost limit); callers treat that as not holding.
func (p *Program) Eval(v Vars) (bool, error) {
	if v.Version == nil {
		v.Version = map[string]any{}
	}
	if v.Evaluations == nil {
		v.Evaluations = map[string]any{}
	}
	out, _, err := p.prg.Eval(map[string]any{"version": v.Version, "evaluations": v.Evaluations})
	if err != nil {
		return false, fmt.Errorf("%s", oneLine(err.Error()))
	}
	b, ok := out.Value().(bool)
	if !ok {
		return false, fmt.Errorf("expression yielded %v (%s), not a bool", out.Value(), out.Type().TypeName())
	}
	return b, nil
}

// oneLine joins CEL's multi-line messages (which draw a caret under the
// error) into one line for API answers.
func oneLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	var keep []string
	for _, l := range lines {
		t := strings.TrimSpace(l)
		if t == "" || strings.Trim(t, "|.^ ") == "" || strings.HasPrefix(t, "|") {
			continue
		}
		keep = append(keep, t)
	}
	return strings.Join(keep, "; ")
}
