package sqlite

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/internal/storetest"
)

// A database migrated before 0002_gc had versions: applying 0002 records
// their blob references (manifest digest and files) in blob_refs.
func TestMigration0002BackfillsBlobRefs(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "cairn.db")
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(ctx, func(tx cairn.Tx) error {
		if err := tx.CreateModel(ctx, &cairn.Model{Name: "churn", Kind: cairn.KindModel, CreatedBy: "alice"}); err != nil {
			return err
		}
		_, err := storetest.Register(ctx, tx, "churn", "alice")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	v, err := db.GetVersion(ctx, "churn", 1)
	if err != nil {
		t.Fatal(err)
	}
	// Take the database back to schema version 1, as an older Cairn left it
	// (the later migrations' tables go too, so that they apply again).
	for _, stmt := range []string{
		`DROP TABLE webhook_dead_letters`, `DROP TABLE webhook_deliveries`, `DROP TABLE webhook_state`, `DROP TABLE webhooks`,
		`DROP TRIGGER versions_blob_refs`, `DROP TABLE blob_refs`, `DROP TABLE leases`,
		`DROP TABLE role_bindings`, `DROP TABLE tokens`, `DROP TABLE users`,
		`DROP TRIGGER versions_blob_models`, `DROP TABLE blob_models`, `DROP TABLE artifacts`,
		`DROP TABLE signals`, `ALTER TABLE versions DROP COLUMN evaluates`,
		`ALTER TABLE versions DROP COLUMN retrained_from`, `ALTER TABLE versions DROP COLUMN flag`,
		`DROP TABLE policy_versions`, `DROP TABLE policies`,
		`DROP TABLE audit_checkpoints`, `DROP INDEX alias_history_at`,
		`DROP TABLE experiments`, `DELETE FROM counters WHERE name = 'experiment'`, `DROP INDEX runs_search`,
		`ALTER TABLE runs DROP COLUMN user_id`, `ALTER TABLE runs DROP COLUMN inputs`, `ALTER TABLE runs DROP COLUMN outputs`,
		`DROP TABLE approval_requests`, `ALTER TABLE versions DROP COLUMN approval_status`, `DROP INDEX versions_stage`,
		`DROP TABLE logged_models`,
		`ALTER TABLE alias_history DROP COLUMN origin`,
		`DROP INDEX versions_fixed_json_missing`, `ALTER TABLE versions DROP COLUMN fixed_json`,
		`DROP INDEX versions_dataset_digest`,
		`DROP TRIGGER stage_latest_insert`, `DROP TRIGGER stage_latest_update`, `DROP TRIGGER stage_latest_delete`,
		`DROP TABLE stage_latest`,
		`DROP INDEX aliases_version`, `CREATE INDEX aliases_version ON aliases (model_id, version)`,
		`DROP INDEX versions_updated`, `DROP INDEX versions_created`,
		`DELETE FROM schema_migrations WHERE version >= 2`,
	} {
		if _, err := db.write.ExecContext(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	db.Close()

	db, err = Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	want := []cairn.Digest{v.Digest}
	for _, f := range v.Files {
		want = append(want, f.Digest)
	}
	got, err := db.ReferencedAmong(ctx, append(want, cairn.DigestOf([]byte("unrelated"))))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Errorf("after migrating an existing database: ReferencedAmong = %v, want %v", got, want)
	}
	// 0020 filled stage_latest from the versions there were.
	latest, err := db.LatestPerStage(ctx, []string{"churn"})
	if err != nil || len(latest) != 1 || latest[0].Number != 1 {
		t.Errorf("after migrating an existing database: LatestPerStage = %v, %v; want churn@v1", latest, err)
	}
	// 0016: the store's backfill gave the version made ready before it its
	// fixed_json, and it renders from it as it did decoded.
	rv, err := db.GetVersion(cairn.NewContextWithFixedJSON(ctx), "churn", 1)
	if err != nil {
		t.Fatal(err)
	}
	wantJSON, _ := json.Marshal(v)
	gotJSON, err := cairn.AppendVersionJSON(nil, rv)
	if rv.FixedJSON == nil || err != nil || string(gotJSON) != string(wantJSON) {
		t.Errorf("after the backfill: FixedJSON %q, rendered %s, %v; want\n%s", rv.FixedJSON, gotJSON, err, wantJSON)
	}
}

// Deleting a version row (no store method does; an operator might) takes
// it out of stage_latest, and the next newest of its stage takes its
// place: migration 0020's delete trigger.
func TestStageLatestFollowsRowDeletes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, _ := openTest(t)
	if err := db.Update(ctx, func(tx cairn.Tx) error {
		if err := tx.CreateModel(ctx, &cairn.Model{Name: "churn", Kind: cairn.KindModel, CreatedBy: "alice"}); err != nil {
			return err
		}
		for range 3 {
			if _, err := storetest.Register(ctx, tx, "churn", "alice"); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []int64{2, 1, 0} {
		if _, err := db.write.ExecContext(ctx, `DELETE FROM versions
			WHERE model_id = (SELECT id FROM models WHERE name = 'churn') AND number = ?`, want+1); err != nil {
			t.Fatal(err)
		}
		latest, err := db.LatestPerStage(ctx, []string{"churn"})
		if err != nil {
			t.Fatal(err)
		}
		var got int64
		if len(latest) > 0 {
			got = latest[len(latest)-1].Number
		}
		if len(latest) > 1 || got != want {
			t.Errorf("after deleting v%d: LatestPerStage = %v; want v%d (0: none)", want+1, latest, want)
		}
	}
}
