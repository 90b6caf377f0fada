package cairn

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func attrCmp(name, op string, v Value) *CmpExpr {
	return &CmpExpr{Field: Field{Namespace: FieldAttr, Name: name}, Op: op, Value: v}
}

func nsCmp(ns FieldNamespace, key, op string, v Value) *CmpExpr {
	return &CmpExpr{Field: Field{Namespace: ns, Name: key}, Op: op, Value: v}
}

func sv(s string) Value   { return Value{Kind: ValueString, Str: s} }
func nv(n float64) Value  { return Value{Kind: ValueNumber, Num: n} }
func bv(b bool) Value     { return Value{Kind: ValueBool, Bool: b} }
func lv(v ...Value) Value { return Value{Kind: ValueList, List: v} }

func TestParseFilter(t *testing.T) {
	t.Parallel()
	a := attrCmp("a", "=", nv(1))
	b := attrCmp("b", "=", nv(2))
	c := attrCmp("c", "=", nv(3))
	tests := []struct {
		name string
		in   string
		want Expr
	}{
		{"mlflow example", "name LIKE 'churn%' AND tags.team = 'fraud'", &AndExpr{
			L: attrCmp("name", "LIKE", sv("churn%")),
			R: nsCmp(FieldTag, "team", "=", sv("fraud")),
		}},
		{"tag singular", "tag.team = 'x'", nsCmp(FieldTag, "team", "=", sv("x"))},
		{"metric singular", "metric.auc > 0.9", nsCmp(FieldMetric, "auc", ">", nv(0.9))},
		{"metrics", "metrics.auc >= 0.9", nsCmp(FieldMetric, "auc", ">=", nv(0.9))},
		{"param singular", "param.lr = '0.1'", nsCmp(FieldParam, "lr", "=", sv("0.1"))},
		{"params", "params.lr != '0.1'", nsCmp(FieldParam, "lr", "!=", sv("0.1"))},
		{"prefix any case", "TAGS.x = 'y'", nsCmp(FieldTag, "x", "=", sv("y"))},
		{"backtick key", "tags.`my key` = 'v'", nsCmp(FieldTag, "my key", "=", sv("v"))},
		{"double-quoted key", `tags."my-key" = 'v'`, nsCmp(FieldTag, "my-key", "=", sv("v"))},
		{"dotted bare key", "tags.mlflow.prompt.is_prompt != 'true'", nsCmp(FieldTag, "mlflow.prompt.is_prompt", "!=", sv("true"))},
		{"backtick dotted key", "tags.`mlflow.prompt.is_prompt` = 'false'", nsCmp(FieldTag, "mlflow.prompt.is_prompt", "=", sv("false"))},
		{"key with colon and slash", "tags.`a/b:c` = 'v'", nsCmp(FieldTag, "a/b:c", "=", sv("v"))},
		{"digit key", "metrics.1 < 2", nsCmp(FieldMetric, "1", "<", nv(2))},
		{"key is a keyword", "tags.and = 'x'", nsCmp(FieldTag, "and", "=", sv("x"))},
		{"double-quoted string", `name = "fraud"`, attrCmp("name", "=", sv("fraud"))},
		{"doubled single quote", "description = 'it''s'", attrCmp("description", "=", sv("it's"))},
		{"doubled double quote", `description = "say ""hi"""`, attrCmp("description", "=", sv(`say "hi"`))},
		{"other quote inside", `description = "it's"`, attrCmp("description", "=", sv("it's"))},
		{"empty string", "name = ''", attrCmp("name", "=", sv(""))},
		{"unicode string", "name = 'modèle 模型'", attrCmp("name", "=", sv("modèle 模型"))},
		{"newline in string", "description = 'a\nb'", attrCmp("description", "=", sv("a\nb"))},
		{"negative", "metrics.loss > -1.5", nsCmp(FieldMetric, "loss", ">", nv(-1.5))},
		{"exponent", "metrics.x < 1e-3", nsCmp(FieldMetric, "x", "<", nv(0.001))},
		{"exponent plus", "metrics.x < 2.5E+2", nsCmp(FieldMetric, "x", "<", nv(250))},
		{"leading dot", "metrics.x < .5", nsCmp(FieldMetric, "x", "<", nv(0.5))},
		{"negative leading dot", "metrics.x < -.5", nsCmp(FieldMetric, "x", "<", nv(-0.5))},
		{"integer", "version_number > 3", attrCmp("version_number", ">", nv(3))},
		{"no spaces", "version>3", attrCmp("version", ">", nv(3))},
		{"no spaces negative", "metrics.x>-3", nsCmp(FieldMetric, "x", ">", nv(-3))},
		{"true", "archived = true", attrCmp("archived", "=", bv(true))},
		{"FALSE", "archived != FALSE", attrCmp("archived", "!=", bv(false))},
		{"<> normalised", "name <> 'x'", attrCmp("name", "!=", sv("x"))},
		{"<=", "size <= 10", attrCmp("size", "<=", nv(10))},
		{"<", "size < 10", attrCmp("size", "<", nv(10))},
		{"ilike lower case", "name ilike '%BERT%'", attrCmp("name", "ILIKE", sv("%BERT%"))},
		{"like mixed case", "name Like 'a_'", attrCmp("name", "LIKE", sv("a_"))},
		{"in", "run_id IN ('a1b2', 'c3d4')", attrCmp("run_id", "IN", lv(sv("a1b2"), sv("c3d4")))},
		{"in one", "run_id in ('a')", attrCmp("run_id", "IN", lv(sv("a")))},
		{"in numbers", "version IN (1, 2,3)", attrCmp("version", "IN", lv(nv(1), nv(2), nv(3)))},
		{"not in", "stage not In ('None')", attrCmp("stage", "NOT IN", lv(sv("None")))},
		{"or", "a = 1 OR b = 2", &OrExpr{L: a, R: b}},
		{"and left assoc", "a = 1 AND b = 2 AND c = 3", &AndExpr{L: &AndExpr{L: a, R: b}, R: c}},
		{"or left assoc", "a = 1 OR b = 2 OR c = 3", &OrExpr{L: &OrExpr{L: a, R: b}, R: c}},
		{"and binds tighter than or", "a = 1 OR b = 2 AND c = 3", &OrExpr{L: a, R: &AndExpr{L: b, R: c}}},
		{"and binds tighter than or, left", "a = 1 AND b = 2 OR c = 3", &OrExpr{L: &AndExpr{L: a, R: b}, R: c}},
		{"parentheses", "(a = 1 OR b = 2) AND c = 3", &AndExpr{L: &OrExpr{L: a, R: b}, R: c}},
		{"right grouping", "a = 1 AND (b = 2 AND c = 3)", &AndExpr{L: a, R: &AndExpr{L: b, R: c}}},
		{"redundant parentheses", "((a = 1))", a},
		{"not binds tighter than and", "NOT a = 1 AND b = 2", &AndExpr{L: &NotExpr{X: a}, R: b}},
		{"not of group", "not (a = 1 or b = 2)", &NotExpr{X: &OrExpr{L: a, R: b}}},
		{"double not", "NOT NOT a = 1", &NotExpr{X: &NotExpr{X: a}}},
		{"white space", " \t\na = 1\r\n", a},
		{"keywords mixed case", "a = 1 aNd b = 2 oR c = 3", &OrExpr{L: &AndExpr{L: a, R: b}, R: c}},
		{"attribute keeps its case", "Name = 'x'", attrCmp("Name", "=", sv("x"))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f, err := ParseFilter(tt.in)
			if err != nil {
				t.Fatalf("ParseFilter(%q): %v", tt.in, err)
			}
			if diff := cmp.Diff(&Filter{Root: tt.want}, f); diff != "" {
				t.Errorf("ParseFilter(%q) mismatch (-want +got):\n%s", tt.in, diff)
			}
			again, err := ParseFilter(f.String())
			if err != nil {
				t.Fatalf("ParseFilter(String()=%q): %v", f.String(), err)
			}
			if diff := cmp.Diff(f, again); diff != "" {
				t.Errorf("round trip through %q changed the tree (-first +second):\n%s", f.String(), diff)
			}
		})
	}
}

func TestParseFilterEmpty(t *testing.T) {
	t.Parallel()
	for _, in := range []string{"", " ", "\t\n\r "} {
		f, err := ParseFilter(in)
		if f != nil || err != nil {
			t.Errorf("ParseFilter(%q) = %v, %v; want nil, nil", in, f, err)
		}
	}
	var nilFilter *Filter
	if s := nilFilter.String(); s != "" {
		t.Errorf("(*Filter)(nil).String() = %q; want empty", s)
	}
}

func TestFilterString(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"name like 'a%' and tag.team='x'", "name LIKE 'a%' AND tags.team = 'x'"},
		{"a <> 1", "a != 1"},
		{`name = "it's"`, `name = 'it''s'`},
		{"tags.`my key` = 'v'", "tags.`my key` = 'v'"},
		{`tags."a.b" = 'v'`, "tags.a.b = 'v'"},
		{"metrics.x > 1e3", "metrics.x > 1000"},
		{"metrics.x > 1.5e20", "metrics.x > 1.5e+20"},
		{"metrics.x > 1e-7", "metrics.x > 1e-07"},
		{"created_at > 1700000000000", "created_at > 1700000000000"},
		{"metrics.x > -0.25", "metrics.x > -0.25"},
		{"archived = TRUE", "archived = true"},
		{"run_id not in ('a','b')", "run_id NOT IN ('a', 'b')"},
		{"a = 1 or b = 2 and c = 3", "a = 1 OR b = 2 AND c = 3"},
		{"(a = 1 or b = 2) and c = 3", "(a = 1 OR b = 2) AND c = 3"},
		{"a = 1 and (b = 2 and c = 3)", "a = 1 AND (b = 2 AND c = 3)"},
		{"a = 1 or (b = 2 or c = 3)", "a = 1 OR (b = 2 OR c = 3)"},
		{"(a = 1 and b = 2) or c = 3", "a = 1 AND b = 2 OR c = 3"},
		{"not a = 1", "NOT a = 1"},
		{"not (a = 1)", "NOT a = 1"},
		{"not not a = 1", "NOT NOT a = 1"},
		{"not (a = 1) or b = 2", "NOT a = 1 OR b = 2"},
		{"not (a = 1 and b = 2)", "NOT (a = 1 AND b = 2)"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			f, err := ParseFilter(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if got := f.String(); got != tt.want {
				t.Errorf("String() = %q; want %q", got, tt.want)
			}
		})
	}
}

func TestParseFilterErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want string // substring of the message
	}{
		{"trailing garbage", "name = 'a' garbage", `column 12: expected AND, OR or the end of the filter, found "garbage"`},
		{"trailing paren", "name = 'a')", "column 11: expected AND, OR or the end of the filter"},
		{"missing value", "name =", "column 7: expected a string, a number, true or false after =, found the end of the filter"},
		{"missing operator", "name 'a'", `column 6: expected a comparison operator (=, !=, <>, <, <=, >, >=, LIKE, ILIKE, IN, NOT IN) after name, found string "'a'"`},
		{"field missing", "= 'a'", `column 1: expected a field such as name or tags.team, found "="`},
		{"keyword as field", "AND = 1", "column 1: expected a field such as name or tags.team, found keyword AND"},
		{"dangling and", "a = 1 AND", "column 10: expected a field such as name or tags.team, found the end of the filter"},
		{"dangling or", "a = 1 or ", "column 10: expected a field"},
		{"unclosed paren", "(a = 1", "column 7: expected ')' or a logical operator (AND, OR), found the end of the filter"},
		{"empty parens", "()", `column 2: expected a field such as name or tags.team, found ")"`},
		{"unterminated string", "name = 'abc", "column 8: unterminated string: expected a closing '"},
		{"unterminated double string", `name = "abc`, `column 8: unterminated string: expected a closing "`},
		{"unterminated key", "tags.`abc = 'x'", "column 6: unterminated key: expected a closing `"},
		{"bad bang", "name ! 'a'", "column 6: expected '=' after '!'"},
		{"double equals", "name == 'a'", `column 7: expected a string, a number, true or false after =, found "="`},
		{"unknown prefix", "foo.bar = 1", `column 1: unknown field prefix "foo": want tags., metrics. or params.`},
		{"missing key", "tags. = 'x'", `column 6: expected a key after "tags."`},
		{"key needs quotes", "tags.my-key = 'x'", "column 6: key \"my-key\" has special characters: quote it, as in tags.`my-key`"},
		{"invalid key", "tags.`a!b` = 'x'", `column 1: invalid tag key "a!b"`},
		{"empty key", "metrics.`` > 1", "column 1: metric key must not be empty"},
		{"key too long", "params.`" + strings.Repeat("k", 251) + "` = 'x'", "param key is 251 characters long"},
		{"quote in key", `tags."a""b" = 'x'`, `invalid tag key "a\"b"`},
		{"stray backtick", "`name` = 'x'", "column 1: backticks quote keys"},
		{"not like", "name NOT LIKE 'a%'", "column 10: expected IN after NOT, found keyword LIKE"},
		{"in without list", "run_id IN 'a'", `column 11: expected '(' and a list of values after IN, as in IN ('a', 'b'), found string "'a'"`},
		{"not in without list", "run_id NOT IN 3", "after NOT IN, as in NOT IN ('a', 'b'), found number 3"},
		{"empty list", "run_id IN ()", `column 12: expected a string or a number in the list, found ")"`},
		{"trailing comma", "run_id IN ('a',)", `column 16: expected a string or a number in the list, found ")"`},
		{"missing comma", "run_id IN ('a' 'b')", `column 16: expected ',' or ')' in the list after IN, found string "'b'"`},
		{"unclosed list", "run_id IN ('a'", "column 15: expected ',' or ')' in the list after IN, found the end of the filter"},
		{"bool in list", "archived IN (true)", "column 14: expected a string or a number in the list, found keyword TRUE"},
		{"nested list", "run_id IN (('a'))", `column 12: expected a string or a number in the list, found "("`},
		{"list after =", "name = ('a')", "column 8: expected a string, a number, true or false after =, found '(' (lists go with IN and NOT IN)"},
		{"bare word value", "name = fraud", `column 8: expected a string, a number, true or false after =, found "fraud"`},
		{"minus alone", "metrics.x > -", "column 13: expected a number after '-'"},
		{"minus word", "metrics.x > -a", "column 13: expected a number after '-'"},
		{"lone dot", "metrics.x > .", "column 13: unexpected character '.'"},
		{"bad number", "metrics.x > 1.2.3", `column 13: invalid number "1.2.3"`},
		{"number with letters", "metrics.x > 12abc", `column 13: invalid number "12abc"`},
		{"bad exponent", "metrics.x > 1e", `column 13: invalid number "1e": expected digits in the exponent`},
		{"bad exponent sign", "metrics.x > 1e+", "expected digits in the exponent"},
		{"number out of range", "metrics.x > 1e999", "column 13: number 1e999 is out of range"},
		{"unexpected char", "name = 'a' ; drop table models", "column 12: unexpected character ';'"},
		{"unexpected unicode", "name → 'a'", "column 6: unexpected character '→'"},
		{"column counts runes", "name = 'é' x", `column 12: expected AND, OR or the end of the filter, found "x"`},
		{"invalid utf8", "name = '\xff'", "column 9: not valid UTF-8"},
		{"nul", "name = 'a\x00'", "column 10: NUL characters are not allowed"},
		{"too long", "name = '" + strings.Repeat("x", MaxFilterLength) + "'", "bytes long; the limit is 65536"},
		{"too deep parens", strings.Repeat("(", MaxFilterDepth+1) + "a = 1" + strings.Repeat(")", MaxFilterDepth+1), "column 65: nested more than 64 levels deep"},
		{"too deep nots", strings.Repeat("NOT ", MaxFilterDepth+1) + "a = 1", "column 257: nested more than 64 levels deep"},
		{"too many comparisons", strings.Repeat("a = 1 AND ", MaxFilterComparisons) + "a = 1", "column 2561: more than 256 comparisons"},
		{"too many values", "a IN (" + strings.Repeat("1, ", MaxFilterValues) + "1)", "more than 1000 values"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f, err := ParseFilter(tt.in)
			if err == nil {
				t.Fatalf("ParseFilter(%q) = %v; want an error", truncate(tt.in, 80), f)
			}
			if f != nil {
				t.Errorf("ParseFilter returned a tree with its error")
			}
			if !IsCode(err, EINVALID) {
				t.Errorf("code = %q; want %q", ErrorCodeOf(err), EINVALID)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %q\nwant it to contain %q", err, tt.want)
			}
			if !strings.HasPrefix(err.Error(), "invalid filter: ") {
				t.Errorf("error %q does not start with %q", err, "invalid filter: ")
			}
		})
	}
}

func TestParseFilterLimitsInclusive(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, in string }{
		{"depth", strings.Repeat("(", MaxFilterDepth) + "a = 1" + strings.Repeat(")", MaxFilterDepth)},
		{"nots", strings.Repeat("NOT ", MaxFilterDepth) + "a = 1"},
		{"comparisons", strings.Repeat("a = 1 AND ", MaxFilterComparisons-1) + "a = 1"},
		{"values", "a IN (" + strings.Repeat("1, ", MaxFilterValues-1) + "1)"},
		{"length", "name = '" + strings.Repeat("x", MaxFilterLength-10) + "'"},
		// Nesting that is deep in total but never more than two levels at
		// once stays within the limit.
		{"wide", strings.Repeat("(NOT (a = 1)) AND ", 100) + "a = 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if len(tt.in) > MaxFilterLength {
				t.Fatalf("test input is %d bytes, over the limit", len(tt.in))
			}
			f, err := ParseFilter(tt.in)
			if err != nil {
				t.Fatalf("ParseFilter: %v", err)
			}
			again, err := ParseFilter(f.String())
			if err != nil {
				t.Fatalf("ParseFilter(String()): %v", err)
			}
			if diff := cmp.Diff(f, again); diff != "" {
				t.Errorf("round trip changed the tree:\n%s", diff)
			}
		})
	}
}

func TestParseFilterField(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    Field
		wantErr string
	}{
		{in: "name", want: Field{Name: "name"}},
		{in: " created_at ", want: Field{Name: "created_at"}},
		{in: "metrics.auc", want: Field{Namespace: FieldMetric, Name: "auc"}},
		{in: "metric.`f1 score`", want: Field{Namespace: FieldMetric, Name: "f1 score"}},
		{in: `tag."my-key"`, want: Field{Namespace: FieldTag, Name: "my-key"}},
		{in: "params.lr", want: Field{Namespace: FieldParam, Name: "lr"}},
		{in: "", wantErr: "invalid field: must not be empty"},
		{in: "name DESC", wantErr: `invalid field: column 6: expected the end of the field, found "DESC"`},
		{in: "foo.bar", wantErr: `invalid field: column 1: unknown field prefix "foo"`},
		{in: "not", wantErr: "invalid field: column 1: expected a field such as name or tags.team, found keyword NOT"},
		{in: "'name'", wantErr: `invalid field: column 1: expected a field such as name or tags.team, found string "'name'"`},
		{in: "tags.`x", wantErr: "invalid field: column 6: unterminated key"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := ParseFilterField(tt.in)
			if tt.wantErr != "" {
				if err == nil || !IsCode(err, EINVALID) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseFilterField(%q) = %v, %v; want EINVALID containing %q", tt.in, got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseFilterField(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Errorf("ParseFilterField(%q) = %+v; want %+v", tt.in, got, tt.want)
			}
			back, err := ParseFilterField(got.String())
			if err != nil || back != got {
				t.Errorf("ParseFilterField(%q) = %+v, %v; want %+v", got.String(), back, err, got)
			}
		})
	}
}

func TestValueAndFieldString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		got, want string
	}{
		{lv(sv("a'b"), nv(1.5), nv(-2)).String(), "('a''b', 1.5, -2)"},
		{bv(false).String(), "false"},
		{nv(1e300).String(), "1e+300"},
		{Field{Namespace: FieldParam, Name: "a b"}.String(), "params.`a b`"},
		{Field{Namespace: FieldTag, Name: "a`b"}.String(), "tags.`a``b`"},
		{Field{Namespace: FieldTag, Name: ""}.String(), "tags.``"},
		{Field{Name: "kind"}.String(), "kind"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q; want %q", tt.got, tt.want)
		}
	}
}
