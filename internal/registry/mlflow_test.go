package registry_test

import (
	"slices"
	"testing"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/internal/registry"
)

func TestRegisterExternal(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	if _, err := f.svc.RegisterExternal(f.ctx, "churn", cairn.VersionSpec{Source: "s3://b/m"}); !cairn.IsCode(err, cairn.ENOTFOUND) {
		t.Fatalf("unknown model: %v, want not_found (no model is created on the fly)", err)
	}
	if _, err := f.svc.CreateModel(f.ctx, registry.ModelCreate{Name: "churn"}); err != nil {
		t.Fatal(err)
	}
	spec := cairn.VersionSpec{Source: "s3://b/m", RunID: "r1", Tags: map[string]string{"k": "v"}}
	var got []*cairn.Version
	for range 2 {
		v, err := f.svc.RegisterExternal(f.ctx, "churn", spec)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, v)
	}
	for i, v := range got {
		if v.Number != int64(i+1) || v.Status != cairn.StatusReady || len(v.Files) != 0 || v.Source != "s3://b/m" ||
			v.RunID != "r1" || v.Tags["k"] != "v" || v.CreatedBy != "alice" {
			t.Errorf("registration %d: %+v", i+1, v)
		}
	}
	// Stored as returned, and @latest follows.
	if v, err := f.svc.Resolve(f.ctx, "churn"); err != nil || v.Number != 2 || v.Status != cairn.StatusReady {
		t.Errorf("churn@latest: %+v, %v", v, err)
	}
	entries, err := f.svc.ListAudit(f.ctx, cairn.AuditQuery{Target: "churn@v2", Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range entries {
		actions = append(actions, e.Action)
	}
	if !slices.Equal(actions, []string{cairn.EventVersionCreated, cairn.EventVersionReady}) {
		t.Errorf("audit of churn@v2: %v", actions)
	}

	// Files whose blobs are stored: ready at once; otherwise pending.
	pushed := f.push(t, "src", "bytes", cairn.VersionSpec{})
	v, err := f.svc.RegisterExternal(f.ctx, "churn", cairn.VersionSpec{Source: "models:/src/1", Files: pushed.Version.Files})
	if err != nil || v.Status != cairn.StatusReady || v.Digest != pushed.Version.Digest {
		t.Errorf("copy of stored files: %+v, %v", v, err)
	}
	absent := cairn.DigestOf([]byte("never uploaded"))
	v, err = f.svc.RegisterExternal(f.ctx, "churn", cairn.VersionSpec{Files: []cairn.File{{Path: "a", Size: 14, Digest: absent}}})
	if err != nil || v.Status != cairn.StatusPending {
		t.Errorf("files not stored: %+v, %v; want pending", v, err)
	}

	// The rules of CreateVersion still hold.
	if _, err := f.svc.RegisterExternal(f.ctx, "churn", cairn.VersionSpec{Source: "s3://x", Aliases: []string{"prod"}}); !cairn.IsCode(err, cairn.EINVALID) {
		t.Errorf("aliases: %v, want invalid", err)
	}
	if _, err := f.svc.RegisterExternal(f.ctx, "churn", cairn.VersionSpec{Source: "s3://x", Kind: cairn.KindDataset}); !cairn.IsCode(err, cairn.EFAILEDPRECONDITION) {
		t.Errorf("kind mismatch: %v, want failed_precondition", err)
	}
	if _, err := f.svc.ArchiveModel(f.ctx, "churn"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.RegisterExternal(f.ctx, "churn", cairn.VersionSpec{Source: "s3://x"}); !cairn.IsCode(err, cairn.EFAILEDPRECONDITION) {
		t.Errorf("archived model: %v, want failed_precondition", err)
	}
}

func TestRegisterExternalRecordsRunLineage(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	run, err := f.svc.CreateRun(f.ctx, registry.RunCreate{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.CreateModel(f.ctx, registry.ModelCreate{Name: "m"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.RegisterExternal(f.ctx, "m", cairn.VersionSpec{Source: "runs:/" + run.ID + "/model", RunID: run.ID}); err != nil {
		t.Fatal(err)
	}
	g, err := f.svc.Lineage(f.ctx, "m@v1", cairn.Upstream, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Edges) != 1 || g.Edges[0].From != cairn.RunNode(run.ID) || g.Edges[0].Type != cairn.EdgeProduced {
		t.Errorf("edges %+v, want run %s produced m@v1", g.Edges, run.ID)
	}
}

func TestDeleteModelAndAliases(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.push(t, "churn", "one", cairn.VersionSpec{Aliases: []string{"champion", "prod"}})
	if err := f.svc.DeleteModel(f.ctx, "churn"); !cairn.IsCode(err, cairn.EFAILEDPRECONDITION) {
		t.Fatalf("DeleteModel with aliases: %v, want failed_precondition", err)
	}
	if err := f.svc.DeleteModelAndAliases(f.ctx, "churn"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.GetModel(f.ctx, "churn"); !cairn.IsCode(err, cairn.ENOTFOUND) {
		t.Errorf("deleted model: %v", err)
	}
	if err := f.svc.DeleteModelAndAliases(f.ctx, "churn"); !cairn.IsCode(err, cairn.ENOTFOUND) {
		t.Errorf("deleting twice: %v, want not_found", err)
	}
	entries, err := f.svc.ListAudit(f.ctx, cairn.AuditQuery{Target: "churn", Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var tail []string
	for _, e := range entries[len(entries)-3:] {
		tail = append(tail, e.Action+" "+e.Target)
	}
	want := []string{"alias.deleted churn@champion", "alias.deleted churn@prod", "model.deleted churn"}
	if !slices.Equal(tail, want) {
		t.Errorf("last audit entries %v, want %v", tail, want)
	}
	// Restored, the model has its version and no aliases.
	m, err := f.svc.UndeleteModel(f.ctx, "churn")
	if err != nil || len(m.Aliases) != 0 {
		t.Fatalf("undelete: %+v, %v", m, err)
	}
	hist, err := f.svc.AliasHistory(f.ctx, "churn", "champion", 10, "")
	if err != nil || len(hist.Items) != 2 || hist.Items[0].To != 0 {
		t.Errorf("champion's history: %+v, %v", hist, err)
	}
}
