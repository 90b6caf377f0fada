// Package sqlite is Cairn's metadata store on an embedded SQLite database:
// the default for a laptop or a small team. It implements cairn.Store with
// hand-written SQL over modernc.org/sqlite (pure Go, no cgo).
//
// Every invariant lives in the database file, not in this process: writers
// take SQLite's write lock at BEGIN (BEGIN IMMEDIATE), so two `cairn serve`
// processes sharing one data directory still number versions gap-free and
// append one audit chain. Reads run on a separate pool of read-only
// connections and, thanks to WAL, never wait for a writer.
package sqlite

import (
	"context"
	"database/sql"
	"net/url"
	"path/filepath"
	"runtime"
	"strconv"
	"time"

	sqlite3 "modernc.org/sqlite/lib"

	"github.com/cairn-registry/cairn"
)

// DB is a Cairn metadata store on one SQLite database file. It is safe for
// concurrent use, also by several processes on the same file.
type DB struct {
	// write has exactly one connection: SQLite admits one writer at a time
	// anyway, and queueing writers in database/sql (by context) is cheaper
	// than having them spin on the file lock.
	write *sql.DB
	// read has several query_only connections; in WAL mode readers see the
	// last committed state and never block the writer or each other.
	read *sql.DB
	// writeGate and readGate queue callers for the pools first in, first
	// out (see gate).
	writeGate, readGate gate

	writeStmts, readStmts *stmtCache
}

var _ cairn.Store = (*DB)(nil)

// driverName is the name modernc.org/sqlite registers its driver under;
// errors.go imports the package (for its error type), which registers it.
const driverName = "sqlite"

// dsn returns the connection string for path. The pragmas are in the DSN,
// not executed once after Open, so that every connection database/sql
// opens, now or after a pool recycles one, gets them.
//
//   - journal_mode=WAL: readers do not block the writer or each other, and
//     the database may be shared by several processes on one host.
//   - busy_timeout=10000: a writer waits up to 10 s for another process's
//     write transaction instead of failing at once with SQLITE_BUSY.
//   - foreign_keys=1: SQLite enforces the schema's REFERENCES clauses only
//     when asked, per connection.
//   - synchronous=FULL: in WAL mode NORMAL may lose the last transactions on
//     power loss (not on a process crash). A registry is a system of record
//     whose audit chain promises that what was acknowledged is kept, so we
//     pay one fsync of the WAL per commit.
//   - _txlock=immediate: write transactions take the write lock at BEGIN. A
//     deferred transaction that reads and then writes can fail with
//     SQLITE_BUSY_SNAPSHOT when another process committed in between, and
//     the busy timeout does not help there; IMMEDIATE serializes writers up
//     front, which is also what makes AllocateVersion and the counters
//     gap-free across processes.
func dsn(path string, readOnly bool) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	q := url.Values{}
	q.Set("_busy_timeout", strconv.FormatInt(busyTimeout.Milliseconds(), 10))
	q.Set("_foreign_keys", "1")
	q.Set("_journal_mode", "WAL")
	q.Set("_synchronous", "FULL")
	if readOnly {
		q.Set("_query_only", "1")
	} else {
		q.Set("_txlock", "immediate")
	}
	// A file: URI, so that a path containing '?' or '#' is escaped rather
	// than taken for the start of the parameters.
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(abs), RawQuery: q.Encode()}
	return u.String(), nil
}

// Open opens the SQLite database at path, creating the file if it does not
// exist, and brings its schema up to date. Two processes may open the same
// file at the same time; migrations run once.
func Open(ctx context.Context, path string) (*DB, error) {
	wdsn, err := dsn(path, false)
	if err != nil {
		return nil, cairn.WrapError(cairn.EINVALID, err, "sqlite: invalid database path %q", path)
	}
	rdsn, err := dsn(path, true)
	if err != nil {
		return nil, cairn.WrapError(cairn.EINVALID, err, "sqlite: invalid database path %q", path)
	}
	write, err := sql.Open(driverName, wdsn)
	if err != nil {
		return nil, cairn.WrapError(cairn.EINTERNAL, err, "sqlite: open %s", path)
	}
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxIdleTime(0)
	write.SetConnMaxLifetime(0)
	if err := connect(ctx, write); err != nil {
		write.Close()
		return nil, translate(err, "sqlite: open %s", path)
	}
	if err := migrate(ctx, write); err != nil {
		write.Close()
		return nil, err
	}
	read, err := sql.Open(driverName, rdsn)
	if err != nil {
		write.Close()
		return nil, cairn.WrapError(cairn.EINTERNAL, err, "sqlite: open %s", path)
	}
	n := max(4, 2*runtime.GOMAXPROCS(0))
	read.SetMaxOpenConns(n)
	read.SetMaxIdleConns(n)
	if err := connect(ctx, read); err != nil {
		write.Close()
		read.Close()
		return nil, translate(err, "sqlite: open %s", path)
	}
	db := &DB{write: write, read: read, writeGate: newGate(1), readGate: newGate(n),
		writeStmts: newStmtCache(write), readStmts: newStmtCache(read)}
	if _, err := db.backfillFixedJSON(ctx); err != nil {
		db.Close()
		return nil, cairn.WrapError(cairn.EINTERNAL, err, "sqlite: encode the fixed fields of versions made before this upgrade")
	}
	if _, err := db.backfillDatasetMetrics(ctx); err != nil {
		db.Close()
		return nil, cairn.WrapError(cairn.EINTERNAL, err, "sqlite: derive the dataset metrics of logged models made before this upgrade")
	}
	return db, nil
}

// Close closes the database. Transactions in progress are rolled back.
func (db *DB) Close() error {
	db.readStmts.close()
	db.writeStmts.close()
	rerr := db.read.Close()
	werr := db.write.Close()
	if werr != nil {
		return translate(werr, "sqlite: close")
	}
	if rerr != nil {
		return translate(rerr, "sqlite: close")
	}
	return nil
}

// Update runs fn in a write transaction (BEGIN IMMEDIATE) and commits it if
// fn returns nil; otherwise it rolls back and returns fn's error unchanged.
// Writers are serialized, within this process by the single write
// connection and across processes by SQLite's write lock. fn must not call
// Update itself (it would wait for its own connection); reads on db from
// inside fn see the state before the transaction.
func (db *DB) Update(ctx context.Context, fn func(cairn.Tx) error) error {
	if err := db.writeGate.enter(ctx); err != nil {
		return err
	}
	defer db.writeGate.leave()
	sqltx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return translate(err, "begin transaction")
	}
	done := false
	defer func() {
		if !done {
			// fn panicked: give the connection back clean, then re-panic.
			_ = sqltx.Rollback()
		}
	}()
	if err := fn(&tx{tx: sqltx, stmts: db.writeStmts}); err != nil {
		done = true
		_ = sqltx.Rollback()
		return err
	}
	done = true
	if err := sqltx.Commit(); err != nil {
		if cerr := ctx.Err(); cerr != nil {
			// database/sql rolled back when ctx ended; say why, not
			// "transaction has already been committed or rolled back".
			err = cerr
		}
		return translate(err, "commit transaction")
	}
	return nil
}

// view runs fn in a read-only transaction on the read pool, so that a read
// made of several queries (a version and its aliases) sees one snapshot.
func view[T any](ctx context.Context, db *DB, fn func(*tx) (T, error)) (T, error) {
	var zero T
	if err := db.readGate.enter(ctx); err != nil {
		return zero, err
	}
	defer db.readGate.leave()
	sqltx, err := db.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return zero, translate(err, "begin read transaction")
	}
	defer sqltx.Rollback() //nolint:errcheck // read-only: nothing to lose
	return fn(&tx{tx: sqltx, stmts: db.readStmts})
}

// single runs fn, which must run exactly one statement, on the read pool
// without a transaction: one statement reads one snapshot by itself, and
// BEGIN and COMMIT would double the round trips of the hottest reads
// (resolving an alias, getting a version).
func single[T any](ctx context.Context, db *DB, fn func(*tx) (T, error)) (T, error) {
	if err := db.readGate.enter(ctx); err != nil {
		var zero T
		return zero, err
	}
	defer db.readGate.leave()
	return fn(&tx{pool: db.read, stmts: db.readStmts})
}

// tx is a transaction, read-write inside Update and read-only inside view;
// or, inside single, no transaction (tx nil) but the read pool.
// Its methods hold all the SQL; DB's read methods wrap them in view or single.
type tx struct {
	tx    *sql.Tx
	pool  *sql.DB    // used when tx is nil
	stmts *stmtCache // nil: run statements unprepared
}

var _ cairn.Tx = (*tx)(nil)

// busyTimeout is how long a connection waits for another's lock
// (busy_timeout in dsn).
const busyTimeout = 10 * time.Second

// connect opens a pool's first connection, which runs the DSN's pragmas.
// While another connection turns a new database file to WAL, SQLite
// answers journal_mode=WAL with SQLITE_BUSY at once, without waiting
// under busy_timeout: two processes (or handles) opening a new file
// together met it about once in six tries (TestHandlesShareOneFile). So
// a busy answer is tried again, after a growing pause, for as long as
// busy_timeout would have waited.
func connect(ctx context.Context, pool *sql.DB) error {
	deadline := time.Now().Add(busyTimeout)
	for pause := 5 * time.Millisecond; ; pause = min(2*pause, 200*time.Millisecond) {
		err := pool.PingContext(ctx)
		if err == nil || sqliteCode(err)&0xff != sqlite3.SQLITE_BUSY || time.Now().After(deadline) {
			return err
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}
