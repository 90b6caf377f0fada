package sqlfilter_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/internal/sqlfilter"
)

var pgPlaceholder = regexp.MustCompile(`\$([0-9]+)`)

// FuzzCompile compiles arbitrary filters and orders and checks that the SQL
// binds every value (the placeholders match the arguments one for one, so
// nothing the user wrote was spliced into the text) and that SQLite accepts
// the statement built from it.
func FuzzCompile(f *testing.F) {
	for _, s := range []struct{ filter, order string }{
		{"name LIKE 'churn%' AND tags.team = 'fraud'", "name"},
		{"metrics.auc >= 0.9 OR NOT params.lr IN ('0.1', '0.01')", "metrics.auc DESC,version"},
		{"alias = 'champion' AND created_at > '2024-01-01T00:00:00Z'", "created_at DESC"},
		{"status = 'READY' AND stage != 'none' AND archived = false", "tags.`a b`,params.x DESC"},
		{"name = '?' AND tags.`?` = '$1' OR description LIKE '%''; DROP TABLE models; --'", "kind"},
		{"version IN (1, 2, 3) AND size > 10 AND latest_version = 2", "size DESC"},
		{"kind = 'dataset' AND run_id NOT IN ('a')", "bogus"},
	} {
		f.Add(s.filter, s.order)
	}
	db, err := sql.Open("sqlite", "file:"+filepath.Join(f.TempDir(), "fuzz.db"))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { db.Close() })
	for _, m := range migrations(f, "sqlite") {
		if _, err := db.Exec(m); err != nil {
			f.Fatal(err)
		}
	}
	f.Fuzz(func(t *testing.T, filter, order string) {
		flt, err := cairn.ParseFilter(filter)
		if err != nil {
			return
		}
		var ob []cairn.OrderBy
		for _, part := range strings.Split(order, ",") {
			field, dir, _ := strings.Cut(strings.TrimSpace(part), " ")
			ob = append(ob, cairn.OrderBy{Field: field, Desc: strings.EqualFold(dir, "desc")})
		}
		for _, c := range []struct {
			compile func(*cairn.Filter, []cairn.OrderBy, sqlfilter.Dialect, int) (*sqlfilter.Compiled, error)
			from    string
		}{
			{sqlfilter.Models, "models m"},
			{sqlfilter.Versions, "versions v JOIN models m ON m.id = v.model_id"},
		} {
			sqliteC, err := c.compile(flt, ob, sqlfilter.SQLite, 1)
			if err != nil {
				if !cairn.IsCode(err, cairn.EINVALID) {
					t.Fatalf("compile(%q, %q): %v has code %q; want invalid", filter, order, err, cairn.ErrorCodeOf(err))
				}
				if _, pgErr := c.compile(flt, ob, sqlfilter.Postgres, 1); pgErr == nil {
					t.Fatalf("compile(%q, %q) fails for SQLite (%v) but not for PostgreSQL", filter, order, err)
				}
				continue
			}
			text := sqliteC.Where + " " + sqliteC.OrderBy
			if n := strings.Count(text, "?"); n != len(sqliteC.Args) {
				t.Fatalf("SQLite: %d placeholders for %d args in %q", n, len(sqliteC.Args), text)
			}
			if strings.Count(sqliteC.Where, "?") != sqliteC.WhereArgs {
				t.Fatalf("SQLite: WhereArgs = %d but Where %q has %d placeholders", sqliteC.WhereArgs, sqliteC.Where, strings.Count(sqliteC.Where, "?"))
			}
			q := "SELECT 1 FROM " + c.from
			if sqliteC.Where != "" {
				q += " WHERE " + sqliteC.Where
			}
			q += " ORDER BY " + sqliteC.OrderBy + " LIMIT 1"
			rows, err := db.QueryContext(context.Background(), q, sqliteC.Args...)
			if err != nil {
				t.Fatalf("SQLite rejects %q: %v", q, err)
			}
			rows.Close()

			const start = 3
			pg, err := c.compile(flt, ob, sqlfilter.Postgres, start)
			if err != nil {
				t.Fatalf("compile(%q, %q) fails for PostgreSQL (%v) but not for SQLite", filter, order, err)
			}
			if len(pg.Args) != len(sqliteC.Args) || pg.WhereArgs != sqliteC.WhereArgs {
				t.Fatalf("PostgreSQL binds %d args (%d in Where), SQLite %d (%d)", len(pg.Args), pg.WhereArgs, len(sqliteC.Args), sqliteC.WhereArgs)
			}
			if strings.Contains(pg.Where+pg.OrderBy, "?") {
				t.Fatalf("PostgreSQL SQL has a ? placeholder: %q", pg.Where+pg.OrderBy)
			}
			// $start, $start+1, … each exactly once, in order.
			ms := pgPlaceholder.FindAllStringSubmatch(pg.Where+" "+pg.OrderBy, -1)
			if len(ms) != len(pg.Args) {
				t.Fatalf("PostgreSQL: %d placeholders for %d args", len(ms), len(pg.Args))
			}
			for i, m := range ms {
				if n, _ := strconv.Atoi(m[1]); n != start+i {
					t.Fatalf("PostgreSQL placeholder %d is $%d; want $%d", i, n, start+i)
				}
			}
		}
	})
}
