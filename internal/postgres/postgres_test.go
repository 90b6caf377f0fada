package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	neturl "net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/internal/storetest"
	"github.com/cairn-registry/cairn/internal/testenv"
)

// TestStore runs the conformance suite every metadata store passes, each
// subtest on a fresh database.
func TestStore(t *testing.T) {
	storetest.Run(t, func(tb testing.TB) cairn.Store {
		db, err := Open(context.Background(), testenv.PostgresURL(tb), Options{MaxConns: 4})
		if err != nil {
			tb.Fatalf("Open: %v", err)
		}
		return db
	})
}

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// open opens a store on url and closes it when the test ends.
func open(t *testing.T, url string, opts Options) *DB {
	t.Helper()
	db, err := Open(testContext(t), url, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

var t0 = cairn.Timestamp(time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC))

func createModel(t *testing.T, db *DB, name string) {
	t.Helper()
	err := db.Update(testContext(t), func(tx cairn.Tx) error {
		return tx.CreateModel(context.Background(), &cairn.Model{
			Name: name, Kind: cairn.KindModel, CreatedBy: "alice", CreatedAt: t0, UpdatedAt: t0,
		})
	})
	if err != nil {
		t.Fatalf("CreateModel(%q): %v", name, err)
	}
}

func newVersion(model string, n int64) *cairn.Version {
	files := []cairn.File{{Path: "model.bin", Size: 3, Digest: cairn.DigestOf([]byte("abc"))}}
	return &cairn.Version{
		Model: model, Number: n, Kind: cairn.KindModel, Files: files,
		Digest: cairn.ManifestDigest(files), Size: 3, Status: cairn.StatusPending, Stage: cairn.StageNone,
		CreatedBy: "alice", CreatedAt: t0, UpdatedAt: t0,
	}
}

// record appends one audit entry and one event, as the registry does for
// every mutation.
func record(ctx context.Context, tx cairn.Tx, target string) error {
	after := json.RawMessage(`{"target":` + strconv.Quote(target) + `}`)
	if err := tx.AppendAudit(ctx, &cairn.AuditEntry{
		Time: time.Now(), Actor: "alice", Action: cairn.EventVersionCreated, Target: target, After: after,
	}); err != nil {
		return fmt.Errorf("AppendAudit: %w", err)
	}
	if err := tx.AppendEvent(ctx, &cairn.Event{
		ID: fmt.Sprintf("%s-%d", target, time.Now().UnixNano()), Type: cairn.EventVersionCreated,
		Time: time.Now(), Actor: "alice", Model: "m", Payload: after,
	}); err != nil {
		return fmt.Errorf("AppendEvent: %w", err)
	}
	return nil
}

// Several replicas starting at once on an empty database: every Open
// succeeds and the migrations are applied exactly once.
func TestConcurrentMigrations(t *testing.T) {
	url := testenv.PostgresURL(t)
	ctx := testContext(t)
	const replicas = 3
	start := make(chan struct{})
	dbs := make([]*DB, replicas)
	errs := make([]error, replicas)
	var wg sync.WaitGroup
	for i := range replicas {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			dbs[i], errs[i] = Open(ctx, url, Options{MaxConns: 2})
		}()
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Open #%d: %v", i, err)
		}
		t.Cleanup(func() { dbs[i].Close() })
	}

	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	var want, got []string
	for _, m := range ms {
		want = append(want, fmt.Sprintf("%d %s", m.version, m.name))
	}
	rows, err := dbs[0].pool.Query(ctx, `SELECT version, name FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var v int
		var name string
		if err := rows.Scan(&v, &name); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%d %s", v, name))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("schema_migrations (-want +got):\n%s", diff)
	}
	// The counters were seeded once, not once per replica.
	var counters int
	if err := dbs[0].pool.QueryRow(ctx, `SELECT count(*) FROM counters`).Scan(&counters); err != nil {
		t.Fatal(err)
	}
	if counters != 3 { // audit, event, experiment
		t.Errorf("counters has %d rows, want 3", counters)
	}
	// Every replica is usable, on the same data.
	createModel(t, dbs[1], "shared")
	for i, db := range dbs {
		if _, err := db.GetModel(ctx, "shared"); err != nil {
			t.Errorf("replica %d: GetModel: %v", i, err)
		}
	}

	// Opening an up-to-date database again applies nothing.
	again := open(t, url, Options{})
	var n int
	if err := again.pool.QueryRow(ctx, `SELECT count(*) FROM schema_migrations`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != len(ms) {
		t.Errorf("after a second Open, schema_migrations has %d rows, want %d", n, len(ms))
	}
}

// A database migrated by a newer Cairn is refused, not used.
func TestOpenRefusesNewerSchema(t *testing.T) {
	url := testenv.PostgresURL(t)
	ctx := testContext(t)
	db := open(t, url, Options{})
	if _, err := db.pool.Exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, '9999_future.sql', 0)`); err != nil {
		t.Fatal(err)
	}
	_, err := Open(ctx, url, Options{})
	if !cairn.IsCode(err, cairn.EFAILEDPRECONDITION) {
		t.Fatalf("Open on a newer schema: got %v, want failed_precondition", err)
	}
}

func TestOpenOptions(t *testing.T) {
	ctx := testContext(t)
	if _, err := Open(ctx, "postgres://u:secret@127.0.0.1:1/x?sslmode=bogus", Options{}); !cairn.IsCode(err, cairn.EINVALID) {
		t.Errorf("Open with a bad URL: got %v, want invalid", err)
	} else if got := err.Error(); strings.Contains(got, "secret") {
		t.Errorf("Open with a bad URL: error %q reveals the password", got)
	}
	if _, err := Open(ctx, "postgres://127.0.0.1:1/x", Options{MaxConns: -1}); !cairn.IsCode(err, cairn.EINVALID) {
		t.Errorf("Open with MaxConns -1: got %v, want invalid", err)
	}

	url := testenv.PostgresURL(t)
	db := open(t, url, Options{MaxConns: 3})
	if got := db.pool.Config().MaxConns; got != 3 {
		t.Errorf("MaxConns 3: pool allows %d connections", got)
	}
	// With MaxConns 0 the URL's pool_max_conns applies.
	u, err := neturl.Parse(url)
	if err != nil {
		t.Fatal(err)
	}
	qs := u.Query()
	qs.Set("pool_max_conns", "5")
	u.RawQuery = qs.Encode()
	db2 := open(t, u.String(), Options{})
	if got := db2.pool.Config().MaxConns; got != 5 {
		t.Errorf("pool_max_conns=5: pool allows %d connections", got)
	}
}

// Two replicas (two pools) on one database, many concurrent writers on one
// model, some of which roll back: version numbers are exactly 1..N, the
// audit and event sequences are gap-free, the audit chain verifies, and a
// reader following the event feed while they write never sees a gap.
func TestConcurrentWritersAcrossReplicas(t *testing.T) {
	url := testenv.PostgresURL(t)
	ctx := testContext(t)
	replicas := []*DB{open(t, url, Options{MaxConns: 6}), open(t, url, Options{MaxConns: 6})}
	createModel(t, replicas[0], "churn")

	const writers = 32
	errRollback := errors.New("deliberate rollback")
	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		committed []int64
		failures  []error
	)
	stopFeed := make(chan struct{})
	feedDone := make(chan error, 1)
	go func() { feedDone <- followFeed(ctx, replicas[1], stopFeed) }()

	start := make(chan struct{})
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			db := replicas[i%len(replicas)]
			var n int64
			err := db.Update(ctx, func(tx cairn.Tx) error {
				if i%2 == 0 { // half lock first, as the registry does; AllocateVersion alone must be safe too
					if _, err := tx.LockModel(ctx, "churn"); err != nil {
						return err
					}
				}
				var err error
				if n, err = tx.AllocateVersion(ctx, "churn"); err != nil {
					return err
				}
				if err := tx.CreateVersion(ctx, newVersion("churn", n)); err != nil {
					return err
				}
				if err := record(ctx, tx, cairn.VersionRef("churn", n)); err != nil {
					return err
				}
				if i%5 == 0 {
					return errRollback
				}
				return nil
			})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				committed = append(committed, n)
			case !errors.Is(err, errRollback):
				failures = append(failures, err)
			}
		}()
	}
	close(start)
	wg.Wait()
	close(stopFeed)
	if err := <-feedDone; err != nil {
		t.Errorf("event feed: %v", err)
	}
	for _, err := range failures {
		t.Errorf("writer: %v", err)
	}

	rolledBack := (writers + 4) / 5
	wantN := writers - rolledBack
	if len(committed) != wantN {
		t.Fatalf("%d writers committed, want %d", len(committed), wantN)
	}
	seen := map[int64]bool{}
	for _, n := range committed {
		if n < 1 || n > int64(wantN) || seen[n] {
			t.Errorf("committed version numbers %v are not exactly 1..%d", committed, wantN)
			break
		}
		seen[n] = true
	}
	m, err := replicas[0].GetModel(ctx, "churn")
	if err != nil {
		t.Fatal(err)
	}
	if m.LatestVersion != int64(wantN) {
		t.Errorf("LatestVersion = %d, want %d", m.LatestVersion, wantN)
	}
	page, err := replicas[1].ListVersions(ctx, cairn.VersionQuery{Model: "churn", Page: cairn.Page{Size: 1000}})
	if err != nil {
		t.Fatal(err)
	}
	var numbers []int64
	for _, v := range page.Items {
		numbers = append(numbers, v.Number)
	}
	var wantNumbers []int64
	for n := int64(wantN); n >= 1; n-- {
		wantNumbers = append(wantNumbers, n)
	}
	if diff := cmp.Diff(wantNumbers, numbers); diff != "" {
		t.Errorf("stored versions (-want +got):\n%s", diff)
	}

	entries, err := replicas[0].ListAudit(ctx, cairn.AuditQuery{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != wantN {
		t.Fatalf("%d audit entries, want %d", len(entries), wantN)
	}
	prev := ""
	for i, e := range entries {
		if e.Seq != int64(i+1) {
			t.Fatalf("audit entry %d has seq %d: the sequence has a gap", i, e.Seq)
		}
		if e.PrevHash != prev || e.Hash != e.ComputeHash(prev) {
			t.Fatalf("audit entry %d does not verify: the chain is broken or forked", e.Seq)
		}
		prev = e.Hash
	}
	events, err := replicas[1].ListEvents(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != wantN {
		t.Fatalf("%d events, want %d", len(events), wantN)
	}
	for i, ev := range events {
		if ev.Seq != int64(i+1) {
			t.Fatalf("event %d has seq %d: the sequence has a gap", i, ev.Seq)
		}
	}
}

// followFeed reads the event feed by cursor, as a webhook dispatcher does,
// until stop is closed and the feed is drained. It fails if it ever sees a
// sequence number other than the next one: a later event committed before
// an earlier one would make a cursor reader skip it forever.
func followFeed(ctx context.Context, db *DB, stop <-chan struct{}) error {
	var cursor int64
	for {
		stopped := false
		select {
		case <-stop:
			stopped = true
		default:
		}
		evs, err := db.ListEvents(ctx, cursor, 100)
		if err != nil {
			return err
		}
		for _, ev := range evs {
			if ev.Seq != cursor+1 {
				return fmt.Errorf("after seq %d the feed showed seq %d", cursor, ev.Seq)
			}
			cursor = ev.Seq
		}
		if stopped && len(evs) == 0 {
			return nil
		}
	}
}

// A rolled-back transaction gives back its version number and its audit
// and event sequence numbers.
func TestRollbackReturnsNumbers(t *testing.T) {
	db := open(t, testenv.PostgresURL(t), Options{})
	ctx := testContext(t)
	createModel(t, db, "churn")

	type got struct{ Version, Audit, Event int64 }
	attempt := func(commit bool) got {
		t.Helper()
		var g got
		errRollback := errors.New("roll back")
		err := db.Update(ctx, func(tx cairn.Tx) error {
			var err error
			if g.Version, err = tx.AllocateVersion(ctx, "churn"); err != nil {
				return err
			}
			if err := tx.CreateVersion(ctx, newVersion("churn", g.Version)); err != nil {
				return err
			}
			e := &cairn.AuditEntry{Time: t0, Actor: "alice", Action: cairn.EventVersionCreated, Target: "churn"}
			if err := tx.AppendAudit(ctx, e); err != nil {
				return err
			}
			ev := &cairn.Event{ID: fmt.Sprintf("ev-%d-%v", g.Version, commit), Type: cairn.EventVersionCreated, Time: t0, Actor: "alice", Payload: json.RawMessage(`{}`)}
			if err := tx.AppendEvent(ctx, ev); err != nil {
				return err
			}
			g.Audit, g.Event = e.Seq, ev.Seq
			if !commit {
				return errRollback
			}
			return nil
		})
		if commit && err != nil || !commit && !errors.Is(err, errRollback) {
			t.Fatalf("Update(commit=%v): %v", commit, err)
		}
		return g
	}

	if diff := cmp.Diff(got{1, 1, 1}, attempt(true)); diff != "" {
		t.Errorf("first commit (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(got{2, 2, 2}, attempt(false)); diff != "" {
		t.Errorf("rolled-back attempt (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(got{2, 2, 2}, attempt(true)); diff != "" {
		t.Errorf("commit after a rollback (-want +got):\n%s", diff)
	}
	if _, err := db.GetVersion(ctx, "churn", 3); !cairn.IsCode(err, cairn.ENOTFOUND) {
		t.Errorf("GetVersion(churn, 3): got %v, want not_found", err)
	}
}

// Expected failures are detected without an SQL error, so the transaction
// goes on and commits, as it would on SQLite.
func TestExpectedErrorsKeepTheTransaction(t *testing.T) {
	db := open(t, testenv.PostgresURL(t), Options{})
	ctx := testContext(t)
	createModel(t, db, "taken")
	createModel(t, db, "other")

	err := db.Update(ctx, func(tx cairn.Tx) error {
		checks := []struct {
			name string
			err  error
			want cairn.ErrorCode
		}{
			{"CreateModel taken", tx.CreateModel(ctx, &cairn.Model{Name: "taken", Kind: cairn.KindModel, CreatedBy: "a", CreatedAt: t0, UpdatedAt: t0}), cairn.ECONFLICT},
			{"RenameModel onto taken", tx.RenameModel(ctx, "other", "taken", t0), cairn.ECONFLICT},
			{"CreateVersion of missing model", tx.CreateVersion(ctx, newVersion("missing", 1)), cairn.ENOTFOUND},
			{"MoveAlias to missing version", tx.MoveAlias(ctx, &cairn.AliasMove{Model: "taken", Alias: "champion", To: 7, Actor: "a", At: t0}), cairn.ENOTFOUND},
			{"MoveAlias delete missing alias", tx.MoveAlias(ctx, &cairn.AliasMove{Model: "taken", Alias: "champion", From: 1, Actor: "a", At: t0}), cairn.ENOTFOUND},
			{"PutPart of missing upload", tx.PutPart(ctx, "nope", cairn.Part{Number: 1, Size: 1, Digest: cairn.EmptyDigest}), cairn.ENOTFOUND},
			{"AddEdges to missing run", tx.AddEdges(ctx, []cairn.Edge{{From: cairn.RunNode("nope"), To: cairn.VersionNode("taken", 1), Type: cairn.EdgeProduced}}), cairn.ENOTFOUND},
			{"LogRun of missing run", tx.LogRun(ctx, "nope", nil, map[string]string{"a": "b"}), cairn.ENOTFOUND},
		}
		for _, c := range checks {
			if !cairn.IsCode(c.err, c.want) {
				t.Errorf("%s: got %v, want %s", c.name, c.err, c.want)
			}
		}
		n, err := tx.AllocateVersion(ctx, "taken")
		if err != nil {
			return err
		}
		v := newVersion("taken", n)
		if err := tx.CreateVersion(ctx, v); err != nil {
			return err
		}
		if err := tx.CreateVersion(ctx, v); !cairn.IsCode(err, cairn.ECONFLICT) {
			t.Errorf("CreateVersion twice: got %v, want conflict", err)
		}
		ev := &cairn.Event{ID: "dup", Type: cairn.EventModelCreated, Time: t0, Actor: "a", Payload: json.RawMessage(`{}`)}
		if err := tx.AppendEvent(ctx, ev); err != nil {
			return err
		}
		if err := tx.AppendEvent(ctx, &cairn.Event{ID: "dup", Type: cairn.EventModelCreated, Time: t0, Actor: "a", Payload: json.RawMessage(`{}`)}); !cairn.IsCode(err, cairn.ECONFLICT) {
			t.Errorf("AppendEvent with a taken id: got %v, want conflict", err)
		}
		// The number the duplicate took was given back.
		ev2 := &cairn.Event{ID: "next", Type: cairn.EventModelCreated, Time: t0, Actor: "a", Payload: json.RawMessage(`{}`)}
		if err := tx.AppendEvent(ctx, ev2); err != nil {
			return err
		}
		if ev2.Seq != ev.Seq+1 {
			t.Errorf("after a duplicate event, seq %d follows seq %d", ev2.Seq, ev.Seq)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Update: %v (the transaction should have survived the expected errors)", err)
	}
	if _, err := db.GetVersion(ctx, "taken", 1); err != nil {
		t.Errorf("the version created after the expected errors was not committed: %v", err)
	}
}

// A writer that locked a model holds back another replica's writer to the
// same model until it commits.
func TestLockModelBlocksOtherReplicas(t *testing.T) {
	url := testenv.PostgresURL(t)
	ctx := testContext(t)
	a, b := open(t, url, Options{}), open(t, url, Options{})
	createModel(t, a, "churn")

	locked, release := make(chan struct{}), make(chan struct{})
	aDone := make(chan error, 1)
	go func() {
		aDone <- a.Update(ctx, func(tx cairn.Tx) error {
			if _, err := tx.LockModel(ctx, "churn"); err != nil {
				return err
			}
			close(locked)
			<-release
			m, err := tx.LockModel(ctx, "churn")
			if err != nil {
				return err
			}
			m.Description = "by a"
			m.UpdatedAt = t0
			return tx.UpdateModel(ctx, m)
		})
	}()
	<-locked

	// b's lock attempt must wait for a: give it a short deadline and expect
	// it to run out while a holds the lock.
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	err := b.Update(short, func(tx cairn.Tx) error {
		_, err := tx.LockModel(short, "churn")
		return err
	})
	cancel()
	if err == nil {
		t.Fatal("LockModel on replica b succeeded while replica a held the lock")
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || pe.Code != "57014" { // query_canceled
			t.Fatalf("LockModel on replica b: got %v, want it to wait until its deadline", err)
		}
	}

	close(release)
	if err := <-aDone; err != nil {
		t.Fatalf("replica a: %v", err)
	}
	err = b.Update(ctx, func(tx cairn.Tx) error {
		m, err := tx.LockModel(ctx, "churn")
		if err != nil {
			return err
		}
		if m.Description != "by a" {
			t.Errorf("after a committed, b reads description %q, want %q", m.Description, "by a")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestTranslate(t *testing.T) {
	for _, c := range []struct {
		code string
		want cairn.ErrorCode
	}{
		{"23505", cairn.ECONFLICT},
		{"23503", cairn.ENOTFOUND},
		{"23514", cairn.EINVALID},
		{"23502", cairn.EINVALID},
		{"22P02", cairn.EINVALID},
		{"22021", cairn.EINVALID},
		{"40P01", cairn.EINTERNAL},
		{"40001", cairn.EINTERNAL},
		{"XX000", cairn.EINTERNAL},
	} {
		pe := &pgconn.PgError{Code: c.code, Message: "boom"}
		err := translate(fmt.Errorf("wrapped: %w", pe), "doing %s", "it")
		if got := cairn.ErrorCodeOf(err); got != c.want {
			t.Errorf("SQLSTATE %s: code %s, want %s", c.code, got, c.want)
		}
		var back *pgconn.PgError
		if !errors.As(err, &back) || back != pe {
			t.Errorf("SQLSTATE %s: the driver error is not reachable with errors.As", c.code)
		}
	}
	if err := translate(nil, "x"); err != nil {
		t.Errorf("translate(nil) = %v", err)
	}
	orig := cairn.Errorf(cairn.EPERMISSION, "no")
	if err := translate(orig, "x"); err != error(orig) {
		t.Errorf("translate changed a *cairn.Error: %v", err)
	}
	if err := translate(context.Canceled, "x"); !errors.Is(err, context.Canceled) {
		t.Errorf("translate hid context.Canceled: %v", err)
	}
}

// schemaShape is what the two dialects' migrations must agree on: tables
// with their columns in order, and index names.
type schemaShape struct {
	Tables  map[string][]string
	Indexes []string
}

var (
	createTableRE = regexp.MustCompile(`(?ims)^CREATE TABLE (\w+) \((.*?)^\)`) // the body ends at the first line starting with ")"
	createIndexRE = regexp.MustCompile(`(?i)CREATE (?:UNIQUE )?INDEX (\w+) ON`)
	constraintRE  = regexp.MustCompile(`(?i)^(PRIMARY KEY|UNIQUE|FOREIGN KEY|CHECK|CONSTRAINT)\b`)
	columnRE      = regexp.MustCompile(`^(\w+)\s+\w+`)
	addColumnRE   = regexp.MustCompile(`(?im)^ALTER TABLE (\w+) ADD COLUMN (\w+) `)
)

func parseSchema(t *testing.T, sql string) schemaShape {
	t.Helper()
	var lines []string
	for _, l := range strings.Split(sql, "\n") {
		if i := strings.Index(l, "--"); i >= 0 {
			l = l[:i]
		}
		lines = append(lines, l)
	}
	sql = strings.Join(lines, "\n")
	s := schemaShape{Tables: map[string][]string{}}
	for _, m := range createTableRE.FindAllStringSubmatch(sql, -1) {
		var cols []string
		for _, l := range strings.Split(m[2], "\n") {
			l = strings.TrimSpace(l)
			if l == "" || constraintRE.MatchString(l) {
				continue
			}
			c := columnRE.FindStringSubmatch(l)
			if c == nil {
				continue // continuation of a multi-line constraint
			}
			cols = append(cols, c[1])
		}
		s.Tables[m[1]] = cols
	}
	// Columns added to an existing table count as that table's, in order.
	for _, m := range addColumnRE.FindAllStringSubmatch(sql, -1) {
		s.Tables[m[1]] = append(s.Tables[m[1]], m[2])
	}
	for _, m := range createIndexRE.FindAllStringSubmatch(sql, -1) {
		s.Indexes = append(s.Indexes, m[1])
	}
	sort.Strings(s.Indexes)
	return s
}

// pgOnlyIndexes are the indexes, per migration, that only PostgreSQL has,
// for its planner (see the comments in the migration).
var pgOnlyIndexes = map[string][]string{
	"0001_init.sql": {"versions_list"},
}

// sqliteOnlyTables are the tables, per migration, that only SQLite has:
// derived tables its triggers keep, which no export or filter reads, for
// queries PostgreSQL answers fast without them (see the comments in the
// migration).
var sqliteOnlyTables = map[string][]string{
	"0020_stage_latest.sql": {"stage_latest"},
}

// The PostgreSQL migrations have the same file names, tables, columns and
// indexes as the SQLite ones (plus pgOnlyIndexes, less sqliteOnlyTables),
// so that the stores, sqlfilter and exports see one schema.
func TestSchemaInStepWithSQLite(t *testing.T) {
	pgFiles, err := filepath.Glob("migrations/*.sql")
	if err != nil {
		t.Fatal(err)
	}
	liteFiles, err := filepath.Glob("../sqlite/migrations/*.sql")
	if err != nil {
		t.Fatal(err)
	}
	base := func(paths []string) []string {
		out := make([]string, len(paths))
		for i, p := range paths {
			out[i] = filepath.Base(p)
		}
		return out
	}
	if diff := cmp.Diff(base(liteFiles), base(pgFiles)); diff != "" {
		t.Fatalf("migration files (-sqlite +postgres):\n%s", diff)
	}
	for _, name := range base(pgFiles) {
		pg, err := os.ReadFile(filepath.Join("migrations", name))
		if err != nil {
			t.Fatal(err)
		}
		lite, err := os.ReadFile(filepath.Join("..", "sqlite", "migrations", name))
		if err != nil {
			t.Fatal(err)
		}
		want, got := parseSchema(t, string(lite)), parseSchema(t, string(pg))
		want.Indexes = append(want.Indexes, pgOnlyIndexes[name]...)
		sort.Strings(want.Indexes)
		for _, table := range sqliteOnlyTables[name] {
			if _, ok := want.Tables[table]; !ok {
				t.Errorf("%s: SQLite-only table %s is not in the SQLite migration", name, table)
			}
			delete(want.Tables, table)
		}
		if len(got.Tables) == 0 && len(got.Indexes) == 0 && len(sqliteOnlyTables[name]) == 0 {
			t.Fatalf("%s: parsed no tables, added columns or indexes; the parser no longer fits the file", name)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s: schema (-sqlite +postgres):\n%s", name, diff)
		}
	}
}

// TestAuditTamper edits the audit log in the database directly and checks
// that verification names the damage.
func TestAuditTamper(t *testing.T) {
	storetest.RunTamper(t, func(tb testing.TB) (cairn.Store, storetest.Exec) {
		db, err := Open(context.Background(), testenv.PostgresURL(tb), Options{MaxConns: 4})
		if err != nil {
			tb.Fatalf("Open: %v", err)
		}
		return db, func(t testing.TB, stmt string) {
			t.Helper()
			if _, err := db.pool.Exec(t.Context(), stmt); err != nil {
				t.Fatalf("%s: %v", stmt, err)
			}
		}
	})
}

// BenchmarkLineage: a 10,000-version graph 50 layers deep, walked 50 hops
// (see storetest.BenchLineage).
func BenchmarkLineage(b *testing.B) {
	db, err := Open(context.Background(), testenv.PostgresURL(b), Options{MaxConns: 4})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	storetest.BenchLineage(b, db)
}

// BenchmarkLineageDiamonds: the same walks over a graph of diamonds
// (see storetest.BenchLineageDiamonds).
func BenchmarkLineageDiamonds(b *testing.B) {
	db, err := Open(context.Background(), testenv.PostgresURL(b), Options{MaxConns: 4})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	storetest.BenchLineageDiamonds(b, db)
}
