package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"

	"github.com/cairn-registry/cairn"
)

func openTest(t testing.TB) (*DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "cairn.db")
	db, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db, path
}

// Every connection of both pools gets the pragmas, read connections are
// read-only, and the write pool begins IMMEDIATE transactions.
func TestPragmas(t *testing.T) {
	t.Parallel()
	db, _ := openTest(t)
	ctx := t.Context()
	want := map[string]string{
		"journal_mode": "wal",
		"foreign_keys": "1",
		"synchronous":  "2", // FULL
		"busy_timeout": "10000",
	}
	for name, pool := range map[string]*sql.DB{"write": db.write, "read": db.read} {
		// Hold several read connections at once so that more than one is
		// checked.
		var conns []*sql.Conn
		for i := 0; i < 3 && (name == "read" || i == 0); i++ {
			c, err := pool.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			conns = append(conns, c)
		}
		for i, c := range conns {
			got := map[string]string{}
			for p := range want {
				var v string
				if err := c.QueryRowContext(ctx, "PRAGMA "+p).Scan(&v); err != nil {
					t.Fatal(err)
				}
				got[p] = v
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("%s pool, connection %d (-want +got):\n%s", name, i, diff)
			}
			var queryOnly string
			if err := c.QueryRowContext(ctx, "PRAGMA query_only").Scan(&queryOnly); err != nil {
				t.Fatal(err)
			}
			if wantQO := map[string]string{"read": "1", "write": "0"}[name]; queryOnly != wantQO {
				t.Errorf("%s pool: query_only = %s, want %s", name, queryOnly, wantQO)
			}
		}
	}
	// A write through the read pool fails.
	if _, err := db.read.ExecContext(ctx, `INSERT INTO counters (name, value) VALUES ('x', 1)`); err == nil {
		t.Error("write through the read pool succeeded")
	}
}

func TestParseMigrations(t *testing.T) {
	t.Parallel()
	file := func(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }
	for _, tc := range []struct {
		name    string
		files   fstest.MapFS
		want    []int
		wantErr string
	}{
		{"in order", fstest.MapFS{
			"migrations/0002_more.sql": file("B"),
			"migrations/0001_init.sql": file("A"),
			"migrations/README":        file("not sql"),
		}, []int{1, 2}, ""},
		{"none", fstest.MapFS{}, nil, ""},
		{"no number", fstest.MapFS{"migrations/init.sql": file("A")}, nil, "NNNN_description.sql"},
		{"zero", fstest.MapFS{"migrations/0000_init.sql": file("A")}, nil, "NNNN_description.sql"},
		{"gap", fstest.MapFS{
			"migrations/0001_init.sql": file("A"),
			"migrations/0003_more.sql": file("C"),
		}, nil, "want version 2"},
		{"repeat", fstest.MapFS{
			"migrations/0001_init.sql":  file("A"),
			"migrations/0001_other.sql": file("B"),
		}, nil, "want version 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ms, err := parseMigrations(tc.files)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one mentioning %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []int
			for _, m := range ms {
				got = append(got, m.version)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("versions (-want +got):\n%s", diff)
			}
		})
	}
	// The embedded migrations parse.
	if ms, err := migrations(); err != nil || len(ms) == 0 {
		t.Fatalf("embedded migrations: %d, %v", len(ms), err)
	}
}

// Reopening a database applies nothing twice and keeps its data.
func TestReopen(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db, path := openTest(t)
	m := &cairn.Model{Name: "churn", Kind: cairn.KindModel, CreatedBy: "a"}
	if err := db.Update(ctx, func(tx cairn.Tx) error { return tx.CreateModel(ctx, m) }); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		db, err := Open(ctx, path)
		if err != nil {
			t.Fatalf("reopen %d: %v", i, err)
		}
		if _, err := db.GetModel(ctx, "churn"); err != nil {
			t.Errorf("reopen %d: %v", i, err)
		}
		checkMigrationsApplied(t, db.read)
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// checkMigrationsApplied checks that schema_migrations lists each embedded
// migration exactly once.
func checkMigrationsApplied(t testing.TB, db *sql.DB) {
	t.Helper()
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	var want, got []string
	for _, m := range ms {
		want = append(want, m.name)
	}
	rows, err := db.Query(`SELECT name FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		got = append(got, name)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("schema_migrations (-want +got):\n%s", diff)
	}
}

// A database that a newer Cairn migrated further is refused.
func TestNewerSchemaRefused(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db, path := openTest(t)
	if _, err := db.write.ExecContext(ctx,
		`INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, '0999_future.sql', 0)`); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	_, err := Open(ctx, path)
	if !cairn.IsCode(err, cairn.EFAILEDPRECONDITION) || !strings.Contains(err.Error(), "999") {
		t.Fatalf("Open of a newer database: %v, want failed_precondition naming version 999", err)
	}
}

// The hot read paths are answered from indexes: no full table scans, no
// sorting of whole tables. Listing every model or every version walks the
// models' name index in order, which stops after one page.
func TestQueryPlans(t *testing.T) {
	t.Parallel()
	db, _ := openTest(t)
	modelOrder, err := compileModels(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	versionOrder, err := compileVersions(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	byUpdated, err := compileVersions(nil, []cairn.OrderBy{{Field: "updated_at", Desc: true}})
	if err != nil {
		t.Fatal(err)
	}
	byCreated, err := compileVersions(nil, []cairn.OrderBy{{Field: "created_at", Desc: true}})
	if err != nil {
		t.Fatal(err)
	}
	const (
		walkModels = "SCAN m USING INDEX sqlite_autoindex_models_1"
		// Ties on the leading key are sorted by the rest, a few rows at a
		// time, not the whole table.
		rightPartSorted = "USE TEMP B-TREE FOR LAST 2 TERMS OF ORDER BY"
	)
	for _, tc := range []struct {
		name  string
		query string
		args  []any
		allow []string
	}{
		{"GetModel", getModelSQL, []any{"churn"}, nil},
		{"GetVersion", getVersionSQL, []any{"churn", 3}, nil},
		{"GetVersion to render", getVersionRenderSQL, []any{"churn", 3}, nil},
		{"GetVersion summary", getVersionSummarySQL, []any{"churn", 3}, nil},
		{"LatestVersion", latestVersionSQL, []any{"churn"}, nil},
		{"LatestVersion to render", latestVersionRenderSQL, []any{"churn"}, nil},
		{"AliasedVersion", aliasedVersionSQL, []any{"churn", "champion"}, nil},
		{"AliasedVersion to render", aliasedVersionRenderSQL, []any{"churn", "champion"}, nil},
		{"AliasedVersion summary", aliasedVersionSummarySQL, []any{"churn", "champion"}, nil},
		{"LatestPerStage", latestPerStageSQL(2), []any{"churn", "fraud"}, nil},
		{"GetAlias", getAliasSQL, []any{"churn", "champion"}, nil},
		{"ListModels", listModelsSQL([]string{"m.deleted_at IS NULL"}, modelOrder.OrderBy), []any{101, 0}, []string{walkModels}},
		// The page is a co-routine whose rows the outer loop takes in order
		// (see listModelsWithLatestSQL).
		{"ListModels with latest versions", listModelsWithLatestSQL([]string{"m.deleted_at IS NULL"}, modelOrder.OrderBy), []any{101, 0},
			[]string{"CO-ROUTINE m", walkModels, "SCAN m"}},
		{"ListVersions of a model", listVersionsSQL(versionColumns, []string{"m.id = ?", "v.deleted_at IS NULL", "m.deleted_at IS NULL"}, versionOrder.OrderBy, false),
			[]any{1, 101, 0}, nil},
		{"ListVersions of all models", listVersionsSQL(versionColumns, []string{"v.deleted_at IS NULL", "m.deleted_at IS NULL"}, versionOrder.OrderBy, false),
			[]any{101, 0}, []string{walkModels}},
		{"ListVersions of all models to render", listVersionsSQL(renderColumns, []string{"v.deleted_at IS NULL", "m.deleted_at IS NULL"}, versionOrder.OrderBy, false),
			[]any{101, 0}, []string{walkModels}},
		{"ListVersions of all models by update time", listVersionsSQL(summaryColumns, []string{"v.deleted_at IS NULL", "m.deleted_at IS NULL"}, byUpdated.OrderBy, true),
			[]any{101, 0}, []string{"SCAN v USING INDEX versions_updated", rightPartSorted}},
		{"ListVersions of all models by creation time", listVersionsSQL(versionColumns, []string{"v.deleted_at IS NULL", "m.deleted_at IS NULL"}, byCreated.OrderBy, true),
			[]any{101, 0}, []string{"SCAN v USING INDEX versions_created", rightPartSorted}},
		// One model, or a name, in time order: that model's versions, sorted.
		{"ListVersions of a model by update time", listVersionsSQL(summaryColumns, []string{"m.id = ?", "v.deleted_at IS NULL", "m.deleted_at IS NULL"}, byUpdated.OrderBy, false),
			[]any{1, 101, 0}, []string{"USE TEMP B-TREE FOR ORDER BY"}},
		{"ListVersions of a named model by update time", listVersionsSQL(summaryColumns, []string{"v.deleted_at IS NULL", "m.deleted_at IS NULL", "m.name = ?"}, byUpdated.OrderBy, false),
			[]any{"churn", 101, 0}, []string{"USE TEMP B-TREE FOR ORDER BY"}},
		{"VersionsWithDatasetDigest", versionsWithDatasetDigestSQL, []any{1, "sha"}, nil},
		{"versions missing fixed_json", `SELECT ` + versionColumns + versionFrom + `
			WHERE v.status = 'ready' AND v.fixed_json IS NULL ORDER BY v.id LIMIT ?`, []any{1000},
			[]string{"SCAN v USING INDEX versions_fixed_json_missing"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rows, err := db.read.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+tc.query, tc.args...)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			var plan []string
			for rows.Next() {
				var (
					id, parent, unused int
					detail             string
				)
				if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
					t.Fatal(err)
				}
				plan = append(plan, detail)
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			for _, step := range plan {
				// A correlated subquery is a header line; its own steps
				// follow it and are checked like the rest.
				ok := strings.HasPrefix(step, "SEARCH ") || strings.HasPrefix(step, "CORRELATED SCALAR SUBQUERY")
				for _, a := range tc.allow {
					ok = ok || step == a
				}
				if !ok {
					t.Errorf("plan step %q is not an index search; plan:\n  %s", step, strings.Join(plan, "\n  "))
				}
			}
		})
	}
}

// A list of versions walks the time index only across all models and when
// its filter names no model: a search of one model, or of the models a
// name picks, sorts their versions instead.
func TestWalkTime(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		q      cairn.VersionQuery
		filter string
		want   bool
	}{
		{cairn.VersionQuery{}, "", true},
		{cairn.VersionQuery{}, "tags.team = 'fraud' AND metrics.auc > 0.5", true},
		{cairn.VersionQuery{Model: "churn"}, "", false},
		{cairn.VersionQuery{}, "name = 'churn'", false},
		{cairn.VersionQuery{}, "tags.team = 'fraud' AND model LIKE 'churn%'", false},
		{cairn.VersionQuery{}, "NOT (tags.a = 'b' OR name IN ('x', 'y'))", false},
		{cairn.VersionQuery{}, "tags.name = 'churn'", true}, // a tag called name
	} {
		var f *cairn.Filter
		if tc.filter != "" {
			var err error
			if f, err = cairn.ParseFilter(tc.filter); err != nil {
				t.Fatal(err)
			}
		}
		if got := walkTime(tc.q, f); got != tc.want {
			t.Errorf("walkTime(model %q, %q) = %v, want %v", tc.q.Model, tc.filter, got, tc.want)
		}
	}
	scoped := cairn.AndFilters(nil, cairn.ScopeFilter([]string{"fraud-*"}))
	if walkTime(cairn.VersionQuery{}, scoped) {
		t.Error("walkTime of a scoped principal's list = true, want false (the scopes compare names)")
	}
}
