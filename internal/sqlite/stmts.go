package sqlite

import (
	"context"
	"database/sql"
	"sync"
)

// stmtCache keeps prepared statements of one pool, so that a hot read such
// as resolving an alias does not parse and plan its SQL again on every
// request (profiles showed preparation at about a third of the server's
// CPU). database/sql prepares a cached statement once per connection, on
// the transaction's own connection, and reuses it in every later
// transaction there.
//
// A statement is first prepared in the background: preparing on the pool
// needs a free connection, and the caller holds one already (the write
// pool has only one), so waiting for it in line would deadlock. Until it
// is ready, the query runs unprepared.
type stmtCache struct {
	pool    *sql.DB
	mu      sync.Mutex
	m       map[string]*sql.Stmt // nil value: being prepared
	closed  bool
	working sync.WaitGroup // preparations in the background
}

// maxCachedStmts bounds the cache: queries whose text varies with their
// arguments (IN lists of any length) would otherwise fill it forever.
const maxCachedStmts = 256

func newStmtCache(pool *sql.DB) *stmtCache {
	return &stmtCache{pool: pool, m: map[string]*sql.Stmt{}}
}

// get returns the prepared statement for query, or nil if it is not
// prepared yet (preparation then starts in the background) or the cache is
// full.
func (c *stmtCache) get(query string) *sql.Stmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.m[query]; ok || c.closed || len(c.m) >= maxCachedStmts {
		return s
	}
	c.m[query] = nil
	c.working.Add(1)
	go func() {
		defer c.working.Done()
		s, err := c.pool.PrepareContext(context.Background(), query)
		c.mu.Lock()
		defer c.mu.Unlock()
		switch {
		case err != nil:
			delete(c.m, query) // try again next time; the unprepared run reports errors
		case c.closed:
			s.Close()
		default:
			c.m[query] = s
		}
	}()
	return nil
}

// close closes the cached statements. It waits for preparations under way,
// so that their connections are back in the pool when the pool closes:
// otherwise a connection could close (and SQLite touch the database's
// files) after DB.Close has returned.
func (c *stmtCache) close() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.working.Wait()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range c.m {
		if s != nil {
			s.Close()
		}
	}
	c.m = map[string]*sql.Stmt{}
}

// stmt returns query prepared for this transaction, or nil.
func (t *tx) stmt(ctx context.Context, query string) *sql.Stmt {
	if t.stmts == nil {
		return nil
	}
	s := t.stmts.get(query)
	if s == nil || t.tx == nil {
		return s // outside a transaction the pool's statement serves as is
	}
	return t.tx.StmtContext(ctx, s)
}

// query, queryRow and exec run SQL in the transaction through the
// statement cache.
func (t *tx) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if s := t.stmt(ctx, query); s != nil {
		return s.QueryContext(ctx, args...)
	}
	return t.db().QueryContext(ctx, query, args...)
}

func (t *tx) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	if s := t.stmt(ctx, query); s != nil {
		return s.QueryRowContext(ctx, args...)
	}
	return t.db().QueryRowContext(ctx, query, args...)
}

func (t *tx) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if s := t.stmt(ctx, query); s != nil {
		return s.ExecContext(ctx, args...)
	}
	return t.db().ExecContext(ctx, query, args...)
}

// querier is what both a transaction and a pool run SQL with.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// db returns what t's statements run on: its transaction, or the pool.
func (t *tx) db() querier {
	if t.tx != nil {
		return t.tx
	}
	return t.pool
}
