package postgres

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/internal/testenv"
)

// insertVersion inserts the next version of model with one file of the
// given content, as a push's CreateVersion does.
func insertVersion(ctx context.Context, tx cairn.Tx, model, content string) error {
	if _, err := tx.LockModel(ctx, model); err != nil {
		return err
	}
	n, err := tx.AllocateVersion(ctx, model)
	if err != nil {
		return err
	}
	v := newVersion(model, n)
	v.Files = []cairn.File{{Path: "f", Size: int64(len(content)), Digest: cairn.DigestOf([]byte(content))}}
	v.Digest = cairn.ManifestDigest(v.Files)
	return tx.CreateVersion(ctx, v)
}

// waitForAdvisoryWaiter polls pg_locks until some session of this database
// waits for an advisory lock.
func waitForAdvisoryWaiter(t *testing.T, db *DB) {
	t.Helper()
	ctx := testContext(t)
	deadline := time.Now().Add(30 * time.Second)
	for {
		var n int
		if err := db.pool.QueryRow(ctx, `SELECT count(*) FROM pg_locks
			WHERE locktype = 'advisory' AND NOT granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("no session waits for the blob references lock after 30s: inserting a version does not take it")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// While a transaction holds LockBlobRefs, a version inserted by another
// replica waits for it (at the insert, in the trigger) and is not visible
// to it; it commits once the lock is released.
func TestLockBlobRefsHoldsOffVersionInserts(t *testing.T) {
	t.Parallel()
	url := testenv.PostgresURL(t)
	collector, replica := open(t, url, Options{}), open(t, url, Options{})
	ctx := testContext(t)
	createModel(t, collector, "m")
	d := cairn.DigestOf([]byte("old orphan"))

	locked := make(chan struct{})
	inserted := make(chan error, 1)
	go func() {
		<-locked
		inserted <- replica.Update(ctx, func(tx cairn.Tx) error { return insertVersion(ctx, tx, "m", "old orphan") })
	}()
	err := collector.Update(ctx, func(tx cairn.Tx) error {
		if err := tx.LockBlobRefs(ctx); err != nil {
			return err
		}
		close(locked)
		waitForAdvisoryWaiter(t, collector)
		got, err := tx.ReferencedAmong(ctx, []cairn.Digest{d})
		if err != nil {
			return err
		}
		if len(got) != 0 {
			t.Errorf("under LockBlobRefs, a version still waiting to insert counts as a reference: %v", got)
		}
		select {
		case err := <-inserted:
			t.Errorf("the insert finished (%v) while LockBlobRefs was held", err)
		default:
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := <-inserted; err != nil {
		t.Fatalf("insert after the lock was released: %v", err)
	}
	got, err := collector.ReferencedAmong(ctx, []cairn.Digest{d})
	if err != nil || len(got) != 1 {
		t.Errorf("after the insert committed: ReferencedAmong = %v, %v; want the digest", got, err)
	}
}

// Transactions inserting versions hold the lock in shared mode: they do
// not wait for each other.
func TestVersionInsertsShareTheBlobRefsLock(t *testing.T) {
	t.Parallel()
	url := testenv.PostgresURL(t)
	a, b := open(t, url, Options{}), open(t, url, Options{})
	ctx := testContext(t)
	createModel(t, a, "m1")
	createModel(t, a, "m2")
	bDone := make(chan error, 1)
	err := a.Update(ctx, func(tx cairn.Tx) error {
		if err := insertVersion(ctx, tx, "m1", "one"); err != nil {
			return err
		}
		// a holds the lock (shared) until it commits; b inserts meanwhile.
		go func() {
			bDone <- b.Update(ctx, func(tx cairn.Tx) error { return insertVersion(ctx, tx, "m2", "two") })
		}()
		return <-bDone
	})
	if err != nil {
		t.Fatalf("two concurrent version inserts: %v", err)
	}
}

// A database migrated before 0002_gc had versions: applying 0002 records
// their blob references (manifest digest and files) in blob_refs.
func TestMigration0002BackfillsBlobRefs(t *testing.T) {
	t.Parallel()
	url := testenv.PostgresURL(t)
	ctx := testContext(t)
	db, err := Open(ctx, url, Options{})
	if err != nil {
		t.Fatal(err)
	}
	createModel(t, db, "m")
	if err := db.Update(ctx, func(tx cairn.Tx) error {
		if err := insertVersion(ctx, tx, "m", "weights"); err != nil {
			return err
		}
		v, err := tx.GetVersion(ctx, "m", 1)
		if err != nil {
			return err
		}
		v.Status = cairn.StatusReady
		return tx.UpdateVersion(ctx, v)
	}); err != nil {
		t.Fatal(err)
	}
	v, err := db.GetVersion(ctx, "m", 1)
	if err != nil {
		t.Fatal(err)
	}
	// Take the database back to schema version 1, as an older Cairn left it
	// (the later migrations' tables go too, so that they apply again).
	if _, err := db.pool.Exec(ctx, `DROP TABLE webhook_dead_letters, webhook_deliveries, webhook_state, webhooks;
		DROP TRIGGER versions_blob_refs ON versions;
		DROP FUNCTION cairn_record_blob_refs(); DROP TABLE blob_refs; DROP TABLE leases;
		DROP TABLE role_bindings, tokens, users;
		DROP TRIGGER versions_blob_models ON versions; DROP FUNCTION cairn_record_blob_models(); DROP TABLE blob_models;
		DROP TABLE artifacts;
		DROP TABLE signals; ALTER TABLE versions DROP COLUMN evaluates, DROP COLUMN retrained_from, DROP COLUMN flag;
		DROP TABLE policy_versions, policies;
		DROP TABLE audit_checkpoints; DROP INDEX alias_history_at;
		DROP TABLE experiments; DELETE FROM counters WHERE name = 'experiment'; DROP INDEX runs_search;
		ALTER TABLE runs DROP COLUMN user_id, DROP COLUMN inputs, DROP COLUMN outputs;
		DROP TABLE approval_requests; ALTER TABLE versions DROP COLUMN approval_status; DROP INDEX versions_stage;
		DROP TABLE logged_models;
		ALTER TABLE alias_history DROP COLUMN origin;
		DROP INDEX versions_fixed_json_missing; ALTER TABLE versions DROP COLUMN fixed_json;
		DROP INDEX versions_dataset_digest;
		DROP INDEX aliases_version; CREATE INDEX aliases_version ON aliases (model_id, version);
		DROP INDEX versions_updated, versions_created;
		DELETE FROM schema_migrations WHERE version >= 2`); err != nil {
		t.Fatal(err)
	}
	db.Close()

	db = open(t, url, Options{})
	got, err := db.ReferencedAmong(ctx, []cairn.Digest{v.Digest, v.Files[0].Digest, cairn.DigestOf([]byte("unrelated"))})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Errorf("after migrating an existing database: ReferencedAmong = %v, want the manifest and file digests", got)
	}
	// 0016: the store's backfill gave the version made ready before it its
	// fixed_json, and it renders from it as it did decoded.
	rv, err := db.GetVersion(cairn.NewContextWithFixedJSON(ctx), "m", 1)
	if err != nil {
		t.Fatal(err)
	}
	wantJSON, _ := json.Marshal(v)
	gotJSON, err := cairn.AppendVersionJSON(nil, rv)
	if rv.FixedJSON == nil || err != nil || string(gotJSON) != string(wantJSON) {
		t.Errorf("after the backfill: FixedJSON %q, rendered %s, %v; want\n%s", rv.FixedJSON, gotJSON, err, wantJSON)
	}
	// And the trigger is back: a new version's file counts at once.
	if err := db.Update(ctx, func(tx cairn.Tx) error { return insertVersion(ctx, tx, "m", "new weights") }); err != nil {
		t.Fatal(err)
	}
	if got, err := db.ReferencedAmong(ctx, []cairn.Digest{cairn.DigestOf([]byte("new weights"))}); err != nil || len(got) != 1 {
		t.Errorf("a version inserted after the migration: ReferencedAmong = %v, %v", got, err)
	}
}
