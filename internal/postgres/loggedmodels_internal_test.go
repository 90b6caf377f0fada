package postgres

import (
	"testing"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/internal/testenv"
)

// A logged model written before migration 0022 has no dataset_metrics:
// the backfill on Open derives them from its metric points, so that a
// search by dataset finds it.
func TestMigration0022BackfillsDatasetMetrics(t *testing.T) {
	t.Parallel()
	url := testenv.PostgresURL(t)
	ctx := testContext(t)
	db, err := Open(ctx, url, Options{})
	if err != nil {
		t.Fatal(err)
	}
	m := &cairn.LoggedModel{ID: "m-00000000000000000000000000000001", ExperimentID: cairn.DefaultExperimentID, Name: "model",
		Status: cairn.LoggedModelReady, ArtifactLocation: "mlflow-artifacts:/0/models/m-1/artifacts",
		Metrics:   []cairn.LoggedModelMetric{{Key: "acc", Value: 0.9, Timestamp: t0, DatasetName: "eval", DatasetDigest: "d1"}},
		CreatedAt: t0, UpdatedAt: t0}
	if err := db.Update(ctx, func(tx cairn.Tx) error { return tx.CreateLoggedModel(ctx, m) }); err != nil {
		t.Fatal(err)
	}
	f, err := cairn.ParseFilter("metrics.acc > 0.5")
	if err != nil {
		t.Fatal(err)
	}
	q := cairn.LoggedModelSearch{ExperimentIDs: []string{cairn.DefaultExperimentID}, Filter: f,
		Datasets: []cairn.LoggedModelDataset{{Name: "eval"}}}
	found := func(db *DB) int {
		t.Helper()
		page, err := db.SearchLoggedModels(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		return len(page.Items)
	}
	if n := found(db); n != 1 {
		t.Fatalf("before the downgrade: %d models found, want 1", n)
	}
	// As an older Cairn left it: the column is there (the migration ran)
	// but was never written.
	if _, err := db.pool.Exec(ctx, `UPDATE logged_models SET dataset_metrics = NULL`); err != nil {
		t.Fatal(err)
	}
	if n := found(db); n != 0 {
		t.Fatalf("without dataset_metrics: %d models found, want 0 (the test would prove nothing)", n)
	}
	db.Close()

	db = open(t, url, Options{})
	if n := found(db); n != 1 {
		t.Errorf("after the backfill: %d models found, want 1", n)
	}
	var missing int
	if err := db.pool.QueryRow(ctx, `SELECT count(*) FROM logged_models WHERE dataset_metrics IS NULL`).Scan(&missing); err != nil || missing != 0 {
		t.Errorf("after the backfill: %d models without dataset_metrics, %v", missing, err)
	}
}
