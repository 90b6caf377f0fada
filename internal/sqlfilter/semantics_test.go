package sqlfilter_test

// These tests run compiled filters and orders on real databases built from
// the stores' own migrations, with one fixture and one table of expected
// results for both dialects: whatever the SQL text, SQLite and PostgreSQL
// must select and order the same rows.

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/internal/sqlfilter"
	"github.com/cairn-registry/cairn/internal/testenv"
	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	_ "modernc.org/sqlite" // the "sqlite" driver, for this test only
)

// T0 is the fixture's epoch, in unix microseconds (2023-11-14T22:13:20Z).
const t0 = 1_700_000_000_000_000

const sec = 1_000_000

type fixtureModel struct {
	name, kind, description, tags, createdBy string
	latest                                   int64
	archived                                 bool
	createdAt, updatedAt                     int64
}

type fixtureVersion struct {
	model                    string
	number                   int64
	status, stage            string
	archived                 bool
	size                     int64
	runID, source, framework string
	metrics, params, tags    string
	createdAt                int64
}

var fixtureModels = []fixtureModel{
	{"churn", "model", "Predicts churn", `{"team":"fraud","owner":"ana"}`, "alice", 3, false, t0, t0 + 500*sec},
	{"Churn-EU", "model", "EU churn", `{"team":"Fraud"}`, "bob", 1, true, t0 + 100*sec, t0 + 100*sec},
	{"fraud_detector", "model", "", `{}`, "alice", 2, false, t0 + 200*sec, t0 + 300*sec},
	{"qa-prompt", "prompt", "", `{"mlflow.prompt.is_prompt":"true"}`, "carol", 1, false, t0 + 300*sec, t0 + 350*sec},
	{"ds%weird_*[x]", "dataset", "a*b", `{"my key":"v 1"}`, "bob", 1, false, t0 + 400*sec, t0 + 400*sec},
}

var fixtureVersions = []fixtureVersion{
	{"churn", 1, "ready", "Archived", false, 100, "r1", "s3://b/churn/1", "sklearn", `{"auc":0.81,"loss":0.5}`, `{"lr":"0.1"}`, `{}`, t0 + 1*sec},
	{"churn", 2, "ready", "Production", false, 200, "r2", "s3://b/churn/2", "sklearn", `{"auc":0.91}`, `{"lr":"0.01"}`, `{"validated":"yes"}`, t0 + 2*sec},
	{"churn", 3, "pending", "None", false, 300, "r3", "", "", `{}`, `{}`, `{}`, t0 + 3*sec},
	{"Churn-EU", 1, "ready", "None", true, 50, "r4", "", "pytorch", `{"auc":0.75}`, `{}`, `{"validated":"no"}`, t0 + 101*sec},
	{"fraud_detector", 1, "failed", "None", false, 10, "", "", "", `{"auc":0.95,"f1 score":0.9}`, `{"lr":"0.1"}`, `{}`, t0 + 201*sec},
	{"fraud_detector", 2, "ready", "Staging", false, 20, "r5", "", "onnx", `{"auc":0.9}`, `{}`, `{"validated":"yes"}`, t0 + 202*sec},
	{"qa-prompt", 1, "ready", "None", false, 1, "", "", "", `{}`, `{}`, `{}`, t0 + 301*sec},
	{"ds%weird_*[x]", 1, "ready", "None", false, 1000, "", "", "", `{}`, `{}`, `{}`, t0 + 401*sec},
}

var fixtureAliases = []struct {
	model, name string
	version     int64
}{
	{"churn", "champion", 2},
	{"churn", "challenger", 3},
	{"fraud_detector", "champion", 2},
	{"Churn-EU", "legacy", 1},
}

// database is one dialect's database holding the fixture.
type database struct {
	dialect sqlfilter.Dialect
	query   func(ctx context.Context, q string, args []any) ([]string, error)
}

func TestSemantics(t *testing.T) {
	t.Parallel()
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		runSemantics(t, openSQLite(t))
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		runSemantics(t, openPostgres(t, testenv.PostgresURL(t)))
	})
}

func migrations(tb testing.TB, dir string) []string {
	tb.Helper()
	files, err := filepath.Glob(filepath.Join("..", dir, "migrations", "*.sql"))
	if err != nil || len(files) == 0 {
		tb.Fatalf("no migrations in ../%s/migrations (%v)", dir, err)
	}
	slices.Sort(files)
	var out []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, string(b))
	}
	return out
}

// fixtureStatements returns the statements and arguments that load the
// fixture, with placeholders made by ph and JSON cast by js.
func fixtureStatements(ph func(int) string, js func(string) string, boolArg func(bool) any) (stmts []string, args [][]any) {
	for _, m := range fixtureModels {
		stmts = append(stmts, fmt.Sprintf(`INSERT INTO models (name, kind, description, tags, latest_version, archived, created_by, created_at, updated_at)
			VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)`, ph(1), ph(2), ph(3), js(ph(4)), ph(5), ph(6), ph(7), ph(8), ph(9)))
		args = append(args, []any{m.name, m.kind, m.description, m.tags, m.latest, boolArg(m.archived), m.createdBy, m.createdAt, m.updatedAt})
	}
	for _, v := range fixtureVersions {
		stmts = append(stmts, fmt.Sprintf(`INSERT INTO versions (model_id, number, status, stage, archived, size, run_id, source, framework,
				metrics, params, tags, digest, files, created_by, created_at, updated_at)
			SELECT id, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 'sha256:00', %s, 'alice', %s, %s FROM models WHERE name = %s`,
			ph(1), ph(2), ph(3), ph(4), ph(5), ph(6), ph(7), ph(8), js(ph(9)), js(ph(10)), js(ph(11)), js("'[]'"), ph(12), ph(13), ph(14)))
		args = append(args, []any{v.number, v.status, v.stage, boolArg(v.archived), v.size, v.runID, v.source, v.framework,
			v.metrics, v.params, v.tags, v.createdAt, v.createdAt, v.model})
	}
	for _, a := range fixtureAliases {
		stmts = append(stmts, fmt.Sprintf(`INSERT INTO aliases (model_id, name, version, updated_by, updated_at)
			SELECT id, %s, %s, 'alice', 0 FROM models WHERE name = %s`, ph(1), ph(2), ph(3)))
		args = append(args, []any{a.name, a.version, a.model})
	}
	return stmts, args
}

func openSQLite(t *testing.T) *database {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "test.db")+"?_pragma=foreign_keys(1)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	ctx := context.Background()
	for _, m := range migrations(t, "sqlite") {
		if _, err := db.ExecContext(ctx, m); err != nil {
			t.Fatalf("sqlite migration: %v", err)
		}
	}
	stmts, args := fixtureStatements(func(int) string { return "?" }, func(s string) string { return s },
		func(b bool) any {
			if b {
				return 1
			}
			return 0
		})
	for i, s := range stmts {
		if _, err := db.ExecContext(ctx, s, args[i]...); err != nil {
			t.Fatalf("sqlite fixture %q: %v", s, err)
		}
	}
	return &database{
		dialect: sqlfilter.SQLite,
		query: func(ctx context.Context, q string, args []any) ([]string, error) {
			rows, err := db.QueryContext(ctx, q, args...)
			if err != nil {
				return nil, err
			}
			defer rows.Close()
			out := []string{}
			for rows.Next() {
				var s string
				if err := rows.Scan(&s); err != nil {
					return nil, err
				}
				out = append(out, s)
			}
			return out, rows.Err()
		},
	}
}

func openPostgres(t *testing.T, url string) *database {
	t.Helper()
	ctx := context.Background()
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = 4
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	for _, m := range migrations(t, "postgres") {
		if _, err := pool.Exec(ctx, m); err != nil {
			t.Fatalf("postgres migration: %v", err)
		}
	}
	stmts, args := fixtureStatements(func(i int) string { return "$" + strconv.Itoa(i) },
		func(s string) string { return "CAST(" + s + "::text AS jsonb)" },
		func(b bool) any { return b })
	for i, s := range stmts {
		if _, err := pool.Exec(ctx, s, args[i]...); err != nil {
			t.Fatalf("postgres fixture %q: %v", s, err)
		}
	}
	return &database{
		dialect: sqlfilter.Postgres,
		query: func(ctx context.Context, q string, args []any) ([]string, error) {
			rows, err := pool.Query(ctx, q, args...)
			if err != nil {
				return nil, err
			}
			return pgx.CollectRows(rows, pgx.RowTo[string])
		},
	}
}

// placeholder returns the n-th placeholder of the dialect.
func placeholder(d sqlfilter.Dialect, n int) string {
	if d == sqlfilter.Postgres {
		return "$" + strconv.Itoa(n)
	}
	return "?"
}

// listModels runs the query a store would: its own condition and
// parameter first, the compiled filter, the order, then LIMIT.
func listModels(ctx context.Context, db *database, filter string, order []cairn.OrderBy) ([]string, error) {
	f, err := cairn.ParseFilter(filter)
	if err != nil {
		return nil, err
	}
	c, err := sqlfilter.Models(f, order, db.dialect, 2)
	if err != nil {
		return nil, err
	}
	q := "SELECT m.name FROM models m WHERE m.created_at >= " + placeholder(db.dialect, 1)
	if c.Where != "" {
		q += " AND " + c.Where
	}
	q += " ORDER BY " + c.OrderBy + " LIMIT " + placeholder(db.dialect, 2+len(c.Args))
	args := append(append([]any{int64(0)}, c.Args...), 1000)
	return db.query(ctx, q, args)
}

func listVersions(ctx context.Context, db *database, filter string, order []cairn.OrderBy) ([]string, error) {
	f, err := cairn.ParseFilter(filter)
	if err != nil {
		return nil, err
	}
	c, err := sqlfilter.Versions(f, order, db.dialect, 2)
	if err != nil {
		return nil, err
	}
	concat := "m.name || '@v' || CAST(v.number AS TEXT)"
	q := "SELECT " + concat + " FROM versions v JOIN models m ON m.id = v.model_id WHERE v.size >= " + placeholder(db.dialect, 1)
	if c.Where != "" {
		q += " AND " + c.Where
	}
	q += " ORDER BY " + c.OrderBy + " LIMIT " + placeholder(db.dialect, 2+len(c.Args))
	args := append(append([]any{int64(0)}, c.Args...), 1000)
	return db.query(ctx, q, args)
}

const (
	churnEU = "Churn-EU"
	weird   = "ds%weird_*[x]"
	fraud   = "fraud_detector"
	qa      = "qa-prompt"
)

func asc(f string) cairn.OrderBy  { return cairn.OrderBy{Field: f} }
func desc(f string) cairn.OrderBy { return cairn.OrderBy{Field: f, Desc: true} }

func runSemantics(t *testing.T, db *database) {
	allModels := []string{churnEU, "churn", weird, fraud, qa}
	manyNots := strings.Repeat("name != 'x' AND ", cairn.MaxFilterComparisons-1) + "name != 'y'"
	bigList := "name NOT IN (" + strings.Repeat("'x', ", cairn.MaxFilterValues-1) + "'y')"

	modelTests := []struct {
		filter string
		order  []cairn.OrderBy
		want   []string
	}{
		{"", nil, allModels},
		{"name = 'churn'", nil, []string{"churn"}},
		{"name LIKE 'churn%'", nil, []string{"churn"}},
		{"name ILIKE 'CHURN%'", nil, []string{churnEU, "churn"}},
		{"name LIKE 'c_urn'", nil, []string{"churn"}},
		{`name LIKE '%\%%'`, nil, []string{weird}},
		{`name LIKE 'ds\%weird\_*[x]'`, nil, []string{weird}},
		{"name LIKE '%*%'", nil, []string{weird}},
		{"name LIKE '%[x]'", nil, []string{weird}},
		{"name LIKE 'ds_weird%'", nil, []string{weird}},
		{`name LIKE '%\_%'`, nil, []string{weird, fraud}},
		{"name LIKE 'CHURN'", nil, []string{}},
		{"name ILIKE '%-eu'", nil, []string{churnEU}},
		{"name IN ('churn', 'qa-prompt', 'nope')", nil, []string{"churn", qa}},
		{"name NOT IN ('churn', 'qa-prompt')", nil, []string{churnEU, weird, fraud}},
		{"tags.team = 'fraud'", nil, []string{"churn"}},
		{"tag.team != 'fraud'", nil, []string{churnEU, weird, fraud, qa}},
		{"NOT tags.team = 'fraud'", nil, []string{churnEU, weird, fraud, qa}},
		{"NOT tags.team != 'fraud'", nil, []string{"churn"}},
		{"tags.team ILIKE 'FRAUD'", nil, []string{churnEU, "churn"}},
		{"tags.team LIKE 'F%'", nil, []string{churnEU}},
		{"tags.`mlflow.prompt.is_prompt` != 'true'", nil, []string{churnEU, "churn", weird, fraud}},
		{"tags.mlflow.prompt.is_prompt = 'true'", nil, []string{qa}},
		{"tags.`my key` = 'v 1'", nil, []string{weird}},
		{`tags."my key" LIKE 'v%'`, nil, []string{weird}},
		{"tags.team IN ('fraud', 'Fraud')", nil, []string{churnEU, "churn"}},
		{"tags.team NOT IN ('fraud')", nil, []string{churnEU, weird, fraud, qa}},
		{"kind = 'prompt'", nil, []string{qa}},
		{"kind IN ('dataset', 'prompt')", nil, []string{weird, qa}},
		{"kind != 'model'", nil, []string{weird, qa}},
		{"archived = true", nil, []string{churnEU}},
		{"archived != true", nil, []string{"churn", weird, fraud, qa}},
		{"latest_version >= 2", nil, []string{"churn", fraud}},
		{"latest_version IN (1, 3)", nil, []string{churnEU, "churn", weird, qa}},
		{"created_at > 1700000250000", nil, []string{weird, qa}},
		{"created_at <= '2023-11-14T22:13:20Z'", nil, []string{"churn"}},
		{"creation_timestamp = '2023-11-14T23:13:20+01:00'", nil, []string{"churn"}},
		{"updated_at != 1700000100000", nil, []string{"churn", weird, fraud, qa}},
		{"created_by = 'alice'", nil, []string{"churn", fraud}},
		{"description LIKE '%churn%'", nil, []string{churnEU, "churn"}},
		{"description = 'a*b'", nil, []string{weird}},
		{"alias = 'champion'", nil, []string{"churn", fraud}},
		{"alias != 'champion'", nil, []string{churnEU, weird, qa}},
		{"alias IN ('legacy', 'challenger')", nil, []string{churnEU, "churn"}},
		{"alias LIKE 'champ%'", nil, []string{"churn", fraud}},
		{"alias ILIKE 'LEG%'", nil, []string{churnEU}},
		{"alias NOT IN ('champion', 'legacy')", nil, []string{weird, qa}},
		{"(name = 'churn' OR kind = 'prompt') AND archived = false", nil, []string{"churn", qa}},
		{"name = 'churn' OR kind = 'prompt' AND archived = true", nil, []string{"churn"}},
		{"NOT (name = 'churn' OR name = 'qa-prompt')", nil, []string{churnEU, weird, fraud}},
		{manyNots, nil, allModels},
		{bigList, nil, allModels},
		{"", []cairn.OrderBy{desc("created_at")}, []string{weird, qa, fraud, churnEU, "churn"}},
		{"", []cairn.OrderBy{desc("latest_version")}, []string{"churn", fraud, churnEU, weird, qa}},
		{"", []cairn.OrderBy{asc("kind")}, []string{weird, churnEU, "churn", fraud, qa}},
		{"", []cairn.OrderBy{desc("name")}, []string{qa, fraud, weird, "churn", churnEU}},
		{"", []cairn.OrderBy{asc("last_updated_timestamp")}, []string{churnEU, fraud, qa, weird, "churn"}},
		{"", []cairn.OrderBy{desc("timestamp")}, []string{weird, qa, fraud, churnEU, "churn"}},
		{"kind = 'model'", []cairn.OrderBy{desc("updated_at")}, []string{"churn", fraud, churnEU}},
	}
	allVersions := []string{churnEU + "@v1", "churn@v3", "churn@v2", "churn@v1", weird + "@v1", fraud + "@v2", fraud + "@v1", qa + "@v1"}
	versionTests := []struct {
		filter string
		order  []cairn.OrderBy
		want   []string
	}{
		{"", nil, allVersions},
		{"metrics.auc > 0.9", nil, []string{"churn@v2", fraud + "@v1"}},
		{"metric.auc >= 0.9", nil, []string{"churn@v2", fraud + "@v2", fraud + "@v1"}},
		{"metrics.auc != 0.91", nil, []string{churnEU + "@v1", "churn@v3", "churn@v1", weird + "@v1", fraud + "@v2", fraud + "@v1", qa + "@v1"}},
		{"NOT metrics.auc > 0.8", nil, []string{churnEU + "@v1", "churn@v3", weird + "@v1", qa + "@v1"}},
		{"metrics.auc < 0.8 OR metrics.loss = 0.5", nil, []string{churnEU + "@v1", "churn@v1"}},
		{"metrics.`f1 score` = 0.9", nil, []string{fraud + "@v1"}},
		{"metrics.auc IN (0.81, 0.75)", nil, []string{churnEU + "@v1", "churn@v1"}},
		{"metrics.auc NOT IN (0.81, 0.75)", nil, []string{"churn@v3", "churn@v2", weird + "@v1", fraud + "@v2", fraud + "@v1", qa + "@v1"}},
		{"metrics.auc > -1e3", nil, []string{churnEU + "@v1", "churn@v2", "churn@v1", fraud + "@v2", fraud + "@v1"}},
		{"params.lr = '0.1'", nil, []string{"churn@v1", fraud + "@v1"}},
		{"params.lr != '0.1'", nil, []string{churnEU + "@v1", "churn@v3", "churn@v2", weird + "@v1", fraud + "@v2", qa + "@v1"}},
		{"param.lr LIKE '0.0%'", nil, []string{"churn@v2"}},
		{"version > 1", nil, []string{"churn@v3", "churn@v2", fraud + "@v2"}},
		{"version_number = 1 AND name = 'churn'", nil, []string{"churn@v1"}},
		{"model = 'churn' AND version IN (1, 3)", nil, []string{"churn@v3", "churn@v1"}},
		{"status = 'READY'", nil, []string{churnEU + "@v1", "churn@v2", "churn@v1", weird + "@v1", fraud + "@v2", qa + "@v1"}},
		{"status = 'FAILED_REGISTRATION'", nil, []string{fraud + "@v1"}},
		{"status IN ('pending', 'failed')", nil, []string{"churn@v3", fraud + "@v1"}},
		{"stage = 'production'", nil, []string{"churn@v2"}},
		{"current_stage != 'None'", nil, []string{"churn@v2", "churn@v1", fraud + "@v2"}},
		{"alias = 'champion'", nil, []string{"churn@v2", fraud + "@v2"}},
		{"alias != 'champion'", nil, []string{churnEU + "@v1", "churn@v3", "churn@v1", weird + "@v1", fraud + "@v1", qa + "@v1"}},
		{"alias = 'legacy'", nil, []string{churnEU + "@v1"}},
		{"model = 'churn' AND alias IN ('champion', 'challenger')", nil, []string{"churn@v3", "churn@v2"}},
		{"archived = true", nil, []string{churnEU + "@v1"}},
		{"kind = 'dataset'", nil, []string{weird + "@v1"}},
		{"run_id IN ('r1', 'r5')", nil, []string{"churn@v1", fraud + "@v2"}},
		{"source_path LIKE 's3://b/churn/%'", nil, []string{"churn@v2", "churn@v1"}},
		{"framework = 'sklearn' OR framework = 'onnx'", nil, []string{"churn@v2", "churn@v1", fraud + "@v2"}},
		{"size >= 200 AND size < 1000", nil, []string{"churn@v3", "churn@v2"}},
		{"tags.validated = 'yes'", nil, []string{"churn@v2", fraud + "@v2"}},
		{"created_at >= '2023-11-14T22:13:21Z' AND created_at < 1700000102000", nil, []string{churnEU + "@v1", "churn@v3", "churn@v2", "churn@v1"}},
		{"", []cairn.OrderBy{desc("metrics.auc")}, []string{fraud + "@v1", "churn@v2", fraud + "@v2", "churn@v1", churnEU + "@v1", "churn@v3", weird + "@v1", qa + "@v1"}},
		{"", []cairn.OrderBy{asc("metrics.auc")}, []string{churnEU + "@v1", "churn@v1", fraud + "@v2", "churn@v2", fraud + "@v1", "churn@v3", weird + "@v1", qa + "@v1"}},
		{"", []cairn.OrderBy{asc("params.lr")}, []string{"churn@v2", "churn@v1", fraud + "@v1", churnEU + "@v1", "churn@v3", weird + "@v1", fraud + "@v2", qa + "@v1"}},
		{"", []cairn.OrderBy{desc("tags.validated")}, []string{"churn@v2", fraud + "@v2", churnEU + "@v1", "churn@v3", "churn@v1", weird + "@v1", fraud + "@v1", qa + "@v1"}},
		{"", []cairn.OrderBy{asc("version")}, []string{churnEU + "@v1", "churn@v1", weird + "@v1", fraud + "@v1", qa + "@v1", "churn@v2", fraud + "@v2", "churn@v3"}},
		{"", []cairn.OrderBy{desc("size")}, []string{weird + "@v1", "churn@v3", "churn@v2", "churn@v1", churnEU + "@v1", fraud + "@v2", fraud + "@v1", qa + "@v1"}},
		{"", []cairn.OrderBy{asc("stage")}, []string{"churn@v1", churnEU + "@v1", "churn@v3", weird + "@v1", fraud + "@v1", qa + "@v1", "churn@v2", fraud + "@v2"}},
		{"", []cairn.OrderBy{asc("status"), desc("name")}, []string{fraud + "@v1", "churn@v3", qa + "@v1", fraud + "@v2", weird + "@v1", "churn@v2", "churn@v1", churnEU + "@v1"}},
		{"", []cairn.OrderBy{desc("creation_timestamp")}, []string{weird + "@v1", qa + "@v1", fraud + "@v2", fraud + "@v1", churnEU + "@v1", "churn@v3", "churn@v2", "churn@v1"}},
		{"metrics.auc > 0.8", []cairn.OrderBy{desc("metrics.auc"), asc("params.lr")}, []string{fraud + "@v1", "churn@v2", fraud + "@v2", "churn@v1"}},
	}

	ctx := context.Background()
	for _, tt := range modelTests {
		t.Run(fmt.Sprintf("models/%s/%v", truncateName(tt.filter), tt.order), func(t *testing.T) {
			t.Parallel()
			got, err := listModels(ctx, db, tt.filter, tt.order)
			if err != nil {
				t.Fatalf("filter %q: %v", truncateName(tt.filter), err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("filter %q order %v (-want +got):\n%s", truncateName(tt.filter), tt.order, diff)
			}
		})
	}
	for _, tt := range versionTests {
		t.Run(fmt.Sprintf("versions/%s/%v", truncateName(tt.filter), tt.order), func(t *testing.T) {
			t.Parallel()
			got, err := listVersions(ctx, db, tt.filter, tt.order)
			if err != nil {
				t.Fatalf("filter %q: %v", truncateName(tt.filter), err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("filter %q order %v (-want +got):\n%s", truncateName(tt.filter), tt.order, diff)
			}
		})
	}
}

func truncateName(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}
