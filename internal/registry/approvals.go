package registry

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/internal/cel"
)

// Approvals. Moving an alias that a policy protects (SetAlias,
// FinalizeVersion's aliases, MLflow's alias endpoint) or an MLflow stage
// transition into or out of a protected stage (SetStage) passes the gate
// of every policy that protects it:
//
//   - the conditions must hold on the version's evidence now, or the move
//     is refused (EFAILEDPRECONDITION, naming the failing clauses): no
//     approval can make a failing condition pass;
//   - deleting a protected alias (DeleteAlias, MLflow's delete-alias) is a
//     move to nowhere: its request has Version 0 and FromVersion the
//     version the alias holds, as an alias history entry of a delete has.
//     It needs the approvals; the conditions, which speak about the
//     evidence of a version moving in, do not apply (none moves in, and a
//     version whose evidence went bad must stay removable). It is
//     invalidated if the alias moves or goes meanwhile, and it leaves
//     every version's derived approval status as it was;
//   - a stage transition out of a protected stage (Production → Archived,
//     or, with archive_existing, the versions in the target stage moved
//     to Archived) changes what the stage serves, as deleting an alias
//     does: the leaving gate's approvals apply, its conditions do not.
//     Moving into a protected stage, the target's gate applies as well
//     (the most approvals of the two, the target's conditions). The
//     request records the stage the version was in (FromStage) and is
//     invalidated if the version leaves it meanwhile; one that moves no
//     version in through a gate (ApprovalRequest.LeavesStage) leaves
//     the derived approval status as it was;
//   - with no approvals required, the move happens at once;
//   - otherwise an approval request is opened and the caller gets
//     EPENDINGAPPROVAL naming it. The request applies itself, through
//     moveAlias or setStage in the approving transaction, once enough
//     approvers other than the requester approve it. A rejection ends it,
//     and so does its expiry (Options.ApprovalTTL) or a change of the
//     version (archived, deleted) or of its evidence (checked by hash).
//
// Approving and rejecting need the approver role on the model (admin
// grants it); with auth off, a declared user name, never the requester's.

// DefaultApprovalTTL is how long a request stays open by default.
const DefaultApprovalTTL = 7 * 24 * time.Hour

// gate is the combined gate of every policy protecting one alias or stage
// of a model.
type gate struct {
	required   int
	policies   []string
	conditions []gateCondition
}

type gateCondition struct {
	policy string
	cairn.Condition
	prg *cel.Program
}

// gateFor returns the gate on moving alias (or, if alias is "", stage)
// of model, or nil if nothing protects it.
func (s *Service) gateFor(ctx context.Context, r cairn.Reader, model, alias string, stage cairn.Stage) (*gate, error) {
	ps, err := s.policiesFor(ctx, r, model)
	if err != nil {
		return nil, err
	}
	var g *gate
	for _, p := range ps {
		var pg *cairn.Gate
		if alias != "" {
			pg = p.GateFor(alias)
		} else {
			pg = p.StageGate(stage)
		}
		if pg == nil {
			continue
		}
		if g == nil {
			g = &gate{}
		}
		g.required = max(g.required, pg.Approvals)
		g.policies = append(g.policies, fmt.Sprintf("%s@v%d", p.Name, p.Version))
		prgs := p.conds[pg.Target()]
		for i, c := range pg.Conditions {
			g.conditions = append(g.conditions, gateCondition{policy: p.Name, Condition: c, prg: prgs[i]})
		}
	}
	return g, nil
}

// evidence returns what gate conditions see about v, and its hash. Stage
// and aliases are left out: they are what a gate moves.
func (s *Service) evidence(ctx context.Context, r cairn.Reader, v *cairn.Version) (cel.Vars, string, error) {
	vars := cel.Vars{Version: versionEvidence(v), Evaluations: map[string]any{}}
	edges, err := r.Lineage(ctx, cairn.VersionNode(v.Model, v.Number), cairn.Downstream, 1)
	if err != nil {
		return vars, "", err
	}
	// Newest last, so that a newer evaluation of a kind replaces an older.
	slices.SortFunc(edges, func(a, b cairn.Edge) int { return a.CreatedAt.Compare(b.CreatedAt) })
	for _, e := range edges {
		if e.Type != cairn.EdgeEvaluates || e.To.Kind != cairn.NodeVersion {
			continue
		}
		ev, err := r.GetVersion(ctx, e.To.Model, e.To.Version)
		if cairn.IsCode(err, cairn.ENOTFOUND) {
			continue
		}
		if err != nil {
			return vars, "", err
		}
		if ev.DeletedAt != nil || ev.Status != cairn.StatusReady || ev.Kind != cairn.KindEvaluation {
			continue
		}
		key := ev.Tags["evaluation"]
		if key == "" {
			key = ev.Model
		}
		m := versionEvidence(ev)
		m["ref"] = ev.Ref()
		vars.Evaluations[key] = m
	}
	b, err := json.Marshal(map[string]any{"version": vars.Version, "evaluations": vars.Evaluations})
	if err != nil {
		return vars, "", fmt.Errorf("hash evidence: %w", err)
	}
	sum := sha256.Sum256(b)
	return vars, "sha256:" + hex.EncodeToString(sum[:]), nil
}

func versionEvidence(v *cairn.Version) map[string]any {
	metrics := map[string]any{}
	for k, x := range v.Metrics {
		metrics[k] = x
	}
	params := map[string]any{}
	for k, x := range v.Params {
		params[k] = x
	}
	tags := map[string]any{}
	for k, x := range v.Tags {
		tags[k] = x
	}
	return map[string]any{
		"model": v.Model, "version": v.Number, "kind": string(v.Kind), "status": string(v.Status),
		"archived": v.Archived, "metrics": metrics, "params": params, "tags": tags,
		"run_id": v.RunID, "source": v.Source, "source_code_version": v.SourceCodeVersion,
		"training_dataset": v.TrainingDataset, "validation_dataset": v.ValidationDataset,
		"framework": v.Framework, "trained_by": v.TrainedBy, "created_by": v.CreatedBy,
	}
}

// Clause is one part of a gate, evaluated.
type Clause struct {
	Kind   string `json:"kind"` // approvals or condition
	Policy string `json:"policy,omitempty"`
	Name   string `json:"name"`
	Expr   string `json:"expr,omitempty"`
	Pass   bool   `json:"pass"`
	Detail string `json:"detail,omitempty"`
}

func (g *gate) check(vars cel.Vars) (clauses []Clause, ok bool) {
	ok = true
	for _, c := range g.conditions {
		pass, err := c.prg.Eval(vars)
		cl := Clause{Kind: "condition", Policy: c.policy, Name: c.Name, Expr: c.Expr, Pass: pass}
		if err != nil {
			cl.Detail = err.Error()
		}
		ok = ok && pass
		clauses = append(clauses, cl)
	}
	return clauses, ok
}

func failing(cls []Clause) string {
	var out []string
	for _, c := range cls {
		if !c.Pass && c.Kind == "condition" {
			s := fmt.Sprintf("%s/%s (%s)", c.Policy, c.Name, c.Expr)
			if c.Detail != "" {
				s += ": " + c.Detail
			}
			out = append(out, s)
		}
	}
	return strings.Join(out, "; ")
}

// GateExplanation is a dry run of the gate on one move.
type GateExplanation struct {
	Version   string   `json:"version"` // NAME@vN
	Target    string   `json:"target"`  // alias production, stage Production
	Protected bool     `json:"protected"`
	Policies  []string `json:"policies"`
	Clauses   []Clause `json:"clauses"`
	// Conditions is whether every condition holds; the move would open a
	// request (or happen, with no approvals required) only if so.
	Conditions bool `json:"conditions_pass"`
	// Pending is the open request for this move, if any.
	Pending *cairn.ApprovalRequest `json:"pending,omitempty"`
}

// ExplainGate dry-runs the gate on moving alias (or, if alias is "",
// stage) to the version ref names: which clauses pass and which fail.
// Needs the reader role.
func (s *Service) ExplainGate(ctx context.Context, ref, alias string, stage cairn.Stage) (*GateExplanation, error) {
	v, err := s.Resolve(ctx, ref)
	if err != nil {
		return nil, err
	}
	target := "alias " + alias
	if alias != "" {
		if err := cairn.ValidateAliasName(alias); err != nil {
			return nil, err
		}
	} else {
		st, err := cairn.ParseStage(string(stage))
		if err != nil {
			return nil, err
		}
		stage, target = st, "stage "+string(st)
	}
	var g *gate
	in := true // whether v moves in through the gate (then its conditions apply)
	var from cairn.Stage
	if alias != "" {
		g, err = s.gateFor(ctx, s.store, v.Model, alias, stage)
	} else {
		from = stageOf(v)
		g, in, err = s.stageGate(ctx, s.store, v.Model, from, stage, false)
	}
	if err != nil {
		return nil, err
	}
	out := &GateExplanation{Version: v.Ref(), Target: target, Policies: []string{}, Clauses: []Clause{}, Conditions: true}
	if g == nil {
		return out, nil
	}
	if !in {
		out.Target = fmt.Sprintf("stage %s (leaving it for %s)", from, stage)
	}
	out.Protected, out.Policies = true, g.policies
	vars, _, err := s.evidence(ctx, s.store, v)
	if err != nil {
		return nil, err
	}
	pending, err := s.openRequest(ctx, s.store, v.Model, v.Number, alias, stage, from)
	if err != nil {
		return nil, err
	}
	have := 0
	if pending != nil {
		have = len(pending.Approvals)
		out.Pending = pending
	}
	out.Clauses = append(out.Clauses, Clause{Kind: "approvals", Name: "approvals",
		Pass: have >= g.required, Detail: fmt.Sprintf("%d of %d approvals from approvers other than the requester", have, g.required)})
	cls, ok := g.check(vars) // no conditions on a gate only left
	out.Clauses = append(out.Clauses, cls...)
	out.Conditions = ok
	return out, nil
}

// openRequest returns the pending request for moving alias/stage of model
// to version (for a stage, from stage from), or nil.
func (s *Service) openRequest(ctx context.Context, r cairn.Reader, model string, version int64, alias string, stage, from cairn.Stage) (*cairn.ApprovalRequest, error) {
	page, err := r.ListApprovals(ctx, cairn.ApprovalQuery{Model: model, Version: version, Status: cairn.RequestPending, Page: cairn.Page{Size: MaxPageSize}})
	if err != nil {
		return nil, err
	}
	for _, a := range page.Items {
		// Version 0 (a delete) asks the store for every version's requests.
		if a.Alias == alias && a.Stage == stage && a.Version == version && (a.FromStage == "" || a.FromStage == from) {
			return a, nil
		}
	}
	return nil, nil
}

// stageOf is a version's stage, None if it has none recorded.
func stageOf(v *cairn.Version) cairn.Stage {
	if v.Stage == "" {
		return cairn.StageNone
	}
	return v.Stage
}

// stageGate returns the gate on a stage transition of a version from
// stage from to stage to, and whether the version moves in through it
// (then the gate's conditions apply to its evidence); nil if nothing
// protects the transition:
//   - moving into a protected stage passes its gate;
//   - leaving a protected stage changes what it serves, as deleting a
//     protected alias does: its gate's approvals apply, its conditions
//     (about a version moving in) do not;
//   - with archiveExisting, the other versions in to leave it: the gate
//     of to, which a move in passes already; for a version in to already,
//     that is its leaving gate.
//
// Both gates together need the most approvals either asks for.
func (s *Service) stageGate(ctx context.Context, r cairn.Reader, model string, from, to cairn.Stage, archiveExisting bool) (g *gate, in bool, err error) {
	if from == to {
		if !archiveExisting {
			return nil, false, nil
		}
		out, err := s.gateFor(ctx, r, model, "", to)
		if out != nil {
			out.conditions = nil
		}
		return out, false, err
	}
	g, err = s.gateFor(ctx, r, model, "", to)
	if err != nil {
		return nil, false, err
	}
	in = g != nil
	out, err := s.gateFor(ctx, r, model, "", from)
	if err != nil || out == nil {
		return g, in, err
	}
	if g == nil {
		out.conditions = nil
		return out, false, nil
	}
	g.required = max(g.required, out.required)
	for _, p := range out.policies {
		if !slices.Contains(g.policies, p) {
			g.policies = append(g.policies, p)
		}
	}
	return g, true, nil
}

// gatedMove moves alias of model to the version (or deletes it, to 0)
// inside a mutation whose model row is locked, through the gate if one
// protects it. It returns the pending request if one was opened (or was
// open already) instead; the caller commits and then answers
// pendingError. Stages go through gatedStageMove.
func (s *Service) gatedMove(ctx context.Context, m *mutation, model, alias string, to int64, ifCurrent *int64) (*cairn.ApprovalRequest, error) {
	g, err := s.gateFor(ctx, m.tx, model, alias, "")
	if err != nil {
		return nil, err
	}
	if g == nil {
		return nil, s.applyMove(ctx, m, model, alias, "", to, ifCurrent, false)
	}
	var from int64
	if cur, err := m.tx.GetAlias(ctx, model, alias); err == nil {
		from = cur.Version
	} else if !cairn.IsCode(err, cairn.ENOTFOUND) {
		return nil, err
	}
	if ifCurrent != nil && *ifCurrent != from {
		return nil, cairn.Errorf(cairn.ECONFLICT, "alias %s@%s points at version %d, not %d", model, alias, from, *ifCurrent)
	}
	if from == to {
		return nil, nil // already there (or, for a delete, gone): nothing to approve
	}
	var hash string
	if to != 0 { // a move; a delete (to 0) moves no version in: no conditions
		v, err := getVersion(ctx, m.tx, model, to)
		if err != nil {
			return nil, err
		}
		if v.Status != cairn.StatusReady {
			return nil, cairn.Errorf(cairn.EFAILEDPRECONDITION, "cannot point %s@%s at %s: it is %s, not ready", model, alias, v.Ref(), v.Status)
		}
		if v.Archived {
			return nil, cairn.Errorf(cairn.EFAILEDPRECONDITION, "cannot move %s to %s: it is archived", gateTarget(model, alias, ""), v.Ref())
		}
		var vars cel.Vars
		if vars, hash, err = s.evidence(ctx, m.tx, v); err != nil {
			return nil, err
		}
		if cls, ok := g.check(vars); !ok {
			return nil, cairn.Errorf(cairn.EFAILEDPRECONDITION, "cannot move %s to %s: the gate's conditions do not hold: %s", gateTarget(model, alias, ""), v.Ref(), failing(cls))
		}
	}
	if g.required == 0 {
		return nil, s.applyMove(ctx, m, model, alias, "", to, ifCurrent, false)
	}
	if open, err := s.openRequest(ctx, m.tx, model, to, alias, "", ""); err != nil || open != nil {
		return open, err
	}
	req := &cairn.ApprovalRequest{
		ID: newID(), Model: model, Version: to, Alias: alias,
		FromVersion: from, Status: cairn.RequestPending, RequestedBy: m.actor.Name, Required: g.required,
		Policies: g.policies, EvidenceHash: hash, Approvals: []cairn.ApprovalDecision{},
		CreatedAt: m.now, UpdatedAt: m.now, ExpiresAt: cairn.Timestamp(m.now.Add(s.approvalTTL)),
	}
	if err := m.tx.CreateApproval(ctx, req); err != nil {
		return nil, err
	}
	m.record(cairn.EventApprovalRequest, approvalTarget(req), model, alias, nil, req)
	return req, s.refreshApprovalStatus(ctx, m, model, to)
}

// gatedStageMove sets the stage of version number of model inside a
// mutation whose model row is locked, through the gates stageGate names
// if any protects the transition. It returns the pending request if one
// was opened (or was open already) instead; the caller commits and then
// answers pendingError.
func (s *Service) gatedStageMove(ctx context.Context, m *mutation, model string, number int64, to cairn.Stage, archiveExisting bool) (*cairn.ApprovalRequest, error) {
	v, err := getVersion(ctx, m.tx, model, number)
	if err != nil {
		return nil, err
	}
	from := stageOf(v)
	g, in, err := s.stageGate(ctx, m.tx, model, from, to, archiveExisting)
	if err != nil {
		return nil, err
	}
	if g == nil {
		return nil, s.applyMove(ctx, m, model, "", to, number, nil, archiveExisting)
	}
	if from == to {
		// Only the others in the stage would move: is there any?
		others, err := s.othersInStage(ctx, m.tx, model, number, to)
		if err != nil || !others {
			return nil, err
		}
	}
	var hash string
	if in {
		if v.Archived {
			return nil, cairn.Errorf(cairn.EFAILEDPRECONDITION, "cannot move %s to %s: it is archived", gateTarget(model, "", to), v.Ref())
		}
		var vars cel.Vars
		if vars, hash, err = s.evidence(ctx, m.tx, v); err != nil {
			return nil, err
		}
		if cls, ok := g.check(vars); !ok {
			return nil, cairn.Errorf(cairn.EFAILEDPRECONDITION, "cannot move %s to %s: the gate's conditions do not hold: %s", gateTarget(model, "", to), v.Ref(), failing(cls))
		}
	}
	if g.required == 0 {
		return nil, s.applyMove(ctx, m, model, "", to, number, nil, archiveExisting)
	}
	if open, err := s.openRequest(ctx, m.tx, model, number, "", to, from); err != nil || open != nil {
		return open, err
	}
	req := &cairn.ApprovalRequest{
		ID: newID(), Model: model, Version: number, Stage: to, FromStage: from, ArchiveExisting: archiveExisting,
		Status: cairn.RequestPending, RequestedBy: m.actor.Name, Required: g.required,
		Policies: g.policies, EvidenceHash: hash, Approvals: []cairn.ApprovalDecision{},
		CreatedAt: m.now, UpdatedAt: m.now, ExpiresAt: cairn.Timestamp(m.now.Add(s.approvalTTL)),
	}
	if err := m.tx.CreateApproval(ctx, req); err != nil {
		return nil, err
	}
	m.record(cairn.EventApprovalRequest, approvalTarget(req), model, "", nil, req)
	return req, s.refreshApprovalStatus(ctx, m, model, number)
}

// othersInStage reports whether a version other than number of model is
// in stage.
func (s *Service) othersInStage(ctx context.Context, r cairn.Reader, model string, number int64, stage cairn.Stage) (bool, error) {
	f, err := cairn.ParseFilter("stage = '" + string(stage) + "'")
	if err != nil {
		return false, err
	}
	page, err := r.ListVersions(ctx, cairn.VersionQuery{Model: model, Filter: f, Page: cairn.Page{Size: 2}})
	if err != nil {
		return false, err
	}
	for _, o := range page.Items {
		if o.Number != number {
			return true, nil
		}
	}
	return false, nil
}

// requestGate is the gate a pending request passes now (the policies in
// force decide), nil if nothing protects its move any more.
func (s *Service) requestGate(ctx context.Context, r cairn.Reader, a *cairn.ApprovalRequest) (*gate, error) {
	if a.Stage == "" || a.FromStage == "" { // an alias, or a request from before FromStage
		return s.gateFor(ctx, r, a.Model, a.Alias, a.Stage)
	}
	g, _, err := s.stageGate(ctx, r, a.Model, a.FromStage, a.Stage, a.ArchiveExisting)
	return g, err
}

// promotes reports whether a request counts in its version's derived
// approval status: it moves the version in through a gate. Deleting an
// alias and leaving a protected stage promote nothing.
func promotes(a *cairn.ApprovalRequest) bool {
	return a.Version != 0 && !a.LeavesStage()
}

func gateTarget(model, alias string, stage cairn.Stage) string {
	if alias != "" {
		return model + "@" + alias
	}
	return model + " stage " + string(stage)
}

// approvalTarget is the audit target of a request: the version it moves
// to, or for a delete the alias it deletes.
func approvalTarget(a *cairn.ApprovalRequest) string {
	if a.Version == 0 {
		return a.Target()
	}
	return a.Model + "@v" + fmt.Sprint(a.Version)
}

// applyMove makes the move itself, through the one path each kind has.
func (s *Service) applyMove(ctx context.Context, m *mutation, model, alias string, stage cairn.Stage, to int64, ifCurrent *int64, archiveExisting bool) error {
	if alias != "" {
		_, err := s.moveAlias(ctx, m, model, alias, to, ifCurrent)
		return err
	}
	return s.setStageLocked(ctx, m, model, to, stage, archiveExisting)
}

// pendingError is the answer to a move that opened (or found) a request.
func pendingError(req *cairn.ApprovalRequest) error {
	what := "approval request " + req.ID + " was opened"
	if req.CreatedAt.Before(req.UpdatedAt) || len(req.Approvals) > 0 {
		what = "approval request " + req.ID + " is open"
	}
	move := fmt.Sprintf("moving it to v%d", req.Version)
	switch {
	case req.Version == 0:
		move = fmt.Sprintf("deleting it (it points at v%d)", req.FromVersion)
	case req.LeavesStage() && req.FromStage == req.Stage:
		move = fmt.Sprintf("archiving the other versions in it (moving v%d to it with archive_existing_versions)", req.Version)
	case req.LeavesStage():
		move = fmt.Sprintf("moving v%d out of it (to %s)", req.Version, req.Stage)
	case req.FromStage != "" && req.FromStage != cairn.StageNone && req.FromStage != req.Stage:
		move = fmt.Sprintf("moving it to v%d (from stage %s)", req.Version, req.FromStage)
	}
	return cairn.WrapError(cairn.EPENDINGAPPROVAL, &cairn.PendingApprovalError{Request: req},
		"%s is protected: %s for %s; it needs %d approval(s) from approvers other than %s (%d so far) and applies itself once approved",
		req.Target(), what, move, req.Required, req.RequestedBy, len(req.Approvals))
}

// refreshApprovalStatus recomputes a version's derived approval status
// from its requests and writes it if it changed. Number 0 is the "version"
// of a request to delete an alias: there is none to refresh.
func (s *Service) refreshApprovalStatus(ctx context.Context, m *mutation, model string, number int64) error {
	if number == 0 {
		return nil
	}
	page, err := m.tx.ListApprovals(ctx, cairn.ApprovalQuery{Model: model, Version: number, Page: cairn.Page{Size: MaxPageSize}})
	if err != nil {
		return err
	}
	page.Items = slices.DeleteFunc(page.Items, func(a *cairn.ApprovalRequest) bool { return !promotes(a) })
	status := cairn.ApprovalNone
	for _, a := range page.Items {
		if a.Status == cairn.RequestPending {
			status = cairn.ApprovalPending
			break
		}
	}
	if status == cairn.ApprovalNone {
		for _, a := range page.Items { // newest first
			if a.Status == cairn.RequestApplied {
				status = cairn.ApprovalApproved
				break
			}
			if a.Status == cairn.RequestRejected {
				status = cairn.ApprovalRejected
				break
			}
		}
	}
	v, err := m.tx.GetVersion(ctx, model, number)
	if err != nil {
		return err
	}
	if v.ApprovalStatus == status {
		return nil
	}
	v.ApprovalStatus = status
	return m.tx.UpdateVersion(ctx, v)
}

// GetApproval returns an approval request (reader on its model).
func (s *Service) GetApproval(ctx context.Context, id string) (*cairn.ApprovalRequest, error) {
	if err := s.authorizeAny(ctx, cairn.RoleReader); err != nil {
		return nil, err
	}
	a, err := s.store.GetApproval(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := s.authorize(ctx, cairn.RoleReader, a.Model); err != nil {
		return nil, err
	}
	return a, nil
}

// ApprovalList asks for a page of approval requests.
type ApprovalList struct {
	Model     string
	Version   int64
	Status    string
	PageSize  int
	PageToken string
}

// ListApprovals lists approval requests newest first, filtered by the
// models the caller may read.
func (s *Service) ListApprovals(ctx context.Context, in ApprovalList) (*cairn.ApprovalPage, error) {
	switch in.Status {
	case "", cairn.RequestPending, cairn.RequestApplied, cairn.RequestRejected, cairn.RequestExpired, cairn.RequestInvalidated:
	default:
		return nil, cairn.Errorf(cairn.EINVALID, "invalid status %q: want pending, applied, rejected, expired or invalidated", in.Status)
	}
	page, err := checkPage(in.PageSize, in.PageToken)
	if err != nil {
		return nil, err
	}
	var scopes []string
	if in.Model != "" {
		if err := s.authorize(ctx, cairn.RoleReader, in.Model); err != nil {
			return nil, err
		}
	} else if scopes, err = s.readScopes(ctx); err != nil {
		return nil, err
	}
	return s.store.ListApprovals(ctx, cairn.ApprovalQuery{Model: in.Model, Version: in.Version, Status: in.Status, Page: page, Scopes: scopes})
}

// Decision is the input of Approve and Reject.
type Decision struct {
	Comment string `json:"comment,omitempty"`
}

// Approve approves a pending request. Once it has the approvals its gate
// asks for, it applies itself in the same transaction. EPERMISSION for
// the requester or a caller without the approver role; ECONFLICT for a
// second approval by the same approver; EFAILEDPRECONDITION if the
// request is no longer pending, has expired, or was invalidated (the
// version was archived or its evidence changed) — then it is marked so.
func (s *Service) Approve(ctx context.Context, id string, in Decision) (*cairn.ApprovalRequest, error) {
	return s.decide(ctx, id, in, true)
}

// Reject rejects a pending request; it will not apply. Same rules as
// Approve.
func (s *Service) Reject(ctx context.Context, id string, in Decision) (*cairn.ApprovalRequest, error) {
	return s.decide(ctx, id, in, false)
}

func (s *Service) decide(ctx context.Context, id string, in Decision, approve bool) (*cairn.ApprovalRequest, error) {
	if err := cairn.ValidateText("comment", in.Comment); err != nil {
		return nil, err
	}
	if len(in.Comment) > cairn.MaxApprovalComment {
		return nil, cairn.Errorf(cairn.EINVALID, "comment is longer than %d bytes", cairn.MaxApprovalComment)
	}
	if err := s.authorizeAny(ctx, cairn.RoleApprover); err != nil {
		return nil, err
	}
	req, err := s.store.GetApproval(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := s.authorize(ctx, cairn.RoleApprover, req.Model); err != nil {
		return nil, err
	}
	actor := cairn.ActorFromContext(ctx)
	if actor.Name == "" || actor.Name == cairn.AnonymousActor.Name {
		return nil, cairn.Errorf(cairn.EPERMISSION, "say who you are to approve or reject (the user name, e.g. CAIRN_USER): anonymous decisions are not recorded")
	}
	var out *cairn.ApprovalRequest
	var after error // an answer given after the transaction commits
	err = s.update(ctx, func(m *mutation) error {
		if _, err := lockModel(ctx, m, req.Model); err != nil {
			return err
		}
		a, err := m.tx.GetApproval(ctx, id)
		if err != nil {
			return err
		}
		out = a
		if a.Status != cairn.RequestPending {
			return cairn.Errorf(cairn.EFAILEDPRECONDITION, "approval request %s is %s, not pending", id, a.Status)
		}
		if a.RequestedBy == m.actor.Name {
			return cairn.Errorf(cairn.EPERMISSION, "%s requested this move and cannot %s it: another approver must", m.actor.Name, map[bool]string{true: "approve", false: "reject"}[approve])
		}
		for _, d := range a.Approvals {
			if d.Actor == m.actor.Name && approve {
				return cairn.Errorf(cairn.ECONFLICT, "%s approved request %s already; it needs approvals from %d different approvers", m.actor.Name, id, a.Required)
			}
		}
		if !m.now.Before(a.ExpiresAt) {
			after = cairn.Errorf(cairn.EFAILEDPRECONDITION, "approval request %s expired at %s", id, a.ExpiresAt.Format(time.RFC3339))
			return s.closeRequest(ctx, m, a, cairn.RequestExpired, "expired before enough approvals", cairn.EventApprovalExpired)
		}
		if reason, err := s.staleReason(ctx, m.tx, a); err != nil {
			return err
		} else if reason != "" {
			after = cairn.Errorf(cairn.EFAILEDPRECONDITION, "approval request %s is invalidated: %s; move it again to open a new one", id, reason)
			return s.closeRequest(ctx, m, a, cairn.RequestInvalidated, reason, cairn.EventApprovalInvalidated)
		}
		d := cairn.ApprovalDecision{Actor: m.actor.Name, Verified: m.actor.Verified, Comment: in.Comment, At: m.now}
		before := *a
		a.UpdatedAt = m.now
		if !approve {
			a.Rejection, a.Status, a.StatusMessage = &d, cairn.RequestRejected, "rejected by "+d.Actor
			if err := m.tx.UpdateApproval(ctx, a); err != nil {
				return err
			}
			m.record(cairn.EventApprovalRejected, approvalTarget(a), a.Model, a.Alias, &before, a)
			return s.refreshApprovalStatus(ctx, m, a.Model, a.Version)
		}
		a.Approvals = append(slices.Clone(a.Approvals), d)
		if err := m.tx.UpdateApproval(ctx, a); err != nil {
			return err
		}
		m.record(cairn.EventApprovalApproved, approvalTarget(a), a.Model, a.Alias, &before, a)
		required := a.Required
		if g, err := s.requestGate(ctx, m.tx, a); err != nil {
			return err
		} else if g != nil {
			required = g.required // the policy in force now decides
		} else {
			required = 0
		}
		if len(a.Approvals) < required {
			return nil
		}
		if err := s.applyMove(ctx, m, a.Model, a.Alias, a.Stage, a.Version, nil, a.ArchiveExisting); err != nil {
			return err
		}
		applied := *a
		a.Status, a.StatusMessage = cairn.RequestApplied, fmt.Sprintf("applied after %d approval(s)", len(a.Approvals))
		if err := m.tx.UpdateApproval(ctx, a); err != nil {
			return err
		}
		m.record(cairn.EventApprovalApplied, approvalTarget(a), a.Model, a.Alias, &applied, a)
		return s.refreshApprovalStatus(ctx, m, a.Model, a.Version)
	})
	if err != nil {
		return nil, err
	}
	return out, after
}

// staleReason says why a pending request can no longer apply ("" if it
// can): its version is gone, archived or not ready, or its evidence
// changed since the request was opened.
func (s *Service) staleReason(ctx context.Context, r cairn.Reader, a *cairn.ApprovalRequest) (string, error) {
	if a.Version == 0 { // a delete: the alias must still point where it did
		cur, err := r.GetAlias(ctx, a.Model, a.Alias)
		switch {
		case cairn.IsCode(err, cairn.ENOTFOUND):
			return "the alias was deleted meanwhile", nil
		case err != nil:
			return "", err
		case cur.Version != a.FromVersion:
			return fmt.Sprintf("the alias was moved from v%d to v%d since the request was opened", a.FromVersion, cur.Version), nil
		}
		return "", nil
	}
	v, err := r.GetVersion(ctx, a.Model, a.Version)
	if cairn.IsCode(err, cairn.ENOTFOUND) {
		return "the version no longer exists", nil
	}
	if err != nil {
		return "", err
	}
	if v.DeletedAt != nil {
		return "the version was deleted", nil
	}
	if a.Stage != "" && a.FromStage != "" && stageOf(v) != a.FromStage {
		return fmt.Sprintf("the version moved from stage %s to %s since the request was opened", a.FromStage, stageOf(v)), nil
	}
	if a.LeavesStage() {
		return "", nil // no version moves in: its evidence does not matter
	}
	switch {
	case v.Archived:
		return "the version was archived", nil
	case v.Status != cairn.StatusReady:
		return "the version is " + string(v.Status), nil
	}
	_, hash, err := s.evidence(ctx, r, v)
	if err != nil {
		return "", err
	}
	if hash != a.EvidenceHash {
		return "the version's evidence (metrics, params, tags, evaluations) changed since the request was opened", nil
	}
	return "", nil
}

// closeRequest ends a pending request without applying it.
func (s *Service) closeRequest(ctx context.Context, m *mutation, a *cairn.ApprovalRequest, status, message, event string) error {
	before := *a
	a.Status, a.StatusMessage, a.UpdatedAt = status, message, m.now
	if err := m.tx.UpdateApproval(ctx, a); err != nil {
		return err
	}
	m.record(event, approvalTarget(a), a.Model, a.Alias, &before, a)
	return s.refreshApprovalStatus(ctx, m, a.Model, a.Version)
}

// invalidateRequests closes the pending requests of a version that is
// being archived or deleted, in the same mutation.
func (s *Service) invalidateRequests(ctx context.Context, m *mutation, v *cairn.Version, reason string) error {
	page, err := m.tx.ListApprovals(ctx, cairn.ApprovalQuery{Model: v.Model, Version: v.Number, Status: cairn.RequestPending, Page: cairn.Page{Size: MaxPageSize}})
	if err != nil {
		return err
	}
	for _, a := range page.Items {
		if err := s.closeRequest(ctx, m, a, cairn.RequestInvalidated, reason, cairn.EventApprovalInvalidated); err != nil {
			return err
		}
	}
	if len(page.Items) > 0 {
		cur, err := m.tx.GetVersion(ctx, v.Model, v.Number)
		if err != nil {
			return err
		}
		v.ApprovalStatus = cur.ApprovalStatus
	}
	return nil
}

// expireApprovals closes the pending requests whose time ran out.
func (s *Service) expireApprovals(ctx context.Context, now time.Time) (int, error) {
	reqs, err := s.store.ExpiredApprovals(ctx, cairn.Timestamp(now), 1000)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, r := range reqs {
		err := s.update(ctx, func(m *mutation) error {
			if _, err := m.tx.LockModel(ctx, r.Model); err != nil {
				return err
			}
			a, err := m.tx.GetApproval(ctx, r.ID)
			if err != nil || a.Status != cairn.RequestPending {
				return err
			}
			n++
			return s.closeRequest(ctx, m, a, cairn.RequestExpired, "expired before enough approvals", cairn.EventApprovalExpired)
		})
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// checkDeletion refuses to delete a version (number > 0) or a model
// (number 0) that policy keeps: a policy with retain_promoted applies and
// the version (any version of the model) ever held an alias the policy
// protects, or holds or was approved into a stage it protects.
func (s *Service) checkDeletion(ctx context.Context, r cairn.Reader, model string, number int64) error {
	ps, err := s.policiesFor(ctx, r, model)
	if err != nil {
		return err
	}
	what := "model " + model
	if number > 0 {
		what = cairn.VersionRef(model, number)
	}
	for _, p := range ps {
		if p.Deletion == nil || !p.Deletion.RetainPromoted {
			continue
		}
		for _, g := range p.ProtectedAliases {
			token := ""
			for {
				page, err := r.AliasHistory(ctx, model, g.Alias, cairn.Page{Size: MaxPageSize, Token: token})
				if err != nil {
					return err
				}
				for _, mv := range page.Items {
					if mv.To != 0 && (number == 0 || mv.To == number) {
						return cairn.Errorf(cairn.EFAILEDPRECONDITION, "cannot delete %s: policy %s keeps versions that held %s@%s (v%d did); archive instead", what, p.Name, model, g.Alias, mv.To)
					}
				}
				if token = page.NextToken; token == "" {
					break
				}
			}
		}
		if len(p.ProtectedStages) > 0 {
			page, err := r.ListApprovals(ctx, cairn.ApprovalQuery{Model: model, Version: number, Status: cairn.RequestApplied, Page: cairn.Page{Size: MaxPageSize}})
			if err != nil {
				return err
			}
			for _, a := range page.Items {
				if a.Stage != "" && p.StageGate(a.Stage) != nil {
					return cairn.Errorf(cairn.EFAILEDPRECONDITION, "cannot delete %s: policy %s keeps versions that were in stage %s; archive instead", what, p.Name, a.Stage)
				}
			}
		}
	}
	return nil
}
