package bench

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"modernc.org/sqlite"
)

// DefaultBaselineRows is the size of the baseline's table: as many rows as
// the largest registry the targets speak of has versions.
const DefaultBaselineRows = 1_000_000

// baselineFile is the baseline database's file name; the number changes
// with its schema, so that a cached file of another shape is never used.
const baselineFile = "baseline-1.db"

// Baseline is the bare reference server every figure of a run is compared
// with: net/http, one SQLite primary-key lookup on a table of Rows rows
// (modernc.org/sqlite, WAL, the same driver and pragmas as Cairn's store)
// and a JSON answer of about 300 bytes. It measures what the machine gives
// an HTTP server that reads a database at all, so that a Cairn figure can be
// read as a ratio to it rather than as an absolute number on a noisy,
// shared machine.
type Baseline struct {
	URL  string // http://127.0.0.1:PORT
	Rows int64
	// Built is how long creating the table took, 0 if it was reused.
	Built time.Duration

	// What serves it: the row lookup and how to close the database.
	lookup  func(ctx context.Context, id int64) (*baselineItem, error)
	closeDB func() error
	srv     *http.Server
	ln      net.Listener
}

// errNoItem is lookup's answer for an id with no row.
var errNoItem = errors.New("no such item")

// StartBaseline opens (creating and filling it if needed) the baseline
// database baseline-1.db in dir with rows rows and serves
// GET /items/{id} on 127.0.0.1 at a free port. An existing file with the
// right number of rows is reused; filling a million rows takes a few
// seconds.
func StartBaseline(ctx context.Context, dir string, rows int64) (*Baseline, error) {
	return StartBaselineAt(ctx, "127.0.0.1:0", dir, rows)
}

// StartBaselineAt is StartBaseline listening on addr, for a baseline run as
// a process of its own (`cairn bench baseline`).
func StartBaselineAt(ctx context.Context, addr, dir string, rows int64) (*Baseline, error) {
	if rows < 1 {
		return nil, fmt.Errorf("bench: baseline needs at least one row, got %d", rows)
	}
	path := filepath.Join(dir, baselineFile)
	b := &Baseline{Rows: rows}
	built, err := fillBaseline(ctx, path, rows)
	if err != nil {
		return nil, err
	}
	b.Built = built

	dsn := sqliteDSN(path, true)
	conn, err := sqlite.NewConnector(dsn)
	if err != nil {
		return nil, fmt.Errorf("bench: baseline database: %w", err)
	}
	db := sql.OpenDB(conn)
	// The same read pool size as Cairn's SQLite store gives its readers.
	n := max(4, 2*runtime.GOMAXPROCS(0))
	db.SetMaxOpenConns(n)
	db.SetMaxIdleConns(n)
	stmt, err := db.PrepareContext(ctx, `SELECT `+baselineColumns+` FROM items WHERE id = ?`)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("bench: baseline query: %w", err)
	}
	b.closeDB = db.Close
	b.lookup = func(ctx context.Context, id int64) (*baselineItem, error) {
		var it baselineItem
		err := stmt.QueryRowContext(ctx, id).Scan(it.fields()...)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, errNoItem
		}
		return &it, err
	}
	if err := b.serve(addr); err != nil {
		db.Close()
		return nil, err
	}
	return b, nil
}

// baselineColumns are the items table's columns, in baselineItem.fields order.
const baselineColumns = `id, model, number, kind, status, digest, size, source, created_by, created_at`

// serve answers GET /items/{id} on addr with b.lookup.
func (b *Baseline) serve(addr string) error {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /items/{id}", func(w http.ResponseWriter, r *http.Request) {
		id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
		if err != nil {
			http.Error(w, "bad id", http.StatusBadRequest)
			return
		}
		it, err := b.lookup(r.Context(), id)
		if errors.Is(err, errNoItem) {
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(it)
	})
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("bench: baseline listen: %w", err)
	}
	b.ln = ln
	b.URL = "http://" + ln.Addr().String()
	b.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = b.srv.Serve(ln) }()
	return nil
}

// Close stops the server and closes the database; the file stays.
func (b *Baseline) Close() error {
	// Connections a load generator opened but never used count as busy
	// for Shutdown for five seconds; there is nothing to drain here, so
	// close them.
	serr := b.srv.Close()
	derr := b.closeDB()
	return errors.Join(serr, derr)
}

// Op returns the baseline scenario: GET /items/{random id}.
func (b *Baseline) Op(hc *http.Client) Op { return BaselineOp(hc, b.URL, b.Rows) }

// BaselineOp is the baseline scenario against a baseline server at
// baseURL with rows rows, in this process or not.
func BaselineOp(hc *http.Client, baseURL string, rows int64) Op {
	baseURL = strings.TrimRight(baseURL, "/")
	return func(ctx context.Context, w *Worker) error {
		id := 1 + w.Rand.Int64N(rows)
		return getOK(ctx, hc, baseURL+"/items/"+strconv.FormatInt(id, 10), nil)
	}
}

// baselineItem is a row and the answer: its JSON is about 300 bytes, the
// size of a small version record.
type baselineItem struct {
	ID        int64  `json:"id"`
	Model     string `json:"model"`
	Number    int64  `json:"number"`
	Kind      string `json:"kind"`
	Status    string `json:"status"`
	Digest    string `json:"digest"`
	Size      int64  `json:"size"`
	Source    string `json:"source"`
	CreatedBy string `json:"created_by"`
	CreatedAt string `json:"created_at"`
}

// fields are the scan targets of baselineColumns.
func (it *baselineItem) fields() []any {
	return []any{&it.ID, &it.Model, &it.Number, &it.Kind, &it.Status, &it.Digest, &it.Size, &it.Source, &it.CreatedBy, &it.CreatedAt}
}

// fillBaseline makes sure path holds the items table with rows rows and
// returns how long filling it took (0 if it already did).
func fillBaseline(ctx context.Context, path string, rows int64) (time.Duration, error) {
	conn, err := sqlite.NewConnector(sqliteDSN(path, false))
	if err != nil {
		return 0, fmt.Errorf("bench: baseline database: %w", err)
	}
	db := sql.OpenDB(conn)
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS items (
		id INTEGER PRIMARY KEY, model TEXT NOT NULL, number INTEGER NOT NULL,
		kind TEXT NOT NULL, status TEXT NOT NULL, digest TEXT NOT NULL,
		size INTEGER NOT NULL, source TEXT NOT NULL,
		created_by TEXT NOT NULL, created_at TEXT NOT NULL)`); err != nil {
		return 0, fmt.Errorf("bench: baseline schema: %w", err)
	}
	var have int64
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM items`).Scan(&have); err != nil {
		return 0, fmt.Errorf("bench: baseline count: %w", err)
	}
	if have == rows {
		return 0, nil
	}
	// The table is rebuilt from scratch rather than patched: a file of
	// another size is from another run's settings.
	start := time.Now()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("bench: baseline fill: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit this is a no-op
	if _, err := tx.ExecContext(ctx, `DELETE FROM items`); err != nil {
		return 0, fmt.Errorf("bench: baseline fill: %w", err)
	}
	ins, err := tx.PrepareContext(ctx, `INSERT INTO items (id, model, number, kind, status, digest, size, source, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return 0, fmt.Errorf("bench: baseline fill: %w", err)
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := int64(1); i <= rows; i++ {
		if i%65536 == 0 && ctx.Err() != nil {
			return 0, ctx.Err()
		}
		digest := fmt.Sprintf("sha256:%064x", uint64(i)*0x9E3779B97F4A7C15)
		model, number := fmt.Sprintf("model-%05d", i%1000), i/1000+1
		source := fmt.Sprintf("s3://cairn-bench/%s/v%d/model.bin", model, number)
		if _, err := ins.ExecContext(ctx, i, model, number, "model", "ready", digest, 1024+i%4096, source,
			"bench", t0.Add(time.Duration(i)*time.Second).Format(time.RFC3339Nano)); err != nil {
			return 0, fmt.Errorf("bench: baseline fill: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("bench: baseline fill: %w", err)
	}
	return time.Since(start), nil
}

// sqliteDSN is the baseline's connection string: the pragmas of Cairn's
// SQLite store (WAL, a busy timeout), read-only for the serving pool.
func sqliteDSN(path string, readOnly bool) string {
	q := url.Values{}
	q.Set("_busy_timeout", "10000")
	q.Set("_journal_mode", "WAL")
	q.Set("_synchronous", "NORMAL")
	if readOnly {
		q.Set("_query_only", "1")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = path
	}
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(abs), RawQuery: q.Encode()}
	return u.String()
}

// getOK GETs u and reads the body to the end (so the connection is reused),
// adding its size to *n if n is not nil. Any status but 200 is an error.
func getOK(ctx context.Context, hc *http.Client, u string, n *int64) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	c, err := io.Copy(io.Discard, resp.Body)
	if err != nil {
		return err
	}
	if n != nil {
		*n += c
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	return nil
}
