package storetest

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cairn-registry/cairn"
)

// importTests cover cairn.Exporter and cairn.Importer, which
// cairn migrate-store copies a registry with: what is imported reads back
// exactly, numbers and sequences continue after it, and records already
// there are ECONFLICT without spoiling the transaction.
var importTests = []test{
	{"ExportRuns", testExportRuns},
	{"ExportEdges", testExportEdges},
	{"Model", testImportModel},
	{"Alias", testImportAlias},
	{"AliasMove", testImportAliasMove},
	{"Run", testImportRun},
	{"Audit", testImportAudit},
	{"Event", testImportEvent},
	{"Policy", testImportPolicy},
	{"Approval", testImportApproval},
}

func exporter(t testing.TB, s cairn.Store) cairn.Exporter {
	t.Helper()
	e, ok := s.(cairn.Exporter)
	if !ok {
		t.Fatalf("%T does not implement cairn.Exporter", s)
	}
	return e
}

// importing runs fn in a transaction with the transaction's Importer.
func importing(t testing.TB, s cairn.Store, fn func(tx cairn.Tx, imp cairn.Importer) error) error {
	t.Helper()
	return s.Update(t.Context(), func(tx cairn.Tx) error {
		imp, ok := tx.(cairn.Importer)
		if !ok {
			t.Fatalf("%T does not implement cairn.Importer", tx)
		}
		return fn(tx, imp)
	})
}

// ExportRuns lists every run, deleted ones too, by id, one page at a time.
func testExportRuns(t *testing.T, s cairn.Store) {
	ctx := t.Context()
	var want []string
	for i, id := range []string{"r3", "r1", "r5", "r2", "r4"} {
		r := newRun(id, fmt.Sprint(i%2), i)
		if i%2 == 0 {
			r.DeletedAt = ptr(at(10))
		}
		createRun(t, s, r)
	}
	want = []string{"r1", "r2", "r3", "r4", "r5"}
	var got []string
	page := cairn.Page{Size: 2}
	pages := 0
	for {
		p, err := exporter(t, s).ExportRuns(ctx, page)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, r := range p.Items {
			got = append(got, r.ID)
			stored, err := s.GetRun(ctx, r.ID)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(stored, r); diff != "" {
				t.Errorf("ExportRuns item %s differs from GetRun (-get +export):\n%s", r.ID, diff)
			}
		}
		if p.NextToken == "" {
			break
		}
		page.Token = p.NextToken
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ExportRuns ids (-want +got):\n%s", diff)
	}
	if pages != 3 {
		t.Errorf("ExportRuns took %d pages of 2 for 5 runs, want 3", pages)
	}
	if _, err := exporter(t, s).ExportRuns(ctx, cairn.Page{Token: "!!"}); cairn.ErrorCodeOf(err) != cairn.EINVALID {
		t.Errorf("ExportRuns with a bad token: %v, want EINVALID", err)
	}
}

// ExportEdges lists every edge in the order they were added, with their
// creator and time, one page at a time.
func testExportEdges(t *testing.T, s cairn.Store) {
	ctx := t.Context()
	createModel(t, s, "data", cairn.KindDataset)
	createModel(t, s, "churn", cairn.KindModel)
	createVersion(t, s, "data", nil)
	createVersion(t, s, "churn", nil)
	createVersion(t, s, "churn", nil)
	createRun(t, s, newRun("r1", "0", 1))
	want := []cairn.Edge{
		{From: cairn.VersionNode("churn", 2), To: cairn.VersionNode("churn", 1), Type: cairn.EdgeDerivedFrom, CreatedBy: "bob", CreatedAt: at(5)},
		{From: cairn.VersionNode("data", 1), To: cairn.RunNode("r1"), Type: cairn.EdgeConsumedBy, CreatedBy: "alice", CreatedAt: at(3)},
		{From: cairn.RunNode("r1"), To: cairn.VersionNode("churn", 1), Type: cairn.EdgeProduced, CreatedBy: "alice", CreatedAt: at(4)},
	}
	for _, e := range want {
		update(t, s, func(tx cairn.Tx) error { return tx.AddEdges(ctx, []cairn.Edge{e}) })
	}
	var got []cairn.Edge
	page := cairn.Page{Size: 2}
	for {
		p, err := exporter(t, s).ExportEdges(ctx, page)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, p.Items...)
		if p.NextToken == "" {
			break
		}
		page.Token = p.NextToken
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ExportEdges (-want +got):\n%s", diff)
	}
}

// ImportModel keeps every field and the version counter: versions up to it
// can be created, AllocateVersion continues after it.
func testImportModel(t *testing.T, s cairn.Store) {
	ctx := t.Context()
	m := newModel("churn")
	m.Archived = true
	m.LatestVersion = 7
	m.UpdatedAt = at(9)
	m.DeletedAt = ptr(at(10))
	m.Aliases = map[string]int64{}
	if err := importing(t, s, func(_ cairn.Tx, imp cairn.Importer) error { return imp.ImportModel(ctx, m) }); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetModel(ctx, "churn")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(m, got); diff != "" {
		t.Errorf("GetModel after ImportModel (-want +got):\n%s", diff)
	}
	// Version 3 of 7 may be created as imported; the next allocation is 8.
	v := newVersion("churn", cairn.KindModel, 3)
	update(t, s, func(tx cairn.Tx) error { return tx.CreateVersion(ctx, v) })
	update(t, s, func(tx cairn.Tx) error {
		n, err := tx.AllocateVersion(ctx, "churn")
		if err == nil && n != 8 {
			t.Errorf("AllocateVersion after importing latest_version 7 = %d, want 8", n)
		}
		return err
	})
	// A second import is ECONFLICT and leaves the transaction usable.
	err = importing(t, s, func(_ cairn.Tx, imp cairn.Importer) error {
		wantCode(t, imp.ImportModel(ctx, m), cairn.ECONFLICT)
		other := newModel("fraud")
		other.LatestVersion = 2
		return imp.ImportModel(ctx, other)
	})
	if err != nil {
		t.Fatalf("a transaction that met ECONFLICT: %v", err)
	}
	if got, err := s.GetModel(ctx, "fraud"); err != nil || got.LatestVersion != 2 {
		t.Fatalf("GetModel(fraud) = %+v, %v; want latest_version 2", got, err)
	}
	bad := newModel("neg")
	bad.LatestVersion = -1
	wantCode(t, importing(t, s, func(_ cairn.Tx, imp cairn.Importer) error { return imp.ImportModel(ctx, bad) }), cairn.EINVALID)
}

// ImportAlias sets an alias with its own updated_by and updated_at and
// records no move.
func testImportAlias(t *testing.T, s cairn.Store) {
	ctx := t.Context()
	createModel(t, s, "churn", cairn.KindModel)
	createVersion(t, s, "churn", nil)
	createVersion(t, s, "churn", nil)
	a := &cairn.Alias{Model: "churn", Name: "champion", Version: 2, UpdatedBy: "dave", UpdatedAt: at(42)}
	if err := importing(t, s, func(_ cairn.Tx, imp cairn.Importer) error { return imp.ImportAlias(ctx, a) }); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetAlias(ctx, "churn", "champion")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(a, got); diff != "" {
		t.Errorf("GetAlias (-want +got):\n%s", diff)
	}
	h, err := s.AliasHistory(ctx, "churn", "", cairn.Page{})
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Items) != 0 {
		t.Errorf("ImportAlias recorded %d moves, want none", len(h.Items))
	}
	if v, err := s.GetVersion(ctx, "churn", 2); err != nil || !cmp.Equal(v.Aliases, []string{"champion"}) {
		t.Errorf("GetVersion(churn@v2).Aliases = %v, %v; want [champion]", v.Aliases, err)
	}
	err = importing(t, s, func(_ cairn.Tx, imp cairn.Importer) error {
		wantCode(t, imp.ImportAlias(ctx, a), cairn.ECONFLICT)
		missing := &cairn.Alias{Model: "churn", Name: "x", Version: 9, UpdatedBy: "dave", UpdatedAt: at(1)}
		wantCode(t, imp.ImportAlias(ctx, missing), cairn.ENOTFOUND)
		return imp.ImportAlias(ctx, &cairn.Alias{Model: "churn", Name: "staging", Version: 1, UpdatedBy: "erin", UpdatedAt: at(43)})
	})
	if err != nil {
		t.Fatalf("a transaction that met ECONFLICT and ENOTFOUND: %v", err)
	}
	if got, err := s.GetAlias(ctx, "churn", "staging"); err != nil || got.Version != 1 {
		t.Errorf("GetAlias(staging) = %+v, %v", got, err)
	}
}

// ImportAliasMove keeps sequence numbers, and MoveAlias numbers after the
// highest imported.
func testImportAliasMove(t *testing.T, s cairn.Store) {
	ctx := t.Context()
	createModel(t, s, "churn", cairn.KindModel)
	createModel(t, s, "fraud", cairn.KindModel)
	createVersion(t, s, "churn", nil)
	createVersion(t, s, "churn", nil)
	moves := []*cairn.AliasMove{
		{Seq: 4, Model: "churn", Alias: "champion", To: 1, Actor: "carol", At: at(1), RequestID: "r4"},
		{Seq: 9, Model: "churn", Alias: "champion", From: 1, To: 2, Actor: "dave", At: at(2),
			Origin: &cairn.MoveOrigin{System: "gto", Ref: "churn#champion#2", Actor: "Dave <dave@example.com>", At: at(-50)}},
		{Seq: 17, Model: "churn", Alias: "champion", From: 2, Actor: "erin", At: at(3), RequestID: "r17"},
		{Seq: 12, Model: "fraud", Alias: "old", From: 3, To: 5, Actor: "erin", At: at(2)},
	}
	err := importing(t, s, func(_ cairn.Tx, imp cairn.Importer) error {
		for _, m := range moves {
			if err := imp.ImportAliasMove(ctx, m); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	h, err := s.AliasHistory(ctx, "churn", "champion", cairn.Page{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]*cairn.AliasMove{moves[2], moves[1], moves[0]}, h.Items); diff != "" {
		t.Errorf("AliasHistory (-want +got):\n%s", diff)
	}
	next := moveAlias(t, s, "churn", "champion", 0, 1, at(4))
	if next.Seq <= 17 {
		t.Errorf("MoveAlias after importing move 17 got seq %d, want more than 17", next.Seq)
	}
	err = importing(t, s, func(_ cairn.Tx, imp cairn.Importer) error {
		wantCode(t, imp.ImportAliasMove(ctx, moves[1]), cairn.ECONFLICT)
		wantCode(t, imp.ImportAliasMove(ctx, &cairn.AliasMove{Seq: 99, Model: "nope", Alias: "a", To: 1, Actor: "x", At: at(1)}), cairn.ENOTFOUND)
		wantCode(t, imp.ImportAliasMove(ctx, &cairn.AliasMove{Seq: 0, Model: "churn", Alias: "a", To: 1, Actor: "x", At: at(1)}), cairn.EINVALID)
		return imp.ImportAliasMove(ctx, &cairn.AliasMove{Seq: 100, Model: "churn", Alias: "b", To: 1, Actor: "x", At: at(5)})
	})
	if err != nil {
		t.Fatalf("a transaction that met ECONFLICT and ENOTFOUND: %v", err)
	}
	if h, err := s.AliasHistory(ctx, "churn", "b", cairn.Page{}); err != nil || len(h.Items) != 1 || h.Items[0].Seq != 100 {
		t.Errorf("AliasHistory(churn@b) = %+v, %v; want move 100", h, err)
	}
}

// ImportRun keeps every field, deleted or not, and the metric history.
func testImportRun(t *testing.T, s cairn.Store) {
	ctx := t.Context()
	r := fullRun("r1")
	r.Metrics = map[string]float64{"auc": 0.5, "loss": 0.25} // as imported, not recomputed
	history := []cairn.MetricPoint{
		{Key: "auc", Value: 0.75, Timestamp: at(3), Step: 1},
		{Key: "loss", Value: 0.9, Timestamp: at(1), Step: 0},
		{Key: "auc", Value: 0.5, Timestamp: at(2), Step: 0},
		{Key: "loss", Value: 0.25, Timestamp: at(2), Step: 1},
	}
	if err := importing(t, s, func(_ cairn.Tx, imp cairn.Importer) error { return imp.ImportRun(ctx, r, history) }); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetRun(ctx, "r1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(r, got); diff != "" {
		t.Errorf("GetRun (-want +got):\n%s", diff)
	}
	for key, want := range map[string][]cairn.MetricPoint{
		"auc":  {history[2], history[0]},
		"loss": {history[1], history[3]},
	} {
		got, err := s.MetricHistory(ctx, "r1", key)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("MetricHistory(%s) (-want +got):\n%s", key, diff)
		}
	}
	err = importing(t, s, func(_ cairn.Tx, imp cairn.Importer) error {
		wantCode(t, imp.ImportRun(ctx, r, history), cairn.ECONFLICT)
		return imp.ImportRun(ctx, newRun("r2", "0", 1), nil)
	})
	if err != nil {
		t.Fatalf("a transaction that met ECONFLICT: %v", err)
	}
	if h, err := s.MetricHistory(ctx, "r1", "auc"); err != nil || len(h) != 2 {
		t.Errorf("MetricHistory after a refused re-import = %v, %v; want the 2 points, not doubled", h, err)
	}
	if _, err := s.GetRun(ctx, "r2"); err != nil {
		t.Error(err)
	}
}

// chain returns n audit entries chained from entry 1, as another store
// would have written them.
func chain(n int) []*cairn.AuditEntry {
	var out []*cairn.AuditEntry
	prev := ""
	for i := 1; i <= n; i++ {
		e := auditEntry(i, "alice", cairn.EventModelUpdated, "churn")
		e.Before = json.RawMessage(`{"b":1,  "a":[true]}`) // not canonical: kept byte for byte
		e.Seq, e.PrevHash = int64(i), prev
		e.Hash = e.ComputeHash(prev)
		prev = e.Hash
		out = append(out, e)
	}
	return out
}

// ImportAudit keeps seq and hashes, refuses what does not extend the
// chain, and AppendAudit continues the chain after it.
func testImportAudit(t *testing.T, s cairn.Store) {
	ctx := t.Context()
	es := chain(4)
	importAudit := func(e *cairn.AuditEntry) error {
		return importing(t, s, func(_ cairn.Tx, imp cairn.Importer) error { return imp.ImportAudit(ctx, e) })
	}
	// Entry 2 before entry 1: not the next.
	wantCode(t, importAudit(es[1]), cairn.EFAILEDPRECONDITION)
	for _, e := range es[:3] {
		if err := importAudit(e); err != nil {
			t.Fatalf("ImportAudit(%d): %v", e.Seq, err)
		}
	}
	// Again: ECONFLICT; the same seq with other content: refused.
	wantCode(t, importAudit(es[1]), cairn.ECONFLICT)
	forged := *es[1]
	forged.Actor = "mallory"
	forged.Hash = forged.ComputeHash(forged.PrevHash)
	wantCode(t, importAudit(&forged), cairn.EFAILEDPRECONDITION)
	// Entry 4 with a wrong link, a wrong hash, a skipped number.
	badLink := *es[3]
	badLink.PrevHash = es[1].Hash
	badLink.Hash = badLink.ComputeHash(badLink.PrevHash)
	wantCode(t, importAudit(&badLink), cairn.EFAILEDPRECONDITION)
	badHash := *es[3]
	badHash.Target = "tampered"
	wantCode(t, importAudit(&badHash), cairn.EINVALID)
	skip := chain(5)[4]
	wantCode(t, importAudit(skip), cairn.EFAILEDPRECONDITION)
	// A refusal leaves the transaction usable.
	err := importing(t, s, func(_ cairn.Tx, imp cairn.Importer) error {
		wantCode(t, imp.ImportAudit(ctx, es[0]), cairn.ECONFLICT)
		return imp.ImportAudit(ctx, es[3])
	})
	if err != nil {
		t.Fatalf("a transaction that met ECONFLICT: %v", err)
	}
	next := auditEntry(5, "bob", cairn.EventModelArchived, "churn")
	appendAudit(t, s, next)
	if next.Seq != 5 || next.PrevHash != es[3].Hash {
		t.Errorf("AppendAudit after importing 4 entries: seq %d prev %q, want 5 and %q", next.Seq, next.PrevHash, es[3].Hash)
	}
	got, err := s.ListAudit(ctx, cairn.AuditQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(append(es, next), got); diff != "" {
		t.Errorf("ListAudit (-want +got):\n%s", diff)
	}
	verifyChain(t, got)
}

// ImportEvent keeps seq and id; AppendEvent continues after it.
func testImportEvent(t *testing.T, s cairn.Store) {
	ctx := t.Context()
	ev := func(seq int64) *cairn.Event {
		return &cairn.Event{Seq: seq, ID: fmt.Sprintf("ev-%d", seq), Type: cairn.EventAliasSet, Time: at(int(seq)),
			Actor: "carol", Model: "churn", Alias: "champion", Payload: json.RawMessage(`{"to": 2,  "from":1}`)}
	}
	importEvent := func(e *cairn.Event) error {
		return importing(t, s, func(_ cairn.Tx, imp cairn.Importer) error { return imp.ImportEvent(ctx, e) })
	}
	wantCode(t, importEvent(ev(2)), cairn.EFAILEDPRECONDITION)
	for i := int64(1); i <= 3; i++ {
		if err := importEvent(ev(i)); err != nil {
			t.Fatalf("ImportEvent(%d): %v", i, err)
		}
	}
	dupID := ev(4)
	dupID.ID = "ev-2"
	err := importing(t, s, func(_ cairn.Tx, imp cairn.Importer) error {
		wantCode(t, imp.ImportEvent(ctx, ev(2)), cairn.ECONFLICT)
		wantCode(t, imp.ImportEvent(ctx, dupID), cairn.EFAILEDPRECONDITION)
		return imp.ImportEvent(ctx, ev(4))
	})
	if err != nil {
		t.Fatalf("a transaction that met ECONFLICT: %v", err)
	}
	next := &cairn.Event{ID: "new", Type: cairn.EventModelCreated, Time: at(9), Actor: "bob", Payload: json.RawMessage(`{}`)}
	update(t, s, func(tx cairn.Tx) error { return tx.AppendEvent(ctx, next) })
	if next.Seq != 5 {
		t.Errorf("AppendEvent after importing 4 events: seq %d, want 5", next.Seq)
	}
	got, err := s.ListEvents(ctx, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	want := []*cairn.Event{ev(1), ev(2), ev(3), ev(4), next}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ListEvents (-want +got):\n%s", diff)
	}
}

// ImportPolicy writes every version with its own author and time, the
// highest current, deleted or not; the next PutPolicy continues after it;
// a name already there is ECONFLICT without spoiling the transaction.
func testImportPolicy(t *testing.T, s cairn.Store) {
	ctx := t.Context()
	v1, v2, v3 := newPolicy("gate", 1, 1), newPolicy("gate", 2, 2), newPolicy("gate", 3, 3)
	v2.Scope, v2.CreatedBy = "*", "bob"
	v3.ProtectedStages, v3.Signals, v3.CreatedBy = nil, nil, "carol"
	old := newPolicy("old", 1, 4)
	old.PolicySpec = cairn.PolicySpec{Scope: "fraud", Description: "retired"}
	deleted := []*cairn.Policy{old, newPolicy("old", 2, 5)}
	for _, p := range deleted {
		p.DeletedAt = ptr(at(6))
	}
	err := importing(t, s, func(_ cairn.Tx, imp cairn.Importer) error {
		if err := imp.ImportPolicy(ctx, []*cairn.Policy{v3, v1, v2}); err != nil { // any order
			return err
		}
		return imp.ImportPolicy(ctx, deleted)
	})
	if err != nil {
		t.Fatal(err)
	}
	all, err := s.ListPolicyVersions(ctx, "gate")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]*cairn.Policy{v3, v2, v1}, all); diff != "" {
		t.Errorf("ListPolicyVersions (-want +got):\n%s", diff)
	}
	if cur, err := s.GetPolicy(ctx, "gate"); err != nil || !cmp.Equal(cur, v3) {
		t.Errorf("GetPolicy(gate) = %+v, %v; want version 3", cur, err)
	}
	live, err := s.ListPolicies(ctx, false)
	if err != nil || len(live) != 1 || live[0].Name != "gate" {
		t.Errorf("ListPolicies = %v, %v; want gate only", live, err)
	}
	got, err := s.ListPolicyVersions(ctx, "old")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]*cairn.Policy{deleted[1], deleted[0]}, got); diff != "" {
		t.Errorf("ListPolicyVersions of a deleted policy (-want +got):\n%s", diff)
	}
	// The next write continues the numbering; version 3 is taken.
	wantCode(t, s.Update(ctx, func(tx cairn.Tx) error { return tx.PutPolicy(ctx, newPolicy("gate", 3, 7)) }), cairn.ECONFLICT)
	putPolicy(t, s, newPolicy("gate", 4, 7))
	putPolicy(t, s, newPolicy("old", 3, 8)) // brings it back
	if p, err := s.GetPolicy(ctx, "old"); err != nil || p.DeletedAt != nil || p.Version != 3 {
		t.Errorf("GetPolicy(old) after a new version = %+v, %v; want version 3, live", p, err)
	}

	err = importing(t, s, func(_ cairn.Tx, imp cairn.Importer) error {
		wantCode(t, imp.ImportPolicy(ctx, []*cairn.Policy{newPolicy("gate", 1, 1)}), cairn.ECONFLICT)
		wantCode(t, imp.ImportPolicy(ctx, nil), cairn.EINVALID)
		wantCode(t, imp.ImportPolicy(ctx, []*cairn.Policy{newPolicy("x", 1, 1), newPolicy("y", 2, 1)}), cairn.EINVALID)
		wantCode(t, imp.ImportPolicy(ctx, []*cairn.Policy{newPolicy("x", 1, 1), newPolicy("x", 1, 2)}), cairn.EINVALID)
		return imp.ImportPolicy(ctx, []*cairn.Policy{newPolicy("z", 5, 9)})
	})
	if err != nil {
		t.Fatalf("a transaction that met ECONFLICT and EINVALID: %v", err)
	}
	if p, err := s.GetPolicy(ctx, "z"); err != nil || p.Version != 5 {
		t.Errorf("GetPolicy(z) = %+v, %v; want version 5", p, err)
	}
	if _, err := s.GetPolicy(ctx, "x"); !cairn.IsCode(err, cairn.ENOTFOUND) {
		t.Errorf("GetPolicy(x) after refused imports: %v, want not_found", err)
	}
}

// ImportApproval keeps every field of a request, whatever its state; an
// id already there is ECONFLICT without spoiling the transaction.
func testImportApproval(t *testing.T, s cairn.Store) {
	ctx := t.Context()
	createModel(t, s, "churn", cairn.KindModel)
	pending := newApproval("p1", "churn", 2, 1)
	pending.Approvals = []cairn.ApprovalDecision{{Actor: "carol", Verified: true, Comment: "looks fine", At: at(2)}}
	applied := newApproval("p2", "churn", 3, 3)
	applied.Status, applied.StatusMessage, applied.UpdatedAt = cairn.RequestApplied, "applied after 2 approval(s)", at(6)
	applied.Approvals = []cairn.ApprovalDecision{{Actor: "carol", At: at(4)}, {Actor: "dave", Verified: true, At: at(5)}}
	rejected := newApproval("p3", "churn", 1, 7)
	rejected.Stage, rejected.Alias, rejected.ArchiveExisting = cairn.StageProduction, "", true
	rejected.Status, rejected.StatusMessage, rejected.UpdatedAt = cairn.RequestRejected, "rejected by bob", at(8)
	rejected.Rejection = &cairn.ApprovalDecision{Actor: "bob", Verified: true, Comment: "no", At: at(8)}
	err := importing(t, s, func(_ cairn.Tx, imp cairn.Importer) error {
		for _, a := range []*cairn.ApprovalRequest{pending, applied, rejected} {
			if err := imp.ImportApproval(ctx, a); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	page, err := s.ListApprovals(ctx, cairn.ApprovalQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]*cairn.ApprovalRequest{rejected, applied, pending}, page.Items); diff != "" {
		t.Errorf("ListApprovals (-want +got):\n%s", diff)
	}
	expired, err := s.ExpiredApprovals(ctx, at(200), 10)
	if err != nil || len(expired) != 1 || expired[0].ID != "p1" {
		t.Errorf("ExpiredApprovals = %v, %v; want the pending one", expired, err)
	}
	err = importing(t, s, func(_ cairn.Tx, imp cairn.Importer) error {
		wantCode(t, imp.ImportApproval(ctx, pending), cairn.ECONFLICT)
		wantCode(t, imp.ImportApproval(ctx, newApproval("p9", "nope", 1, 1)), cairn.ENOTFOUND)
		wantCode(t, imp.ImportApproval(ctx, newApproval("", "churn", 1, 1)), cairn.EINVALID)
		return imp.ImportApproval(ctx, newApproval("p4", "churn", 4, 9))
	})
	if err != nil {
		t.Fatalf("a transaction that met ECONFLICT and ENOTFOUND: %v", err)
	}
	if got, err := s.GetApproval(ctx, "p4"); err != nil || got.Version != 4 {
		t.Errorf("GetApproval(p4) = %+v, %v", got, err)
	}
	if got, err := s.GetApproval(ctx, "p1"); err != nil || !cmp.Equal(got, pending) {
		t.Errorf("GetApproval(p1) after a refused import = %+v, %v; want it unchanged", got, err)
	}
}
