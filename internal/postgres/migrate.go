package postgres

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/cairn-registry/cairn"
)

// Migrations are numbered SQL files, NNNN_name.sql, applied in order and
// never edited once released: a schema change is a new file. The SQLite
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

// migrations returns the embedded migrations in order. It fails if a file
// name has no number, or if numbers repeat or skip, so that a mistake in the
// source tree cannot reach a database.
func migrations() ([]migration, error) {
	names, err := fs.Glob(migrationFiles, "migrations/*.sql")
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
		b, err := migrationFiles.ReadFile(p)
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

// migrateLockKey identifies Cairn's migration lock among the advisory locks
// of the database ("cairn" in ASCII). Advisory locks are per database, so
// other databases on the server do not contend for it.
const migrateLockKey int64 = 0x636169726e

// migrate brings the schema up to date in one transaction that first takes
// a transaction-level advisory lock. Replicas starting together on an empty
// database queue on the lock: the first creates schema_migrations and
// applies every migration, the others then find them applied. The lock is
// released by commit or rollback, also if the process dies, so a crash
// mid-migration leaves neither a half-applied schema (DDL is transactional)
// nor a stuck lock. A database with migrations this binary does not know
// (written by a newer Cairn) is refused rather than used with a schema it
// does not understand.
func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	ms, err := migrations()
	if err != nil {
		return cairn.WrapError(cairn.EINTERNAL, err, "postgres: embedded migrations")
	}
	ptx, err := pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
	if err != nil {
		return translate(err, "postgres: begin migration")
	}
	defer ptx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // a no-op after Commit

	if _, err := ptx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrateLockKey); err != nil {
		return translate(err, "postgres: take the migration lock")
	}
	if _, err := ptx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		name       TEXT    NOT NULL,
		applied_at BIGINT  NOT NULL
	)`); err != nil {
		return translate(err, "postgres: create schema_migrations")
	}
	var current int
	if err := ptx.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
		return translate(err, "postgres: read schema version")
	}
	if current > len(ms) {
		return cairn.Errorf(cairn.EFAILEDPRECONDITION,
			"postgres: database schema is at version %d but this binary knows only %d; upgrade Cairn", current, len(ms))
	}
	for _, m := range ms[current:] {
		// No arguments: pgx sends the file with the simple protocol, which
		// runs several statements.
		if _, err := ptx.Exec(ctx, m.sql); err != nil {
			return translate(err, "postgres: apply migration %s", m.name)
		}
		if _, err := ptx.Exec(ctx,
			`INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`,
			m.version, m.name, time.Now().UnixMicro()); err != nil {
			return translate(err, "postgres: record migration %s", m.name)
		}
	}
	if err := ptx.Commit(ctx); err != nil {
		return translate(err, "postgres: commit migrations")
	}
	return nil
}
