package cairn

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Limits on filters. They keep a hostile filter from exhausting the parser's
// stack or the database's: SQLite refuses expression trees deeper than 1000
// and statements with more than 32766 parameters.
const (
	MaxFilterLength      = 64 << 10 // bytes
	MaxFilterDepth       = 64       // nested parentheses and NOTs
	MaxFilterComparisons = 256
	MaxFilterValues      = 1000 // literal values, list items included
)

// ParseFilter parses a filter expression. It returns (nil, nil) for an empty
// or blank string.
//
// The grammar is MLflow's search grammar extended with OR, NOT and
// parentheses; NOT binds tighter than AND, which binds tighter than OR, and
// keywords are case-insensitive:
//
//	filter     = or
//	or         = and { OR and }
//	and        = unary { AND unary }
//	unary      = NOT unary | "(" or ")" | comparison
//	comparison = field op value | field ( IN | NOT IN ) list
//	field      = attr | prefix "." key
//	prefix     = tags | tag | metrics | metric | params | param
//	key        = [A-Za-z0-9_.]+ | `quoted` | "quoted"
//	op         = "=" | "!=" | "<>" | "<" | "<=" | ">" | ">=" | LIKE | ILIKE
//	value      = 'string' | "string" | number | TRUE | FALSE
//	list       = "(" value { "," value } ")"   (strings and numbers)
//
// A string escapes its quote by doubling it, so that the filter
//
//	description = 'it''s'
//
// matches the description it's. Numbers may be negative, have decimals and
// an exponent. Keys follow the rules of tag, metric and param keys. Whether
// a field exists is not checked here: that depends on what is filtered and
// is the compiler's job.
//
// Every error is EINVALID and says where in s it happened and what was
// expected there.
func ParseFilter(s string) (*Filter, error) {
	if len(s) > MaxFilterLength {
		return nil, Errorf(EINVALID, "invalid filter: %d bytes long; the limit is %d", len(s), MaxFilterLength)
	}
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	if !utf8.ValidString(s) {
		i := 0
		for i < len(s) {
			r, n := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && n == 1 {
				break
			}
			i += n
		}
		return nil, Errorf(EINVALID, "invalid filter: column %d: not valid UTF-8", utf8.RuneCountInString(s[:i])+1)
	}
	if i := strings.IndexByte(s, 0); i >= 0 {
		return nil, Errorf(EINVALID, "invalid filter: column %d: NUL characters are not allowed", utf8.RuneCountInString(s[:i])+1)
	}
	p := &filterParser{lx: filterLexer{src: s}}
	if err := p.advance(); err != nil {
		return nil, err
	}
	root, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	if p.tok.kind != tokEOF {
		return nil, p.errorf("expected AND, OR or the end of the filter, found %s", p.tok.describe())
	}
	return &Filter{Root: root}, nil
}

// ParseFilterField parses a field as written in a filter or an order_by
// clause: name, tags.team, metrics.`f1 score`. Surrounding white space is
// ignored.
func ParseFilterField(s string) (Field, error) {
	t := strings.TrimSpace(s)
	if len(t) > MaxFilterLength {
		return Field{}, Errorf(EINVALID, "invalid field: %d bytes long; the limit is %d", len(t), MaxFilterLength)
	}
	if t == "" {
		return Field{}, Errorf(EINVALID, "invalid field: must not be empty")
	}
	if !utf8.ValidString(t) || strings.IndexByte(t, 0) >= 0 {
		return Field{}, Errorf(EINVALID, "invalid field %q: not valid UTF-8 text", truncate(t, 80))
	}
	p := &filterParser{lx: filterLexer{src: t}, what: "field"}
	if err := p.advance(); err != nil {
		return Field{}, err
	}
	f, err := p.parseField()
	if err != nil {
		return Field{}, err
	}
	if err := p.advance(); err != nil {
		return Field{}, err
	}
	if p.tok.kind != tokEOF {
		return Field{}, p.errorf("expected the end of the field, found %s", p.tok.describe())
	}
	return f, nil
}

// String returns the filter in canonical form: keywords and operators upper
// case, <> written !=, tag., metric. and param. written tags., metrics. and
// params., strings single-quoted, and only the parentheses the tree needs,
// so that it never nests deeper than the filter it was parsed from.
// ParseFilter(f.String()) returns a tree equal to f for every f that
// ParseFilter returned, unless the canonical form outgrows MaxFilterLength:
// it can be longer than a terse spelling (spaces around operators, 1e5
// written 100000). A nil filter is "".
func (f *Filter) String() string {
	if f == nil || f.Root == nil {
		return ""
	}
	var b strings.Builder
	writeExpr(&b, f.Root)
	return b.String()
}

// String returns the field as written in a filter: name or tags.team, with
// the key quoted in backticks when it is not a plain [A-Za-z0-9_.] word.
func (f Field) String() string {
	if f.Namespace == FieldAttr {
		return f.Name
	}
	return string(f.Namespace) + "." + quoteKey(f.Name)
}

// String returns the value as written in a filter.
func (v Value) String() string {
	var b strings.Builder
	writeValue(&b, v)
	return b.String()
}

func writeExpr(b *strings.Builder, e Expr) {
	switch e := e.(type) {
	case *OrExpr:
		writeExpr(b, e.L)
		b.WriteString(" OR ")
		writeOperand(b, e.R, func(x Expr) bool { _, ok := x.(*OrExpr); return ok })
	case *AndExpr:
		writeOperand(b, e.L, func(x Expr) bool { _, ok := x.(*OrExpr); return ok })
		b.WriteString(" AND ")
		writeOperand(b, e.R, func(x Expr) bool {
			switch x.(type) {
			case *OrExpr, *AndExpr:
				return true
			}
			return false
		})
	case *NotExpr:
		b.WriteString("NOT ")
		writeOperand(b, e.X, func(x Expr) bool {
			switch x.(type) {
			case *OrExpr, *AndExpr:
				return true
			}
			return false
		})
	case *CmpExpr:
		b.WriteString(e.Field.String())
		b.WriteByte(' ')
		b.WriteString(e.Op)
		b.WriteByte(' ')
		writeValue(b, e.Value)
	case nil:
		b.WriteString("<nil>")
	}
}

// writeOperand writes x, in parentheses if paren(x): the tree has the
// grouping there that precedence and left associativity would not give.
func writeOperand(b *strings.Builder, x Expr, paren func(Expr) bool) {
	if paren(x) {
		b.WriteByte('(')
		writeExpr(b, x)
		b.WriteByte(')')
		return
	}
	writeExpr(b, x)
}

func writeValue(b *strings.Builder, v Value) {
	switch v.Kind {
	case ValueString:
		b.WriteByte('\'')
		b.WriteString(strings.ReplaceAll(v.Str, "'", "''"))
		b.WriteByte('\'')
	case ValueNumber:
		b.WriteString(formatNumber(v.Num))
	case ValueBool:
		if v.Bool {
			b.WriteString("true")
		} else {
			b.WriteString("false")
		}
	case ValueList:
		b.WriteByte('(')
		for i, x := range v.List {
			if i > 0 {
				b.WriteString(", ")
			}
			writeValue(b, x)
		}
		b.WriteByte(')')
	}
}

// formatNumber writes integers below 1e15 in plain digits (version numbers
// and millisecond timestamps stay readable) and everything else in Go's
// shortest form, which parses back to the same float64.
func formatNumber(x float64) string {
	if x == math.Trunc(x) && math.Abs(x) < 1e15 {
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return strconv.FormatFloat(x, 'g', -1, 64)
}

func quoteKey(k string) string {
	if isBareKey(k) {
		return k
	}
	return "`" + strings.ReplaceAll(k, "`", "``") + "`"
}

func isBareKey(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		if !isKeyByte(k[i]) {
			return false
		}
	}
	return true
}

func isKeyByte(c byte) bool { return isWordByte(c) || c == '.' }

func isWordStart(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_' }

func isWordByte(c byte) bool { return isWordStart(c) || '0' <= c && c <= '9' }

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// namespaces maps every accepted prefix to its namespace.
var namespaces = map[string]FieldNamespace{
	"tags": FieldTag, "tag": FieldTag,
	"metrics": FieldMetric, "metric": FieldMetric,
	"params": FieldParam, "param": FieldParam,
	// MLflow's run filters may name attributes as attributes.<name>.
	"attributes": FieldAttr, "attribute": FieldAttr,
}

type tokKind int

const (
	tokEOF    tokKind = iota
	tokWord           // a bare word: an attribute or a keyword
	tokField          // prefix.key
	tokString         // 'quoted' or "quoted"
	tokNumber         // -1.5e3
	tokOp             // = != <> < <= > >=
	tokLParen
	tokRParen
	tokComma
)

type token struct {
	kind tokKind
	pos  int    // byte offset in the source
	text string // source text
	str  string // unquoted string, field prefix (for tokField)
	key  string // field key (for tokField)
	num  float64
}

func (t token) describe() string {
	switch t.kind {
	case tokEOF:
		return "the end of the filter"
	case tokString:
		return "string " + strconv.Quote(truncate(t.text, 40))
	case tokNumber:
		return "number " + truncate(t.text, 40)
	case tokWord:
		if kw := keyword(t.text); kw != "" {
			return "keyword " + kw
		}
	}
	return strconv.Quote(truncate(t.text, 40))
}

// keyword returns the upper-case keyword that w spells, or "".
func keyword(w string) string {
	switch u := strings.ToUpper(w); u {
	case "AND", "OR", "NOT", "IN", "LIKE", "ILIKE", "TRUE", "FALSE":
		return u
	}
	return ""
}

type filterLexer struct {
	src string
	pos int
}

func (lx *filterLexer) next() (token, error) {
	s := lx.src
	for lx.pos < len(s) {
		c := s[lx.pos]
		if c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			break
		}
		lx.pos++
	}
	start := lx.pos
	if start == len(s) {
		return token{kind: tokEOF, pos: start}, nil
	}
	tok := func(k tokKind, n int) (token, error) {
		lx.pos += n
		return token{kind: k, pos: start, text: s[start:lx.pos]}, nil
	}
	c := s[start]
	switch {
	case c == '(':
		return tok(tokLParen, 1)
	case c == ')':
		return tok(tokRParen, 1)
	case c == ',':
		return tok(tokComma, 1)
	case c == '=':
		return tok(tokOp, 1)
	case c == '!':
		if strings.HasPrefix(s[start:], "!=") {
			return tok(tokOp, 2)
		}
		return token{}, lx.errorf(start, "expected '=' after '!'")
	case c == '<':
		if strings.HasPrefix(s[start:], "<=") || strings.HasPrefix(s[start:], "<>") {
			return tok(tokOp, 2)
		}
		return tok(tokOp, 1)
	case c == '>':
		if strings.HasPrefix(s[start:], ">=") {
			return tok(tokOp, 2)
		}
		return tok(tokOp, 1)
	case c == '\'' || c == '"':
		str, err := lx.quoted(c, "string")
		if err != nil {
			return token{}, err
		}
		return token{kind: tokString, pos: start, text: s[start:lx.pos], str: str}, nil
	case isDigit(c) || c == '-' || c == '.':
		return lx.number()
	case isWordStart(c):
		return lx.word()
	case c == '`':
		return token{}, lx.errorf(start, "backticks quote keys, as in tags.`my key`; a field needs a prefix such as tags.")
	}
	r, _ := utf8.DecodeRuneInString(s[start:])
	return token{}, lx.errorf(start, "unexpected character %q", r)
}

// quoted scans a string quoted with q, where a doubled q stands for one.
func (lx *filterLexer) quoted(q byte, what string) (string, error) {
	start := lx.pos
	lx.pos++ // opening quote
	var b strings.Builder
	for {
		i := strings.IndexByte(lx.src[lx.pos:], q)
		if i < 0 {
			return "", lx.errorf(start, "unterminated %s: expected a closing %c", what, q)
		}
		b.WriteString(lx.src[lx.pos : lx.pos+i])
		lx.pos += i + 1
		if lx.pos < len(lx.src) && lx.src[lx.pos] == q {
			b.WriteByte(q)
			lx.pos++
			continue
		}
		return b.String(), nil
	}
}

func (lx *filterLexer) number() (token, error) {
	s, start := lx.src, lx.pos
	i := start
	if s[i] == '-' {
		i++
	}
	digits := 0
	for i < len(s) && isDigit(s[i]) {
		i++
		digits++
	}
	if i < len(s) && s[i] == '.' {
		i++
		for i < len(s) && isDigit(s[i]) {
			i++
			digits++
		}
	}
	if digits == 0 {
		if s[start] == '-' {
			return token{}, lx.errorf(start, "expected a number after '-'")
		}
		return token{}, lx.errorf(start, "unexpected character '.'")
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if i == len(s) || !isDigit(s[i]) {
			return token{}, lx.errorf(start, "invalid number %q: expected digits in the exponent", truncate(s[start:min(i+1, len(s))], 40))
		}
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	}
	if i < len(s) && isKeyByte(s[i]) {
		end := i
		for end < len(s) && isKeyByte(s[end]) {
			end++
		}
		return token{}, lx.errorf(start, "invalid number %q", truncate(s[start:end], 40))
	}
	text := s[start:i]
	f, err := strconv.ParseFloat(text, 64)
	if err != nil || math.IsInf(f, 0) {
		return token{}, lx.errorf(start, "number %s is out of range", truncate(text, 40))
	}
	lx.pos = i
	return token{kind: tokNumber, pos: start, text: text, num: f}, nil
}

// word scans an attribute, a keyword, or prefix.key: a word followed
// directly by '.' starts a field with a key.
func (lx *filterLexer) word() (token, error) {
	s, start := lx.src, lx.pos
	i := start
	for i < len(s) && isWordByte(s[i]) {
		i++
	}
	if i == len(s) || s[i] != '.' {
		lx.pos = i
		return token{kind: tokWord, pos: start, text: s[start:i]}, nil
	}
	prefix := s[start:i]
	i++ // '.'
	lx.pos = i
	var key string
	switch {
	case i < len(s) && (s[i] == '`' || s[i] == '"'):
		k, err := lx.quoted(s[i], "key")
		if err != nil {
			return token{}, err
		}
		key = k
	case i < len(s) && isKeyByte(s[i]):
		for i < len(s) && isKeyByte(s[i]) {
			i++
		}
		if i < len(s) && strings.IndexByte("-/:", s[i]) >= 0 {
			end := i
			for end < len(s) && (isKeyByte(s[end]) || strings.IndexByte("-/:", s[end]) >= 0) {
				end++
			}
			return token{}, lx.errorf(lx.pos, "key %q has special characters: quote it, as in %s.`%s`", truncate(s[lx.pos:end], 40), prefix, truncate(s[lx.pos:end], 40))
		}
		key = s[lx.pos:i]
		lx.pos = i
	default:
		return token{}, lx.errorf(i, "expected a key after %q, such as %s.team or %s.`my key`", s[start:i], prefix, prefix)
	}
	return token{kind: tokField, pos: start, text: s[start:lx.pos], str: prefix, key: key}, nil
}

func (lx *filterLexer) errorf(pos int, format string, args ...any) error {
	return filterError(lx.src, pos, format, args...)
}

func filterError(src string, pos int, format string, args ...any) error {
	col := utf8.RuneCountInString(src[:pos]) + 1
	return Errorf(EINVALID, "invalid filter: column %d: %s", col, fmt.Sprintf(format, args...))
}

type filterParser struct {
	lx          filterLexer
	tok         token
	what        string // "" for a filter, "field" for ParseFilterField
	depth       int
	comparisons int
	values      int
}

func (p *filterParser) advance() error {
	t, err := p.lx.next()
	if err != nil {
		return p.relabel(err)
	}
	p.tok = t
	return nil
}

func (p *filterParser) relabel(err error) error {
	if p.what == "" {
		return err
	}
	if e, ok := err.(*Error); ok {
		return &Error{Code: e.Code, Message: strings.Replace(e.Message, "invalid filter:", "invalid "+p.what+":", 1)}
	}
	return err
}

func (p *filterParser) errorf(format string, args ...any) error {
	return p.relabel(filterError(p.lx.src, p.tok.pos, format, args...))
}

func (p *filterParser) isKeyword(kw string) bool {
	return p.tok.kind == tokWord && strings.EqualFold(p.tok.text, kw)
}

func (p *filterParser) parseOr() (Expr, error) {
	l, err := p.parseAnd()
	if err != nil {
		return nil, err
	}
	for p.isKeyword("OR") {
		if err := p.advance(); err != nil {
			return nil, err
		}
		r, err := p.parseAnd()
		if err != nil {
			return nil, err
		}
		l = &OrExpr{L: l, R: r}
	}
	return l, nil
}

func (p *filterParser) parseAnd() (Expr, error) {
	l, err := p.parseUnary()
	if err != nil {
		return nil, err
	}
	for p.isKeyword("AND") {
		if err := p.advance(); err != nil {
			return nil, err
		}
		r, err := p.parseUnary()
		if err != nil {
			return nil, err
		}
		l = &AndExpr{L: l, R: r}
	}
	return l, nil
}

func (p *filterParser) enter() error {
	p.depth++
	if p.depth > MaxFilterDepth {
		return p.errorf("nested more than %d levels deep", MaxFilterDepth)
	}
	return nil
}

func (p *filterParser) parseUnary() (Expr, error) {
	switch {
	case p.isKeyword("NOT"):
		if err := p.enter(); err != nil {
			return nil, err
		}
		if err := p.advance(); err != nil {
			return nil, err
		}
		x, err := p.parseUnary()
		if err != nil {
			return nil, err
		}
		p.depth--
		return &NotExpr{X: x}, nil
	case p.tok.kind == tokLParen:
		if err := p.enter(); err != nil {
			return nil, err
		}
		if err := p.advance(); err != nil {
			return nil, err
		}
		x, err := p.parseOr()
		if err != nil {
			return nil, err
		}
		if p.tok.kind != tokRParen {
			return nil, p.errorf("expected ')' or a logical operator (AND, OR), found %s", p.tok.describe())
		}
		if err := p.advance(); err != nil {
			return nil, err
		}
		p.depth--
		return x, nil
	}
	return p.parseComparison()
}

// parseField parses the current token as a field; it does not advance.
func (p *filterParser) parseField() (Field, error) {
	t := p.tok
	switch t.kind {
	case tokWord:
		if kw := keyword(t.text); kw != "" {
			return Field{}, p.errorf("expected a field such as name or tags.team, found keyword %s", kw)
		}
		return Field{Namespace: FieldAttr, Name: t.text}, nil
	case tokField:
		ns, ok := namespaces[strings.ToLower(t.str)]
		if !ok {
			return Field{}, p.errorf("unknown field prefix %q: want tags., metrics. or params.", truncate(t.str, 40))
		}
		if err := validateKey(strings.TrimSuffix(string(ns), "s")+" key", t.key, MaxTagKeyLength); err != nil {
			return Field{}, p.errorf("%s", ErrorMessage(err))
		}
		return Field{Namespace: ns, Name: t.key}, nil
	}
	return Field{}, p.errorf("expected a field such as name or tags.team, found %s", t.describe())
}

func (p *filterParser) parseComparison() (Expr, error) {
	field, err := p.parseField()
	if err != nil {
		return nil, err
	}
	p.comparisons++
	if p.comparisons > MaxFilterComparisons {
		return nil, p.errorf("more than %d comparisons", MaxFilterComparisons)
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	var op string
	switch {
	case p.tok.kind == tokOp:
		op = p.tok.text
		if op == "<>" {
			op = "!="
		}
	case p.isKeyword("LIKE"), p.isKeyword("ILIKE"), p.isKeyword("IN"):
		op = strings.ToUpper(p.tok.text)
	case p.isKeyword("NOT"):
		if err := p.advance(); err != nil {
			return nil, err
		}
		if !p.isKeyword("IN") {
			return nil, p.errorf("expected IN after NOT, found %s (to negate another comparison write NOT (…))", p.tok.describe())
		}
		op = "NOT IN"
	default:
		return nil, p.errorf("expected a comparison operator (=, !=, <>, <, <=, >, >=, LIKE, ILIKE, IN, NOT IN) after %s, found %s", field, p.tok.describe())
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	var v Value
	if op == "IN" || op == "NOT IN" {
		v, err = p.parseList(op)
	} else {
		v, err = p.parseScalar(op, false)
	}
	if err != nil {
		return nil, err
	}
	return &CmpExpr{Field: field, Op: op, Value: v}, nil
}

// parseScalar parses a string, number or boolean and advances past it.
func (p *filterParser) parseScalar(op string, inList bool) (Value, error) {
	p.values++
	if p.values > MaxFilterValues {
		return Value{}, p.errorf("more than %d values", MaxFilterValues)
	}
	var v Value
	switch {
	case p.tok.kind == tokString:
		v = Value{Kind: ValueString, Str: p.tok.str}
	case p.tok.kind == tokNumber:
		v = Value{Kind: ValueNumber, Num: p.tok.num}
	case !inList && (p.isKeyword("TRUE") || p.isKeyword("FALSE")):
		v = Value{Kind: ValueBool, Bool: p.isKeyword("TRUE")}
	case inList:
		return Value{}, p.errorf("expected a string or a number in the list, found %s", p.tok.describe())
	case p.tok.kind == tokLParen:
		return Value{}, p.errorf("expected a string, a number, true or false after %s, found '(' (lists go with IN and NOT IN)", op)
	default:
		return Value{}, p.errorf("expected a string, a number, true or false after %s, found %s", op, p.tok.describe())
	}
	return v, p.advance()
}

func (p *filterParser) parseList(op string) (Value, error) {
	if p.tok.kind != tokLParen {
		return Value{}, p.errorf("expected '(' and a list of values after %s, as in %s ('a', 'b'), found %s", op, op, p.tok.describe())
	}
	if err := p.advance(); err != nil {
		return Value{}, err
	}
	list := Value{Kind: ValueList}
	for {
		v, err := p.parseScalar(op, true)
		if err != nil {
			return Value{}, err
		}
		list.List = append(list.List, v)
		switch p.tok.kind {
		case tokComma:
			if err := p.advance(); err != nil {
				return Value{}, err
			}
		case tokRParen:
			return list, p.advance()
		default:
			return Value{}, p.errorf("expected ',' or ')' in the list after %s, found %s", op, p.tok.describe())
		}
	}
}
