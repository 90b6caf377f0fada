package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/cairn-registry/cairn"
)

// Migrations are numbered SQL files, NNNN_name.sql, applied in order and
// never edited once released: a schema change is a new file. The PostgreSQL
// store has files of the same names.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// migration is one schema change.
type migration struct {
	version int
	name    string // file name
	sql     string
}

// migrations returns the embedded migrations in order.
func migrations() ([]migration, error) { return parseMigrations(migrationFiles) }

// parseMigrations reads migrations/*.sql from fsys, in order. It fails if
// a file name has no number, or if numbers repeat or skip, so that a
// mistake in the source tree cannot reach a database.
func parseMigrations(fsys fs.FS) ([]migration, error) {
	names, err := fs.Glob(fsys, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, p := range names {
		name := path.Base(p)
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v < 1 {
			return nil, fmt.Errorf("migration %s: name must be NNNN_description.sql", name)
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: name, sql: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i, m := range ms {
		if m.version != i+1 {
			return nil, fmt.Errorf("migration %s: want version %d (versions start at 1 and do not skip or repeat)", m.name, i+1)
		}
	}
	return ms, nil
}

// migrate brings the schema up to date in one write transaction. BEGIN
// IMMEDIATE takes the write lock before schema_migrations is read, so when
// two processes open a new database at once, one applies the migrations
// and the other, waiting under busy_timeout, then finds them applied. A
// database with migrations this binary does not know (written by a newer
// Cairn) is refused rather than used with a schema it does not understand.
func migrate(ctx context.Context, db *sql.DB) error {
	ms, err := migrations()
	if err != nil {
		return cairn.WrapError(cairn.EINTERNAL, err, "sqlite: embedded migrations")
	}
	sqltx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return translate(err, "sqlite: begin migration")
	}
	defer sqltx.Rollback() //nolint:errcheck // a no-op after Commit

	if _, err := sqltx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		name       TEXT    NOT NULL,
		applied_at INTEGER NOT NULL
	)`); err != nil {
		return translate(err, "sqlite: create schema_migrations")
	}
	var current int
	if err := sqltx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
		return translate(err, "sqlite: read schema version")
	}
	if current > len(ms) {
		return cairn.Errorf(cairn.EFAILEDPRECONDITION,
			"sqlite: database schema is at version %d but this binary knows only %d; upgrade Cairn", current, len(ms))
	}
	for _, m := range ms[current:] {
		if _, err := sqltx.ExecContext(ctx, m.sql); err != nil {
			return translate(err, "sqlite: apply migration %s", m.name)
		}
		if _, err := sqltx.ExecContext(ctx,
			`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
			m.version, m.name, time.Now().UnixMicro()); err != nil {
			return translate(err, "sqlite: record migration %s", m.name)
		}
	}
	if err := sqltx.Commit(); err != nil {
		return translate(err, "sqlite: commit migrations")
	}
	return nil
}
