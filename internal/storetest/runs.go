package storetest

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cairn-registry/cairn"
)

var runTests = []test{
	{"CreateGet", testRunCreateGet},
	{"UpdateWritesOnlyMutable", testRunUpdate},
	{"List", testRunList},
	{"LogMetricsAndParams", testRunLog},
	{"Errors", testRunErrors},
}

func fullRun(id string) *cairn.Run {
	return &cairn.Run{
		ID:           id,
		ExperimentID: "7",
		Name:         "train " + id,
		Status:       cairn.RunFinished,
		StartTime:    at(1),
		EndTime:      ptr(at(2)),
		Params:       map[string]string{"lr": "0.1"},
		Metrics:      map[string]float64{"auc": 0.75},
		Tags:         map[string]string{"mlflow.user": "alice"},
		ArtifactURI:  "s3://bucket/runs/" + id,
		UserID:       "alice@laptop",
		Inputs: []cairn.DatasetInput{{Name: "train", Digest: "d1", SourceType: "local", Source: `{"uri": "/data"}`,
			Schema: `{"mlflow_colspec": []}`, Profile: `{"num_rows": 3}`, Tags: map[string]string{"mlflow.data.context": "training"}}},
		ModelInputs: []string{"m-0123"},
		Outputs:     []cairn.ModelOutput{{ModelID: "m-4567", Step: 3}},
		CreatedBy:   "alice",
		CreatedAt:   at(1),
		UpdatedAt:   at(3),
		DeletedAt:   ptr(at(4)),
	}
}

// newRun returns a running run with nothing optional set.
func newRun(id, experiment string, created int) *cairn.Run {
	return &cairn.Run{ID: id, ExperimentID: experiment, Status: cairn.RunRunning, StartTime: at(created),
		Inputs: []cairn.DatasetInput{}, ModelInputs: []string{}, Outputs: []cairn.ModelOutput{},
		CreatedBy: "alice", CreatedAt: at(created), UpdatedAt: at(created)}
}

func createRun(t testing.TB, s cairn.Store, r *cairn.Run) {
	t.Helper()
	update(t, s, func(tx cairn.Tx) error { return tx.CreateRun(t.Context(), r) })
}

func testRunCreateGet(t *testing.T, s cairn.Store) {
	ctx := t.Context()
	r := fullRun("r1")
	requireAllFieldsSet(t, r)
	createRun(t, s, r)
	got, err := s.GetRun(ctx, "r1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(r, got); diff != "" {
		t.Errorf("GetRun (-want +got):\n%s", diff)
	}

	bare := newRun("r2", cairn.DefaultExperimentID, 5)
	createRun(t, s, bare)
	got, err = s.GetRun(ctx, "r2")
	if err != nil {
		t.Fatal(err)
	}
	want := *bare
	want.Params, want.Metrics, want.Tags = map[string]string{}, map[string]float64{}, map[string]string{}
	if diff := cmp.Diff(&want, got); diff != "" {
		t.Errorf("GetRun of a bare run (-want +got):\n%s", diff)
	}
	update(t, s, func(tx cairn.Tx) error {
		got, err := tx.GetRun(ctx, "r2")
		if err != nil {
			return err
		}
		if diff := cmp.Diff(&want, got); diff != "" {
			return fmt.Errorf("tx.GetRun (-want +got):\n%s", diff)
		}
		return nil
	})
}

// UpdateRun writes name, status, end_time, tags, deleted_at and
// updated_at, and nothing else.
func testRunUpdate(t *testing.T, s cairn.Store) {
	ctx := t.Context()
	orig := fullRun("r1")
	orig.DeletedAt = nil
	createRun(t, s, orig)
	changed := &cairn.Run{
		ID:           "r1",
		ExperimentID: "8",
		Name:         "renamed",
		Status:       cairn.RunFailed,
		StartTime:    at(50),
		EndTime:      ptr(at(51)),
		Params:       map[string]string{"lr": "9"},
		Metrics:      map[string]float64{"auc": 0.1},
		Tags:         map[string]string{"note": "retry"},
		ArtifactURI:  "file:///tmp",
		UserID:       "mallory",
		Inputs:       []cairn.DatasetInput{{Name: "eval", Digest: "d2", SourceType: "s3", Source: "s3://b/eval"}},
		ModelInputs:  []string{},
		Outputs:      []cairn.ModelOutput{{ModelID: "m-1", Step: 0}, {ModelID: "m-2", Step: 1}},
		CreatedBy:    "mallory",
		CreatedAt:    at(52),
		UpdatedAt:    at(53),
		DeletedAt:    ptr(at(54)),
	}
	want := wantAfterUpdate(t, orig, changed,
		[]string{"Name", "Status", "EndTime", "Tags", "Inputs", "ModelInputs", "Outputs", "DeletedAt", "UpdatedAt"},
		[]string{"ID"})
	update(t, s, func(tx cairn.Tx) error { return tx.UpdateRun(ctx, changed) })
	got, err := s.GetRun(ctx, "r1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("after UpdateRun (-want +got):\n%s", diff)
	}
	changed.EndTime = nil
	update(t, s, func(tx cairn.Tx) error { return tx.UpdateRun(ctx, changed) })
	if got, err := s.GetRun(ctx, "r1"); err != nil || got.EndTime != nil {
		t.Errorf("after clearing EndTime: %+v, %v", got, err)
	}
}

func runIDs(rs []*cairn.Run) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.ID
	}
	return out
}

// Runs list newest first (creation time, then id), per experiment or all,
// without deleted runs, over pages.
func testRunList(t *testing.T, s cairn.Store) {
	ctx := t.Context()
	createRun(t, s, newRun("a", "1", 10))
	createRun(t, s, newRun("b", "1", 30))
	createRun(t, s, newRun("c", "2", 20))
	createRun(t, s, newRun("d", "1", 30)) // same time as b: id breaks the tie
	createRun(t, s, newRun("e", "1", 40))
	gone := newRun("f", "1", 50)
	gone.DeletedAt = ptr(at(51))
	createRun(t, s, gone)

	for _, tc := range []struct {
		experiment string
		size       int
		want       []string
	}{
		{"", 0, []string{"e", "b", "d", "c", "a"}},
		{"", 2, []string{"e", "b", "d", "c", "a"}},
		{"1", 0, []string{"e", "b", "d", "a"}},
		{"1", 1, []string{"e", "b", "d", "a"}},
		{"2", 0, []string{"c"}},
		{"3", 0, []string{}},
	} {
		var got []string
		token := ""
		for pages := 0; ; pages++ {
			if pages > 10 {
				t.Fatal("ListRuns never ends")
			}
			p, err := s.ListRuns(ctx, cairn.RunQuery{ExperimentID: tc.experiment, Page: cairn.Page{Size: tc.size, Token: token}})
			if err != nil {
				t.Fatal(err)
			}
			if tc.size > 0 && len(p.Items) > tc.size {
				t.Fatalf("page of %d, asked for %d", len(p.Items), tc.size)
			}
			got = append(got, runIDs(p.Items)...)
			if p.NextToken == "" {
				break
			}
			token = p.NextToken
		}
		if got == nil {
			got = []string{}
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("experiment %q, size %d (-want +got):\n%s", tc.experiment, tc.size, diff)
		}
	}
	_, err := s.ListRuns(ctx, cairn.RunQuery{Page: cairn.Page{Token: "¿"}})
	wantCode(t, err, cairn.EINVALID)
}

// LogRun appends metric history and keeps each metric's latest value (the
// highest step, then the latest timestamp); params are write-once.
func testRunLog(t *testing.T, s cairn.Store) {
	ctx := t.Context()
	createRun(t, s, newRun("r1", "0", 0))
	pt := func(key string, v float64, ts int, step int64) cairn.MetricPoint {
		return cairn.MetricPoint{Key: key, Value: v, Timestamp: at(ts), Step: step}
	}
	update(t, s, func(tx cairn.Tx) error {
		return tx.LogRun(ctx, "r1", []cairn.MetricPoint{pt("loss", 0.9, 1, 0), pt("loss", 0.5, 2, 1)},
			map[string]string{"lr": "0.1"})
	})
	update(t, s, func(tx cairn.Tx) error {
		// Logged late but for an earlier step: history, not the latest value.
		return tx.LogRun(ctx, "r1", []cairn.MetricPoint{pt("loss", 0.7, 3, 0), pt("acc", 0.8, 3, 5)},
			map[string]string{"lr": "0.1", "epochs": "3"}) // the same lr again is fine
	})
	got, err := s.GetRun(ctx, "r1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]float64{"loss": 0.5, "acc": 0.8}, got.Metrics); diff != "" {
		t.Errorf("latest metrics (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]string{"lr": "0.1", "epochs": "3"}, got.Params); diff != "" {
		t.Errorf("params (-want +got):\n%s", diff)
	}
	hist, err := s.MetricHistory(ctx, "r1", "loss")
	if err != nil {
		t.Fatal(err)
	}
	wantHist := []cairn.MetricPoint{pt("loss", 0.9, 1, 0), pt("loss", 0.7, 3, 0), pt("loss", 0.5, 2, 1)}
	if diff := cmp.Diff(wantHist, hist); diff != "" {
		t.Errorf("MetricHistory(loss), by step then time (-want +got):\n%s", diff)
	}
	hist, err = s.MetricHistory(ctx, "r1", "never-logged")
	if err != nil {
		t.Fatal(err)
	}
	if hist == nil || len(hist) != 0 {
		t.Errorf("MetricHistory of an unlogged metric = %#v, want an empty slice", hist)
	}

	// A later step takes over as latest.
	update(t, s, func(tx cairn.Tx) error {
		return tx.LogRun(ctx, "r1", []cairn.MetricPoint{pt("loss", 0.3, 0, 2)}, nil)
	})
	if got, err := s.GetRun(ctx, "r1"); err != nil || got.Metrics["loss"] != 0.3 {
		t.Errorf("latest loss after step 2 = %v (%v), want 0.3", got.Metrics["loss"], err)
	}

	// Changing a param is a conflict, and the whole LogRun is rolled back.
	err = s.Update(ctx, func(tx cairn.Tx) error {
		return tx.LogRun(ctx, "r1", []cairn.MetricPoint{pt("loss", 0.0, 9, 9)}, map[string]string{"lr": "0.2"})
	})
	wantCode(t, err, cairn.ECONFLICT)
	got, err = s.GetRun(ctx, "r1")
	if err != nil {
		t.Fatal(err)
	}
	if got.Params["lr"] != "0.1" || got.Metrics["loss"] != 0.3 {
		t.Errorf("after a conflicting LogRun: params %v, metrics %v", got.Params, got.Metrics)
	}
	if hist, _ := s.MetricHistory(ctx, "r1", "loss"); len(hist) != 4 {
		t.Errorf("after a conflicting LogRun, loss history has %d points, want 4", len(hist))
	}
}

func testRunErrors(t *testing.T, s cairn.Store) {
	ctx := t.Context()
	createRun(t, s, newRun("r1", "0", 0))
	wantCode(t, s.Update(ctx, func(tx cairn.Tx) error { return tx.CreateRun(ctx, newRun("r1", "0", 1)) }), cairn.ECONFLICT)
	_, err := s.GetRun(ctx, "nope")
	wantCode(t, err, cairn.ENOTFOUND)
	_, err = s.MetricHistory(ctx, "nope", "loss")
	wantCode(t, err, cairn.ENOTFOUND)
	wantCode(t, s.Update(ctx, func(tx cairn.Tx) error { return tx.UpdateRun(ctx, newRun("nope", "0", 1)) }), cairn.ENOTFOUND)
	err = s.Update(ctx, func(tx cairn.Tx) error {
		return tx.LogRun(ctx, "nope", []cairn.MetricPoint{{Key: "x", Value: 1, Timestamp: at(1)}}, nil)
	})
	wantCode(t, err, cairn.ENOTFOUND)
}
