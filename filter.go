package cairn

// Filter is a parsed filter expression: MLflow's search grammar
// (name LIKE 'churn%' AND tags.team = 'fraud') extended with OR, NOT,
// parentheses and numeric comparisons on metrics.<key>. ParseFilter builds
// it; stores compile it to SQL with bound parameters (internal/sqlfilter).
// Whether a field exists is decided by the entity being filtered, at
// compile time.
type Filter struct {
	Root Expr
}

// Expr is a node of a filter tree: *AndExpr, *OrExpr, *NotExpr or *CmpExpr.
type Expr interface{ isExpr() }

// AndExpr is L AND R.
type AndExpr struct{ L, R Expr }

// OrExpr is L OR R.
type OrExpr struct{ L, R Expr }

// NotExpr is NOT X.
type NotExpr struct{ X Expr }

// CmpExpr compares a field with a value.
type CmpExpr struct {
	Field Field
	Op    string // one of = != < <= > >= LIKE ILIKE IN NOT IN (upper case; <> is normalised to !=)
	Value Value
}

func (*AndExpr) isExpr() {}
func (*OrExpr) isExpr()  {}
func (*NotExpr) isExpr() {}
func (*CmpExpr) isExpr() {}

// FieldNamespace says where a field lives.
type FieldNamespace string

// Field namespaces. Attr is a plain attribute (name, kind, created_at, …);
// the others are keyed maps written tags.<key>, metrics.<key>, params.<key>.
const (
	FieldAttr   FieldNamespace = ""
	FieldTag    FieldNamespace = "tags"
	FieldMetric FieldNamespace = "metrics"
	FieldParam  FieldNamespace = "params"
)

// Field is the left side of a comparison.
type Field struct {
	Namespace FieldNamespace
	Name      string // attribute name, or the key within the namespace
}

// ValueKind says what literal a Value holds.
type ValueKind int

// Value kinds.
const (
	ValueString ValueKind = iota
	ValueNumber
	ValueBool
	ValueList // for IN and NOT IN: List holds strings or numbers
)

// Value is the right side of a comparison.
type Value struct {
	Kind ValueKind
	Str  string
	Num  float64
	Bool bool
	List []Value
}

// ValidLikePattern reports whether p is a well-formed LIKE/ILIKE pattern:
// '%' matches any run, '_' one character, and '\' makes the next character
// literal, so a pattern may not end with a lone '\'.
func ValidLikePattern(p string) bool {
	for i := 0; i < len(p); i++ {
		if p[i] == '\\' {
			if i == len(p)-1 {
				return false
			}
			i++
		}
	}
	return true
}
