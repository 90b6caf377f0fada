package sqlfilter

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/cairn-registry/cairn"
	"github.com/google/go-cmp/cmp"
)

func mustParse(tb testing.TB, s string) *cairn.Filter {
	tb.Helper()
	f, err := cairn.ParseFilter(s)
	if err != nil {
		tb.Fatalf("ParseFilter(%q): %v", s, err)
	}
	return f
}

type compileFunc func(*cairn.Filter, []cairn.OrderBy, Dialect, int) (*Compiled, error)

func TestCompileSQL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		compile  compileFunc
		filter   string
		order    []cairn.OrderBy
		argStart int
		sqlite   Compiled
		postgres Compiled
	}{
		{
			name: "nil filter, default order", compile: Models,
			sqlite:   Compiled{OrderBy: "m.name ASC"},
			postgres: Compiled{OrderBy: "m.name ASC"},
		},
		{
			name: "versions default order", compile: Versions,
			sqlite:   Compiled{OrderBy: "m.name ASC, v.number DESC"},
			postgres: Compiled{OrderBy: "m.name ASC, v.number DESC"},
		},
		{
			name: "mlflow example", compile: Models, filter: "name LIKE 'churn%' AND tags.team = 'fraud'",
			sqlite: Compiled{
				Where:   `(m.name GLOB ? AND COALESCE(json_extract(m.tags, ?) = ?, FALSE))`,
				Args:    []any{"churn*", `$."team"`, "fraud"},
				OrderBy: "m.name ASC", WhereArgs: 3,
			},
			postgres: Compiled{
				Where:   `(m.name LIKE $1 AND COALESCE((m.tags->>$2::text) = $3, FALSE))`,
				Args:    []any{"churn%", "team", "fraud"},
				OrderBy: "m.name ASC", WhereArgs: 3,
			},
		},
		{
			name: "argStart numbers postgres placeholders", compile: Versions, filter: "name = 'a' AND version > 2", argStart: 4,
			sqlite:   Compiled{Where: "(m.name = ? AND v.number > ?)", Args: []any{"a", int64(2)}, OrderBy: "m.name ASC, v.number DESC", WhereArgs: 2},
			postgres: Compiled{Where: "(m.name = $4 AND v.number > $5::bigint)", Args: []any{"a", int64(2)}, OrderBy: "m.name ASC, v.number DESC", WhereArgs: 2},
		},
		{
			name: "single comparison is not parenthesized", compile: Models, filter: "kind = 'dataset'",
			sqlite:   Compiled{Where: "m.kind = ?", Args: []any{"dataset"}, OrderBy: "m.name ASC", WhereArgs: 1},
			postgres: Compiled{Where: "m.kind = $1", Args: []any{"dataset"}, OrderBy: "m.name ASC", WhereArgs: 1},
		},
		{
			name: "ilike", compile: Models, filter: "name ILIKE '%BERT*%'",
			sqlite:   Compiled{Where: "lower(m.name) GLOB lower(?)", Args: []any{"*BERT[*]*"}, OrderBy: "m.name ASC", WhereArgs: 1},
			postgres: Compiled{Where: "m.name ILIKE $1", Args: []any{"%BERT*%"}, OrderBy: "m.name ASC", WhereArgs: 1},
		},
		{
			name: "like escapes", compile: Models, filter: `name LIKE 'a\%b\_c_[d]?\\'`,
			sqlite:   Compiled{Where: "m.name GLOB ?", Args: []any{`a%b_c?[[]d][?]\`}, OrderBy: "m.name ASC", WhereArgs: 1},
			postgres: Compiled{Where: "m.name LIKE $1", Args: []any{`a\%b\_c_[d]?\\`}, OrderBy: "m.name ASC", WhereArgs: 1},
		},
		{
			name: "not equal and not in on tags match missing keys", compile: Models, filter: "tags.team != 'a' OR tags.team NOT IN ('b', 'c')",
			sqlite: Compiled{
				Where:   `(COALESCE(json_extract(m.tags, ?) <> ?, TRUE) OR COALESCE(json_extract(m.tags, ?) NOT IN (?, ?), TRUE))`,
				Args:    []any{`$."team"`, "a", `$."team"`, "b", "c"},
				OrderBy: "m.name ASC", WhereArgs: 5,
			},
			postgres: Compiled{
				Where:   `(COALESCE((m.tags->>$1::text) <> $2, TRUE) OR COALESCE((m.tags->>$3::text) NOT IN ($4, $5), TRUE))`,
				Args:    []any{"team", "a", "team", "b", "c"},
				OrderBy: "m.name ASC", WhereArgs: 5,
			},
		},
		{
			name: "quoted key", compile: Models, filter: "tags.`my key.x` = 'v'",
			sqlite:   Compiled{Where: `COALESCE(json_extract(m.tags, ?) = ?, FALSE)`, Args: []any{`$."my key.x"`, "v"}, OrderBy: "m.name ASC", WhereArgs: 2},
			postgres: Compiled{Where: `COALESCE((m.tags->>$1::text) = $2, FALSE)`, Args: []any{"my key.x", "v"}, OrderBy: "m.name ASC", WhereArgs: 2},
		},
		{
			// AND puts equality on a map before a metric's range.
			name: "metrics and params", compile: Versions, filter: "metrics.auc >= 0.9 AND params.lr = '0.1' AND metrics.n IN (1, 2)",
			sqlite: Compiled{
				Where:   `(COALESCE(json_extract(v.params, ?) = ?, FALSE) AND COALESCE(json_extract(v.metrics, ?) IN (?, ?), FALSE) AND COALESCE(json_extract(v.metrics, ?) >= ?, FALSE))`,
				Args:    []any{`$."lr"`, "0.1", `$."n"`, 1.0, 2.0, `$."auc"`, 0.9},
				OrderBy: "m.name ASC, v.number DESC", WhereArgs: 7,
			},
			postgres: Compiled{
				Where:   `(COALESCE((v.params->>$1::text) = $2, FALSE) AND COALESCE((v.metrics->>$3::text)::double precision IN ($4::double precision, $5::double precision), FALSE) AND COALESCE((v.metrics->>$6::text)::double precision >= $7::double precision, FALSE))`,
				Args:    []any{"lr", "0.1", "n", 1.0, 2.0, "auc", 0.9},
				OrderBy: "m.name ASC, v.number DESC", WhereArgs: 7,
			},
		},
		{
			name: "precedence and NOT", compile: Models, filter: "NOT (name = 'a' OR name = 'b') AND kind = 'model' OR archived = true",
			sqlite: Compiled{
				Where:   "((m.kind = ? AND NOT (m.name = ? OR m.name = ?)) OR m.archived = ?)",
				Args:    []any{"model", "a", "b", int64(1)},
				OrderBy: "m.name ASC", WhereArgs: 4,
			},
			postgres: Compiled{
				Where:   "((m.kind = $1 AND NOT (m.name = $2 OR m.name = $3)) OR m.archived = $4)",
				Args:    []any{"model", "a", "b", true},
				OrderBy: "m.name ASC", WhereArgs: 4,
			},
		},
		{
			name: "right-nested groups are kept", compile: Models, filter: "name = 'a' AND (name = 'b' OR (name = 'c' AND name = 'd'))",
			sqlite: Compiled{
				Where:   "(m.name = ? AND (m.name = ? OR (m.name = ? AND m.name = ?)))",
				Args:    []any{"a", "b", "c", "d"},
				OrderBy: "m.name ASC", WhereArgs: 4,
			},
			postgres: Compiled{
				Where:   "(m.name = $1 AND (m.name = $2 OR (m.name = $3 AND m.name = $4)))",
				Args:    []any{"a", "b", "c", "d"},
				OrderBy: "m.name ASC", WhereArgs: 4,
			},
		},
		{
			name: "booleans", compile: Versions, filter: "archived = false AND archived != false",
			sqlite:   Compiled{Where: "(v.archived = ? AND v.archived = ?)", Args: []any{int64(0), int64(1)}, OrderBy: "m.name ASC, v.number DESC", WhereArgs: 2},
			postgres: Compiled{Where: "(v.archived = $1 AND v.archived = $2)", Args: []any{false, true}, OrderBy: "m.name ASC, v.number DESC", WhereArgs: 2},
		},
		{
			name: "times", compile: Models, filter: "created_at >= '2024-05-01T12:00:00.5+02:00' AND updated_at < 1700000000123 AND creation_timestamp != 0",
			sqlite: Compiled{
				Where:   "(m.created_at >= ? AND m.updated_at < ? AND m.created_at <> ?)",
				Args:    []any{int64(1714557600500000), int64(1700000000123000), int64(0)},
				OrderBy: "m.name ASC", WhereArgs: 3,
			},
			postgres: Compiled{
				Where:   "(m.created_at >= $1::bigint AND m.updated_at < $2::bigint AND m.created_at <> $3::bigint)",
				Args:    []any{int64(1714557600500000), int64(1700000000123000), int64(0)},
				OrderBy: "m.name ASC", WhereArgs: 3,
			},
		},
		{
			name: "enums are normalised", compile: Versions, filter: "status IN ('READY', 'Pending_Registration') AND stage = 'production' AND current_stage NOT IN ('none') AND status != 'FAILED_REGISTRATION'",
			sqlite: Compiled{
				Where:   "(v.status IN (?, ?) AND v.stage = ? AND v.stage NOT IN (?) AND v.status <> ?)",
				Args:    []any{"ready", "pending", "Production", "None", "failed"},
				OrderBy: "m.name ASC, v.number DESC", WhereArgs: 5,
			},
			postgres: Compiled{
				Where:   "(v.status IN ($1, $2) AND v.stage = $3 AND v.stage NOT IN ($4) AND v.status <> $5)",
				Args:    []any{"ready", "pending", "Production", "None", "failed"},
				OrderBy: "m.name ASC, v.number DESC", WhereArgs: 5,
			},
		},
		{
			name: "stage LIKE is passed through", compile: Versions, filter: "stage LIKE 'Prod%'",
			sqlite:   Compiled{Where: "v.stage GLOB ?", Args: []any{"Prod*"}, OrderBy: "m.name ASC, v.number DESC", WhereArgs: 1},
			postgres: Compiled{Where: "v.stage LIKE $1", Args: []any{"Prod%"}, OrderBy: "m.name ASC, v.number DESC", WhereArgs: 1},
		},
		{
			name: "version synonyms", compile: Versions, filter: "model = 'm' AND version_number IN (1, 3) AND source_path = 's' AND source != 't'",
			sqlite: Compiled{
				Where:   "(m.name = ? AND v.number IN (?, ?) AND v.source = ? AND v.source <> ?)",
				Args:    []any{"m", int64(1), int64(3), "s", "t"},
				OrderBy: "m.name ASC, v.number DESC", WhereArgs: 5,
			},
			postgres: Compiled{
				Where:   "(m.name = $1 AND v.number IN ($2::bigint, $3::bigint) AND v.source = $4 AND v.source <> $5)",
				Args:    []any{"m", int64(1), int64(3), "s", "t"},
				OrderBy: "m.name ASC, v.number DESC", WhereArgs: 5,
			},
		},
		{
			name: "attribute names are case-insensitive", compile: Models, filter: "Name = 'x'",
			sqlite:   Compiled{Where: "m.name = ?", Args: []any{"x"}, OrderBy: "m.name ASC", WhereArgs: 1},
			postgres: Compiled{Where: "m.name = $1", Args: []any{"x"}, OrderBy: "m.name ASC", WhereArgs: 1},
		},
		{
			name: "model alias", compile: Models, filter: "alias = 'champion' OR alias NOT IN ('a', 'b')",
			sqlite: Compiled{
				Where:   "(EXISTS (SELECT 1 FROM aliases a WHERE a.model_id = m.id AND a.name = ?) OR NOT EXISTS (SELECT 1 FROM aliases a WHERE a.model_id = m.id AND a.name IN (?, ?)))",
				Args:    []any{"champion", "a", "b"},
				OrderBy: "m.name ASC", WhereArgs: 3,
			},
			postgres: Compiled{
				Where:   "(EXISTS (SELECT 1 FROM aliases a WHERE a.model_id = m.id AND a.name = $1) OR NOT EXISTS (SELECT 1 FROM aliases a WHERE a.model_id = m.id AND a.name IN ($2, $3)))",
				Args:    []any{"champion", "a", "b"},
				OrderBy: "m.name ASC", WhereArgs: 3,
			},
		},
		{
			name: "version alias", compile: Versions, filter: "alias != 'champion' AND alias ILIKE 'PROD%'",
			sqlite: Compiled{
				Where:   "(NOT EXISTS (SELECT 1 FROM aliases a WHERE a.model_id = v.model_id AND a.version = v.number AND a.name = ?) AND EXISTS (SELECT 1 FROM aliases a WHERE a.model_id = v.model_id AND a.version = v.number AND lower(a.name) GLOB lower(?)))",
				Args:    []any{"champion", "PROD*"},
				OrderBy: "m.name ASC, v.number DESC", WhereArgs: 2,
			},
			postgres: Compiled{
				Where:   "(NOT EXISTS (SELECT 1 FROM aliases a WHERE a.model_id = v.model_id AND a.version = v.number AND a.name = $1) AND EXISTS (SELECT 1 FROM aliases a WHERE a.model_id = v.model_id AND a.version = v.number AND a.name ILIKE $2))",
				Args:    []any{"champion", "PROD%"},
				OrderBy: "m.name ASC, v.number DESC", WhereArgs: 2,
			},
		},
		{
			name: "model order with legacy names", compile: Models,
			order:    []cairn.OrderBy{{Field: "last_updated_timestamp", Desc: true}, {Field: "creation_timestamp"}, {Field: "timestamp"}, {Field: "latest_version"}, {Field: "kind", Desc: true}},
			sqlite:   Compiled{OrderBy: "m.updated_at DESC, m.created_at ASC, m.latest_version ASC, m.kind DESC, m.name ASC"},
			postgres: Compiled{OrderBy: "m.updated_at DESC, m.created_at ASC, m.latest_version ASC, m.kind DESC, m.name ASC"},
		},
		{
			name: "order by name desc replaces the tie-breaker", compile: Models,
			order:    []cairn.OrderBy{{Field: "name", Desc: true}},
			sqlite:   Compiled{OrderBy: "m.name DESC"},
			postgres: Compiled{OrderBy: "m.name DESC"},
		},
		{
			name: "version order binds keys after the filter", compile: Versions, filter: "metrics.auc > 0.5", argStart: 2,
			order: []cairn.OrderBy{{Field: "metrics.auc", Desc: true}, {Field: "params.lr"}, {Field: "tags.`a b`", Desc: true}, {Field: "version_number"}, {Field: " metric.auc "}, {Field: "size"}},
			sqlite: Compiled{
				Where:     `COALESCE(json_extract(v.metrics, ?) > ?, FALSE)`,
				Args:      []any{`$."auc"`, 0.5, `$."auc"`, `$."lr"`, `$."a b"`},
				OrderBy:   "json_extract(v.metrics, ?) DESC NULLS LAST, json_extract(v.params, ?) ASC NULLS LAST, json_extract(v.tags, ?) DESC NULLS LAST, v.number ASC, v.size ASC, m.name ASC",
				WhereArgs: 2,
			},
			postgres: Compiled{
				Where:     `COALESCE((v.metrics->>$2::text)::double precision > $3::double precision, FALSE)`,
				Args:      []any{"auc", 0.5, "auc", "lr", "a b"},
				OrderBy:   `(v.metrics->>$4::text)::double precision DESC NULLS LAST, (v.params->>$5::text) COLLATE "C" ASC NULLS LAST, (v.tags->>$6::text) COLLATE "C" DESC NULLS LAST, v.number ASC, v.size ASC, m.name ASC`,
				WhereArgs: 2,
			},
		},
		{
			name: "version order by status, stage, timestamps", compile: Versions,
			order:    []cairn.OrderBy{{Field: "status"}, {Field: "current_stage", Desc: true}, {Field: "stage"}, {Field: "created_at"}, {Field: "updated_at", Desc: true}, {Field: "model"}},
			sqlite:   Compiled{OrderBy: "v.status ASC, v.stage DESC, v.created_at ASC, v.updated_at DESC, m.name ASC, v.number DESC"},
			postgres: Compiled{OrderBy: "v.status ASC, v.stage DESC, v.created_at ASC, v.updated_at DESC, m.name ASC, v.number DESC"},
		},
	}
	for _, tt := range tests {
		for _, d := range []struct {
			name string
			d    Dialect
			want Compiled
		}{{"sqlite", SQLite, tt.sqlite}, {"postgres", Postgres, tt.postgres}} {
			t.Run(tt.name+"/"+d.name, func(t *testing.T) {
				t.Parallel()
				var f *cairn.Filter
				if tt.filter != "" {
					f = mustParse(t, tt.filter)
				}
				start := tt.argStart
				if start == 0 {
					start = 1
				}
				got, err := tt.compile(f, tt.order, d.d, start)
				if err != nil {
					t.Fatalf("compile: %v", err)
				}
				if diff := cmp.Diff(&d.want, got); diff != "" {
					t.Errorf("mismatch (-want +got):\n%s", diff)
				}
				if d.d == SQLite && strings.Count(got.Where+got.OrderBy, "?") != len(got.Args) {
					t.Errorf("%d placeholders for %d args", strings.Count(got.Where+got.OrderBy, "?"), len(got.Args))
				}
			})
		}
	}
}

func TestCompileErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		compile compileFunc
		filter  string
		order   []cairn.OrderBy
		want    string
	}{
		{"unknown model field", Models, "foo = 'x'", nil, `invalid filter: unknown field "foo" for models; want one of alias, archived, created_at, created_by, creation_timestamp, description, kind, last_updated_timestamp, latest_version, name, tags.<key>, updated_at`},
		{"model metric", Models, "metrics.auc > 1", nil, `invalid filter: unknown field "metrics.auc" for models`},
		{"model param", Models, "params.lr = '1'", nil, `unknown field "params.lr" for models`},
		{"model version field", Models, "version = 1", nil, `unknown field "version" for models`},
		{"unknown version field", Versions, "bogus = 1", nil, `invalid filter: unknown field "bogus" for versions; want one of alias, archived, created_at,`},
		{"number for string", Models, "name = 1", nil, "invalid filter: name: want a string, got number 1"},
		{"bool for string", Models, "name = true", nil, "invalid filter: name: want a string, got true"},
		{"string for number", Versions, "version = '3'", nil, "invalid filter: version: want a number, got string '3'"},
		{"fraction for integer", Versions, "version > 2.5", nil, "invalid filter: version: want an integer, got 2.5"},
		{"huge integer", Versions, "size > 1e300", nil, "invalid filter: size: want an integer, got 1e+300"},
		{"string in number list", Versions, "version IN (1, 'a')", nil, "invalid filter: version: want a number, got string 'a'"},
		{"number in string list", Versions, "run_id IN ('a', 2)", nil, "invalid filter: run_id: want a string, got number 2"},
		{"string for metric", Versions, "metrics.auc > 'high'", nil, "invalid filter: metrics.auc: want a number, got string 'high'"},
		{"number for tag", Versions, "tags.x = 1", nil, "invalid filter: tags.x: want a string, got number 1"},
		{"number for param", Versions, "params.lr = 0.1", nil, "invalid filter: params.lr: want a string, got number 0.1"},
		{"string for bool", Models, "archived = 'true'", nil, "invalid filter: archived: want true or false, got string 'true'"},
		{"number for alias", Models, "alias = 1", nil, "invalid filter: alias: want a string, got number 1"},
		{"bool for time", Models, "created_at > true", nil, "invalid filter: created_at: want an RFC 3339 time or an integer of unix milliseconds, got true"},
		{"bad time", Models, "created_at > '2024-13-01'", nil, `invalid filter: created_at: invalid time "2024-13-01": want RFC 3339`},
		{"fractional millis", Models, "created_at > 1.5", nil, "invalid filter: created_at: want an RFC 3339 time or an integer of unix milliseconds, got 1.5"},
		{"LIKE on number", Versions, "version LIKE '1%'", nil, "invalid filter: version: operator LIKE is not supported here; want one of =, !=, <, <=, >, >=, IN, NOT IN"},
		{"< on string", Models, "name < 'b'", nil, "invalid filter: name: operator < is not supported here; want one of =, !=, LIKE, ILIKE, IN, NOT IN"},
		{"IN on bool", Models, "archived IN (1)", nil, "invalid filter: archived: operator IN is not supported here; want one of =, !="},
		{"IN on time", Models, "created_at IN (1)", nil, "invalid filter: created_at: operator IN is not supported here"},
		{"< on metric string", Versions, "tags.x > 'a'", nil, "invalid filter: tags.x: operator > is not supported here"},
		{"< on alias", Models, "alias < 'a'", nil, "invalid filter: alias: operator < is not supported here"},
		{"invalid kind", Models, "kind = 'Model'", nil, `invalid filter: kind: invalid kind "Model"`},
		{"empty kind", Models, "kind = ''", nil, "invalid filter: kind: want model, dataset, prompt, evaluation or other, got ''"},
		{"invalid status", Versions, "status = 'done'", nil, `invalid filter: status: invalid status "done": want pending, ready or failed`},
		{"invalid stage", Versions, "stage IN ('Staging', 'prod')", nil, `invalid filter: stage: invalid stage "prod"`},
		{"trailing escape in LIKE", Models, `name LIKE 'a\'`, nil, `invalid filter: name: LIKE pattern must not end with the escape character \`},
		{"trailing escape in ILIKE", Versions, `tags.x ILIKE 'a\\\'`, nil, `invalid filter: tags.x: ILIKE pattern must not end`},
		{"unknown order field", Models, "", []cairn.OrderBy{{Field: "size"}}, `invalid order_by: cannot sort models by "size"; want one of created_at, creation_timestamp, kind, last_updated_timestamp, latest_version, name, timestamp, updated_at`},
		{"model order by tag", Models, "", []cairn.OrderBy{{Field: "tags.x"}}, `invalid order_by: cannot sort models by "tags.x"`},
		{"unknown version order field", Versions, "", []cairn.OrderBy{{Field: "name"}, {Field: "run_id"}}, `invalid order_by: cannot sort versions by "run_id"; want one of created_at, creation_timestamp, current_stage, last_updated_timestamp, metrics.<key>, model, name, params.<key>, size, stage, status, tags.<key>, timestamp, updated_at, version, version_number`},
		{"order field with direction", Versions, "", []cairn.OrderBy{{Field: "name DESC"}}, `invalid order_by field "name DESC": invalid field: column 6: expected the end of the field`},
		{"empty order field", Versions, "", []cairn.OrderBy{{Field: ""}}, `invalid order_by field "": invalid field: must not be empty`},
		{"bad order key", Versions, "", []cairn.OrderBy{{Field: "metrics.`a!`"}}, `invalid order_by field "metrics.`},
	}
	for _, tt := range tests {
		for _, d := range []Dialect{SQLite, Postgres} {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				var f *cairn.Filter
				if tt.filter != "" {
					f = mustParse(t, tt.filter)
				}
				c, err := tt.compile(f, tt.order, d, 1)
				if err == nil {
					t.Fatalf("compile = %+v; want an error", c)
				}
				if !cairn.IsCode(err, cairn.EINVALID) {
					t.Errorf("code = %q; want invalid (%v)", cairn.ErrorCodeOf(err), err)
				}
				if !strings.Contains(err.Error(), tt.want) {
					t.Errorf("error = %q\nwant it to contain %q", err, tt.want)
				}
			})
		}
	}
}

// TestCompileHandBuiltTrees covers trees that ParseFilter never returns but a
// caller could build.
func TestCompileHandBuiltTrees(t *testing.T) {
	t.Parallel()
	name := cairn.Field{Name: "name"}
	deep := cairn.Expr(&cairn.CmpExpr{Field: name, Op: "=", Value: cairn.Value{Kind: cairn.ValueString, Str: "x"}})
	for range cairn.MaxFilterComparisons + cairn.MaxFilterDepth + 1 {
		deep = &cairn.NotExpr{X: deep}
	}
	many := cairn.Value{Kind: cairn.ValueList}
	for range cairn.MaxFilterValues + 1 {
		many.List = append(many.List, cairn.Value{Kind: cairn.ValueString, Str: "x"})
	}
	wide := cairn.Expr(&cairn.CmpExpr{Field: name, Op: "=", Value: cairn.Value{Kind: cairn.ValueString, Str: "x"}})
	for range cairn.MaxFilterComparisons {
		wide = &cairn.OrExpr{L: wide, R: &cairn.CmpExpr{Field: name, Op: "=", Value: cairn.Value{Kind: cairn.ValueString, Str: "x"}}}
	}
	tests := []struct {
		name string
		root cairn.Expr
		want string
	}{
		{"nil node", &cairn.AndExpr{L: &cairn.CmpExpr{Field: name, Op: "=", Value: cairn.Value{Str: "a"}}}, "invalid filter: empty node"},
		{"typed nil", (*cairn.CmpExpr)(nil), "invalid filter: empty node"},
		{"too deep", deep, "invalid filter: nested too deeply"},
		{"too many values", &cairn.CmpExpr{Field: name, Op: "IN", Value: many}, "invalid filter: more than 1000 values"},
		{"too many comparisons", wide, "invalid filter: more than 256 comparisons"},
		{"unknown op", &cairn.CmpExpr{Field: name, Op: "~", Value: cairn.Value{Str: "a"}}, "invalid filter: name: operator ~ is not supported here"},
		{"IN with a scalar", &cairn.CmpExpr{Field: name, Op: "IN", Value: cairn.Value{Str: "a"}}, "invalid filter: name: IN takes a list of values"},
		{"IN with an empty list", &cairn.CmpExpr{Field: name, Op: "NOT IN", Value: cairn.Value{Kind: cairn.ValueList}}, "invalid filter: name: NOT IN takes a list of values"},
		{"= with a list", &cairn.CmpExpr{Field: name, Op: "=", Value: cairn.Value{Kind: cairn.ValueList, List: []cairn.Value{{Str: "a"}}}}, "invalid filter: name: = takes a single value"},
		{"key with a quote", &cairn.CmpExpr{Field: cairn.Field{Namespace: cairn.FieldTag, Name: `a"b`}, Op: "=", Value: cairn.Value{Str: "a"}}, "invalid filter: tags.`a\"b`: invalid tag key"},
		{"empty key", &cairn.CmpExpr{Field: cairn.Field{Namespace: cairn.FieldMetric, Name: ""}, Op: "=", Value: cairn.Value{Kind: cairn.ValueNumber}}, "invalid filter: metrics.``: tag key must not be empty"},
		{"unknown namespace", &cairn.CmpExpr{Field: cairn.Field{Namespace: "datasets", Name: "x"}, Op: "=", Value: cairn.Value{Str: "a"}}, `invalid filter: unknown field "datasets.x" for versions`},
		{"NaN", &cairn.CmpExpr{Field: cairn.Field{Namespace: cairn.FieldMetric, Name: "x"}, Op: "=", Value: cairn.Value{Kind: cairn.ValueNumber, Num: nan()}}, "invalid filter: metrics.x: want a finite number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := Versions(&cairn.Filter{Root: tt.root}, nil, SQLite, 1)
			if err == nil {
				t.Fatalf("Versions = %+v; want an error", c)
			}
			if !cairn.IsCode(err, cairn.EINVALID) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %q (%s)\nwant invalid containing %q", err, cairn.ErrorCodeOf(err), tt.want)
			}
		})
	}
	t.Run("unknown dialect", func(t *testing.T) {
		t.Parallel()
		if _, err := Models(nil, nil, Dialect(7), 1); !cairn.IsCode(err, cairn.EINTERNAL) {
			t.Errorf("Models with dialect 7: err = %v; want internal", err)
		}
	})
	t.Run("empty root", func(t *testing.T) {
		t.Parallel()
		c, err := Models(&cairn.Filter{}, nil, SQLite, 1)
		if err != nil || c.Where != "" || len(c.Args) != 0 {
			t.Errorf("Models(empty filter) = %+v, %v; want no WHERE", c, err)
		}
	})
}

func nan() float64 {
	zero := 0.0
	return zero / zero
}

func TestLikeToGlob(t *testing.T) {
	t.Parallel()
	tests := []struct{ like, glob string }{
		{"", ""},
		{"abc", "abc"},
		{"%", "*"},
		{"a_c", "a?c"},
		{"*?[]", "[*][?][[]]"},
		{`\%\_\\\a`, `%_\a`},
		{`\*`, "[*]"},
		{"é%", "é*"},
	}
	for _, tt := range tests {
		if got := likeToGlob(tt.like); got != tt.glob {
			t.Errorf("likeToGlob(%q) = %q; want %q", tt.like, got, tt.glob)
		}
	}
}

func TestPageToken(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, 1, 100, 999_999_999} {
		tok := EncodePageToken(n)
		got, err := DecodePageToken(tok)
		if err != nil || got != n {
			t.Errorf("DecodePageToken(EncodePageToken(%d) = %q) = %d, %v", n, tok, got, err)
		}
		if strings.Trim(tok, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") != "" {
			t.Errorf("token %q is not URL-safe", tok)
		}
	}
	if got, err := DecodePageToken(""); got != 0 || err != nil {
		t.Errorf(`DecodePageToken("") = %d, %v; want 0, nil`, got, err)
	}
	b64 := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	for _, bad := range []string{
		"x", "!!!!", "o:5", b64("o:"), b64("o:-1"), b64("o:+1"), b64("o:01"), b64("o:1x"), b64("p:1"),
		b64("o:99999999999999999999999"), EncodePageToken(5) + "=", strings.Repeat("A", 40),
	} {
		if n, err := DecodePageToken(bad); !cairn.IsCode(err, cairn.EINVALID) || !strings.Contains(err.Error(), "invalid page token") {
			t.Errorf("DecodePageToken(%q) = %d, %v; want invalid", bad, n, err)
		}
	}
}
