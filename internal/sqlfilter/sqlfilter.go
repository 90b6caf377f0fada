// Package sqlfilter compiles filters (cairn.Filter) and sort orders
// (cairn.OrderBy) into SQL for the metadata stores, in the SQLite and the
// PostgreSQL dialect. It is the only place where filter fields map to
// columns: one table per entity (models, versions).
//
// User input never becomes SQL text: values, JSON keys and LIKE patterns are
// bound parameters; only field names chosen from the tables below and
// operators from a fixed set are written into the SQL.
//
// Semantics, the same in both dialects:
//
//   - A comparison on a tag, metric or param that the record lacks is false,
//     except != and NOT IN, which are true: tags.team != 'fraud' matches
//     models without a team tag. NOT is the plain complement, so
//     NOT tags.team = 'fraud' matches them too. (In SQL the missing key is
//     NULL; every comparison is wrapped so that it is never NULL.)
//   - LIKE is case-sensitive; ILIKE compares after lower-casing both sides
//     (ASCII letters in SQLite, the collation's letters in PostgreSQL). In
//     both, % matches any run of characters, _ one character, and a
//     backslash makes the next character literal (PostgreSQL's default
//     escape). SQLite compiles LIKE to GLOB, which is case-sensitive
//     whatever PRAGMA case_sensitive_like says.
//   - Time fields (created_at, updated_at) take an RFC 3339 string or an
//     integer of unix milliseconds (MLflow's timestamps) and compare as unix
//     microseconds, as stored.
//   - status accepts any case and MLflow's READY, PENDING_REGISTRATION and
//     FAILED_REGISTRATION; stage accepts any case; kind must be a valid kind.
//   - Sorting by a metric, param or tag puts records lacking it last, in
//     either direction.
package sqlfilter

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/cairn-registry/cairn"
)

// Dialect selects the SQL dialect.
type Dialect int

// Dialects.
const (
	SQLite Dialect = iota
	Postgres
)

// Compiled is a filter and an order compiled to SQL.
//
// Placeholders are ? in SQLite and $n in PostgreSQL, numbered from the
// argStart given to Models or Versions. Args holds the values of the
// placeholders in Where, then those in OrderBy (ordering by a metric, param
// or tag binds its key), so a query must put Where before OrderBy and bind
// nothing of its own between them when it uses ? placeholders.
type Compiled struct {
	Where     string // a boolean SQL expression, safe to AND with others; "" if the filter is nil
	Args      []any
	OrderBy   string // without the ORDER BY keyword, tie-breakers included; never ""
	WhereArgs int    // Args[:WhereArgs] belong to Where, the rest to OrderBy
}

// Models compiles a filter and an order for the query shape
//
//	FROM models m
//
// Filter fields: name, kind, description, created_by, created_at,
// updated_at, archived, latest_version, alias and tags.<key>. Order fields:
// name, kind, created_at, updated_at and latest_version (MLflow's
// creation_timestamp, last_updated_timestamp and timestamp are accepted).
// The order always ends with the tie-breaker name ascending.
//
// It returns EINVALID, naming the field, for an unknown field, an operator
// the field does not support or a value of the wrong type.
func Models(f *cairn.Filter, order []cairn.OrderBy, d Dialect, argStart int) (*Compiled, error) {
	return compile(&modelEntity, f, order, d, argStart)
}

// Versions compiles a filter and an order for the query shape
//
//	FROM versions v JOIN models m ON m.id = v.model_id
//
// Filter fields: name (or model), version (or version_number), kind,
// status, run_id, source (or source_path), source_code_version,
// training_dataset, validation_dataset, framework, trained_by,
// dependencies, digest, size, description, created_by, created_at,
// updated_at, archived, flagged, stage (or current_stage), alias,
// tags.<key>, metrics.<key> (numbers) and params.<key> (strings). Order fields: name,
// version, created_at, updated_at, size, status, stage, metrics.<key>,
// params.<key> and tags.<key>. The order always ends with the tie-breakers
// name ascending, version descending.
//
// It returns EINVALID, naming the field, for an unknown field, an operator
// the field does not support or a value of the wrong type.
func Versions(f *cairn.Filter, order []cairn.OrderBy, d Dialect, argStart int) (*Compiled, error) {
	return compile(&versionEntity, f, order, d, argStart)
}

// Runs compiles a filter and an order for the query shape
//
//	FROM runs r
//
// Filter fields (MLflow's run attributes): run_id (or id), run_name (or
// name), status, user_id, artifact_uri, experiment_id, start_time (or
// created), end_time, tags.<key>, metrics.<key> (numbers) and params.<key>
// (strings). Order fields: run_id, run_name, status, user_id, start_time,
// end_time, experiment_id, metrics.<key>, params.<key> and tags.<key>. The
// order always ends with the tie-breakers start_time descending, run id
// ascending (MLflow's default order).
func Runs(f *cairn.Filter, order []cairn.OrderBy, d Dialect, argStart int) (*Compiled, error) {
	return compile(&runEntity, f, order, d, argStart)
}

// Experiments compiles a filter and an order for the query shape
//
//	FROM experiments e
//
// Filter fields: name, creation_time (or created_at), last_update_time (or
// updated_at) and tags.<key>. Order fields: name, experiment_id (or id),
// creation_time, last_update_time. The order always ends with the
// tie-breakers creation time descending, id ascending (MLflow's default).
func Experiments(f *cairn.Filter, order []cairn.OrderBy, d Dialect, argStart int) (*Compiled, error) {
	return compile(&experimentEntity, f, order, d, argStart)
}

// LoggedModels compiles the filter, datasets and order of a logged model
// search for the query shape
//
//	FROM logged_models l
//
// Filter fields (MLflow's logged model attributes): name, model_id (or
// id), model_type, status, source_run_id, experiment_id,
// creation_timestamp (or creation_time, created_at),
// last_updated_timestamp (or updated_at), tags.<key>, metrics.<key> (the
// latest value, numbers) and params.<key> (strings). Order fields: the
// same attributes, metrics.<key>, params.<key> and tags.<key>. The order
// always ends with the tie-breakers creation time descending, id
// ascending (MLflow's default order).
//
// With q.Datasets, metrics.<key> is compared on those datasets only, from
// the column dataset_metrics (see DatasetMetric), as
// cairn.LoggedModelSearch describes; a sort key with a dataset sorts by
// the latest value on it, from the same column.
func LoggedModels(q *cairn.LoggedModelSearch, d Dialect, argStart int) (*Compiled, error) {
	if err := q.ValidateDatasets(); err != nil {
		return nil, err
	}
	keys := make([]sortKey, len(q.OrderBy))
	for i, o := range q.OrderBy {
		keys[i] = sortKey{o.OrderBy, o.Dataset}
	}
	return compileKeys(&loggedModelEntity, q.Filter, keys, q.Datasets, d, argStart)
}

// DatasetMetric is an element of the JSON array in the column
// logged_models.dataset_metrics: the latest point of a metric on one
// dataset (cairn.LoggedModel.LatestDatasetMetrics), which the stores
// derive from the model's metric points on every write and LoggedModels
// reads to search by dataset.
type DatasetMetric struct {
	Key           string  `json:"key"`
	DatasetName   string  `json:"dataset_name"`
	DatasetDigest string  `json:"dataset_digest"` // "" if logged without one
	Value         float64 `json:"value"`
	Step          int64   `json:"step"`
	Timestamp     int64   `json:"timestamp"` // unix microseconds
}

// DatasetMetrics returns the dataset_metrics of m, never nil.
func DatasetMetrics(m *cairn.LoggedModel) []DatasetMetric {
	latest := m.LatestDatasetMetrics()
	out := make([]DatasetMetric, len(latest))
	for i, p := range latest {
		out[i] = DatasetMetric{Key: p.Key, DatasetName: p.DatasetName, DatasetDigest: p.DatasetDigest,
			Value: p.Value, Step: p.Step, Timestamp: p.Timestamp.UnixMicro()}
	}
	return out
}

// EncodePageToken returns the opaque page token for a list offset.
func EncodePageToken(offset int) string {
	return base64.RawURLEncoding.EncodeToString([]byte("o:" + strconv.Itoa(offset)))
}

// DecodePageToken returns the offset in a token from EncodePageToken; "" is
// offset 0. Any other string is EINVALID.
func DecodePageToken(s string) (int, error) {
	if s == "" {
		return 0, nil
	}
	bad := cairn.Errorf(cairn.EINVALID, "invalid page token %q: pass the next_page_token of the previous page unchanged", truncate(s, 60))
	if len(s) > 32 {
		return 0, bad
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return 0, bad
	}
	digits, ok := strings.CutPrefix(string(b), "o:")
	if !ok {
		return 0, bad
	}
	n, err := strconv.Atoi(digits)
	// Only the canonical spelling is accepted, so that one offset has one token.
	if err != nil || n < 0 || strconv.Itoa(n) != digits {
		return 0, bad
	}
	return n, nil
}

// fieldType is what values a field takes and which operators apply.
type fieldType int

const (
	typeString fieldType = iota // = != LIKE ILIKE IN NOT IN
	typeKind                    // a string that must be a valid kind
	typeStatus                  // a string that must be a version status
	typeStage                   // a string that must be a stage
	typeInt                     // = != < <= > >= IN NOT IN, integers
	typeFloat                   // = != < <= > >= IN NOT IN
	typeBool                    // = !=, true or false
	typeTime                    // = != < <= > >=, RFC 3339 or unix milliseconds
	typeAlias                   // = != LIKE ILIKE IN NOT IN over the alias table
)

type column struct {
	sql string // the column, qualified by m. or v.
	typ fieldType
}

// entity describes one filterable table: its fields, keyed maps, how an
// alias joins it, and what it may be ordered by.
type entity struct {
	plural   string                          // in messages: "models"
	fields   map[string]column               // attribute → column, synonyms included
	maps     map[cairn.FieldNamespace]column // tags/metrics/params → JSON column
	aliasOn  string                          // condition tying aliases a to the row
	order    map[string]string               // attribute → column, synonyms included
	orderMap map[cairn.FieldNamespace]bool   // keyed maps that may be ordered by
	tiebreak []orderKey
	// datasetMetrics is the JSON array of DatasetMetric, for searches
	// restricted to datasets; "" if the entity has none.
	datasetMetrics string
}

type orderKey struct {
	sql  string
	desc bool
}

var modelEntity = entity{
	plural: "models",
	fields: map[string]column{
		"name":                   {"m.name", typeString},
		"kind":                   {"m.kind", typeKind},
		"description":            {"m.description", typeString},
		"created_by":             {"m.created_by", typeString},
		"created_at":             {"m.created_at", typeTime},
		"creation_timestamp":     {"m.created_at", typeTime},
		"updated_at":             {"m.updated_at", typeTime},
		"last_updated_timestamp": {"m.updated_at", typeTime},
		"archived":               {"m.archived", typeBool},
		"latest_version":         {"m.latest_version", typeInt},
		"alias":                  {"", typeAlias},
	},
	maps:    map[cairn.FieldNamespace]column{cairn.FieldTag: {"m.tags", typeString}},
	aliasOn: "a.model_id = m.id",
	order: map[string]string{
		"name":                   "m.name",
		"kind":                   "m.kind",
		"created_at":             "m.created_at",
		"creation_timestamp":     "m.created_at",
		"timestamp":              "m.created_at",
		"updated_at":             "m.updated_at",
		"last_updated_timestamp": "m.updated_at",
		"latest_version":         "m.latest_version",
	},
	tiebreak: []orderKey{{sql: "m.name"}},
}

var versionEntity = entity{
	plural: "versions",
	fields: map[string]column{
		"name":                   {"m.name", typeString},
		"model":                  {"m.name", typeString},
		"version":                {"v.number", typeInt},
		"version_number":         {"v.number", typeInt},
		"kind":                   {"m.kind", typeKind},
		"status":                 {"v.status", typeStatus},
		"run_id":                 {"v.run_id", typeString},
		"source":                 {"v.source", typeString},
		"source_path":            {"v.source", typeString},
		"source_code_version":    {"v.source_code_version", typeString},
		"training_dataset":       {"v.training_dataset", typeString},
		"validation_dataset":     {"v.validation_dataset", typeString},
		"framework":              {"v.framework", typeString},
		"trained_by":             {"v.trained_by", typeString},
		"dependencies":           {"v.dependencies", typeString},
		"digest":                 {"v.digest", typeString},
		"size":                   {"v.size", typeInt},
		"description":            {"v.description", typeString},
		"created_by":             {"v.created_by", typeString},
		"created_at":             {"v.created_at", typeTime},
		"creation_timestamp":     {"v.created_at", typeTime},
		"updated_at":             {"v.updated_at", typeTime},
		"last_updated_timestamp": {"v.updated_at", typeTime},
		"archived":               {"v.archived", typeBool},
		"flagged":                {"(v.flag IS NOT NULL)", typeBool},
		"stage":                  {"v.stage", typeStage},
		"current_stage":          {"v.stage", typeStage},
		"alias":                  {"", typeAlias},
	},
	maps: map[cairn.FieldNamespace]column{
		cairn.FieldTag:    {"v.tags", typeString},
		cairn.FieldMetric: {"v.metrics", typeFloat},
		cairn.FieldParam:  {"v.params", typeString},
	},
	aliasOn: "a.model_id = v.model_id AND a.version = v.number",
	order: map[string]string{
		"name":                   "m.name",
		"model":                  "m.name",
		"version":                "v.number",
		"version_number":         "v.number",
		"created_at":             "v.created_at",
		"creation_timestamp":     "v.created_at",
		"timestamp":              "v.created_at",
		"updated_at":             "v.updated_at",
		"last_updated_timestamp": "v.updated_at",
		"size":                   "v.size",
		"status":                 "v.status",
		"stage":                  "v.stage",
		"current_stage":          "v.stage",
	},
	orderMap: map[cairn.FieldNamespace]bool{cairn.FieldTag: true, cairn.FieldMetric: true, cairn.FieldParam: true},
	tiebreak: []orderKey{{sql: "m.name"}, {sql: "v.number", desc: true}},
}

var runEntity = entity{
	plural: "runs",
	fields: map[string]column{
		"run_id":        {"r.id", typeString},
		"id":            {"r.id", typeString},
		"run_name":      {"r.name", typeString},
		"name":          {"r.name", typeString},
		"status":        {"r.status", typeString},
		"user_id":       {"r.user_id", typeString},
		"artifact_uri":  {"r.artifact_uri", typeString},
		"experiment_id": {"r.experiment_id", typeString},
		"start_time":    {"r.start_time", typeTime},
		"created":       {"r.start_time", typeTime},
		"end_time":      {"r.end_time", typeTime},
	},
	maps: map[cairn.FieldNamespace]column{
		cairn.FieldTag:    {"r.tags", typeString},
		cairn.FieldMetric: {"r.metrics", typeFloat},
		cairn.FieldParam:  {"r.params", typeString},
	},
	order: map[string]string{
		"run_id":        "r.id",
		"id":            "r.id",
		"run_name":      "r.name",
		"name":          "r.name",
		"status":        "r.status",
		"user_id":       "r.user_id",
		"artifact_uri":  "r.artifact_uri",
		"experiment_id": "r.experiment_id",
		"start_time":    "r.start_time",
		"created":       "r.start_time",
		"end_time":      "r.end_time",
	},
	orderMap: map[cairn.FieldNamespace]bool{cairn.FieldTag: true, cairn.FieldMetric: true, cairn.FieldParam: true},
	tiebreak: []orderKey{{sql: "r.start_time", desc: true}, {sql: "r.id"}},
}

var experimentEntity = entity{
	plural: "experiments",
	fields: map[string]column{
		"name":             {"e.name", typeString},
		"creation_time":    {"e.created_at", typeTime},
		"created_at":       {"e.created_at", typeTime},
		"last_update_time": {"e.updated_at", typeTime},
		"updated_at":       {"e.updated_at", typeTime},
	},
	maps: map[cairn.FieldNamespace]column{cairn.FieldTag: {"e.tags", typeString}},
	order: map[string]string{
		"name":             "e.name",
		"experiment_id":    "e.id",
		"id":               "e.id",
		"creation_time":    "e.created_at",
		"created_at":       "e.created_at",
		"last_update_time": "e.updated_at",
		"updated_at":       "e.updated_at",
	},
	tiebreak: []orderKey{{sql: "e.created_at", desc: true}, {sql: "e.id"}},
}

var loggedModelEntity = entity{
	plural: "logged models",
	fields: map[string]column{
		"name":                   {"l.name", typeString},
		"model_id":               {"l.id", typeString},
		"id":                     {"l.id", typeString},
		"model_type":             {"l.model_type", typeString},
		"status":                 {"l.status", typeString},
		"source_run_id":          {"l.source_run_id", typeString},
		"experiment_id":          {"l.experiment_id", typeString},
		"creation_timestamp":     {"l.created_at", typeTime},
		"creation_time":          {"l.created_at", typeTime},
		"created_at":             {"l.created_at", typeTime},
		"last_updated_timestamp": {"l.updated_at", typeTime},
		"updated_at":             {"l.updated_at", typeTime},
	},
	maps: map[cairn.FieldNamespace]column{
		cairn.FieldTag:    {"l.tags", typeString},
		cairn.FieldMetric: {"l.metrics", typeFloat},
		cairn.FieldParam:  {"l.params", typeString},
	},
	order: map[string]string{
		"name":                   "l.name",
		"model_id":               "l.id",
		"id":                     "l.id",
		"model_type":             "l.model_type",
		"status":                 "l.status",
		"source_run_id":          "l.source_run_id",
		"experiment_id":          "l.experiment_id",
		"creation_timestamp":     "l.created_at",
		"creation_time":          "l.created_at",
		"created_at":             "l.created_at",
		"last_updated_timestamp": "l.updated_at",
		"updated_at":             "l.updated_at",
	},
	orderMap:       map[cairn.FieldNamespace]bool{cairn.FieldTag: true, cairn.FieldMetric: true, cairn.FieldParam: true},
	tiebreak:       []orderKey{{sql: "l.created_at", desc: true}, {sql: "l.id"}},
	datasetMetrics: "l.dataset_metrics",
}

type compiler struct {
	e    *entity
	d    Dialect
	next int // number of the next $n placeholder
	args []any
	// datasets is the JSON array of the search's datasets ({name, digest}),
	// bound wherever metrics are compared on them; "" if there are none.
	datasets string
}

// sortKey is an order field and, for a metric, the dataset to sort on.
type sortKey struct {
	cairn.OrderBy
	dataset cairn.LoggedModelDataset
}

func compile(e *entity, f *cairn.Filter, order []cairn.OrderBy, d Dialect, argStart int) (*Compiled, error) {
	keys := make([]sortKey, len(order))
	for i, o := range order {
		keys[i] = sortKey{OrderBy: o}
	}
	return compileKeys(e, f, keys, nil, d, argStart)
}

func compileKeys(e *entity, f *cairn.Filter, order []sortKey, datasets []cairn.LoggedModelDataset, d Dialect, argStart int) (*Compiled, error) {
	if d != SQLite && d != Postgres {
		return nil, cairn.Errorf(cairn.EINTERNAL, "sqlfilter: unknown dialect %d", d)
	}
	if argStart < 1 {
		argStart = 1
	}
	c := &compiler{e: e, d: d, next: argStart}
	if len(datasets) > 0 {
		if e.datasetMetrics == "" {
			return nil, cairn.Errorf(cairn.EINTERNAL, "sqlfilter: %s have no metrics by dataset", e.plural)
		}
		type ds struct {
			Name   string `json:"name"`
			Digest string `json:"digest"`
		}
		list := make([]ds, len(datasets))
		for i, d := range datasets {
			list[i] = ds{d.Name, d.Digest}
		}
		b, err := json.Marshal(list)
		if err != nil {
			return nil, cairn.WrapError(cairn.EINTERNAL, err, "sqlfilter: encode datasets")
		}
		c.datasets = string(b)
	}
	out := &Compiled{}
	var where []string
	if c.datasets != "" && (f == nil || f.Root == nil || !comparesMetric(f.Root)) {
		// Datasets without a metric to compare on them keep the models
		// with some metric on one of them, as MLflow does.
		w, err := c.onDatasets("", nil)
		if err != nil {
			return nil, err
		}
		where = append(where, w)
	}
	if f != nil && f.Root != nil {
		var st treeStats
		if err := st.walk(f.Root, 0); err != nil {
			return nil, err
		}
		w, err := c.expr(f.Root)
		if err != nil {
			return nil, err
		}
		if _, ok := f.Root.(*cairn.CmpExpr); !ok {
			if _, ok := f.Root.(*cairn.NotExpr); !ok {
				w = "(" + w + ")"
			}
		}
		where = append(where, w)
	}
	out.Where = strings.Join(where, " AND ")
	out.WhereArgs = len(c.args)
	ob, err := c.orderBy(order)
	if err != nil {
		return nil, err
	}
	out.OrderBy = ob
	out.Args = c.args
	return out, nil
}

// treeStats bounds trees built by hand the way ParseFilter bounds parsed
// ones, so that the SQL stays within the databases' limits.
type treeStats struct{ comparisons, values int }

func (st *treeStats) walk(e cairn.Expr, depth int) error {
	if depth > cairn.MaxFilterComparisons+cairn.MaxFilterDepth {
		return cairn.Errorf(cairn.EINVALID, "invalid filter: nested too deeply")
	}
	if isNilNode(e) {
		return cairn.Errorf(cairn.EINVALID, "invalid filter: empty node")
	}
	switch e := e.(type) {
	case *cairn.AndExpr:
		if err := st.walk(e.L, depth+1); err != nil {
			return err
		}
		return st.walk(e.R, depth+1)
	case *cairn.OrExpr:
		if err := st.walk(e.L, depth+1); err != nil {
			return err
		}
		return st.walk(e.R, depth+1)
	case *cairn.NotExpr:
		return st.walk(e.X, depth+1)
	case *cairn.CmpExpr:
		st.comparisons++
		st.values += max(1, len(e.Value.List))
		if st.comparisons > cairn.MaxFilterComparisons {
			return cairn.Errorf(cairn.EINVALID, "invalid filter: more than %d comparisons", cairn.MaxFilterComparisons)
		}
		if st.values > cairn.MaxFilterValues {
			return cairn.Errorf(cairn.EINVALID, "invalid filter: more than %d values", cairn.MaxFilterValues)
		}
		return nil
	}
	return cairn.Errorf(cairn.EINVALID, "invalid filter: unexpected node %T", e)
}

func isNilNode(e cairn.Expr) bool {
	switch e := e.(type) {
	case nil:
		return true
	case *cairn.AndExpr:
		return e == nil
	case *cairn.OrExpr:
		return e == nil
	case *cairn.NotExpr:
		return e == nil
	case *cairn.CmpExpr:
		return e == nil
	}
	return false
}

// bind appends v to the arguments and returns its placeholder.
func (c *compiler) bind(v any) string {
	c.args = append(c.args, v)
	if c.d == Postgres {
		p := "$" + strconv.Itoa(c.next)
		c.next++
		return p
	}
	c.next++
	return "?"
}

// bindNum binds a number; PostgreSQL gets an explicit type so that the
// parameter's type never depends on inference.
func (c *compiler) bindNum(v any) string {
	p := c.bind(v)
	if c.d == Postgres {
		switch v.(type) {
		case float64:
			return p + "::double precision"
		default:
			return p + "::bigint"
		}
	}
	return p
}

func (c *compiler) expr(e cairn.Expr) (string, error) {
	switch e := e.(type) {
	case *cairn.AndExpr:
		return c.chain(e, " AND ")
	case *cairn.OrExpr:
		return c.chain(e, " OR ")
	case *cairn.NotExpr:
		x, err := c.expr(e.X)
		if err != nil {
			return "", err
		}
		return "NOT (" + x + ")", nil
	case *cairn.CmpExpr:
		return c.cmp(e)
	}
	return "", cairn.Errorf(cairn.EINVALID, "invalid filter: unexpected node %T", e)
}

// chain writes a run of ANDs (or ORs) flat, in parentheses.
func (c *compiler) chain(e cairn.Expr, sep string) (string, error) {
	var operands []cairn.Expr
	var collect func(x cairn.Expr)
	collect = func(x cairn.Expr) {
		switch y := x.(type) {
		case *cairn.AndExpr:
			if sep == " AND " {
				collect(y.L)
				collect(y.R)
				return
			}
		case *cairn.OrExpr:
			if sep == " OR " {
				collect(y.L)
				collect(y.R)
				return
			}
		}
		operands = append(operands, x)
	}
	collect(e)
	if sep == " AND " {
		// AND commutes, and SQLite evaluates its operands in the order
		// written, stopping at the first false one: cheap and selective
		// tests first. A scan over a million versions for
		// metrics.auc > 0.5 AND tags.team = 'fraud' took half the time
		// with the tag first.
		slices.SortStableFunc(operands, func(a, b cairn.Expr) int { return c.cost(a) - c.cost(b) })
	}
	parts := make([]string, len(operands))
	for i, x := range operands {
		s, err := c.expr(x)
		if err != nil {
			return "", err
		}
		switch x.(type) {
		case *cairn.AndExpr, *cairn.OrExpr:
			s = "(" + s + ")"
		}
		parts[i] = s
	}
	return strings.Join(parts, sep), nil
}

// cost ranks an AND operand by how much its test costs a row and how
// likely it is to rule the row out: a column compared (0); a tag, param
// or metric compared for equality (1), which needs the JSON parsed but
// usually selects few rows; any other comparison of a tag, param or
// metric, such as a metric's range (2); an alias or a metric on datasets,
// a subquery per row (3); NOT and OR groups, which may hold any of these
// (4).
func (c *compiler) cost(e cairn.Expr) int {
	x, ok := e.(*cairn.CmpExpr)
	if !ok {
		return 4
	}
	if x.Field.Namespace == cairn.FieldMetric && c.datasets != "" {
		return 3 // a subquery per row
	}
	if x.Field.Namespace != cairn.FieldAttr {
		if x.Op == "=" || x.Op == "IN" {
			return 1
		}
		return 2
	}
	if col, ok := c.e.fields[strings.ToLower(x.Field.Name)]; ok && col.typ == typeAlias {
		return 3
	}
	return 0
}

func (c *compiler) cmp(x *cairn.CmpExpr) (string, error) {
	f := x.Field
	if f.Namespace == cairn.FieldAttr {
		col, ok := c.e.fields[strings.ToLower(f.Name)]
		if !ok {
			return "", c.unknownField(f)
		}
		if col.typ == typeAlias {
			return c.alias(f, x)
		}
		return c.compare(f, col.sql, col.typ, x, false)
	}
	col, ok := c.e.maps[f.Namespace]
	if !ok {
		return "", c.unknownField(f)
	}
	if f.Namespace == cairn.FieldMetric && c.datasets != "" {
		return c.metricOnDatasets(f, x)
	}
	key, err := c.jsonKey(f)
	if err != nil {
		return "", err
	}
	return c.compare(f, c.jsonExpr(col, key), col.typ, x, true)
}

// comparesMetric reports whether the filter compares a metric anywhere.
func comparesMetric(e cairn.Expr) bool {
	switch e := e.(type) {
	case *cairn.AndExpr:
		return comparesMetric(e.L) || comparesMetric(e.R)
	case *cairn.OrExpr:
		return comparesMetric(e.L) || comparesMetric(e.R)
	case *cairn.NotExpr:
		return comparesMetric(e.X)
	case *cairn.CmpExpr:
		return e.Field.Namespace == cairn.FieldMetric
	}
	return false
}

// dsField returns the expression of a DatasetMetric field of the element
// j of the dataset_metrics array (text, or a number for value, step and
// timestamp).
func (c *compiler) dsField(name string) string {
	numeric := name == "value" || name == "step" || name == "timestamp"
	if c.d == SQLite {
		return "json_extract(j.value, '$." + name + "')"
	}
	if numeric {
		return "(j.elem->>'" + name + "')::double precision"
	}
	return "(j.elem->>'" + name + "')"
}

// onDatasets returns an EXISTS over the elements j of dataset_metrics on
// one of the search's datasets, of the metric key (any metric if key is
// ""), with cond (written against c.dsField) also true if cond is not
// nil. It binds the datasets, the key and then cond's values, in the
// order they appear in the text.
func (c *compiler) onDatasets(key string, cond func() (string, error)) (string, error) {
	var from, name, digest string
	if c.d == SQLite {
		from = "json_each(" + c.e.datasetMetrics + ") j, json_each(" + c.bind(c.datasets) + ") s"
		name, digest = "json_extract(s.value, '$.name')", "json_extract(s.value, '$.digest')"
	} else {
		from = "jsonb_array_elements(" + c.e.datasetMetrics + ") j(elem), jsonb_array_elements(" + c.bind(c.datasets) + "::jsonb) s(elem)"
		name, digest = "(s.elem->>'name')", "(s.elem->>'digest')"
	}
	conds := []string{}
	if key != "" {
		conds = append(conds, c.dsField("key")+" = "+c.bind(key))
	}
	conds = append(conds, c.dsField("dataset_name")+" = "+name,
		"("+digest+" = '' OR "+c.dsField("dataset_digest")+" = "+digest+")")
	if cond != nil {
		s, err := cond()
		if err != nil {
			return "", err
		}
		conds = append(conds, s)
	}
	return "EXISTS (SELECT 1 FROM " + from + " WHERE " + strings.Join(conds, " AND ") + ")", nil
}

// metricOnDatasets compiles a comparison of a metric on the search's
// datasets: it holds if the latest value of the metric on one of them
// satisfies it; != and NOT IN are the negations of = and IN, and so hold
// when no dataset has the metric.
func (c *compiler) metricOnDatasets(f cairn.Field, x *cairn.CmpExpr) (string, error) {
	vals, err := c.checkOp(f, typeFloat, x)
	if err != nil {
		return "", err
	}
	if err := cairn.ValidateTag(f.Name, ""); err != nil {
		return "", cairn.Errorf(cairn.EINVALID, "invalid filter: %s: %s", truncate(f.String(), 80), cairn.ErrorMessage(err))
	}
	op, not := x.Op, ""
	switch op {
	case "!=":
		op, not = "=", "NOT "
	case "NOT IN":
		op, not = "IN", "NOT "
	}
	s, err := c.onDatasets(f.Name, func() (string, error) {
		return c.compareNumber(f, c.dsField("value"), typeFloat, op, vals)
	})
	if err != nil {
		return "", err
	}
	return not + s, nil
}

// metricOnDataset returns the latest value of a metric on one dataset, a
// subquery that is NULL if the model has none, and binds key, name and
// digest.
func (c *compiler) metricOnDataset(key string, ds cairn.LoggedModelDataset) string {
	from := "json_each(" + c.e.datasetMetrics + ") j"
	if c.d == Postgres {
		from = "jsonb_array_elements(" + c.e.datasetMetrics + ") j(elem)"
	}
	conds := []string{c.dsField("key") + " = " + c.bind(key), c.dsField("dataset_name") + " = " + c.bind(ds.Name)}
	if ds.Digest != "" {
		conds = append(conds, c.dsField("dataset_digest")+" = "+c.bind(ds.Digest))
	}
	return "(SELECT " + c.dsField("value") + " FROM " + from + " WHERE " + strings.Join(conds, " AND ") +
		" ORDER BY " + c.dsField("step") + " DESC, " + c.dsField("timestamp") + " DESC, " + c.dsField("value") + " DESC LIMIT 1)"
}

func (c *compiler) unknownField(f cairn.Field) error {
	names := make([]string, 0, len(c.e.fields)+len(c.e.maps))
	for n := range c.e.fields {
		names = append(names, n)
	}
	for ns := range c.e.maps {
		names = append(names, string(ns)+".<key>")
	}
	slices.Sort(names)
	return cairn.Errorf(cairn.EINVALID, "invalid filter: unknown field %s for %s; want one of %s",
		strconv.Quote(truncate(f.String(), 80)), c.e.plural, strings.Join(names, ", "))
}

// jsonKey checks a map key (by the rules for tag keys, which metric and
// param keys share) and returns what to bind for it: a JSON path in SQLite,
// the key itself in PostgreSQL. The rules exclude '"', so the quoted path
// cannot be broken out of.
func (c *compiler) jsonKey(f cairn.Field) (string, error) {
	if err := cairn.ValidateTag(f.Name, ""); err != nil {
		return "", cairn.Errorf(cairn.EINVALID, "invalid filter: %s: %s", truncate(f.String(), 80), cairn.ErrorMessage(err))
	}
	if c.d == SQLite {
		return `$."` + f.Name + `"`, nil
	}
	return f.Name, nil
}

// jsonExpr returns the expression extracting key from a JSON map column:
// text for tags and params, a number for metrics. It binds the key.
func (c *compiler) jsonExpr(col column, key string) string {
	p := c.bind(key)
	if c.d == SQLite {
		return "json_extract(" + col.sql + ", " + p + ")"
	}
	if col.typ == typeFloat {
		return "(" + col.sql + "->>" + p + "::text)::double precision"
	}
	return "(" + col.sql + "->>" + p + "::text)"
}

var opsByType = map[fieldType][]string{
	typeString: {"=", "!=", "LIKE", "ILIKE", "IN", "NOT IN"},
	typeKind:   {"=", "!=", "LIKE", "ILIKE", "IN", "NOT IN"},
	typeStatus: {"=", "!=", "LIKE", "ILIKE", "IN", "NOT IN"},
	typeStage:  {"=", "!=", "LIKE", "ILIKE", "IN", "NOT IN"},
	typeAlias:  {"=", "!=", "LIKE", "ILIKE", "IN", "NOT IN"},
	typeInt:    {"=", "!=", "<", "<=", ">", ">=", "IN", "NOT IN"},
	typeFloat:  {"=", "!=", "<", "<=", ">", ">=", "IN", "NOT IN"},
	typeBool:   {"=", "!="},
	typeTime:   {"=", "!=", "<", "<=", ">", ">="},
}

func isNegative(op string) bool { return op == "!=" || op == "NOT IN" }

func isList(op string) bool { return op == "IN" || op == "NOT IN" }

// checkOp checks that the field's type supports op and that the value's
// shape (list or scalar) fits op, and returns the scalar values.
func (c *compiler) checkOp(f cairn.Field, typ fieldType, x *cairn.CmpExpr) ([]cairn.Value, error) {
	ops := opsByType[typ]
	if !slices.Contains(ops, x.Op) {
		return nil, fieldErr(f, "operator %s is not supported here; want one of %s", truncate(x.Op, 20), strings.Join(ops, ", "))
	}
	if isList(x.Op) {
		if x.Value.Kind != cairn.ValueList || len(x.Value.List) == 0 {
			return nil, fieldErr(f, "%s takes a list of values, as in %s ('a', 'b')", x.Op, x.Op)
		}
		return x.Value.List, nil
	}
	if x.Value.Kind == cairn.ValueList {
		return nil, fieldErr(f, "%s takes a single value; lists go with IN and NOT IN", x.Op)
	}
	return []cairn.Value{x.Value}, nil
}

func fieldErr(f cairn.Field, format string, args ...any) error {
	return cairn.Errorf(cairn.EINVALID, "invalid filter: %s: %s", truncate(f.String(), 80), fmt.Sprintf(format, args...))
}

func describeValue(v cairn.Value) string {
	switch v.Kind {
	case cairn.ValueString:
		return "string " + truncate(v.String(), 60)
	case cairn.ValueNumber:
		return "number " + v.String()
	case cairn.ValueBool:
		return v.String()
	}
	return "a list"
}

// compare compiles a comparison of the expression sql, of type typ, with
// x's value. nullable says sql may be NULL (a missing map key).
func (c *compiler) compare(f cairn.Field, sql string, typ fieldType, x *cairn.CmpExpr, nullable bool) (string, error) {
	vals, err := c.checkOp(f, typ, x)
	if err != nil {
		return "", err
	}
	var out string
	switch typ {
	case typeString, typeKind, typeStatus, typeStage:
		out, err = c.compareString(f, sql, typ, x.Op, vals)
	case typeInt, typeFloat:
		out, err = c.compareNumber(f, sql, typ, x.Op, vals)
	case typeTime:
		out, err = c.compareTime(f, sql, x.Op, vals[0])
	case typeBool:
		out, err = c.compareBool(f, sql, x.Op, vals[0])
	}
	if err != nil {
		return "", err
	}
	if nullable {
		if isNegative(x.Op) {
			return "COALESCE(" + out + ", TRUE)", nil
		}
		return "COALESCE(" + out + ", FALSE)", nil
	}
	return out, nil
}

func (c *compiler) compareString(f cairn.Field, sql string, typ fieldType, op string, vals []cairn.Value) (string, error) {
	strs := make([]string, len(vals))
	for i, v := range vals {
		if v.Kind != cairn.ValueString {
			return "", fieldErr(f, "want a string, got %s", describeValue(v))
		}
		s := v.Str
		if op != "LIKE" && op != "ILIKE" {
			var err error
			if s, err = normalize(f, typ, s); err != nil {
				return "", err
			}
		}
		strs[i] = s
	}
	return c.stringOp(f, sql, op, strs)
}

// stringOp writes sql op strs for a string-valued expression.
func (c *compiler) stringOp(f cairn.Field, sql, op string, strs []string) (string, error) {
	switch op {
	case "=":
		return sql + " = " + c.bind(strs[0]), nil
	case "!=":
		return sql + " <> " + c.bind(strs[0]), nil
	case "IN", "NOT IN":
		return sql + " " + op + " (" + c.bindAll(strs) + ")", nil
	case "LIKE", "ILIKE":
		pat := strs[0]
		if !cairn.ValidLikePattern(pat) {
			return "", fieldErr(f, `%s pattern must not end with the escape character \ (write \\ for a backslash)`, op)
		}
		if c.d == Postgres {
			return sql + " " + op + " " + c.bind(pat), nil
		}
		if op == "LIKE" {
			return sql + " GLOB " + c.bind(likeToGlob(pat)), nil
		}
		return "lower(" + sql + ") GLOB lower(" + c.bind(likeToGlob(pat)) + ")", nil
	}
	return "", fieldErr(f, "operator %s is not supported here", op)
}

func (c *compiler) bindAll(strs []string) string {
	ps := make([]string, len(strs))
	for i, s := range strs {
		ps[i] = c.bind(s)
	}
	return strings.Join(ps, ", ")
}

// normalize maps a value of an enumerated field to its stored spelling.
func normalize(f cairn.Field, typ fieldType, s string) (string, error) {
	switch typ {
	case typeKind:
		if s == "" {
			return "", fieldErr(f, "want model, dataset, prompt, evaluation or other, got ''")
		}
		k, err := cairn.ParseKind(s)
		if err != nil {
			return "", fieldErr(f, "%s", cairn.ErrorMessage(err))
		}
		return string(k), nil
	case typeStatus:
		switch strings.ToLower(s) {
		case "pending", "pending_registration":
			return string(cairn.StatusPending), nil
		case "ready":
			return string(cairn.StatusReady), nil
		case "failed", "failed_registration":
			return string(cairn.StatusFailed), nil
		}
		return "", fieldErr(f, "invalid status %q: want pending, ready or failed", truncate(s, 40))
	case typeStage:
		st, err := cairn.ParseStage(s)
		if err != nil {
			return "", fieldErr(f, "%s", cairn.ErrorMessage(err))
		}
		return string(st), nil
	}
	return s, nil
}

// likeToGlob translates a LIKE pattern (%, _ and \ escapes) into a GLOB
// pattern, in which *, ? and [ are the only special characters and are made
// literal by wrapping them in brackets.
func likeToGlob(p string) string {
	var b strings.Builder
	b.Grow(len(p) + 8)
	literal := func(ch byte) {
		switch ch {
		case '*', '?', '[':
			b.WriteByte('[')
			b.WriteByte(ch)
			b.WriteByte(']')
		default:
			b.WriteByte(ch)
		}
	}
	for i := 0; i < len(p); i++ {
		switch ch := p[i]; ch {
		case '%':
			b.WriteByte('*')
		case '_':
			b.WriteByte('?')
		case '\\':
			i++
			literal(p[i]) // cairn.ValidLikePattern ensures there is a next byte
		default:
			literal(ch)
		}
	}
	return b.String()
}

// maxExactInt is the largest integer every float64 up to it holds exactly.
const maxExactInt = 1 << 53

func (c *compiler) compareNumber(f cairn.Field, sql string, typ fieldType, op string, vals []cairn.Value) (string, error) {
	nums := make([]any, len(vals))
	for i, v := range vals {
		if v.Kind != cairn.ValueNumber {
			return "", fieldErr(f, "want a number, got %s", describeValue(v))
		}
		if math.IsNaN(v.Num) || math.IsInf(v.Num, 0) {
			return "", fieldErr(f, "want a finite number")
		}
		if typ == typeInt {
			if v.Num != math.Trunc(v.Num) || math.Abs(v.Num) > maxExactInt {
				return "", fieldErr(f, "want an integer, got %s", v.String())
			}
			nums[i] = int64(v.Num)
		} else {
			nums[i] = v.Num
		}
	}
	if isList(op) {
		ps := make([]string, len(nums))
		for i, n := range nums {
			ps[i] = c.bindNum(n)
		}
		return sql + " " + op + " (" + strings.Join(ps, ", ") + ")", nil
	}
	return sql + " " + sqlOp(op) + " " + c.bindNum(nums[0]), nil
}

func sqlOp(op string) string {
	if op == "!=" {
		return "<>"
	}
	return op
}

// maxMillis bounds millisecond timestamps so that microseconds fit in int64
// and float64 holds them exactly (about the year 287396).
const maxMillis = 1 << 53

func (c *compiler) compareTime(f cairn.Field, sql, op string, v cairn.Value) (string, error) {
	var micros int64
	switch v.Kind {
	case cairn.ValueString:
		t, err := time.Parse(time.RFC3339Nano, v.Str)
		if err != nil {
			return "", fieldErr(f, "invalid time %q: want RFC 3339, as in 2024-05-01T12:00:00Z, or unix milliseconds", truncate(v.Str, 60))
		}
		micros = t.UnixMicro()
	case cairn.ValueNumber:
		if v.Num != math.Trunc(v.Num) || math.Abs(v.Num) > maxMillis {
			return "", fieldErr(f, "want an RFC 3339 time or an integer of unix milliseconds, got %s", v.String())
		}
		micros = int64(v.Num) * 1000
	default:
		return "", fieldErr(f, "want an RFC 3339 time or an integer of unix milliseconds, got %s", describeValue(v))
	}
	return sql + " " + sqlOp(op) + " " + c.bindNum(micros), nil
}

func (c *compiler) compareBool(f cairn.Field, sql, op string, v cairn.Value) (string, error) {
	if v.Kind != cairn.ValueBool {
		return "", fieldErr(f, "want true or false, got %s", describeValue(v))
	}
	want := v.Bool
	if op == "!=" {
		want = !want
	}
	if c.d == Postgres {
		return sql + " = " + c.bind(want), nil
	}
	var n int64
	if want {
		n = 1
	}
	return sql + " = " + c.bind(n), nil
}

// alias compiles a comparison on the aliases pointing at the row: = , LIKE,
// ILIKE and IN hold if some alias matches, != and NOT IN if none does.
func (c *compiler) alias(f cairn.Field, x *cairn.CmpExpr) (string, error) {
	vals, err := c.checkOp(f, typeAlias, x)
	if err != nil {
		return "", err
	}
	strs := make([]string, len(vals))
	for i, v := range vals {
		if v.Kind != cairn.ValueString {
			return "", fieldErr(f, "want a string, got %s", describeValue(v))
		}
		strs[i] = v.Str
	}
	op := x.Op
	exists := "EXISTS"
	switch op {
	case "!=":
		op, exists = "=", "NOT EXISTS"
	case "NOT IN":
		op, exists = "IN", "NOT EXISTS"
	}
	cond, err := c.stringOp(f, "a.name", op, strs)
	if err != nil {
		return "", err
	}
	return exists + " (SELECT 1 FROM aliases a WHERE " + c.e.aliasOn + " AND " + cond + ")", nil
}

func (c *compiler) orderBy(order []sortKey) (string, error) {
	var keys []string
	seen := map[string]bool{} // columns and keyed fields already ordered by
	add := func(id, sql string, desc, nullsLast bool) {
		if seen[id] {
			return
		}
		seen[id] = true
		s := sql + " ASC"
		if desc {
			s = sql + " DESC"
		}
		if nullsLast {
			s += " NULLS LAST"
		}
		keys = append(keys, s)
	}
	for _, o := range order {
		f, err := cairn.ParseFilterField(o.Field)
		if err != nil {
			return "", cairn.WrapError(cairn.EINVALID, err, "invalid order_by field %q", truncate(o.Field, 80))
		}
		if f.Namespace == cairn.FieldAttr {
			sql, ok := c.e.order[strings.ToLower(f.Name)]
			if !ok {
				return "", c.unknownOrder(f)
			}
			add(sql, sql, o.Desc, false)
			continue
		}
		col, ok := c.e.maps[f.Namespace]
		if !ok || !c.e.orderMap[f.Namespace] {
			return "", c.unknownOrder(f)
		}
		if err := cairn.ValidateTag(f.Name, ""); err != nil {
			return "", cairn.Errorf(cairn.EINVALID, "invalid order_by: %s: %s", truncate(f.String(), 80), cairn.ErrorMessage(err))
		}
		// The SQL of a keyed field has a placeholder in place of the key,
		// so keyed fields are told apart by the field, checked before
		// binding so that a repeated key binds nothing.
		id := f.String()
		if o.dataset != (cairn.LoggedModelDataset{}) {
			if f.Namespace != cairn.FieldMetric || c.e.datasetMetrics == "" {
				return "", cairn.Errorf(cairn.EINVALID, "invalid order_by: %s: only a metric of %s can be sorted on a dataset",
					truncate(f.String(), 80), c.e.plural)
			}
			id += "\x00" + o.dataset.Name + "\x00" + o.dataset.Digest
			if seen[id] {
				continue
			}
			add(id, c.metricOnDataset(f.Name, o.dataset), o.Desc, true)
			continue
		}
		if seen[id] {
			continue
		}
		key, _ := c.jsonKey(f)
		sql := c.jsonExpr(col, key)
		if c.d == Postgres && col.typ == typeString {
			sql += ` COLLATE "C"` // byte order, as in SQLite
		}
		add(id, sql, o.Desc, true)
	}
	for _, k := range c.e.tiebreak {
		add(k.sql, k.sql, k.desc, false)
	}
	return strings.Join(keys, ", "), nil
}

func (c *compiler) unknownOrder(f cairn.Field) error {
	names := make([]string, 0, len(c.e.order)+len(c.e.orderMap))
	for n := range c.e.order {
		names = append(names, n)
	}
	for ns := range c.e.orderMap {
		names = append(names, string(ns)+".<key>")
	}
	slices.Sort(names)
	return cairn.Errorf(cairn.EINVALID, "invalid order_by: cannot sort %s by %s; want one of %s",
		c.e.plural, strconv.Quote(truncate(f.String(), 80)), strings.Join(names, ", "))
}

// truncate shortens s to at most n bytes, on a rune boundary, for messages.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
