// Package postgres is Cairn's metadata store on PostgreSQL: the scale-out
// backend that any number of stateless replicas share. It implements
// cairn.Store with hand-written SQL over pgx and a bounded pgxpool.
//
// Every invariant is enforced by the database, never by this process, so
// that replicas need not know about each other:
//
//   - transactions run at READ COMMITTED and serialize with explicit row
//     locks: LockModel is SELECT … FOR UPDATE on the model's row;
//   - AllocateVersion increments models.latest_version with an UPDATE, whose
//     row lock makes numbers gap-free across replicas (a rollback gives the
//     number back);
//   - AppendAudit and AppendEvent take their sequence number from a row of
//     the counters table with UPDATE … RETURNING; the row lock is held until
//     commit, so sequence numbers are gap-free in commit order and the audit
//     chain never forks;
//   - migrations run under a transaction-level advisory lock, so replicas
//     starting together on an empty database migrate it exactly once.
//
// Expected failures (a name taken, a row missing) are detected without
// raising an SQL error (ON CONFLICT DO NOTHING, INSERT … SELECT), so they
// do not abort the caller's transaction: as with SQLite, a caller may go on
// using the transaction after ECONFLICT or ENOTFOUND.
//
// Serialization failures cannot occur at READ COMMITTED; a deadlock
// (40P01), possible only if one transaction locks several models in an
// order another reverses, is returned as EINTERNAL and not retried, because
// the function passed to Update may have effects outside the database.
package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/cairn-registry/cairn"
)

// DB is a Cairn metadata store on one PostgreSQL database. It is safe for
// concurrent use, and any number of DBs, in any number of processes, may
// share one database.
type DB struct {
	reader
	pool *pgxpool.Pool
}

var _ cairn.Store = (*DB)(nil)

// Options tune Open. The zero value is usable.
type Options struct {
	// MaxConns bounds the connection pool. 0 keeps the URL's
	// pool_max_conns, or else pgxpool's default, max(4, number of CPUs).
	// Every replica opens up to MaxConns connections: keep replicas ×
	// MaxConns under the server's max_connections.
	MaxConns int
}

// Open connects to the PostgreSQL database at url (a postgres:// URL or a
// key=value connection string, as libpq takes), brings its schema up to date
// and returns the store. Several processes may Open the same empty database
// at the same time: one applies the migrations, the others wait for it and
// find them applied. Open refuses a database whose schema is newer than this
// binary knows (EFAILEDPRECONDITION).
func Open(ctx context.Context, url string, opts Options) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgconn redacts the password in the URL it quotes (the tests
		// check), so the cause can travel with the error.
		return nil, cairn.WrapError(cairn.EINVALID, err, "postgres: invalid connection URL")
	}
	if opts.MaxConns < 0 {
		return nil, cairn.Errorf(cairn.EINVALID, "postgres: MaxConns is %d; want 0 (default) or more", opts.MaxConns)
	}
	if opts.MaxConns > 0 {
		if opts.MaxConns > 1<<15 {
			return nil, cairn.Errorf(cairn.EINVALID, "postgres: MaxConns is %d; that is more connections than any server takes", opts.MaxConns)
		}
		cfg.MaxConns = int32(opts.MaxConns)
		if cfg.MinConns > cfg.MaxConns {
			cfg.MinConns = cfg.MaxConns
		}
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, translate(err, "postgres: connect")
	}
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, err
	}
	db := &DB{reader: reader{q: pool, pool: pool}, pool: pool}
	if _, err := db.backfillFixedJSON(ctx); err != nil {
		pool.Close()
		return nil, cairn.WrapError(cairn.EINTERNAL, err, "postgres: encode the fixed fields of versions made before this upgrade")
	}
	if _, err := db.backfillDatasetMetrics(ctx); err != nil {
		pool.Close()
		return nil, cairn.WrapError(cairn.EINTERNAL, err, "postgres: derive the dataset metrics of logged models made before this upgrade")
	}
	return db, nil
}

// Close waits for the connections in use to be released and closes the
// pool.
func (db *DB) Close() error {
	db.pool.Close()
	return nil
}

// Update runs fn in a READ COMMITTED transaction and commits it if fn
// returns nil; otherwise it rolls back and returns fn's error unchanged.
// Writers that touch the same rows are serialized by the row locks the
// transaction takes (LockModel, AllocateVersion, the audit and event
// counters). Reads on db from inside fn run outside the transaction.
func (db *DB) Update(ctx context.Context, fn func(cairn.Tx) error) (err error) {
	ptx, err := db.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
	if err != nil {
		return translate(err, "begin transaction")
	}
	done := false
	defer func() {
		if !done {
			// fn panicked: give the connection back clean, then re-panic.
			_ = ptx.Rollback(context.WithoutCancel(ctx))
		}
	}()
	ferr := fn(&tx{reader: reader{q: ptx}})
	done = true
	if ferr != nil {
		// Rollback even if ctx is done; pgx closes the connection if the
		// rollback cannot be sent.
		_ = ptx.Rollback(context.WithoutCancel(ctx))
		return ferr
	}
	if err := ptx.Commit(ctx); err != nil {
		if errors.Is(err, pgx.ErrTxCommitRollback) {
			return cairn.WrapError(cairn.EINTERNAL, err,
				"commit transaction: a statement failed earlier in the transaction, so it was rolled back")
		}
		return translate(err, "commit transaction")
	}
	return nil
}

// reader holds the read methods. In a DB, q is the pool and each read is one
// statement, which sees one snapshot; reads of more than one statement go
// through view. In a tx, q is the transaction.
type reader struct {
	q    querier
	pool *pgxpool.Pool // nil inside a transaction
}

// view runs fn on one snapshot: the surrounding transaction's if there is
// one, else a read-only REPEATABLE READ transaction of its own.
func (r reader) view(ctx context.Context, fn func(q querier) error) error {
	if r.pool == nil {
		return fn(r.q)
	}
	ptx, err := r.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return translate(err, "begin read transaction")
	}
	defer ptx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // read-only: nothing to lose
	return fn(ptx)
}

// tx is a read-write transaction, inside Update.
type tx struct {
	reader
}

var _ cairn.Tx = (*tx)(nil)
