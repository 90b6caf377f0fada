package cairn

import "context"

// Moving a whole registry from one store to another (cairn migrate-store)
// needs two powers that Store and Tx deliberately withhold: listing records
// that the ordinary lists hide (deleted runs, every lineage edge), and
// writing records with the numbers, sequence numbers and hashes they already
// have instead of allocating new ones. They live in these two interfaces,
// apart from Store and Tx, so that the registry service never reaches them.
//
// What the ordinary contract already does faithfully is reused as is:
// CreateVersion writes every column of a version as given (its number must
// not exceed the model's LatestVersion, which ImportModel sets), AddEdges
// keeps an edge's CreatedBy and CreatedAt, and ListModels, ListVersions
// (IncludeDeleted), AliasHistory, MetricHistory, ListAudit, ListEvents,
// ListPolicies (deleted ones too), ListPolicyVersions and ListApprovals
// read everything else.

// Exporter is implemented by metadata stores (the Store, outside a
// transaction) that can list every record of a kind, in a stable order,
// for copying them to another store.
type Exporter interface {
	// ExportRuns lists every run, deleted ones included, by id.
	ExportRuns(ctx context.Context, page Page) (*RunPage, error)
	// ExportExperiments lists every experiment, deleted ones included, by id.
	ExportExperiments(ctx context.Context, page Page) (*ExperimentPage, error)
	// ExportLoggedModels lists every logged model, deleted ones included,
	// by id.
	ExportLoggedModels(ctx context.Context, page Page) (*LoggedModelPage, error)
	// ExportEdges lists every lineage edge in the order the edges were
	// added, which is the order Lineage breaks ties in.
	ExportEdges(ctx context.Context, page Page) (*EdgePage, error)
}

// EdgePage is one page of lineage edges.
type EdgePage struct {
	Items     []Edge `json:"items"`
	NextToken string `json:"next_page_token"`
}

// Importer is implemented by a metadata store's transactions (the Tx that
// Update passes) that can write records exactly as another store recorded
// them. Nothing is allocated: the caller supplies every number, sequence
// number, time and hash. Each method returns ECONFLICT, without aborting the
// transaction, if the record is there already, so that a resumed copy skips
// what an interrupted one committed.
type Importer interface {
	// ImportModel inserts m with its times, archived and deleted state and
	// its LatestVersion, the version counter: versions up to it may be
	// created with CreateVersion, and AllocateVersion continues after it.
	// It ignores m.Aliases. ECONFLICT if the name is taken.
	ImportModel(ctx context.Context, m *Model) error
	// ImportAlias points an alias at a version with the given UpdatedBy and
	// UpdatedAt, without recording a move (the history is imported with
	// ImportAliasMove). ENOTFOUND if the version does not exist, ECONFLICT
	// if the alias exists.
	ImportAlias(ctx context.Context, a *Alias) error
	// ImportAliasMove appends m to the history of m.Model's aliases keeping
	// m.Seq; moves made later by MoveAlias number after the highest
	// imported. ENOTFOUND if the model does not exist, ECONFLICT if a move
	// with m.Seq exists.
	ImportAliasMove(ctx context.Context, m *AliasMove) error
	// ImportRun inserts r as it is (params, latest metrics, tags, times,
	// deleted state) and history, its metric points, in the order given.
	// ECONFLICT if a run with r.ID exists.
	ImportRun(ctx context.Context, r *Run, history []MetricPoint) error
	// ImportExperiment inserts e as it is (id, times, deleted state).
	// ECONFLICT if an experiment with e.ID exists, except that the target's
	// default experiment (id "0", which every store starts with) is
	// overwritten unless it is equal to e already.
	ImportExperiment(ctx context.Context, e *Experiment) error
	// ImportLoggedModel inserts m as it is (id, status, params, tags,
	// metric points, times, deleted state). ECONFLICT if a logged model
	// with m.ID exists.
	ImportLoggedModel(ctx context.Context, m *LoggedModel) error
	// ImportAudit appends e keeping its Seq, Time, PrevHash and Hash, and
	// moves the audit counter to e.Seq, so AppendAudit continues the chain.
	// e must extend the chain: e.Seq is one more than the last entry's,
	// e.PrevHash is that entry's Hash ("" for entry 1) and e.Hash is
	// e.ComputeHash(e.PrevHash); otherwise EFAILEDPRECONDITION (EINVALID if
	// the hash is wrong). ECONFLICT if an entry with e.Seq and e.Hash exists;
	// EFAILEDPRECONDITION if the entry with e.Seq differs.
	ImportAudit(ctx context.Context, e *AuditEntry) error
	// ImportEvent appends ev keeping its Seq and ID, and moves the event
	// counter to ev.Seq, so AppendEvent continues after it. ev.Seq must be
	// one more than the last event's (EFAILEDPRECONDITION otherwise).
	// ECONFLICT if an event with ev.Seq exists.
	ImportEvent(ctx context.Context, ev *Event) error
	// ImportSignal inserts s keeping its ID; signals created later number
	// after the highest imported. ENOTFOUND if its version does not exist,
	// ECONFLICT if a signal with s.ID exists.
	ImportSignal(ctx context.Context, s *Signal) error
	// ImportPolicy inserts a policy with every version of it: versions
	// are those ListPolicyVersions gives (any order), all of one name and
	// one DeletedAt, each written with its number, document, CreatedBy and
	// CreatedAt. The highest is the current version, so that the next
	// write of the policy continues after it; the policy is deleted if
	// DeletedAt is set. EINVALID if versions is empty or mixes names or
	// deleted states, ECONFLICT if a policy of that name exists.
	ImportPolicy(ctx context.Context, versions []*Policy) error
	// ImportApproval inserts an approval request as it is: id, status and
	// message, requester, decisions, policies, evidence hash and times.
	// ENOTFOUND if its model does not exist, ECONFLICT if a request with
	// a.ID exists.
	ImportApproval(ctx context.Context, a *ApprovalRequest) error
}

// Follows checks that e is the entry after the one numbered prevSeq with
// hash prevHash (prevSeq 0 and prevHash "" for the first entry): its Seq is
// the next number, its PrevHash links to prevHash, its Time has the
// microsecond precision stores keep, and its Hash is what ComputeHash
// gives. It returns EFAILEDPRECONDITION if e does not continue the chain
// there and EINVALID if e's own hash is wrong. Stores call it in
// ImportAudit; a verifier walks a chain with it.
func (e *AuditEntry) Follows(prevSeq int64, prevHash string) error {
	if e.Seq != prevSeq+1 {
		return Errorf(EFAILEDPRECONDITION, "audit entry %d does not follow entry %d", e.Seq, prevSeq)
	}
	if e.PrevHash != prevHash {
		return Errorf(EFAILEDPRECONDITION, "audit entry %d: prev_hash %q is not the hash of entry %d, %q",
			e.Seq, truncate(e.PrevHash, 80), prevSeq, truncate(prevHash, 80))
	}
	if !e.Time.Equal(Timestamp(e.Time)) {
		return Errorf(EINVALID, "audit entry %d: time %s is finer than a microsecond", e.Seq, e.Time)
	}
	if h := e.ComputeHash(e.PrevHash); e.Hash != h {
		return Errorf(EINVALID, "audit entry %d: hash %q does not match its content (want %q)",
			e.Seq, truncate(e.Hash, 80), h)
	}
	return nil
}

// ImportedPolicyHead checks the versions of one policy as ImportPolicy
// takes them (at least one, one name, one deleted state, positive and
// distinct numbers) and returns the current one, the highest. EINVALID
// otherwise.
func ImportedPolicyHead(versions []*Policy) (*Policy, error) {
	if len(versions) == 0 {
		return nil, Errorf(EINVALID, "a policy without versions")
	}
	head := versions[0]
	seen := map[int64]bool{}
	for _, p := range versions {
		switch {
		case p == nil:
			return nil, Errorf(EINVALID, "policy %q: a version that is null", head.Name)
		case p.Name != head.Name:
			return nil, Errorf(EINVALID, "policy %q: a version of policy %q among its versions", head.Name, p.Name)
		case (p.DeletedAt == nil) != (head.DeletedAt == nil) || p.DeletedAt != nil && !p.DeletedAt.Equal(*head.DeletedAt):
			return nil, Errorf(EINVALID, "policy %q: its versions disagree on when it was deleted", head.Name)
		case p.Version < 1 || seen[p.Version]:
			return nil, Errorf(EINVALID, "policy %q: version %d is not positive or given twice", head.Name, p.Version)
		}
		seen[p.Version] = true
		if p.Version > head.Version {
			head = p
		}
	}
	return head, ValidatePolicyName(head.Name)
}
