package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/cairn-registry/cairn"
)

var versionTests = []test{
	{"RoundTrip", testVersionRoundTrip},
	{"UpdateWritesOnlyMutable", testVersionUpdate},
	{"AllocateGapFree", testVersionAllocate},
	{"CreateErrors", testVersionCreateErrors},
	{"Latest", testVersionLatest},
	{"ListPages", testVersionListPages},
	{"ListAllModels", testVersionListAllModels},
	{"ListByTime", testVersionListByTime},
	{"ListIncludeDeleted", testVersionListDeleted},
	{"StalePending", testVersionStalePending},
	{"LatestPerStage", testVersionLatestPerStage},
	{"LatestPerStageFollowsWrites", testVersionLatestPerStageWrites},
	{"ListModelsWithLatest", testListModelsWithLatest},
	{"RenderFixedJSON", testVersionRender},
	{"SummaryReads", testVersionSummaryReads},
	{"WithDatasetDigest", testVersionWithDatasetDigest},
}

// VersionsWithDatasetDigest finds the undeleted versions of one model
// whose dataset digest tag matches exactly, in number order, inside and
// outside a transaction; other models, other tags and other digests do
// not match.
func testVersionWithDatasetDigest(t *testing.T, s cairn.Store) {
	ctx := t.Context()
	createModel(t, s, "dataset", cairn.KindDataset)
	createModel(t, s, "other", cairn.KindDataset)
	tagged := func(digest string) func(*cairn.Version) {
		return func(v *cairn.Version) {
			v.Tags = map[string]string{cairn.DatasetDigestTag: digest, "mlflow.dataset.name": "d"}
		}
	}
	createVersion(t, s, "dataset", tagged("aaa"))                                                         // v1
	createVersion(t, s, "dataset", tagged("bbb"))                                                         // v2
	createVersion(t, s, "dataset", func(v *cairn.Version) { v.Tags = map[string]string{"x": "aaa"} })     // v3
	createVersion(t, s, "dataset", nil)                                                                   // v4
	want := createVersion(t, s, "dataset", tagged("aaa"))                                                 // v5
	createVersion(t, s, "dataset", func(v *cairn.Version) { tagged("aaa")(v); v.DeletedAt = ptr(at(9)) }) // v6

	// As read back.
	want.Evaluates, want.ApprovalStatus = []string{}, cairn.ApprovalNone
	createVersion(t, s, "other", tagged("aaa"))
	createVersion(t, s, "dataset", tagged("AAA")) // v7

	check := func(r cairn.Reader) {
		t.Helper()
		for _, tc := range []struct {
			model, digest string
			want          []string
		}{
			{"dataset", "aaa", []string{"dataset@v1", "dataset@v5"}},
			{"dataset", "bbb", []string{"dataset@v2"}},
			{"dataset", "AAA", []string{"dataset@v7"}},
			{"dataset", "aa", []string{}},
			{"dataset", "", []string{}},
			{"other", "aaa", []string{"other@v1"}},
		} {
			got, err := r.VersionsWithDatasetDigest(ctx, tc.model, tc.digest)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, versionNumbers(got)); diff != "" {
				t.Errorf("%s, digest %q (-want +got):\n%s", tc.model, tc.digest, diff)
			}
		}
		got, err := r.VersionsWithDatasetDigest(ctx, "dataset", "aaa")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got[1]); diff != "" {
			t.Errorf("dataset@v5 as found (-want +got):\n%s", diff)
		}
		_, err = r.VersionsWithDatasetDigest(ctx, "missing", "aaa")
		wantCode(t, err, cairn.ENOTFOUND)
	}
	check(s)
	update(t, s, func(tx cairn.Tx) error { check(tx); return nil })
}

// LatestPerStage stays what its definition says after every kind of write
// to versions: creation (pending and ready, in and out of number order),
// finalization, failure, stage changes, deletion and restoration, archival,
// and writes that change none of its inputs.
func testVersionLatestPerStageWrites(t *testing.T, s cairn.Store) {
	ctx := t.Context()
	models := []string{"churn", "fraud"}
	for _, m := range models {
		createModel(t, s, m, cairn.KindModel)
	}
	// check compares LatestPerStage with its definition computed from
	// every version, deleted ones included.
	check := func(step string) {
		t.Helper()
		var want []string
		for _, m := range models {
			page, err := s.ListVersions(ctx, cairn.VersionQuery{Model: m, IncludeDeleted: true, Page: cairn.Page{Size: 1000}})
			if err != nil {
				t.Fatal(err)
			}
			latest := map[cairn.Stage]int64{}
			for _, v := range page.Items {
				if v.Status == cairn.StatusReady && v.DeletedAt == nil && v.Number > latest[v.Stage] {
					latest[v.Stage] = v.Number
				}
			}
			var numbers []int64
			for _, n := range latest {
				numbers = append(numbers, n)
			}
			slices.Sort(numbers)
			for _, n := range numbers {
				want = append(want, cairn.VersionRef(m, n))
			}
		}
		got, err := s.LatestPerStage(ctx, models)
		if err != nil {
			t.Fatal(err)
		}
		var refs []string
		for _, v := range got {
			refs = append(refs, v.Ref())
		}
		if diff := cmp.Diff(want, refs); diff != "" {
			t.Errorf("after %s: LatestPerStage (-definition +got):\n%s", step, diff)
		}
	}
	// change applies fn to a version and writes it back.
	change := func(model string, n int64, fn func(*cairn.Version)) {
		t.Helper()
		update(t, s, func(tx cairn.Tx) error {
			v, err := tx.GetVersion(ctx, model, n)
			if err != nil {
				return err
			}
			fn(v)
			v.UpdatedAt = v.UpdatedAt.Add(time.Second)
			return tx.UpdateVersion(ctx, v)
		})
	}
	stage := func(st cairn.Stage) func(*cairn.Version) { return func(v *cairn.Version) { v.Stage = st } }
	pending := func(st cairn.Stage) func(*cairn.Version) {
		return func(v *cairn.Version) { v.Stage, v.Status = st, cairn.StatusPending }
	}

	createVersion(t, s, "churn", stage(cairn.StageNone)) // 1
	check("a ready version")
	createVersion(t, s, "churn", pending(cairn.StageProduction)) // 2
	check("a pending version")
	change("churn", 2, func(v *cairn.Version) { v.Status = cairn.StatusReady })
	check("finalizing it")
	createVersion(t, s, "churn", stage(cairn.StageProduction)) // 3
	check("a newer version in the same stage")
	change("churn", 3, stage(cairn.StageStaging))
	check("moving it to another stage")
	change("churn", 2, stage(cairn.StageStaging))
	check("moving an older version into that stage")
	change("churn", 3, func(v *cairn.Version) { v.DeletedAt = ptr(at(40)) })
	check("deleting the newest of a stage")
	change("churn", 3, func(v *cairn.Version) { v.DeletedAt = nil })
	check("restoring it")
	change("churn", 1, func(v *cairn.Version) { v.Archived, v.Stage = true, cairn.StageArchived })
	check("archiving a version")
	change("churn", 3, func(v *cairn.Version) { v.Tags, v.Description = map[string]string{"k": "v"}, "changed" })
	check("changing only its tags and description")
	createVersion(t, s, "churn", pending(cairn.StageStaging)) // 4
	change("churn", 4, func(v *cairn.Version) { v.Status, v.StatusMessage = cairn.StatusFailed, "upload failed" })
	check("a failed version")
	createVersion(t, s, "churn", func(v *cairn.Version) { v.Stage, v.DeletedAt = cairn.StageNone, ptr(at(41)) }) // 5
	check("a version created deleted")
	// Numbers allocated first and written out of order, as an import may.
	update(t, s, func(tx cairn.Tx) error {
		m, err := tx.LockModel(ctx, "fraud")
		if err != nil {
			return err
		}
		var vs []*cairn.Version
		for range 3 {
			n, err := tx.AllocateVersion(ctx, "fraud")
			if err != nil {
				return err
			}
			v := newVersion("fraud", m.Kind, n)
			v.Stage = cairn.StageProduction
			vs = append(vs, v)
		}
		for _, i := range []int{2, 0, 1} {
			if err := tx.CreateVersion(ctx, vs[i]); err != nil {
				return err
			}
		}
		return nil
	})
	check("versions written out of number order")
	change("fraud", 3, func(v *cairn.Version) { v.DeletedAt = ptr(at(42)) })
	change("fraud", 2, func(v *cairn.Version) { v.DeletedAt = ptr(at(43)) })
	check("deleting the two newest")
	change("fraud", 1, stage(cairn.StageNone))
	check("moving the last one out")
}

// summary is v as LatestPerStage returns it: the fields MLflow's
// ModelVersion shows, and DeletedAt, the rest zero.
func summary(v *cairn.Version) *cairn.Version {
	return &cairn.Version{
		Model: v.Model, Kind: v.Kind, Number: v.Number, Status: v.Status, StatusMessage: v.StatusMessage,
		Source: v.Source, RunID: v.RunID, Tags: v.Tags, Description: v.Description,
		CreatedBy: v.CreatedBy, CreatedAt: v.CreatedAt, UpdatedAt: v.UpdatedAt, Stage: v.Stage, Aliases: v.Aliases,
		DeletedAt: v.DeletedAt,
	}
}

// GetVersion and AliasedVersion under cairn.NewContextWithSummary return
// the summary of what they return otherwise: for a full record with
// aliases, a pending version, a deleted one, after a rename; and the same
// ENOTFOUND for what does not exist.
func testVersionSummaryReads(t *testing.T, s cairn.Store) {
	ctx := t.Context()
	sctx := cairn.NewContextWithSummary(ctx)
	createModel(t, s, "churn", cairn.KindModel)
	createModel(t, s, "prompts", cairn.KindPrompt)
	createVersion(t, s, "churn", func(v *cairn.Version) { // 1: every field set
		n := v.Number
		*v = *fullVersion(v.Model, v.Kind, n)
		v.FixedJSON, v.Aliases, v.DeletedAt, v.Archived = nil, []string{}, nil, false
	})
	createVersion(t, s, "churn", func(v *cairn.Version) { v.Status, v.StatusMessage = cairn.StatusPending, "uploading" }) // 2
	createVersion(t, s, "churn", func(v *cairn.Version) { v.DeletedAt = ptr(at(40)) })                                    // 3: deleted
	createVersion(t, s, "prompts", func(v *cairn.Version) { v.Tags = map[string]string{"mlflow.prompt.text": "hi"} })     // prompts@v1
	moveAlias(t, s, "churn", "champion", 0, 1, at(41))
	moveAlias(t, s, "churn", "best", 0, 1, at(42))
	moveAlias(t, s, "churn", "gone", 0, 3, at(43))
	moveAlias(t, s, "prompts", "live", 0, 1, at(44))
	update(t, s, func(tx cairn.Tx) error { return tx.RenameModel(ctx, "churn", "churn-2", at(45)) })

	for _, ref := range []struct {
		model string
		n     int64
	}{{"churn-2", 1}, {"churn-2", 2}, {"churn-2", 3}, {"prompts", 1}} {
		full, err := s.GetVersion(ctx, ref.model, ref.n)
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.GetVersion(sctx, ref.model, ref.n)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(summary(full), got); diff != "" {
			t.Errorf("GetVersion %s as a summary (-want +got):\n%s", cairn.VersionRef(ref.model, ref.n), diff)
		}
	}
	for _, a := range []struct{ model, alias string }{{"churn-2", "champion"}, {"churn-2", "gone"}, {"prompts", "live"}} {
		full, err := s.AliasedVersion(ctx, a.model, a.alias)
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.AliasedVersion(sctx, a.model, a.alias)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(summary(full), got); diff != "" {
			t.Errorf("AliasedVersion %s@%s as a summary (-want +got):\n%s", a.model, a.alias, diff)
		}
	}
	for _, q := range []cairn.VersionQuery{
		{Model: "churn-2", IncludeDeleted: true},
		{IncludeDeleted: false},
		{Filter: parseFilter(t, "tags.team = 'fraud'")},
	} {
		q.Page.Size = 100
		full, err := s.ListVersions(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.ListVersions(sctx, q)
		if err != nil {
			t.Fatal(err)
		}
		want := &cairn.VersionPage{NextToken: full.NextToken}
		for _, v := range full.Items {
			want.Items = append(want.Items, summary(v))
		}
		if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("ListVersions(%+v) as summaries (-want +got):\n%s", q, diff)
		}
	}
	if _, err := s.GetVersion(sctx, "churn-2", 9); !cairn.IsCode(err, cairn.ENOTFOUND) {
		t.Errorf("GetVersion of a missing version as a summary: %v, want ENOTFOUND", err)
	}
	if _, err := s.GetVersion(sctx, "churn", 1); !cairn.IsCode(err, cairn.ENOTFOUND) {
		t.Errorf("GetVersion under the old name as a summary: %v, want ENOTFOUND", err)
	}
	if _, err := s.AliasedVersion(sctx, "churn-2", "nope"); !cairn.IsCode(err, cairn.ENOTFOUND) {
		t.Errorf("AliasedVersion of a missing alias as a summary: %v, want ENOTFOUND", err)
	}
}

// LatestPerStage answers, per model, the newest ready and undeleted
// version of each stage that has one.
func testVersionLatestPerStage(t *testing.T, s cairn.Store) {
	ctx := t.Context()
	stage := func(st cairn.Stage) func(*cairn.Version) { return func(v *cairn.Version) { v.Stage = st } }
	createModel(t, s, "churn", cairn.KindModel)
	createModel(t, s, "fraud", cairn.KindModel)
	createModel(t, s, "empty", cairn.KindModel)
	createVersion(t, s, "churn", stage(cairn.StageNone))       // 1
	createVersion(t, s, "churn", stage(cairn.StageProduction)) // 2
	createVersion(t, s, "churn", stage(cairn.StageNone))       // 3: the newest None
	createVersion(t, s, "churn", func(v *cairn.Version) {      // 4: the newest Production
		v.Stage = cairn.StageProduction
		v.Metrics, v.Params = map[string]float64{"auc": 0.91}, map[string]string{"depth": "6"}
		v.Signature, v.Dependencies = json.RawMessage(`{"inputs":[]}`), "scikit-learn==1.5.0"
		v.Tags, v.Description, v.RunID, v.Source = map[string]string{"team": "fraud"}, "the card", "r1", "runs:/r1/model"
	})
	createVersion(t, s, "churn", func(v *cairn.Version) { // 5: pending, left out
		v.Stage, v.Status = cairn.StageProduction, cairn.StatusPending
	})
	createVersion(t, s, "churn", func(v *cairn.Version) { // 6: deleted, left out
		v.Stage, v.DeletedAt = cairn.StageNone, ptr(at(20))
	})
	createVersion(t, s, "fraud", stage(cairn.StageArchived)) // 1
	createVersion(t, s, "fraud", stage(cairn.StageStaging))  // 2

	got, err := s.LatestPerStage(ctx, []string{"fraud", "churn", "empty", "no-such-model"})
	if err != nil {
		t.Fatal(err)
	}
	var refs []string
	for _, v := range got {
		refs = append(refs, fmt.Sprintf("%s %s", v.Ref(), v.Stage))
	}
	want := []string{"churn@v3 None", "churn@v4 Production", "fraud@v1 Archived", "fraud@v2 Staging"}
	if diff := cmp.Diff(want, refs); diff != "" {
		t.Errorf("LatestPerStage (-want +got):\n%s", diff)
	}
	moveAlias(t, s, "churn", "champion", 0, 4, at(30))
	moveAlias(t, s, "churn", "best", 0, 4, at(31))
	full, err := s.GetVersion(ctx, "churn", 4)
	if err != nil {
		t.Fatal(err)
	}
	got, err = s.LatestPerStage(ctx, []string{"churn"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) == 2 {
		want := summary(full)
		want.Aliases = nil // the model's, not read per version
		if diff := cmp.Diff(want, got[1]); diff != "" {
			t.Errorf("LatestPerStage's churn@v4 differs from GetVersion's summary (-get +latest):\n%s", diff)
		}
	}
	none, err := s.LatestPerStage(ctx, nil)
	if err != nil || len(none) != 0 {
		t.Errorf("LatestPerStage(nil) = %v, %v; want empty", none, err)
	}
}

// ListModels with Latest lists the same pages as without, and its Latest
// is what LatestPerStage returns for the page's models, each model's
// together in the page's order: with page sizes that cut between models
// with several latest versions, a filter, another order, and models with
// none.
func testListModelsWithLatest(t *testing.T, s cairn.Store) {
	ctx := t.Context()
	stage := func(st cairn.Stage) func(*cairn.Version) { return func(v *cairn.Version) { v.Stage = st } }
	for _, m := range []string{"e", "a", "d", "b", "c"} {
		createModel(t, s, m, cairn.KindModel)
	}
	createVersion(t, s, "a", stage(cairn.StageNone))
	createVersion(t, s, "a", stage(cairn.StageProduction))
	createVersion(t, s, "a", func(v *cairn.Version) { v.Stage, v.Tags = cairn.StageStaging, map[string]string{"team": "x"} })
	createVersion(t, s, "a", func(v *cairn.Version) { v.Stage, v.Status = cairn.StageNone, cairn.StatusPending })
	createVersion(t, s, "c", stage(cairn.StageArchived))
	createVersion(t, s, "c", func(v *cairn.Version) { v.Stage, v.DeletedAt = cairn.StageNone, ptr(at(50)) })
	createVersion(t, s, "d", stage(cairn.StageNone))
	createVersion(t, s, "e", stage(cairn.StageNone))
	createVersion(t, s, "e", stage(cairn.StageProduction))
	createVersion(t, s, "e", stage(cairn.StageNone))
	refs := func(vs []*cairn.Version) []string {
		out := []string{}
		for _, v := range vs {
			out = append(out, v.Ref())
		}
		slices.Sort(out)
		return out
	}
	for _, base := range []cairn.ModelQuery{
		{},
		{Filter: parseFilter(t, "name != 'd'")},
		{OrderBy: []cairn.OrderBy{{Field: "name", Desc: true}}},
	} {
		for _, size := range []int{0, 1, 2, 3} {
			q, lq := base, base
			q.Page.Size, lq.Page.Size, lq.Latest = size, size, true
			for pages := 0; ; pages++ {
				if pages > 10 {
					t.Fatal("ListModels never ends")
				}
				want, err := s.ListModels(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				got, err := s.ListModels(ctx, lq)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(cairn.ModelPage{}, "Latest")); diff != "" {
					t.Fatalf("%+v page %d with Latest differs (-without +with):\n%s", lq, pages, diff)
				}
				per, err := s.LatestPerStage(ctx, modelNames(want.Items))
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(refs(per), refs(got.Latest)); diff != "" {
					t.Errorf("%+v page %d: Latest is not LatestPerStage (-want +got):\n%s", lq, pages, diff)
				}
				// Each model's together, in the page's order, as summaries.
				var order []string
				for _, v := range got.Latest {
					if len(order) == 0 || order[len(order)-1] != v.Model {
						order = append(order, v.Model)
					}
				}
				var wantOrder []string
				for _, m := range want.Items {
					for _, v := range per {
						if v.Model == m.Name {
							wantOrder = append(wantOrder, m.Name)
							break
						}
					}
				}
				if !slices.Equal(order, wantOrder) {
					t.Errorf("%+v page %d: Latest in model order %v, want %v", lq, pages, order, wantOrder)
				}
				byRef := map[string]*cairn.Version{}
				for _, v := range per {
					byRef[v.Ref()] = v
				}
				for _, v := range got.Latest {
					if diff := cmp.Diff(byRef[v.Ref()], v); diff != "" {
						t.Errorf("Latest %s differs from LatestPerStage's (-want +got):\n%s", v.Ref(), diff)
					}
				}
				if want.NextToken == "" {
					break
				}
				q.Page.Token, lq.Page.Token = want.NextToken, want.NextToken
			}
		}
	}
}

// fullVersion returns a version record with every field set to something
// other than its zero value.
func fullVersion(model string, kind cairn.Kind, n int64) *cairn.Version {
	files := []cairn.File{
		{Path: "model/weights.bin", Size: 1 << 20, Digest: cairn.DigestOf([]byte("weights"))},
		{Path: "requirements.txt", Size: 14, Digest: cairn.DigestOf([]byte("numpy==2.0\n"))},
	}
	return &cairn.Version{
		Model:             model,
		Number:            n,
		Kind:              kind,
		Files:             files,
		Digest:            cairn.ManifestDigest(files),
		Size:              cairn.TotalSize(files),
		RunID:             "run-0042",
		Source:            "s3://bucket/churn/run-0042",
		SourceCodeVersion: "0123456789abcdef0123456789abcdef01234567",
		TrainingDataset:   "transactions@v3",
		ValidationDataset: "s3://bucket/validation.parquet",
		Metrics:           map[string]float64{"auc": 0.9123456789012345, "loss": -1.5e-7, "count": 3},
		Params:            map[string]string{"lr": "0.01", "layers": "3", "name with space": "ünïcødé"},
		// Not canonical JSON: stores keep the bytes as given.
		Signature:         json.RawMessage(`{"inputs": [{"name": "x", "type": "double"}],  "outputs":[]}`),
		Dependencies:      "requirements.txt",
		Framework:         "sklearn",
		TrainedBy:         "dana",
		DerivedFrom:       []string{"base@v1", "adapter@v7"},
		Inputs:            []string{"s3://bucket/extra.csv", "lookup@v2"},
		Evaluates:         []string{"churn@v3", "churn-v2@v1"},
		RetrainedFrom:     "churn@v2",
		CreatedBy:         "alice",
		CreatedByVerified: true,
		CreatedAt:         at(1),
		UpdatedAt:         at(2),
		Tags:              map[string]string{"team": "fraud", "owner": "alice"},
		Description:       "# Churn\n\nPredicts *churn*.",
		Aliases:           []string{"champion", "beta"},
		Status:            cairn.StatusFailed,
		StatusMessage:     "blob sha256:… missing",
		Archived:          true,
		Stage:             cairn.StageStaging,
		DeletedAt:         ptr(at(3)),
		Flagged:           true,
		Flag: &cairn.Flag{Signal: 7, Kind: "drift", Value: 0.31, Threshold: 0.2, Detail: "PSI on tenure",
			FlaggedBy: "monitor", FlaggedAt: at(2)},
		ApprovalStatus: cairn.ApprovalPending,
		FixedJSON:      json.RawMessage(`"ignored":true`), // the store derives its own
	}
}

// Every field of a version survives the store: fixed fields as written,
// Kind from the model, Aliases from the aliases table, sorted.
func testVersionRoundTrip(t *testing.T, s cairn.Store) {
	ctx := t.Context()
	createModel(t, s, "churn", cairn.KindDataset)
	v := fullVersion("churn", cairn.KindDataset, 1)
	requireAllFieldsSet(t, v)
	update(t, s, func(tx cairn.Tx) error {
		n, err := tx.AllocateVersion(ctx, "churn")
		if err != nil {
			return err
		}
		if n != 1 {
			return fmt.Errorf("first AllocateVersion = %d, want 1", n)
		}
		in := *v
		in.Aliases = []string{"ignored"} // CreateVersion does not write aliases
		return tx.CreateVersion(ctx, &in)
	})
	// Neither insertion order nor its reverse is sorted.
	moveAlias(t, s, "churn", "champion", 0, 1, at(4))
	moveAlias(t, s, "churn", "alpha", 0, 1, at(5))
	moveAlias(t, s, "churn", "beta", 0, 1, at(6))
	want := *v
	want.Aliases = []string{"alpha", "beta", "champion"}
	want.FixedJSON = nil // set only by reads to render

	got, err := s.GetVersion(ctx, "churn", 1)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(&want, got); diff != "" {
		t.Errorf("GetVersion (-want +got):\n%s", diff)
	}
	update(t, s, func(tx cairn.Tx) error {
		got, err := tx.GetVersion(ctx, "churn", 1)
		if err != nil {
			return err
		}
		if diff := cmp.Diff(&want, got); diff != "" {
			t.Errorf("tx.GetVersion (-want +got):\n%s", diff)
		}
		return nil
	})
	p, err := s.ListVersions(ctx, cairn.VersionQuery{Model: "churn", IncludeDeleted: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Items) != 1 {
		t.Fatalf("ListVersions: %d items, want 1", len(p.Items))
	}
	if diff := cmp.Diff(&want, p.Items[0]); diff != "" {
		t.Errorf("ListVersions item (-want +got):\n%s", diff)
	}

	// A version with nothing optional comes back with empty maps and
	// slices, not nil ones, and no signature.
	bare := &cairn.Version{Model: "churn", Digest: cairn.ManifestDigest(nil), CreatedBy: "bob",
		CreatedAt: at(9), UpdatedAt: at(9), Status: cairn.StatusPending, Stage: cairn.StageNone}
	update(t, s, func(tx cairn.Tx) error {
		n, err := tx.AllocateVersion(ctx, "churn")
		if err != nil {
			return err
		}
		bare.Number = n
		return tx.CreateVersion(ctx, bare)
	})
	got, err = s.GetVersion(ctx, "churn", 2)
	if err != nil {
		t.Fatal(err)
	}
	wantBare := *bare
	wantBare.Kind = cairn.KindDataset
	wantBare.Files, wantBare.DerivedFrom, wantBare.Inputs, wantBare.Aliases = []cairn.File{}, []string{}, []string{}, []string{}
	wantBare.Evaluates = []string{}
	wantBare.ApprovalStatus = cairn.ApprovalNone // unset reads back as none
	wantBare.Metrics, wantBare.Params, wantBare.Tags = map[string]float64{}, map[string]string{}, map[string]string{}
	if diff := cmp.Diff(&wantBare, got); diff != "" {
		t.Errorf("bare version (-want +got):\n%s", diff)
	}
	if got.Files == nil || got.Metrics == nil || got.Params == nil || got.Tags == nil ||
		got.DerivedFrom == nil || got.Inputs == nil || got.Aliases == nil || got.Evaluates == nil || got.Signature != nil || got.Flag != nil {
		t.Errorf("bare version has nil collections or a signature: %+v", got)
	}
}

// UpdateVersion writes tags, description, status, status_message,
// archived, stage, deleted_at and updated_at; every other field keeps its
// value from creation even if the record passed in differs.
func testVersionUpdate(t *testing.T, s cairn.Store) {
	ctx := t.Context()
	createModel(t, s, "churn", cairn.KindModel)
	orig := createVersion(t, s, "churn", func(v *cairn.Version) {
		*v = *fullVersion("churn", cairn.KindModel, v.Number)
		v.FixedJSON = nil
		v.Aliases = []string{}
		v.Status, v.StatusMessage, v.Archived, v.Stage, v.DeletedAt = cairn.StatusPending, "", false, cairn.StageNone, nil
		v.Flag, v.Flagged = nil, false
	})
	files := testFiles("other")
	changed := &cairn.Version{
		Model:             "churn",
		Number:            1,
		Kind:              cairn.KindEvaluation,
		Files:             files,
		Digest:            cairn.ManifestDigest(files),
		Size:              cairn.TotalSize(files) + 1,
		RunID:             "run-other",
		Source:            "file:///elsewhere",
		SourceCodeVersion: "fedcba9",
		TrainingDataset:   "other@v1",
		ValidationDataset: "other@v2",
		Metrics:           map[string]float64{"auc": 0.5},
		Params:            map[string]string{"lr": "1"},
		Signature:         json.RawMessage(`{"inputs":[]}`),
		Dependencies:      "model.pkl",
		Framework:         "pytorch",
		TrainedBy:         "mallory",
		DerivedFrom:       []string{"x@v1"},
		Inputs:            []string{"y@v1"},
		Evaluates:         []string{"z@v1"},
		RetrainedFrom:     "w@v1",
		CreatedBy:         "mallory",
		CreatedByVerified: false,
		CreatedAt:         at(50),
		UpdatedAt:         at(51),
		Tags:              map[string]string{"team": "risk"},
		Description:       "rewritten",
		Aliases:           []string{"nope"},
		Status:            cairn.StatusReady,
		StatusMessage:     "verified",
		Archived:          true,
		Stage:             cairn.StageProduction,
		DeletedAt:         ptr(at(52)),
		Flagged:           true,
		Flag:              &cairn.Flag{Signal: 9, Kind: "error_rate", Value: 0.5, Threshold: 0.1, FlaggedBy: "monitor", FlaggedAt: at(51)},
		ApprovalStatus:    cairn.ApprovalApproved,
	}
	want := wantAfterUpdate(t, orig, changed,
		[]string{"Tags", "Description", "Status", "StatusMessage", "Archived", "Stage", "DeletedAt", "UpdatedAt", "Flag", "Flagged", "ApprovalStatus"},
		[]string{"Model", "Number", "Aliases", "FixedJSON"})
	update(t, s, func(tx cairn.Tx) error { return tx.UpdateVersion(ctx, changed) })
	got, err := s.GetVersion(ctx, "churn", 1)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("after UpdateVersion (-want +got):\n%s", diff)
	}
	// Clearing the flag writes NULL: the version reads back unflagged.
	cleared := *changed
	cleared.Flag, cleared.Flagged = nil, false
	update(t, s, func(tx cairn.Tx) error { return tx.UpdateVersion(ctx, &cleared) })
	if got, err := s.GetVersion(ctx, "churn", 1); err != nil {
		t.Fatal(err)
	} else if got.Flag != nil || got.Flagged {
		t.Errorf("after clearing the flag: Flagged %v, Flag %+v; want neither", got.Flagged, got.Flag)
	}
	missing := *changed
	missing.Number = 2
	wantCode(t, s.Update(ctx, func(tx cairn.Tx) error { return tx.UpdateVersion(ctx, &missing) }), cairn.ENOTFOUND)
}

// Version numbers are 1, 2, 3, …; a rolled-back allocation gives its number
// back, and Model.LatestVersion is the highest number allocated.
func testVersionAllocate(t *testing.T, s cairn.Store) {
	ctx := t.Context()
	createModel(t, s, "churn", cairn.KindModel)
	createModel(t, s, "other", cairn.KindModel)
	alloc := func(model string, fail bool) (int64, error) {
		var n int64
		err := s.Update(ctx, func(tx cairn.Tx) error {
			var err error
			if n, err = tx.AllocateVersion(ctx, model); err != nil {
				return err
			}
			if fail {
				return errRollback
			}
			return nil
		})
		return n, err
	}
	for i, step := range []struct {
		model string
		fail  bool
		want  int64
	}{
		{"churn", false, 1},
		{"churn", false, 2},
		{"churn", true, 3}, // rolled back
		{"churn", true, 3}, // rolled back again: same number
		{"churn", false, 3},
		{"other", false, 1}, // numbering is per model
		{"churn", false, 4},
	} {
		n, err := alloc(step.model, step.fail)
		if step.fail && !errors.Is(err, errRollback) || !step.fail && err != nil {
			t.Fatalf("step %d: Update = %v", i, err)
		}
		if n != step.want {
			t.Fatalf("step %d: AllocateVersion(%s) = %d, want %d", i, step.model, n, step.want)
		}
	}
	m, err := s.GetModel(ctx, "churn")
	if err != nil {
		t.Fatal(err)
	}
	if m.LatestVersion != 4 {
		t.Errorf("LatestVersion = %d, want 4", m.LatestVersion)
	}
	// Two allocations in one transaction take consecutive numbers.
	update(t, s, func(tx cairn.Tx) error {
		a, err := tx.AllocateVersion(ctx, "churn")
		if err != nil {
			return err
		}
		b, err := tx.AllocateVersion(ctx, "churn")
		if err != nil {
			return err
		}
		if a != 5 || b != 6 {
			return fmt.Errorf("two allocations in one tx = %d, %d; want 5, 6", a, b)
		}
		return nil
	})
}

var errRollback = errors.New("roll back on purpose")

func testVersionCreateErrors(t *testing.T, s cairn.Store) {
	ctx := t.Context()
	createModel(t, s, "churn", cairn.KindModel)
	createVersion(t, s, "churn", nil)

	dup := newVersion("churn", cairn.KindModel, 1)
	wantCode(t, s.Update(ctx, func(tx cairn.Tx) error { return tx.CreateVersion(ctx, dup) }), cairn.ECONFLICT)

	// A number AllocateVersion never returned would leave a gap.
	unallocated := newVersion("churn", cairn.KindModel, 5)
	wantCode(t, s.Update(ctx, func(tx cairn.Tx) error { return tx.CreateVersion(ctx, unallocated) }), cairn.EFAILEDPRECONDITION)

	orphan := newVersion("nope", cairn.KindModel, 1)
	wantCode(t, s.Update(ctx, func(tx cairn.Tx) error { return tx.CreateVersion(ctx, orphan) }), cairn.ENOTFOUND)

	_, err := s.GetVersion(ctx, "churn", 2)
	wantCode(t, err, cairn.ENOTFOUND)
	_, err = s.GetVersion(ctx, "nope", 1)
	wantCode(t, err, cairn.ENOTFOUND)
}

// LatestVersion is the highest-numbered version that is ready, not
// archived and not deleted.
func testVersionLatest(t *testing.T, s cairn.Store) {
	ctx := t.Context()
	createModel(t, s, "churn", cairn.KindModel)
	_, err := s.LatestVersion(ctx, "churn")
	wantCode(t, err, cairn.ENOTFOUND)
	_, err = s.LatestVersion(ctx, "nope")
	wantCode(t, err, cairn.ENOTFOUND)

	createVersion(t, s, "churn", nil)                                                       // 1 ready
	createVersion(t, s, "churn", func(v *cairn.Version) { v.Status = cairn.StatusReady })   // 2 ready
	createVersion(t, s, "churn", func(v *cairn.Version) { v.Archived = true })              // 3 archived
	createVersion(t, s, "churn", func(v *cairn.Version) { v.DeletedAt = ptr(at(9)) })       // 4 deleted
	createVersion(t, s, "churn", func(v *cairn.Version) { v.Status = cairn.StatusPending }) // 5 pending
	createVersion(t, s, "churn", func(v *cairn.Version) { v.Status = cairn.StatusFailed })  // 6 failed
	moveAlias(t, s, "churn", "champion", 0, 2, at(10))

	latest := func() int64 {
		t.Helper()
		v, err := s.LatestVersion(ctx, "churn")
		if err != nil {
			t.Fatal(err)
		}
		return v.Number
	}
	if n := latest(); n != 2 {
		t.Fatalf("LatestVersion = %d, want 2", n)
	}
	v, err := s.LatestVersion(ctx, "churn")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"champion"}, v.Aliases); diff != "" {
		t.Errorf("LatestVersion's aliases (-want +got):\n%s", diff)
	}
	// Finalizing the pending version makes it the latest.
	update(t, s, func(tx cairn.Tx) error {
		v, err := tx.GetVersion(ctx, "churn", 5)
		if err != nil {
			return err
		}
		v.Status = cairn.StatusReady
		return tx.UpdateVersion(ctx, v)
	})
	if n := latest(); n != 5 {
		t.Fatalf("LatestVersion after finalizing 5 = %d, want 5", n)
	}
	update(t, s, func(tx cairn.Tx) error {
		v, err := tx.LatestVersion(ctx, "churn")
		if err != nil {
			return err
		}
		if v.Number != 5 {
			return fmt.Errorf("tx.LatestVersion = %d, want 5", v.Number)
		}
		v.Archived = true
		return tx.UpdateVersion(ctx, v)
	})
	if n := latest(); n != 2 {
		t.Fatalf("LatestVersion after archiving 5 = %d, want 2", n)
	}
}

func versionNumbers(vs []*cairn.Version) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = v.Ref()
	}
	return out
}

// listAllVersions pages through ListVersions with the given page size and
// returns every item, checking page sizes on the way.
func listAllVersions(t testing.TB, s cairn.Store, q cairn.VersionQuery) []*cairn.Version {
	t.Helper()
	var all []*cairn.Version
	for pages := 0; ; pages++ {
		if pages > 1000 {
			t.Fatal("ListVersions never ends")
		}
		p, err := s.ListVersions(t.Context(), q)
		if err != nil {
			t.Fatal(err)
		}
		if q.Page.Size > 0 && len(p.Items) > q.Page.Size {
			t.Fatalf("page of %d items, asked for %d", len(p.Items), q.Page.Size)
		}
		if p.NextToken != "" && len(p.Items) == 0 {
			t.Fatal("empty page with a next token")
		}
		all = append(all, p.Items...)
		if p.NextToken == "" {
			return all
		}
		q.Page.Token = p.NextToken
	}
}

// Versions of one model list newest first by default, over pages without
// duplicates or omissions, each with its aliases.
func testVersionListPages(t *testing.T, s cairn.Store) {
	ctx := t.Context()
	createModel(t, s, "churn", cairn.KindModel)
	createModel(t, s, "other", cairn.KindModel)
	var want []string
	for i := 1; i <= 20; i++ {
		createVersion(t, s, "churn", nil)
		want = append([]string{cairn.VersionRef("churn", int64(i))}, want...)
	}
	createVersion(t, s, "other", nil)
	moveAlias(t, s, "churn", "champion", 0, 7, at(30))
	moveAlias(t, s, "churn", "beta", 0, 7, at(31))
	moveAlias(t, s, "churn", "stable", 0, 3, at(32))

	for _, size := range []int{0, 1, 7, 20, 21} {
		got := listAllVersions(t, s, cairn.VersionQuery{Model: "churn", Page: cairn.Page{Size: size}})
		if diff := cmp.Diff(want, versionNumbers(got)); diff != "" {
			t.Errorf("page size %d (-want +got):\n%s", size, diff)
		}
		for _, v := range got {
			wantAliases := map[int64][]string{7: {"beta", "champion"}, 3: {"stable"}}[v.Number]
			if wantAliases == nil {
				wantAliases = []string{}
			}
			if diff := cmp.Diff(wantAliases, v.Aliases); diff != "" {
				t.Errorf("aliases of listed %s (-want +got):\n%s", v.Ref(), diff)
			}
		}
	}
	_, err := s.ListVersions(ctx, cairn.VersionQuery{Model: "nope"})
	wantCode(t, err, cairn.ENOTFOUND)
	_, err = s.ListVersions(ctx, cairn.VersionQuery{Page: cairn.Page{Token: "%%%"}})
	wantCode(t, err, cairn.EINVALID)
}

// Without a model, versions list by model name, then newest first.
func testVersionListAllModels(t *testing.T, s cairn.Store) {
	createModel(t, s, "b", cairn.KindModel)
	createModel(t, s, "a", cairn.KindModel)
	createModel(t, s, "c", cairn.KindModel) // no versions
	createVersion(t, s, "b", nil)
	createVersion(t, s, "a", nil)
	createVersion(t, s, "b", nil)
	createVersion(t, s, "a", nil)
	createVersion(t, s, "a", nil)
	want := []string{"a@v3", "a@v2", "a@v1", "b@v2", "b@v1"}
	for _, size := range []int{0, 2} {
		got := listAllVersions(t, s, cairn.VersionQuery{Page: cairn.Page{Size: size}})
		if diff := cmp.Diff(want, versionNumbers(got)); diff != "" {
			t.Errorf("page size %d (-want +got):\n%s", size, diff)
		}
	}
}

// Across all models, versions list in time order (update or creation,
// either way), ties broken by model name, then number descending, over
// pages without duplicates or omissions, deleted ones left out unless
// asked. (The stores walk a time index for these orders.)
func testVersionListByTime(t *testing.T, s cairn.Store) {
	for _, m := range []string{"b", "a", "c"} {
		createModel(t, s, m, cairn.KindModel)
	}
	type rec struct {
		model            string
		number           int64
		created, updated time.Time
		deleted          bool
	}
	var all []rec
	for i, spec := range []struct {
		model            string
		created, updated int
		deleted          bool
	}{
		{"b", 10, 50, false}, {"a", 11, 50, false}, {"b", 12, 40, false}, {"a", 12, 60, false},
		{"c", 13, 50, true}, {"c", 14, 45, false}, {"a", 15, 50, false}, {"b", 12, 70, false},
	} {
		v := createVersion(t, s, spec.model, func(v *cairn.Version) {
			v.CreatedAt, v.UpdatedAt = at(spec.created), at(spec.updated)
			if spec.deleted {
				v.DeletedAt = ptr(at(90 + i))
			}
		})
		all = append(all, rec{spec.model, v.Number, v.CreatedAt, v.UpdatedAt, spec.deleted})
	}
	for _, tc := range []struct {
		field         string
		desc, deleted bool
		key           func(rec) time.Time
	}{
		{"updated_at", true, false, func(r rec) time.Time { return r.updated }},
		{"updated_at", false, true, func(r rec) time.Time { return r.updated }},
		{"created_at", true, true, func(r rec) time.Time { return r.created }},
		{"created_at", false, false, func(r rec) time.Time { return r.created }},
	} {
		var sel []rec
		for _, r := range all {
			if tc.deleted || !r.deleted {
				sel = append(sel, r)
			}
		}
		slices.SortFunc(sel, func(a, b rec) int {
			c := tc.key(a).Compare(tc.key(b))
			if tc.desc {
				c = -c
			}
			if c != 0 {
				return c
			}
			if c := strings.Compare(a.model, b.model); c != 0 {
				return c
			}
			return int(b.number - a.number)
		})
		want := make([]string, len(sel))
		for i, r := range sel {
			want[i] = cairn.VersionRef(r.model, r.number)
		}
		for _, size := range []int{0, 3} {
			q := cairn.VersionQuery{OrderBy: []cairn.OrderBy{{Field: tc.field, Desc: tc.desc}}, IncludeDeleted: tc.deleted, Page: cairn.Page{Size: size}}
			got := listAllVersions(t, s, q)
			if diff := cmp.Diff(want, versionNumbers(got)); diff != "" {
				t.Errorf("by %s (desc %v, deleted %v), page size %d (-want +got):\n%s", tc.field, tc.desc, tc.deleted, size, diff)
			}
		}
	}
}

// Lists leave out deleted versions, and the versions of deleted models,
// unless asked; archived ones stay.
func testVersionListDeleted(t *testing.T, s cairn.Store) {
	ctx := t.Context()
	createModel(t, s, "a", cairn.KindModel)
	createModel(t, s, "b", cairn.KindModel)
	createVersion(t, s, "a", nil)
	createVersion(t, s, "a", func(v *cairn.Version) { v.DeletedAt = ptr(at(5)) })
	createVersion(t, s, "a", func(v *cairn.Version) { v.Archived = true })
	createVersion(t, s, "b", nil)
	update(t, s, func(tx cairn.Tx) error {
		m, err := tx.LockModel(ctx, "b")
		if err != nil {
			return err
		}
		m.DeletedAt = ptr(at(6))
		return tx.UpdateModel(ctx, m)
	})
	for _, tc := range []struct {
		q    cairn.VersionQuery
		want []string
	}{
		{cairn.VersionQuery{}, []string{"a@v3", "a@v1"}},
		{cairn.VersionQuery{IncludeDeleted: true}, []string{"a@v3", "a@v2", "a@v1", "b@v1"}},
		{cairn.VersionQuery{Model: "a"}, []string{"a@v3", "a@v1"}},
		{cairn.VersionQuery{Model: "b"}, []string{}},
		{cairn.VersionQuery{Model: "b", IncludeDeleted: true}, []string{"b@v1"}},
	} {
		p, err := s.ListVersions(ctx, tc.q)
		if err != nil {
			t.Fatal(err)
		}
		if p.Items == nil {
			t.Errorf("%+v: Items is nil, want an empty slice", tc.q)
		}
		if diff := cmp.Diff(tc.want, versionNumbers(p.Items)); diff != "" {
			t.Errorf("%+v (-want +got):\n%s", tc.q, diff)
		}
	}
	// Deleted versions are still there to look up.
	if _, err := s.GetVersion(ctx, "a", 2); err != nil {
		t.Errorf("GetVersion of a deleted version: %v", err)
	}
}

// StalePendingVersions finds versions still pending that were created
// before a time, oldest first, up to a limit.
func testVersionStalePending(t *testing.T, s cairn.Store) {
	ctx := t.Context()
	createModel(t, s, "churn", cairn.KindModel)
	created := func(i int, st cairn.Status) func(*cairn.Version) {
		return func(v *cairn.Version) { v.Status, v.CreatedAt, v.UpdatedAt = st, at(i), at(i) }
	}
	createVersion(t, s, "churn", created(30, cairn.StatusPending))  // 1: stale
	createVersion(t, s, "churn", created(10, cairn.StatusPending))  // 2: stale, older
	createVersion(t, s, "churn", created(5, cairn.StatusReady))     // 3: ready
	createVersion(t, s, "churn", created(20, cairn.StatusFailed))   // 4: failed
	createVersion(t, s, "churn", created(100, cairn.StatusPending)) // 5: recent
	cases := []struct {
		before time.Time
		limit  int
		want   []string
	}{
		{at(50), 10, []string{"churn@v2", "churn@v1"}},
		{at(50), 1, []string{"churn@v2"}},
		{at(10), 10, []string{}}, // strictly before
		{at(101), 10, []string{"churn@v2", "churn@v1", "churn@v5"}},
	}
	for _, tc := range cases {
		got, err := s.StalePendingVersions(ctx, tc.before, tc.limit)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tc.want, versionNumbers(got)); diff != "" {
			t.Errorf("StalePendingVersions(%v, %d) (-want +got):\n%s", tc.before, tc.limit, diff)
		}
	}
}

// A read for rendering (cairn.NewContextWithFixedJSON) returns ready
// versions with their fixed fields pre-encoded, and every version renders
// (cairn.AppendVersionJSON) byte for byte as the decoded version encodes:
// ready when created, made ready by an update, pending, failed, after
// updates of the mutable fields and a rename of the model; through every
// read the API renders from.
func testVersionRender(t *testing.T, s cairn.Store) {
	ctx := t.Context()
	rctx := cairn.NewContextWithFixedJSON(ctx)
	createModel(t, s, "churn", cairn.KindModel)
	createModel(t, s, "fraud", cairn.KindDataset)
	full := func(status cairn.Status) func(*cairn.Version) {
		return func(v *cairn.Version) {
			n := v.Number
			*v = *fullVersion(v.Model, v.Kind, n)
			v.FixedJSON, v.Aliases, v.DeletedAt, v.Archived = nil, []string{}, nil, false
			v.Status, v.Description = status, `<b>"quoted"</b> & `+"\u2028\u2029"
			v.Signature = json.RawMessage(` { "inputs" : [ { "name": "x<y>", "type": "double" } ] } `)
			v.Metrics["tiny"], v.Metrics["big"] = 1e-9, 1.5e300
		}
	}
	createVersion(t, s, "churn", full(cairn.StatusReady))                                         // 1: ready at creation
	pending := createVersion(t, s, "churn", full(cairn.StatusPending))                            // 2: made ready below
	createVersion(t, s, "churn", full(cairn.StatusFailed))                                        // 3: failed
	createVersion(t, s, "churn", full(cairn.StatusPending))                                       // 4: pending
	bare := createVersion(t, s, "fraud", func(v *cairn.Version) { v.Status = cairn.StatusReady }) // fraud@v1
	update(t, s, func(tx cairn.Tx) error {
		pending.Status, pending.UpdatedAt = cairn.StatusReady, at(20)
		if err := tx.UpdateVersion(ctx, pending); err != nil {
			return err
		}
		bare.Tags, bare.Description, bare.Archived, bare.UpdatedAt = map[string]string{"team": "<fraud>"}, "changed", true, at(21)
		bare.Flag, bare.Flagged = &cairn.Flag{Signal: 1, Kind: "drift", Value: 0.5, Threshold: 0.2, FlaggedBy: "m", FlaggedAt: at(21)}, true
		return tx.UpdateVersion(ctx, bare)
	})
	moveAlias(t, s, "churn", "champion", 0, 2, at(22))
	moveAlias(t, s, "churn", "beta", 0, 2, at(23))
	moveAlias(t, s, "fraud", "prod", 0, 1, at(24))
	update(t, s, func(tx cairn.Tx) error { return tx.RenameModel(ctx, "fraud", "fraud-2", at(25)) })

	check := func(what string, dec, ren *cairn.Version) {
		t.Helper()
		want, err := json.Marshal(dec)
		if err != nil {
			t.Fatal(err)
		}
		if dec.FixedJSON != nil {
			t.Errorf("%s: a decoding read set FixedJSON", what)
		}
		if (ren.FixedJSON != nil) != (dec.Status == cairn.StatusReady) {
			t.Errorf("%s (%s): read to render has FixedJSON %q; want it exactly for ready versions", what, dec.Status, ren.FixedJSON)
		}
		got, err := cairn.AppendVersionJSON(nil, ren)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if string(got) != string(want) {
			t.Errorf("%s renders as\n%s\nwant\n%s", what, got, want)
		}
	}
	for _, ref := range []struct {
		model string
		n     int64
	}{{"churn", 1}, {"churn", 2}, {"churn", 3}, {"churn", 4}, {"fraud-2", 1}} {
		dec, err := s.GetVersion(ctx, ref.model, ref.n)
		if err != nil {
			t.Fatal(err)
		}
		ren, err := s.GetVersion(rctx, ref.model, ref.n)
		if err != nil {
			t.Fatal(err)
		}
		check("GetVersion "+cairn.VersionRef(ref.model, ref.n), dec, ren)
	}
	for _, a := range []struct{ model, alias string }{{"churn", "champion"}, {"fraud-2", "prod"}} {
		dec, err := s.AliasedVersion(ctx, a.model, a.alias)
		if err != nil {
			t.Fatal(err)
		}
		ren, err := s.AliasedVersion(rctx, a.model, a.alias)
		if err != nil {
			t.Fatal(err)
		}
		check("AliasedVersion "+a.model+"@"+a.alias, dec, ren)
	}
	dec, err := s.LatestVersion(ctx, "churn")
	if err != nil {
		t.Fatal(err)
	}
	ren, err := s.LatestVersion(rctx, "churn")
	if err != nil {
		t.Fatal(err)
	}
	check("LatestVersion churn", dec, ren)
	f, err := cairn.ParseFilter("metrics.auc > 0.5")
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []cairn.VersionQuery{{Model: "churn"}, {}, {Filter: f}} {
		dp, err := s.ListVersions(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		rp, err := s.ListVersions(rctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if len(dp.Items) != len(rp.Items) || len(dp.Items) == 0 {
			t.Fatalf("ListVersions %+v: %d items decoded, %d to render", q, len(dp.Items), len(rp.Items))
		}
		for i := range dp.Items {
			check(fmt.Sprintf("ListVersions %+v item %d", q, i), dp.Items[i], rp.Items[i])
		}
	}
}
