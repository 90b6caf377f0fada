package migrate

import (
	"context"
	"reflect"

	"github.com/cairn-registry/cairn"
)

// A resumed copy skips the records the target has. That is right only if
// the source has not changed since the earlier run copied them, so a
// skipped record is first compared with the target's, and a copy ends by
// checking that the two registries end at the same audit entry and event
// and hold as many models and runs. A difference is EFAILEDPRECONDITION:
// the source was written to while it was being copied, and only a copy
// into an empty target, with the source's servers stopped, can be trusted.

const changedHint = "the source changed since an earlier run of this copy wrote it: stop every server on the source and copy again into an empty target"

// differs returns the error for a record that the target holds differently.
func differs(what string) error {
	return cairn.Errorf(cairn.EFAILEDPRECONDITION, "the target's %s differs from the source's: %s", what, changedHint)
}

// sameModel checks the target's model m.Name against m; it returns
// ECONFLICT (skip) if they agree.
func (c *copier) sameModel(ctx context.Context, tx cairn.Tx, m *cairn.Model) error {
	got, err := tx.GetModel(ctx, m.Name)
	if err != nil {
		return err
	}
	want := *m
	g := *got
	want.Aliases, g.Aliases = nil, nil // copied later, compared then
	if !reflect.DeepEqual(&want, &g) {
		return differs("model " + m.Name)
	}
	return cairn.Errorf(cairn.ECONFLICT, "model %q exists", m.Name)
}

func (c *copier) sameVersion(ctx context.Context, tx cairn.Tx, v *cairn.Version) error {
	got, err := tx.GetVersion(ctx, v.Model, v.Number)
	if err != nil {
		return err
	}
	want := *v
	g := *got
	want.Aliases, g.Aliases = nil, nil
	if !reflect.DeepEqual(&want, &g) {
		return differs("version " + v.Ref())
	}
	return cairn.Errorf(cairn.ECONFLICT, "version %s exists", v.Ref())
}

func (c *copier) sameAlias(ctx context.Context, tx cairn.Tx, a *cairn.Alias) error {
	got, err := tx.GetAlias(ctx, a.Model, a.Name)
	if err != nil {
		return err
	}
	if !reflect.DeepEqual(a, got) {
		return differs("alias " + a.Model + "@" + a.Name)
	}
	return cairn.Errorf(cairn.ECONFLICT, "alias %s@%s exists", a.Model, a.Name)
}

func (c *copier) sameRun(ctx context.Context, tx cairn.Tx, r *cairn.Run) error {
	got, err := tx.GetRun(ctx, r.ID)
	if err != nil {
		return err
	}
	if !reflect.DeepEqual(r, got) {
		return differs("run " + r.ID)
	}
	return cairn.Errorf(cairn.ECONFLICT, "run %q exists", r.ID)
}

func (c *copier) sameLoggedModel(ctx context.Context, tx cairn.Tx, m *cairn.LoggedModel) error {
	got, err := tx.GetLoggedModel(ctx, m.ID)
	if err != nil {
		return err
	}
	if !reflect.DeepEqual(m, got) {
		return differs("logged model " + m.ID)
	}
	return cairn.Errorf(cairn.ECONFLICT, "logged model %q exists", m.ID)
}

func (c *copier) sameExperiment(ctx context.Context, tx cairn.Tx, e *cairn.Experiment) error {
	got, err := tx.GetExperiment(ctx, e.ID)
	if err != nil {
		return err
	}
	if !got.Equal(e) {
		return differs("experiment " + e.ID)
	}
	return cairn.Errorf(cairn.ECONFLICT, "experiment %q exists", e.ID)
}

// head is where an audit log or event feed ends: the last sequence number
// and the last entry's hash (or event's id).
type head struct {
	Seq int64  `json:"seq"`
	ID  string `json:"id"`
}

func auditHead(ctx context.Context, r cairn.Reader) (head, error) {
	n, err := lastSeq(ctx, func(after int64) (bool, error) {
		es, err := r.ListAudit(ctx, cairn.AuditQuery{AfterSeq: after, Limit: 1})
		return len(es) > 0, err
	})
	if err != nil || n == 0 {
		return head{}, err
	}
	es, err := r.ListAudit(ctx, cairn.AuditQuery{AfterSeq: n - 1, Limit: 1})
	if err != nil {
		return head{}, err
	}
	if len(es) == 0 {
		return head{}, cairn.Errorf(cairn.EFAILEDPRECONDITION, "audit entry %d vanished: %s", n, changedHint)
	}
	return head{Seq: n, ID: es[0].Hash}, nil
}

func eventHead(ctx context.Context, r cairn.Reader) (head, error) {
	n, err := lastSeq(ctx, func(after int64) (bool, error) {
		evs, err := r.ListEvents(ctx, after, 1)
		return len(evs) > 0, err
	})
	if err != nil || n == 0 {
		return head{}, err
	}
	evs, err := r.ListEvents(ctx, n-1, 1)
	if err != nil {
		return head{}, err
	}
	if len(evs) == 0 {
		return head{}, cairn.Errorf(cairn.EFAILEDPRECONDITION, "event %d vanished: %s", n, changedHint)
	}
	return head{Seq: n, ID: evs[0].ID}, nil
}

// ends is where a registry ends: the last audit entry and event, and how
// many models and runs it holds.
type ends struct {
	Audit  head  `json:"audit"`
	Events head  `json:"events"`
	Models int64 `json:"models"`
	Runs   int64 `json:"runs"`
	// Artifacts is absent from archives of Cairn versions before the
	// artifact store, which had none.
	Artifacts int64 `json:"artifacts,omitempty"`
	// Policies and Approvals are absent from archives of Cairn versions
	// that did not copy governance state.
	Policies  int64 `json:"policies,omitempty"`
	Approvals int64 `json:"approval_requests,omitempty"`
}

func registryEnds(ctx context.Context, r cairn.Reader, e cairn.Exporter) (ends, error) {
	var out ends
	var err error
	if out.Audit, err = auditHead(ctx, r); err != nil {
		return ends{}, err
	}
	if out.Events, err = eventHead(ctx, r); err != nil {
		return ends{}, err
	}
	if out.Models, err = countModels(ctx, r); err != nil {
		return ends{}, err
	}
	if out.Runs, err = countRuns(ctx, e); err != nil {
		return ends{}, err
	}
	if out.Artifacts, err = countArtifacts(ctx, r); err != nil {
		return ends{}, err
	}
	ps, err := r.ListPolicies(ctx, true)
	if err != nil {
		return ends{}, err
	}
	out.Policies = int64(len(ps))
	if out.Approvals, err = countApprovals(ctx, r); err != nil {
		return ends{}, err
	}
	return out, nil
}

// verify runs when everything is copied: the source has not changed
// during this run, and both registries end at the same audit entry and
// event and hold the same number of models and runs (a model renamed in
// the source since an earlier run would be there twice).
func (c *copier) verify(ctx context.Context) error {
	src, err := registryEnds(ctx, c.src.Meta, c.srcExp)
	if err != nil {
		return err
	}
	if src.Audit != c.srcAudit {
		return cairn.Errorf(cairn.EFAILEDPRECONDITION,
			"the source's audit log grew from %d to %d entries during the copy: it was written to; stop every server on the source and run the copy again",
			c.srcAudit.Seq, src.Audit.Seq)
	}
	return c.verifyTarget(ctx, src, "source")
}

// verifyTarget checks that the target ends where want says the source
// (or the archive) does.
func (c *copier) verifyTarget(ctx context.Context, want ends, what string) error {
	got, err := registryEnds(ctx, c.dst.Meta, c.dstExp)
	if err != nil {
		return err
	}
	switch {
	case got.Audit != want.Audit:
		return cairn.Errorf(cairn.EFAILEDPRECONDITION, "the target's audit log ends at entry %d, the %s's at %d: %s", got.Audit.Seq, what, want.Audit.Seq, changedHint)
	case got.Events != want.Events:
		return cairn.Errorf(cairn.EFAILEDPRECONDITION, "the target's events end at %d, the %s's at %d: %s", got.Events.Seq, what, want.Events.Seq, changedHint)
	case got.Models != want.Models:
		return cairn.Errorf(cairn.EFAILEDPRECONDITION, "the target has %d models, the %s %d: %s", got.Models, what, want.Models, changedHint)
	case got.Runs != want.Runs:
		return cairn.Errorf(cairn.EFAILEDPRECONDITION, "the target has %d runs, the %s %d: %s", got.Runs, what, want.Runs, changedHint)
	case got.Artifacts != want.Artifacts:
		return cairn.Errorf(cairn.EFAILEDPRECONDITION, "the target has %d artifacts, the %s %d: %s", got.Artifacts, what, want.Artifacts, changedHint)
	case got.Policies != want.Policies:
		return cairn.Errorf(cairn.EFAILEDPRECONDITION, "the target has %d policies, the %s %d: %s", got.Policies, what, want.Policies, changedHint)
	case got.Approvals != want.Approvals:
		return cairn.Errorf(cairn.EFAILEDPRECONDITION, "the target has %d approval requests, the %s %d: %s", got.Approvals, what, want.Approvals, changedHint)
	}
	return nil
}

func countModels(ctx context.Context, r cairn.Reader) (int64, error) {
	var n int64
	page := cairn.Page{Size: 1000}
	for {
		p, err := r.ListModels(ctx, cairn.ModelQuery{IncludeDeleted: true, Page: page})
		if err != nil {
			return 0, err
		}
		n += int64(len(p.Items))
		if p.NextToken == "" {
			return n, nil
		}
		page.Token = p.NextToken
	}
}

func countRuns(ctx context.Context, e cairn.Exporter) (int64, error) {
	var n int64
	page := cairn.Page{Size: 1000}
	for {
		p, err := e.ExportRuns(ctx, page)
		if err != nil {
			return 0, err
		}
		n += int64(len(p.Items))
		if p.NextToken == "" {
			return n, nil
		}
		page.Token = p.NextToken
	}
}

func countApprovals(ctx context.Context, r cairn.Reader) (int64, error) {
	var n int64
	page := cairn.Page{Size: 1000}
	for {
		p, err := r.ListApprovals(ctx, cairn.ApprovalQuery{Page: page})
		if err != nil {
			return 0, err
		}
		n += int64(len(p.Items))
		if p.NextToken == "" {
			return n, nil
		}
		page.Token = p.NextToken
	}
}
