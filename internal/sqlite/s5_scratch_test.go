package sqlite

import (
	"database/sql"
	"strings"
	"testing"
)

func BenchmarkS5Scratch(b *testing.B) {
	db, err := sql.Open(driverName, "file:/tmp/perf-100k-fixed/cairn.db?_query_only=1")
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	rows, err := db.Query(`SELECT name, id FROM models WHERE deleted_at IS NULL ORDER BY name LIMIT 100`)
	if err != nil {
		b.Fatal(err)
	}
	var names, ids []any
	for rows.Next() {
		var n string
		var id int64
		rows.Scan(&n, &id)
		names = append(names, n)
		ids = append(ids, id)
	}
	rows.Close()
	in := strings.TrimSuffix(strings.Repeat("?, ", len(names)), ", ")
	noAlias := `m.name, m.kind, v.number, v.status, v.status_message, v.source, v.run_id,
	v.tags, v.description, v.created_by, v.created_at, v.updated_at, v.stage`
	for _, q := range []struct {
		name, sql string
		args      []any
	}{
		{"current", latestPerStageSQL(len(names)), names},
		{"noalias", `SELECT ` + noAlias + ` FROM models m CROSS JOIN stage_latest s ON s.model_id = m.id CROSS JOIN versions v ON v.id = s.version_id WHERE m.name IN (` + in + `)`, names},
		{"noalias-ids", `SELECT ` + noAlias + ` FROM stage_latest s CROSS JOIN versions v ON v.id = s.version_id CROSS JOIN models m ON m.id = s.model_id WHERE s.model_id IN (` + in + `)`, ids},
		{"versionid-only", `SELECT s.version_id FROM models m CROSS JOIN stage_latest s ON s.model_id = m.id WHERE m.name IN (` + in + `)`, names},
		{"version-number", `SELECT v.number FROM models m CROSS JOIN stage_latest s ON s.model_id = m.id CROSS JOIN versions v ON v.id = s.version_id WHERE m.name IN (` + in + `)`, names},
		{"models-list", listModelsSQL([]string{"m.deleted_at IS NULL"}, "m.name"), []any{101, 0}},
		{"combined", `SELECT m.name, m.kind, m.description, m.tags, m.latest_version,
	m.archived, m.created_by, m.created_at, m.updated_at, m.deleted_at,
	(SELECT group_concat(a.name || ':' || a.version, ' ') FROM aliases a WHERE a.model_id = m.id), ` + noAlias + ` FROM (SELECT * FROM models m WHERE m.deleted_at IS NULL ORDER BY m.name LIMIT 101 OFFSET 0) m LEFT JOIN stage_latest s ON s.model_id = m.id LEFT JOIN versions v ON v.id = s.version_id ORDER BY m.name`, nil},
		{"combined-noorder", `SELECT m.name, m.kind, m.description, m.tags, m.latest_version,
	m.archived, m.created_by, m.created_at, m.updated_at, m.deleted_at,
	(SELECT group_concat(a.name || ':' || a.version, ' ') FROM aliases a WHERE a.model_id = m.id), ` + noAlias + ` FROM (SELECT * FROM models m WHERE m.deleted_at IS NULL ORDER BY m.name LIMIT 101 OFFSET 0) m LEFT JOIN stage_latest s ON s.model_id = m.id LEFT JOIN versions v ON v.id = s.version_id`, nil},
		{"models-page", `SELECT m.id, m.name, m.kind, m.description, m.tags, m.created_by, m.created_at, m.updated_at FROM models m WHERE m.deleted_at IS NULL ORDER BY m.name LIMIT 101`, nil},
	} {
		b.Run(q.name, func(b *testing.B) {
			for b.Loop() {
				rows, err := db.Query(q.sql, q.args...)
				if err != nil {
					b.Fatal(err)
				}
				cols, _ := rows.Columns()
				vals := make([]any, len(cols))
				ptrs := make([]any, len(cols))
				for i := range vals {
					ptrs[i] = &vals[i]
				}
				n := 0
				for rows.Next() {
					if err := rows.Scan(ptrs...); err != nil {
						b.Fatal(err)
					}
					n++
				}
				rows.Close()
				if n < 100 {
					b.Fatal(n)
				}
			}
		})
	}
}
