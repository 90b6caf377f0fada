package mlflowapi

import (
	"math"
	"strings"

	"github.com/cairn-registry/cairn"
)

// MLflow's search grammar (MLFLOW.md §6) is a subset of Cairn's: comparisons
// joined by AND. translateFilter parses a filter with cairn.ParseFilter,
// after refusing what MLflow refuses (OR, NOT other than NOT IN,
// parentheses other than an IN list), then checks each comparison against
// MLflow's rules for the entity (its attributes, comparators and value
// types) and returns the tree the registry compiles to SQL.

// searchEntity is what a filter searches: registered models or model
// versions.
type searchEntity struct {
	attrs    []string          // searchable attributes, sorted
	numeric  map[string]bool   // attributes compared as numbers
	rename   map[string]string // MLflow attribute → Cairn filter field
	inList   map[string]bool   // attributes that take IN (…)
	lists    bool              // string attributes, params and tags take IN and NOT IN (logged models)
	orderBy  map[string]string // order_by key → Cairn order field
	orderKey []string          // order_by keys, as MLflow lists them
	keyed    bool              // metrics.<k> and params.<k> may be filtered and ordered by (runs)
}

var modelSearch = searchEntity{
	attrs:    []string{"name"},
	orderBy:  map[string]string{"name": "name", "creation_timestamp": "created_at", "timestamp": "created_at", "last_updated_timestamp": "updated_at"},
	orderKey: []string{"creation_timestamp", "last_updated_timestamp", "name", "timestamp"},
}

var versionSearch = searchEntity{
	attrs:    []string{"name", "run_id", "source_path", "version_number"},
	numeric:  map[string]bool{"version_number": true},
	rename:   map[string]string{"source_path": "source", "version_number": "version"},
	inList:   map[string]bool{"run_id": true},
	orderBy:  map[string]string{"name": "name", "version_number": "version", "creation_timestamp": "created_at", "timestamp": "created_at", "last_updated_timestamp": "updated_at"},
	orderKey: []string{"creation_timestamp", "last_updated_timestamp", "name", "version_number"},
}

// pySet formats names as Python prints a set of strings, as MLflow's
// messages do.
func pySet(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = "'" + n + "'"
	}
	return "{" + strings.Join(q, ", ") + "}"
}

// translateFilter turns an MLflow filter into a Cairn filter tree; nil for
// an empty filter.
func translateFilter(s string, e *searchEntity) (*cairn.Filter, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	if bad := invalidClauses(s); len(bad) > 0 {
		return nil, invalidParam("Invalid clause(s) in filter string: %s", strings.Join(bad, ", "))
	}
	f, err := cairn.ParseFilter(s)
	if err != nil {
		return nil, invalidParam("Error on parsing filter '%s': %s", truncate(s, 200), cairn.ErrorMessage(err))
	}
	root, err := translateExpr(f.Root, e)
	if err != nil {
		return nil, err
	}
	return &cairn.Filter{Root: root}, nil
}

func translateExpr(x cairn.Expr, e *searchEntity) (cairn.Expr, error) {
	switch x := x.(type) {
	case *cairn.AndExpr:
		l, err := translateExpr(x.L, e)
		if err != nil {
			return nil, err
		}
		r, err := translateExpr(x.R, e)
		if err != nil {
			return nil, err
		}
		return &cairn.AndExpr{L: l, R: r}, nil
	case *cairn.CmpExpr:
		return translateCmp(x, e)
	}
	// invalidClauses refused OR, NOT and grouping already.
	return nil, invalidParam("Invalid clause(s) in filter string: only comparisons joined by AND are supported")
}

func translateCmp(c *cairn.CmpExpr, e *searchEntity) (cairn.Expr, error) {
	switch c.Field.Namespace {
	case cairn.FieldTag:
		return translateTagCmp(c, e.lists)
	case cairn.FieldMetric, cairn.FieldParam:
		if e.keyed {
			return translateKeyedCmp(c, e.lists)
		}
		return nil, invalidParam("Invalid entity type '%s'. Valid entity types are ('attribute', 'tag', 'tags')", c.Field.Namespace)
	case cairn.FieldAttr:
	default:
		return nil, invalidParam("Invalid entity type '%s'. Valid entity types are ('attribute', 'tag', 'tags')", c.Field.Namespace)
	}
	name := c.Field.Name
	valid := false
	for _, a := range e.attrs {
		valid = valid || a == name
	}
	if !valid {
		return nil, invalidParam("Invalid attribute key '%s' specified. Valid keys are '%s'", name, pySet(e.attrs))
	}
	out := *c
	if to, ok := e.rename[name]; ok {
		out.Field = cairn.Field{Namespace: cairn.FieldAttr, Name: to}
	}
	if e.numeric[name] {
		switch c.Op {
		case "=", "!=", "<", "<=", ">", ">=":
		default:
			return nil, invalidParam("Invalid comparator '%s' not one of '%s'", c.Op, pySet([]string{"!=", "<", "<=", "=", ">", ">="}))
		}
		v := c.Value
		if v.Kind == cairn.ValueString {
			// MLflow compares a quoted number with the integer column.
			n, err := parseVersion(v.Str)
			if err != nil {
				return nil, invalidParam("Expected a numeric value for attribute '%s'. Got value %s", name, v.String())
			}
			v = cairn.Value{Kind: cairn.ValueNumber, Num: float64(n)}
		}
		if v.Kind != cairn.ValueNumber || v.Num != math.Trunc(v.Num) {
			return nil, invalidParam("Expected an integer value for attribute '%s'. Got value %s", name, c.Value.String())
		}
		out.Value = v
		return &out, nil
	}
	switch c.Op {
	case "=", "!=", "LIKE", "ILIKE":
		if c.Value.Kind != cairn.ValueString {
			if c.Value.Kind == cairn.ValueNumber {
				return nil, invalidParam("Only the '%s' attributes support comparison with numeric values.", pySet(numericNames(e)))
			}
			return nil, invalidParam("Expected a quoted string value or a list of quoted string values for attributes. Got value %s", c.Value.String())
		}
		if err := checkLike(c); err != nil {
			return nil, err
		}
	case "IN", "NOT IN":
		if !e.lists && (c.Op != "IN" || !e.inList[name]) {
			if c.Op == "IN" {
				return nil, invalidParam("Only the 'run_id' attribute supports comparison with a list of quoted string values.")
			}
			return nil, invalidParam("Invalid comparator for attribute: %s", c.Op)
		}
		if err := checkStringList(c); err != nil {
			return nil, err
		}
	default:
		return nil, invalidParam("Invalid comparator for attribute: %s", c.Op)
	}
	return &out, nil
}

// checkStringList checks that the list of an IN or NOT IN holds strings
// only.
func checkStringList(c *cairn.CmpExpr) error {
	for _, item := range c.Value.List {
		if item.Kind != cairn.ValueString {
			return invalidParam("While parsing a list in the query, expected string value, punctuation, or whitespace, but got different type in list: %s", c.Value.String())
		}
	}
	return nil
}

func numericNames(e *searchEntity) []string {
	var out []string
	for _, a := range e.attrs {
		if e.numeric[a] {
			out = append(out, a)
		}
	}
	return out
}

// translateTagCmp checks a tag comparison and applies MLflow's prompt rule:
// prompts are registered models tagged mlflow.prompt.is_prompt = 'true',
// and the filters tags.`mlflow.prompt.is_prompt` != 'true' and = 'false'
// (which the client adds to hide prompts) match models without the tag. In
// Cairn a prompt is a model of kind prompt, tagged or not, so the rule is
// written over both. With lists (logged models), IN and NOT IN take a
// list of strings, as MLflow's logged-model search allows.
func translateTagCmp(c *cairn.CmpExpr, lists bool) (cairn.Expr, error) {
	switch c.Op {
	case "=", "!=", "LIKE", "ILIKE":
	case "IN", "NOT IN":
		if !lists {
			return nil, invalidParam("Invalid comparator for tag: %s", c.Op)
		}
		if err := checkStringList(c); err != nil {
			return nil, err
		}
		return c, nil
	default:
		return nil, invalidParam("Invalid comparator for tag: %s", c.Op)
	}
	if c.Value.Kind != cairn.ValueString {
		return nil, invalidParam("Expected a quoted string value for tag (e.g. 'my-value'). Got value %s", c.Value.String())
	}
	if err := checkLike(c); err != nil {
		return nil, err
	}
	if c.Field.Name != isPromptTag {
		return c, nil
	}
	tag := func(op, v string) cairn.Expr {
		return &cairn.CmpExpr{Field: c.Field, Op: op, Value: cairn.Value{Kind: cairn.ValueString, Str: v}}
	}
	kind := func(op string) cairn.Expr {
		return &cairn.CmpExpr{Field: cairn.Field{Name: "kind"}, Op: op, Value: cairn.Value{Kind: cairn.ValueString, Str: string(cairn.KindPrompt)}}
	}
	switch {
	case (c.Op == "!=" && c.Value.Str == "true") || (c.Op == "=" && c.Value.Str == "false"):
		// Not a prompt: neither kind prompt nor tagged as one. A missing
		// tag satisfies != in Cairn's filter semantics.
		return &cairn.AndExpr{L: kind("!="), R: tag("!=", "true")}, nil
	case c.Op == "=" && c.Value.Str == "true":
		return &cairn.OrExpr{L: kind("="), R: tag("=", "true")}, nil
	}
	return c, nil
}

// invalidClauses returns the parts of an MLflow filter that MLflow refuses:
// the keywords OR and NOT (but NOT IN), and parentheses that do not hold
// the list of an IN. Quoted strings and identifiers are skipped.
func invalidClauses(s string) []string {
	var bad []string
	prev := "" // the previous word, upper case
	depth := 0 // inside an IN list
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\'' || c == '"' || c == '`':
			j := i + 1
			for j < len(s) {
				if s[j] == c {
					if j+1 < len(s) && s[j+1] == c && c != '`' {
						j += 2
						continue
					}
					break
				}
				j++
			}
			i = j + 1
			prev = "value"
		case c == '(':
			if prev != "IN" || depth > 0 {
				bad = append(bad, "'('")
			}
			depth++
			i++
			prev = "("
		case c == ')':
			if depth > 0 {
				depth--
			} else {
				bad = append(bad, "')'")
			}
			i++
			prev = ")"
		case isWordByte(c):
			j := i
			for j < len(s) && (isWordByte(s[j]) || s[j] == '.') {
				j++
			}
			w := strings.ToUpper(s[i:j])
			switch w {
			case "OR":
				bad = append(bad, "'"+s[i:j]+"'")
			case "NOT":
				k := j
				for k < len(s) && (s[k] == ' ' || s[k] == '\t' || s[k] == '\n' || s[k] == '\r') {
					k++
				}
				if !(k+2 <= len(s) && strings.EqualFold(s[k:k+2], "IN") && (k+2 == len(s) || !isWordByte(s[k+2]))) {
					bad = append(bad, "'"+s[i:j]+"'")
				}
			}
			prev = w
			i = j
		default:
			i++
			if c != ' ' && c != '\t' && c != '\n' && c != '\r' {
				prev = string(c)
			}
		}
	}
	return bad
}

func isWordByte(c byte) bool {
	return c == '_' || c == '-' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// translateOrderBy turns MLflow order_by clauses ("name", "name DESC",
// "version_number ASC") into the registry's, refusing unknown and repeated
// keys with MLflow's messages.
func translateOrderBy(clauses []string, e *searchEntity) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, c := range clauses {
		fields := strings.Fields(c)
		if len(fields) == 0 {
			continue
		}
		if len(fields) > 2 || (len(fields) == 2 && !strings.EqualFold(fields[1], "ASC") && !strings.EqualFold(fields[1], "DESC")) {
			return nil, invalidParam("Invalid order_by clause '%s'. Could not be parsed.", truncate(c, 200))
		}
		key := strings.TrimPrefix(strings.TrimPrefix(fields[0], "attributes."), "attribute.")
		if e.keyed {
			if f, err := cairn.ParseFilterField(key); err == nil && f.Namespace != cairn.FieldAttr {
				if seen[f.String()] {
					return nil, invalidParam("`order_by` contains duplicate fields: %v", clauses)
				}
				seen[f.String()] = true
				dir := "ASC"
				if len(fields) == 2 {
					dir = strings.ToUpper(fields[1])
				}
				out = append(out, f.String()+" "+dir)
				continue
			}
		}
		to, ok := e.orderBy[key]
		if !ok {
			return nil, invalidParam("Invalid order by key '%s' specified. Valid keys are '%s'", truncate(key, 100), pySet(e.orderKey))
		}
		if seen[to] {
			return nil, invalidParam("`order_by` contains duplicate fields: %v", clauses)
		}
		seen[to] = true
		dir := "ASC"
		if len(fields) == 2 {
			dir = strings.ToUpper(fields[1])
		}
		out = append(out, to+" "+dir)
	}
	return out, nil
}

// checkLike refuses a LIKE or ILIKE pattern that ends with a lone escape
// character, which no store could compile, as MLflow refuses a bad value.
func checkLike(c *cairn.CmpExpr) error {
	if (c.Op == "LIKE" || c.Op == "ILIKE") && !cairn.ValidLikePattern(c.Value.Str) {
		return invalidParam("Invalid %s pattern %s: it ends with the escape character \\; write \\\\ for a literal backslash", c.Op, c.Value.String())
	}
	return nil
}

// translateKeyedCmp checks a comparison on a run's metric (numbers) or
// param (strings), as MLflow's run search does.
func translateKeyedCmp(c *cairn.CmpExpr, lists bool) (cairn.Expr, error) {
	if c.Field.Namespace == cairn.FieldMetric {
		switch c.Op {
		case "=", "!=", "<", "<=", ">", ">=":
		default:
			return nil, invalidParam("Invalid comparator '%s' not one of '%s'", c.Op, pySet([]string{"!=", "<", "<=", "=", ">", ">="}))
		}
		if c.Value.Kind != cairn.ValueNumber {
			return nil, invalidParam("Expected numeric value type for metric. Found %s", c.Value.String())
		}
		return c, nil
	}
	switch c.Op {
	case "=", "!=", "LIKE", "ILIKE":
	case "IN", "NOT IN":
		if !lists {
			return nil, invalidParam("Invalid comparator '%s' not one of '%s'", c.Op, pySet([]string{"!=", "=", "ILIKE", "LIKE"}))
		}
		if err := checkStringList(c); err != nil {
			return nil, err
		}
		return c, nil
	default:
		return nil, invalidParam("Invalid comparator '%s' not one of '%s'", c.Op, pySet([]string{"!=", "=", "ILIKE", "LIKE"}))
	}
	if c.Value.Kind != cairn.ValueString {
		return nil, invalidParam("Expected a quoted string value for param. Got value %s", c.Value.String())
	}
	if err := checkLike(c); err != nil {
		return nil, err
	}
	return c, nil
}
