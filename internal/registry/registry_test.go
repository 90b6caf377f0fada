package registry_test

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/internal/fsblob"
	"github.com/cairn-registry/cairn/internal/registry"
	"github.com/cairn-registry/cairn/internal/sqlite"
)

type fixture struct {
	svc   *registry.Service
	store cairn.Store
	ctx   context.Context
	clock time.Time
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := cairn.NewContextWithActor(context.Background(), cairn.Actor{Name: "alice"})
	dir := t.TempDir()
	db, err := sqlite.Open(ctx, filepath.Join(dir, "cairn.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	blobs, err := fsblob.New(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{store: db, ctx: ctx, clock: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	f.svc = registry.New(db, blobs, registry.Options{Now: func() time.Time { return f.clock }})
	return f
}

// push creates, uploads and finalizes a version with one file.
func (f *fixture) push(t *testing.T, model, content string, spec cairn.VersionSpec) *registry.CreateVersionResult {
	t.Helper()
	d := cairn.DigestOf([]byte(content))
	spec.Files = []cairn.File{{Path: "model.bin", Size: int64(len(content)), Digest: d}}
	res, err := f.svc.CreateVersion(f.ctx, model, spec)
	if err != nil {
		t.Fatalf("CreateVersion: %v", err)
	}
	for _, m := range res.Missing {
		if err := f.svc.PutBlob(f.ctx, m, int64(len(content)), strings.NewReader(content)); err != nil {
			t.Fatalf("PutBlob: %v", err)
		}
	}
	v, err := f.svc.FinalizeVersion(f.ctx, model, res.Version.Number, spec.Aliases)
	if err != nil {
		t.Fatalf("FinalizeVersion: %v", err)
	}
	res.Version = v
	return res
}

// counts returns how many audit entries and events exist.
func (f *fixture) counts(t *testing.T) (audit, events int) {
	t.Helper()
	entries, err := f.store.ListAudit(f.ctx, cairn.AuditQuery{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	evs, err := f.store.ListEvents(f.ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	return len(entries), len(evs)
}

func TestEveryMutationIsAuditedAndEvented(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.push(t, "churn", "v1", cairn.VersionSpec{Aliases: []string{"candidate"}})
	entries, err := f.store.ListAudit(f.ctx, cairn.AuditQuery{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	evs, err := f.store.ListEvents(f.ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var actions, types []string
	for _, e := range entries {
		actions = append(actions, e.Action)
		if e.Actor != "alice" || e.ActorVerified {
			t.Errorf("audit entry %d: actor %q verified=%v, want alice unverified", e.Seq, e.Actor, e.ActorVerified)
		}
	}
	for _, e := range evs {
		types = append(types, e.Type)
	}
	want := "model.created version.created version.ready alias.set"
	if got := strings.Join(actions, " "); got != want {
		t.Errorf("audit actions = %q, want %q", got, want)
	}
	if got := strings.Join(types, " "); got != want {
		t.Errorf("event types = %q, want %q", got, want)
	}
	for i, e := range entries {
		if e.Seq != int64(i+1) {
			t.Errorf("audit seq %d at position %d", e.Seq, i)
		}
		if i > 0 && e.PrevHash != entries[i-1].Hash {
			t.Errorf("audit entry %d does not chain to %d", e.Seq, entries[i-1].Seq)
		}
	}
}

func TestFailedMutationChangesNothing(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.push(t, "churn", "v1", cairn.VersionSpec{})
	a0, e0 := f.counts(t)
	cases := []struct {
		name string
		code cairn.ErrorCode
		do   func() error
	}{
		{"alias to missing version", cairn.ENOTFOUND, func() error {
			_, err := f.svc.SetAlias(f.ctx, "churn", "champion", 9, nil)
			return err
		}},
		{"reserved alias", cairn.EINVALID, func() error {
			_, err := f.svc.SetAlias(f.ctx, "churn", "Latest", 1, nil)
			return err
		}},
		{"bad name", cairn.EINVALID, func() error {
			_, err := f.svc.CreateModel(f.ctx, registry.ModelCreate{Name: "a/b"})
			return err
		}},
		{"duplicate model", cairn.ECONFLICT, func() error {
			_, err := f.svc.CreateModel(f.ctx, registry.ModelCreate{Name: "churn"})
			return err
		}},
		{"dataset reference to nothing", cairn.ENOTFOUND, func() error {
			_, err := f.svc.CreateVersion(f.ctx, "churn", cairn.VersionSpec{TrainingDataset: "ds@v3"})
			return err
		}},
		{"manifest with ..", cairn.EINVALID, func() error {
			_, err := f.svc.CreateVersion(f.ctx, "churn", cairn.VersionSpec{Files: []cairn.File{{Path: "../x", Digest: cairn.EmptyDigest}}})
			return err
		}},
		{"bad filter", cairn.EINVALID, func() error {
			_, err := f.svc.ListVersions(f.ctx, "churn", registry.ListRequest{Filter: "metrics.auc >"})
			return err
		}},
	}
	for _, c := range cases {
		err := c.do()
		if got := cairn.ErrorCodeOf(err); got != c.code {
			t.Errorf("%s: error %v (code %q), want code %q", c.name, err, got, c.code)
		}
	}
	if a1, e1 := f.counts(t); a1 != a0 || e1 != e0 {
		t.Errorf("failed calls wrote audit %d→%d, events %d→%d", a0, a1, e0, e1)
	}
}

func TestChecksumDedup(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	spec := cairn.VersionSpec{Metrics: map[string]float64{"auc": 0.91}, Params: map[string]string{"depth": "6"}}
	first := f.push(t, "churn", "bytes", spec)
	spec.Tags = map[string]string{"team": "fraud"}
	spec.Aliases = []string{"candidate"}
	again := f.push(t, "churn", "bytes", spec)
	if !again.Existing || again.Version.Number != first.Version.Number {
		t.Fatalf("retry gave %+v, want the existing version %d", again, first.Version.Number)
	}
	if again.Version.Tags["team"] != "fraud" || len(again.Version.Aliases) != 1 {
		t.Errorf("retry did not apply tags and aliases: %+v", again.Version)
	}
	spec.Metrics = map[string]float64{"auc": 0.92}
	changed := f.push(t, "churn", "bytes", spec)
	if changed.Existing || changed.Version.Number != first.Version.Number+1 {
		t.Errorf("different fixed fields gave version %d existing=%v, want a new version", changed.Version.Number, changed.Existing)
	}
}

func TestAliasCompareAndSwapAndHistory(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.push(t, "churn", "a", cairn.VersionSpec{})
	f.push(t, "churn", "b", cairn.VersionSpec{})
	zero, one, two := int64(0), int64(1), int64(2)
	if _, err := f.svc.SetAlias(f.ctx, "churn", "champion", 1, &zero); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.SetAlias(f.ctx, "churn", "champion", 2, &two); !cairn.IsCode(err, cairn.ECONFLICT) {
		t.Fatalf("CAS with a stale expectation: %v, want conflict", err)
	}
	if _, err := f.svc.SetAlias(f.ctx, "churn", "champion", 2, &one); err != nil {
		t.Fatal(err)
	}
	v, err := f.svc.Resolve(f.ctx, "churn@champion")
	if err != nil || v.Number != 2 {
		t.Fatalf("resolve champion = %v, %v; want v2", v, err)
	}
	if err := f.svc.DeleteAlias(f.ctx, "churn", "champion", nil); err != nil {
		t.Fatal(err)
	}
	h, err := f.svc.AliasHistory(f.ctx, "churn", "champion", 0, "")
	if err != nil {
		t.Fatal(err)
	}
	var moves []string
	for _, m := range h.Items {
		moves = append(moves, strings.Join([]string{itoa(m.From), itoa(m.To), m.Actor}, ">"))
	}
	if got, want := strings.Join(moves, " "), "2>0>alice 1>2>alice 0>1>alice"; got != want {
		t.Errorf("history = %q, want %q", got, want)
	}
}

func itoa(n int64) string { return strings.TrimPrefix(cairn.VersionRef("x", n), "x@v") }

func TestArchiveKeepsDeploymentsSafe(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.push(t, "churn", "a", cairn.VersionSpec{Aliases: []string{"production"}})
	f.push(t, "churn", "b", cairn.VersionSpec{})
	if _, err := f.svc.ArchiveVersion(f.ctx, "churn", 1, false); !cairn.IsCode(err, cairn.EFAILEDPRECONDITION) {
		t.Fatalf("archiving an aliased version: %v, want failed_precondition", err)
	}
	if _, err := f.svc.ArchiveVersion(f.ctx, "churn", 2, false); err != nil {
		t.Fatal(err)
	}
	latest, err := f.svc.Resolve(f.ctx, "churn@latest")
	if err != nil || latest.Number != 1 {
		t.Fatalf("latest after archiving v2 = %v, %v; want v1", latest, err)
	}
	if _, err := f.svc.SetAlias(f.ctx, "churn", "staging", 2, nil); !cairn.IsCode(err, cairn.EFAILEDPRECONDITION) {
		t.Errorf("alias to an archived version: %v, want failed_precondition", err)
	}
	if _, err := f.svc.ArchiveVersion(f.ctx, "churn", 1, true); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Resolve(f.ctx, "churn@production"); !cairn.IsCode(err, cairn.ENOTFOUND) {
		t.Errorf("alias survived archive with remove_aliases: %v", err)
	}
	if _, err := f.svc.ArchiveModel(f.ctx, "churn"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.CreateVersion(f.ctx, "churn", cairn.VersionSpec{}); !cairn.IsCode(err, cairn.EFAILEDPRECONDITION) {
		t.Errorf("push to archived model: %v, want failed_precondition", err)
	}
}

func TestFinalizeNeedsEveryBlob(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	content := []byte("weights")
	d := cairn.DigestOf(content)
	res, err := f.svc.CreateVersion(f.ctx, "churn", cairn.VersionSpec{Files: []cairn.File{{Path: "w.bin", Size: int64(len(content)), Digest: d}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Missing) != 1 || res.Missing[0] != d {
		t.Fatalf("missing = %v, want [%s]", res.Missing, d)
	}
	if _, err := f.svc.FinalizeVersion(f.ctx, "churn", 1, nil); !cairn.IsCode(err, cairn.EFAILEDPRECONDITION) {
		t.Fatalf("finalize without blobs: %v, want failed_precondition", err)
	}
	if err := f.svc.PutBlob(f.ctx, d, int64(len(content)), bytes.NewReader([]byte("tampered"))); !cairn.IsCode(err, cairn.EINVALID) {
		t.Fatalf("blob with wrong bytes: %v, want invalid", err)
	}
	if err := f.svc.PutBlob(f.ctx, d, int64(len(content)), bytes.NewReader(content)); err != nil {
		t.Fatal(err)
	}
	v, err := f.svc.FinalizeVersion(f.ctx, "churn", 1, nil)
	if err != nil || v.Status != cairn.StatusReady {
		t.Fatalf("finalize = %v, %v; want ready", v, err)
	}
}

func TestLineageFromVersionRecord(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.push(t, "transactions", "rows", cairn.VersionSpec{Kind: cairn.KindDataset})
	f.push(t, "base", "base", cairn.VersionSpec{})
	run, err := f.svc.CreateRun(f.ctx, registry.RunCreate{Name: "train"})
	if err != nil {
		t.Fatal(err)
	}
	res := f.push(t, "churn", "weights", cairn.VersionSpec{
		TrainingDataset: "transactions@latest", DerivedFrom: []string{"base"}, RunID: run.ID,
	})
	if res.Version.TrainingDataset != "transactions@v1" || res.Version.DerivedFrom[0] != "base@v1" {
		t.Fatalf("references not pinned: %q %q", res.Version.TrainingDataset, res.Version.DerivedFrom)
	}
	g, err := f.svc.Lineage(f.ctx, "churn@v1", cairn.Upstream, 5)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, e := range g.Edges {
		got[e.From.String()+" "+string(e.Type)] = true
	}
	for _, want := range []string{"transactions@v1 trained_on", "base@v1 derived_from", "run:" + run.ID + " produced"} {
		if !got[want] {
			t.Errorf("lineage lacks %q; got %v", want, got)
		}
	}
}

func TestExpireFailsStalePendingVersions(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	if _, err := f.svc.CreateVersion(f.ctx, "churn", cairn.VersionSpec{Files: []cairn.File{{Path: "w", Size: 1, Digest: cairn.DigestOf([]byte("x"))}}}); err != nil {
		t.Fatal(err)
	}
	f.clock = f.clock.Add(registry.DefaultPendingTTL + time.Minute)
	rep, err := f.svc.Expire(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Versions != 1 {
		t.Fatalf("expired %d versions, want 1", rep.Versions)
	}
	v, err := f.svc.GetVersion(f.ctx, "churn", 1)
	if err != nil || v.Status != cairn.StatusFailed {
		t.Fatalf("version after expiry = %v, %v; want failed", v, err)
	}
}

// TestNothingIsCreatedInADeletedExperiment: runs and logged models are
// refused with failed_precondition in a deleted experiment, and created
// again once it is restored.
func TestNothingIsCreatedInADeletedExperiment(t *testing.T) {
	f := newFixture(t)
	exp, err := f.svc.CreateExperiment(f.ctx, registry.ExperimentCreate{Name: "churn"})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.svc.DeleteExperiment(f.ctx, exp.ID); err != nil {
		t.Fatal(err)
	}
	want := "experiment " + exp.ID + " is deleted; restore it first"
	_, err = f.svc.CreateRun(f.ctx, registry.RunCreate{ExperimentID: exp.ID})
	if cairn.ErrorCodeOf(err) != cairn.EFAILEDPRECONDITION || cairn.ErrorMessage(err) != want {
		t.Errorf("CreateRun in a deleted experiment: %v", err)
	}
	_, err = f.svc.CreateLoggedModel(f.ctx, registry.LoggedModelCreate{ExperimentID: exp.ID, Name: "m"})
	if cairn.ErrorCodeOf(err) != cairn.EFAILEDPRECONDITION || cairn.ErrorMessage(err) != want {
		t.Errorf("CreateLoggedModel in a deleted experiment: %v", err)
	}
	if err := f.svc.RestoreExperiment(f.ctx, exp.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.CreateRun(f.ctx, registry.RunCreate{ExperimentID: exp.ID}); err != nil {
		t.Errorf("CreateRun after the restore: %v", err)
	}
	if _, err := f.svc.CreateLoggedModel(f.ctx, registry.LoggedModelCreate{ExperimentID: exp.ID, Name: "m"}); err != nil {
		t.Errorf("CreateLoggedModel after the restore: %v", err)
	}
	_, err = f.svc.CreateRun(f.ctx, registry.RunCreate{ExperimentID: "404"})
	if cairn.ErrorCodeOf(err) != cairn.ENOTFOUND {
		t.Errorf("CreateRun in a missing experiment: %v", err)
	}
}
