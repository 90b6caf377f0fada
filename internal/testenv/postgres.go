package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// PostgresURL returns the URL of a fresh, empty PostgreSQL database that
// exists for the duration of tb: it is created on the cluster named by
// CAIRN_TEST_POSTGRES_URL (a superuser URL, as scripts/test.sh exports) and
// dropped, connections and all, in tb.Cleanup. Each call gets its own
// database, so tests may run in parallel. Without CAIRN_TEST_POSTGRES_URL
// the test is skipped, or fails where services are required (see Missing).
func PostgresURL(tb testing.TB) string {
	tb.Helper()
	admin := os.Getenv("CAIRN_TEST_POSTGRES_URL")
	if admin == "" {
		Missing(tb, "PostgreSQL",
			"set CAIRN_TEST_POSTGRES_URL to a superuser URL of a throwaway cluster, e.g. postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable")
		return ""
	}
	u, err := url.Parse(admin)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		tb.Fatalf("testenv: CAIRN_TEST_POSTGRES_URL must be a postgres:// URL")
	}

	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		tb.Fatalf("testenv: %v", err)
	}
	name := "cairn_test_" + hex.EncodeToString(b[:])
	ident := pgx.Identifier{name}.Sanitize()

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := adminExec(ctx, admin, "CREATE DATABASE "+ident); err != nil {
		tb.Fatalf("testenv: create database %s on CAIRN_TEST_POSTGRES_URL: %v", name, err)
	}
	tb.Cleanup(func() {
		// tb's context is done by now: use a fresh one.
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		// FORCE ends connections a test leaked, so a leak cannot keep the
		// database, but it does not hide it: the pool that leaked is the
		// test's business.
		if err := adminExec(ctx, admin, "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)"); err != nil {
			tb.Errorf("testenv: drop database %s: %v", name, err)
		}
	})

	db := *u
	db.Path = "/" + name
	db.RawPath = ""
	return db.String()
}

// adminExec runs one statement on its own connection to the admin URL.
// CREATE and DROP DATABASE cannot run inside a transaction, and a pool
// would outlive the call for nothing.
func adminExec(ctx context.Context, admin, sql string) error {
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	_, err = conn.Exec(ctx, sql)
	return err
}
