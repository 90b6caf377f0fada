package registry_test

import (
	"encoding/json"
	"fmt"
	"math"
	"testing"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/internal/registry"
)

// thresholds writes a policy on every model with these signal thresholds.
func (f *fixture) thresholds(t *testing.T, byKind map[string]float64) {
	t.Helper()
	if _, err := f.svc.CreatePolicy(f.ctx, registry.PolicyCreate{Name: "monitoring",
		PolicySpec: cairn.PolicySpec{Scope: "*", Signals: byKind}}); err != nil {
		t.Fatal(err)
	}
}

// eventsOf returns the events of one type, in order.
func (f *fixture) eventsOf(t *testing.T, typ string) []*cairn.Event {
	t.Helper()
	evs, err := f.store.ListEvents(f.ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out []*cairn.Event
	for _, e := range evs {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

func TestSignalFlagsVersionAboveThreshold(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.thresholds(t, map[string]float64{"drift": 0.2})
	f.push(t, "churn", "v1", cairn.VersionSpec{})
	f.push(t, "churn", "v2", cairn.VersionSpec{Aliases: []string{"production"}})

	// Below the threshold, and a kind without one: recorded, not flagged.
	low, err := f.svc.RecordSignal(f.ctx, "churn@production", cairn.SignalSpec{Kind: "drift", Value: 0.2})
	if err != nil {
		t.Fatal(err)
	}
	if low.Flagged || low.Threshold == nil || *low.Threshold != 0.2 || low.Version != 2 || low.CreatedBy != "alice" {
		t.Fatalf("signal at the threshold: %+v", low)
	}
	other, err := f.svc.RecordSignal(f.ctx, "churn@v2", cairn.SignalSpec{Kind: "error_rate", Value: 99})
	if err != nil {
		t.Fatal(err)
	}
	if other.Flagged || other.Threshold != nil {
		t.Fatalf("signal without a threshold: %+v", other)
	}
	if len(f.eventsOf(t, cairn.EventVersionFlagged)) != 0 {
		t.Fatal("version.flagged emitted below the threshold")
	}
	audit0, events0 := f.counts(t)

	// Above: the signal, the flag, the audit entries and both events
	// commit together.
	high, err := f.svc.RecordSignal(f.ctx, "churn@production", cairn.SignalSpec{Kind: "drift", Value: 0.31, Detail: "PSI on tenure"})
	if err != nil {
		t.Fatal(err)
	}
	if !high.Flagged {
		t.Fatalf("signal above the threshold not flagged: %+v", high)
	}
	audit1, events1 := f.counts(t)
	if audit1-audit0 != 2 || events1-events0 != 2 {
		t.Errorf("flagging wrote %d audit entries and %d events; want 2 and 2 (signal.recorded, version.flagged)", audit1-audit0, events1-events0)
	}
	v, err := f.svc.GetVersion(f.ctx, "churn", 2)
	if err != nil {
		t.Fatal(err)
	}
	if !v.Flagged || v.Flag == nil || v.Flag.Signal != high.ID || v.Flag.Kind != "drift" || v.Flag.Value != 0.31 ||
		v.Flag.Threshold != 0.2 || v.Flag.Detail != "PSI on tenure" || v.Flag.FlaggedBy != "alice" {
		t.Fatalf("flagged version: flagged %v, flag %+v", v.Flagged, v.Flag)
	}
	flagged := f.eventsOf(t, cairn.EventVersionFlagged)
	if len(flagged) != 1 || flagged[0].Model != "churn" {
		t.Fatalf("version.flagged events: %+v", flagged)
	}
	var payload cairn.Version
	if err := json.Unmarshal(flagged[0].Payload, &payload); err != nil {
		t.Fatal(err)
	}
	if payload.Ref() != "churn@v2" || payload.Flag == nil || payload.Flag.Signal != high.ID {
		t.Errorf("version.flagged payload: %s", flagged[0].Payload)
	}
	if v1, _ := f.svc.GetVersion(f.ctx, "churn", 1); v1.Flagged {
		t.Error("churn@v1 flagged too")
	}

	// A second crossing is recorded as flagged but flags nothing again.
	again, err := f.svc.RecordSignal(f.ctx, "churn@v2", cairn.SignalSpec{Kind: "drift", Value: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	if !again.Flagged || len(f.eventsOf(t, cairn.EventVersionFlagged)) != 1 {
		t.Errorf("second crossing: flagged %v, %d version.flagged events", again.Flagged, len(f.eventsOf(t, cairn.EventVersionFlagged)))
	}
	if v, _ := f.svc.GetVersion(f.ctx, "churn", 2); v.Flag.Signal != high.ID {
		t.Errorf("the flag moved to signal %d; the first crossing should stay", v.Flag.Signal)
	}

	// Listed newest first, by kind too.
	page, err := f.svc.ListSignals(f.ctx, "churn@production", "", cairn.Page{})
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for _, s := range page.Items {
		ids = append(ids, s.ID)
	}
	if len(ids) != 4 || ids[0] != again.ID || ids[3] != low.ID {
		t.Errorf("signals of churn@v2: %v", ids)
	}
	drift, err := f.svc.ListSignals(f.ctx, "churn@v2", "drift", cairn.Page{})
	if err != nil {
		t.Fatal(err)
	}
	if len(drift.Items) != 3 {
		t.Errorf("drift signals: %d, want 3", len(drift.Items))
	}

	// Unflag: audited, evented, idempotent; a later crossing flags again.
	u, err := f.svc.UnflagVersion(f.ctx, "churn@v2")
	if err != nil {
		t.Fatal(err)
	}
	if u.Flagged || u.Flag != nil || len(f.eventsOf(t, cairn.EventVersionUnflagged)) != 1 {
		t.Fatalf("after unflag: %+v", u)
	}
	audit2, events2 := f.counts(t)
	if _, err := f.svc.UnflagVersion(f.ctx, "churn@v2"); err != nil {
		t.Fatal(err)
	}
	if a, e := f.counts(t); a != audit2 || e != events2 {
		t.Error("unflagging an unflagged version wrote something")
	}
	if _, err := f.svc.RecordSignal(f.ctx, "churn@v2", cairn.SignalSpec{Kind: "drift", Value: 0.9}); err != nil {
		t.Fatal(err)
	}
	if len(f.eventsOf(t, cairn.EventVersionFlagged)) != 2 {
		t.Error("a crossing after unflag did not flag again")
	}
}

func TestSignalBadInputChangesNothing(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.thresholds(t, map[string]float64{"drift": 0.2})
	f.push(t, "churn", "v1", cairn.VersionSpec{})
	pending, err := f.svc.CreateVersion(f.ctx, "churn", cairn.VersionSpec{Files: []cairn.File{{Path: "x", Size: 1, Digest: cairn.DigestOf([]byte("x"))}}})
	if err != nil {
		t.Fatal(err)
	}
	audit0, events0 := f.counts(t)
	for _, tc := range []struct {
		name string
		ref  string
		spec cairn.SignalSpec
		code cairn.ErrorCode
	}{
		{"empty kind", "churn@v1", cairn.SignalSpec{Value: 1}, cairn.EINVALID},
		{"upper-case kind", "churn@v1", cairn.SignalSpec{Kind: "Drift", Value: 1}, cairn.EINVALID},
		{"kind with space", "churn@v1", cairn.SignalSpec{Kind: "data drift", Value: 1}, cairn.EINVALID},
		{"NaN", "churn@v1", cairn.SignalSpec{Kind: "drift", Value: math.NaN()}, cairn.EINVALID},
		{"Inf", "churn@v1", cairn.SignalSpec{Kind: "drift", Value: math.Inf(1)}, cairn.EINVALID},
		{"long detail", "churn@v1", cairn.SignalSpec{Kind: "drift", Value: 1, Detail: string(make([]byte, cairn.MaxSignalDetailLength+1))}, cairn.EINVALID},
		{"bad ref", "churn@", cairn.SignalSpec{Kind: "drift", Value: 1}, cairn.EINVALID},
		{"no model", "nope@v1", cairn.SignalSpec{Kind: "drift", Value: 1}, cairn.ENOTFOUND},
		{"no version", "churn@v9", cairn.SignalSpec{Kind: "drift", Value: 1}, cairn.ENOTFOUND},
		{"no alias", "churn@production", cairn.SignalSpec{Kind: "drift", Value: 1}, cairn.ENOTFOUND},
		{"pending version", pending.Version.Ref(), cairn.SignalSpec{Kind: "drift", Value: 1}, cairn.EFAILEDPRECONDITION},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.svc.RecordSignal(f.ctx, tc.ref, tc.spec)
			if got := cairn.ErrorCodeOf(err); got != tc.code {
				t.Errorf("RecordSignal = %v (%s), want %s", err, got, tc.code)
			}
		})
	}
	if a, e := f.counts(t); a != audit0 || e != events0 {
		t.Errorf("refused signals wrote %d audit entries and %d events", a-audit0, e-events0)
	}
	if _, err := f.svc.ListSignals(f.ctx, "churn@v1", "Bad Kind", cairn.Page{}); cairn.ErrorCodeOf(err) != cairn.EINVALID {
		t.Errorf("ListSignals with a bad kind: %v", err)
	}
}

func TestEvaluationsAndRetraining(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.push(t, "churn", "v1", cairn.VersionSpec{})
	f.push(t, "churn", "v2", cairn.VersionSpec{Aliases: []string{"staging"}})

	// An evaluation of churn@staging is pinned to churn@v2 and linked.
	ev := f.push(t, "churn-eval", "report", cairn.VersionSpec{Kind: cairn.KindEvaluation, Evaluates: []string{"churn@staging"},
		Metrics: map[string]float64{"demographic_parity": 0.03}}).Version
	if len(ev.Evaluates) != 1 || ev.Evaluates[0] != "churn@v2" {
		t.Fatalf("evaluates = %v, want [churn@v2]", ev.Evaluates)
	}
	evals, err := f.svc.Evaluations(f.ctx, "churn@v2")
	if err != nil {
		t.Fatal(err)
	}
	if len(evals) != 1 || evals[0].Ref() != "churn-eval@v1" || evals[0].Metrics["demographic_parity"] != 0.03 {
		t.Fatalf("evaluations of churn@v2: %+v", evals)
	}
	if evals, _ := f.svc.Evaluations(f.ctx, "churn@v1"); len(evals) != 0 {
		t.Errorf("churn@v1 has evaluations: %+v", evals)
	}
	g, err := f.svc.Lineage(f.ctx, "churn-eval@v1", cairn.Upstream, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Edges) != 1 || g.Edges[0].Type != cairn.EdgeEvaluates || g.Edges[0].From.String() != "churn@v2" {
		t.Errorf("lineage of the evaluation: %+v", g.Edges)
	}
	// The same evaluation pushed again is a retry; evaluating another
	// version is a new one.
	again := f.push(t, "churn-eval", "report", cairn.VersionSpec{Evaluates: []string{"churn@v2"}, Metrics: map[string]float64{"demographic_parity": 0.03}})
	if !again.Existing {
		t.Error("an identical evaluation push registered a new version")
	}
	if other := f.push(t, "churn-eval", "report", cairn.VersionSpec{Evaluates: []string{"churn@v1"}, Metrics: map[string]float64{"demographic_parity": 0.03}}); other.Existing {
		t.Error("an evaluation of another version was taken for a retry")
	}

	// evaluates is refused on models of other kinds and for missing versions.
	for _, tc := range []struct {
		model string
		spec  cairn.VersionSpec
		code  cairn.ErrorCode
	}{
		{"churn", cairn.VersionSpec{Evaluates: []string{"churn@v1"}}, cairn.EINVALID},
		{"other-eval", cairn.VersionSpec{Kind: cairn.KindModel, Evaluates: []string{"churn@v1"}}, cairn.EINVALID},
		{"churn-eval", cairn.VersionSpec{Evaluates: []string{"churn@v9"}}, cairn.ENOTFOUND},
		{"churn-eval", cairn.VersionSpec{Evaluates: []string{"not a ref@@"}}, cairn.EINVALID},
		{"churn", cairn.VersionSpec{RetrainedFrom: "churn@v9"}, cairn.ENOTFOUND},
		{"churn", cairn.VersionSpec{RetrainedFrom: "s3://bucket/x"}, cairn.EINVALID},
	} {
		tc.spec.Files = []cairn.File{{Path: "m", Size: 1, Digest: cairn.DigestOf([]byte("z"))}}
		if _, err := f.svc.CreateVersion(f.ctx, tc.model, tc.spec); cairn.ErrorCodeOf(err) != tc.code {
			t.Errorf("CreateVersion(%s, evaluates %v, retrained_from %q) = %v, want %s", tc.model, tc.spec.Evaluates, tc.spec.RetrainedFrom, err, tc.code)
		}
	}

	// A retrained version links to the one it replaces.
	v3 := f.push(t, "churn", "v3", cairn.VersionSpec{RetrainedFrom: "churn@staging"}).Version
	if v3.RetrainedFrom != "churn@v2" {
		t.Fatalf("retrained_from = %q, want churn@v2", v3.RetrainedFrom)
	}
	g, err = f.svc.Lineage(f.ctx, "churn@v2", cairn.Downstream, 1)
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, e := range g.Edges {
		if e.Type == cairn.EdgeRetrainedFrom && e.To.String() == "churn@v3" {
			found = true
		}
	}
	if !found {
		t.Errorf("no retrained_from edge churn@v2 → churn@v3 in %+v", g.Edges)
	}

	// A deleted evaluation is no longer listed.
	if err := f.svc.DeleteVersion(f.ctx, "churn-eval", 1, true); err != nil {
		t.Fatal(err)
	}
	if evals, _ := f.svc.Evaluations(f.ctx, "churn@v2"); len(evals) != 0 {
		t.Errorf("deleted evaluation still listed: %+v", evals)
	}
}

// Audit entries and events carry a version with a large manifest without
// its files (the digest pins them), and a small one whole.
func TestLargeManifestStateOmitsFiles(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	files := make([]cairn.File, registry.MaxStateFiles+1)
	for i := range files {
		files[i] = cairn.File{Path: fmt.Sprintf("rows/%05d.json", i), Size: 1, Digest: cairn.DigestOf([]byte{byte(i)})}
	}
	res, err := f.svc.CreateVersion(f.ctx, "rows", cairn.VersionSpec{Kind: cairn.KindDataset, Files: files})
	if err != nil {
		t.Fatal(err)
	}
	f.push(t, "small", "weights", cairn.VersionSpec{})
	evs, err := f.store.ListEvents(f.ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	audit, err := f.store.ListAudit(f.ctx, cairn.AuditQuery{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	type state struct {
		Model        string       `json:"model"`
		Digest       cairn.Digest `json:"digest"`
		Files        []cairn.File `json:"files"`
		FilesOmitted int          `json:"files_omitted"`
	}
	var large, small int
	check := func(what string, raw json.RawMessage) {
		var s state
		if len(raw) == 0 || json.Unmarshal(raw, &s) != nil || s.Digest == "" {
			return
		}
		switch s.Model {
		case "rows":
			large++
			if len(s.Files) != 0 || s.FilesOmitted != len(files) || s.Digest != res.Version.Digest {
				t.Errorf("%s of rows: %d files, files_omitted %d, digest %s", what, len(s.Files), s.FilesOmitted, s.Digest)
			}
			if len(raw) > 4096 {
				t.Errorf("%s of rows is %d bytes", what, len(raw))
			}
		case "small":
			small++
			if len(s.Files) != 1 || s.FilesOmitted != 0 {
				t.Errorf("%s of small: %d files, files_omitted %d", what, len(s.Files), s.FilesOmitted)
			}
		}
	}
	for _, e := range evs {
		check("event "+e.Type, e.Payload)
	}
	for _, a := range audit {
		check("audit "+a.Action+" after", a.After)
	}
	if large == 0 || small == 0 {
		t.Fatalf("checked %d states of rows and %d of small", large, small)
	}
	// The version record itself keeps every file.
	v, err := f.svc.GetVersion(f.ctx, "rows", 1)
	if err != nil || len(v.Files) != len(files) {
		t.Fatalf("rows@v1 has %d files, %v", len(v.Files), err)
	}
}
