package cairn

import (
	"context"
	"strings"
	"time"
)

// Store is the metadata store: SQLite by default, PostgreSQL at scale. Every
// invariant (unique names, gap-free version numbers, one alias per name, the
// audit chain, the event sequence) is enforced by the database inside
// transactions, never by in-process locks, so many processes can share one
// database. Implementations pass internal/storetest.
//
// Stores translate driver errors into *Error: a unique violation is
// ECONFLICT, a missing row ENOTFOUND. They keep times to the microsecond in
// UTC (see Timestamp) and return nil maps and slices as empty ones.
type Store interface {
	Reader
	// Update runs fn in a read-write transaction and commits it if fn returns
	// nil; otherwise it rolls back and returns fn's error. Writers that touch
	// the same rows are serialized by the database.
	Update(ctx context.Context, fn func(Tx) error) error
	Close() error
}

// Reader is the read side of a store, usable inside and outside a
// transaction. Lookups return ENOTFOUND when nothing matches; they return
// deleted (tombstoned) records too, and the registry decides what to hide.
// Lists exclude deleted records unless the query asks for them.
type Reader interface {
	GetModel(ctx context.Context, name string) (*Model, error)
	ListModels(ctx context.Context, q ModelQuery) (*ModelPage, error)

	GetVersion(ctx context.Context, model string, number int64) (*Version, error)
	// LatestVersion returns the highest-numbered ready, unarchived,
	// undeleted version of the model: what NAME@latest resolves to.
	LatestVersion(ctx context.Context, model string) (*Version, error)
	ListVersions(ctx context.Context, q VersionQuery) (*VersionPage, error)
	// VersionsWithDatasetDigest returns the undeleted versions of the model
	// whose tag DatasetDigestTag is digest, in number order, at most 100:
	// how a dataset version (one per name and digest) is found again. It
	// reads an index on the model and that tag, not the model's versions,
	// which grow without bound for a name many datasets share. ENOTFOUND if
	// the model does not exist.
	VersionsWithDatasetDigest(ctx context.Context, model, digest string) ([]*Version, error)
	// LatestPerStage returns, for each of the named models, the
	// highest-numbered ready, undeleted version in each stage that has one
	// (MLflow's latest_versions of a page of registered models), in one
	// query, ordered by model name then number. Unknown names are skipped.
	// The versions are summaries, what MLflow's ModelVersion shows: only
	// Model, Kind, Number, Status, StatusMessage, Source, RunID, Tags,
	// Description, CreatedBy, CreatedAt, UpdatedAt and Stage are set;
	// every other field is zero, Aliases too (the caller has the page of
	// models, whose Aliases name them). GetVersion, AliasedVersion and
	// ListVersions read the same fields, with Aliases and DeletedAt, under
	// NewContextWithSummary.
	LatestPerStage(ctx context.Context, models []string) ([]*Version, error)

	GetAlias(ctx context.Context, model, alias string) (*Alias, error)
	// AliasedVersion returns the version an alias points at, as GetVersion
	// would, in one read: what NAME@ALIAS resolves to. ENOTFOUND if the
	// model or the alias does not exist.
	AliasedVersion(ctx context.Context, model, alias string) (*Version, error)
	// AliasHistory lists the moves of one alias, newest first; alias ""
	// lists the moves of every alias of the model.
	AliasHistory(ctx context.Context, model, alias string, page Page) (*AliasMovePage, error)

	GetRun(ctx context.Context, id string) (*Run, error)
	ListRuns(ctx context.Context, q RunQuery) (*RunPage, error)
	MetricHistory(ctx context.Context, runID, key string) ([]MetricPoint, error)
	// SearchRuns lists the runs of some experiments matching a filter, in
	// the order asked for; page tokens are offsets.
	SearchRuns(ctx context.Context, q RunSearch) (*RunPage, error)
	// LatestMetrics returns, for each of the runs, the latest point of each
	// of its metrics (highest step, then latest time, then highest value),
	// by key; runs without metrics are absent from the map.
	LatestMetrics(ctx context.Context, runIDs []string) (map[string][]MetricPoint, error)

	// GetExperiment returns an experiment by id, deleted or not; ENOTFOUND
	// if there is none.
	GetExperiment(ctx context.Context, id string) (*Experiment, error)
	// GetExperimentByName returns an experiment by name, deleted or not;
	// ENOTFOUND if there is none.
	GetExperimentByName(ctx context.Context, name string) (*Experiment, error)
	// ListExperiments lists experiments; page tokens are offsets.
	ListExperiments(ctx context.Context, q ExperimentQuery) (*ExperimentPage, error)

	// GetLoggedModel returns a logged model by id, deleted or not;
	// ENOTFOUND if there is none.
	GetLoggedModel(ctx context.Context, id string) (*LoggedModel, error)
	// SearchLoggedModels lists the undeleted logged models of some
	// experiments matching a filter, in the order asked for; page tokens
	// are offsets.
	SearchLoggedModels(ctx context.Context, q LoggedModelSearch) (*LoggedModelPage, error)

	// Lineage returns the edges reachable from n in the given direction, up
	// to depth hops (depth >= 1), in one recursive query.
	Lineage(ctx context.Context, n Node, dir Direction, depth int) ([]Edge, error)

	// AliasAt returns the last move of an alias made at or before t (the
	// later of two at the same time): what the alias pointed at then is
	// its To, and 0 means it had been deleted. ENOTFOUND if the model
	// does not exist or the alias had not been set by t.
	AliasAt(ctx context.Context, model, alias string, t time.Time) (*AliasMove, error)

	ListAudit(ctx context.Context, q AuditQuery) ([]*AuditEntry, error)
	// AuditHead returns the audit counter: the sequence number of the
	// last entry appended (0 for none).
	AuditHead(ctx context.Context) (int64, error)
	// ListAuditCheckpoints returns up to limit (default 100, at most
	// 1000) checkpoints with Seq > after, in sequence order.
	ListAuditCheckpoints(ctx context.Context, after int64, limit int) ([]*AuditCheckpoint, error)
	// ListEvents returns up to limit events with Seq > after, in order.
	ListEvents(ctx context.Context, after int64, limit int) ([]*Event, error)

	GetUpload(ctx context.Context, id string) (*Upload, error)
	// FindUploads returns the unexpired upload sessions for a digest, newest
	// first, with their parts.
	FindUploads(ctx context.Context, d Digest, now time.Time) ([]*Upload, error)
	// ExpiredUploads returns up to limit sessions that expired before t.
	ExpiredUploads(ctx context.Context, t time.Time, limit int) ([]*Upload, error)
	// StalePendingVersions returns up to limit versions still pending that
	// were created before t.
	StalePendingVersions(ctx context.Context, t time.Time, limit int) ([]*Version, error)

	// ReferencedDigests calls fn for every blob digest that a version
	// (deleted ones included), an upload session or an artifact refers to.
	ReferencedDigests(ctx context.Context, fn func(Digest) error) error
	// ReferencedAmong returns those of ds that a version (deleted ones
	// included: its manifest digest or one of its files), an upload
	// session or an artifact refers to, in no particular order. It looks each digest up
	// by index, so its cost follows len(ds), not the registry's size.
	ReferencedAmong(ctx context.Context, ds []Digest) ([]Digest, error)

	GetIdempotency(ctx context.Context, key string) (*IdempotentResponse, error)

	// GetArtifact returns the artifact at path; ENOTFOUND if none.
	GetArtifact(ctx context.Context, path string) (*Artifact, error)
	// ListArtifacts lists artifacts by path (see ArtifactQuery); EINVALID
	// for a prefix without a trailing '/' or a limit out of range.
	ListArtifacts(ctx context.Context, q ArtifactQuery) (*ArtifactPage, error)
	// ListSignals lists signals newest first (see SignalQuery), deleted
	// versions' included. ENOTFOUND if q names a model or version that
	// does not exist.
	ListSignals(ctx context.Context, q SignalQuery) (*SignalPage, error)

	// GetUser returns a user with its role bindings; ENOTFOUND if none.
	GetUser(ctx context.Context, name string) (*User, error)
	// ListUsers lists users by name, with their role bindings.
	ListUsers(ctx context.Context, page Page) (*UserPage, error)
	// GetTokenByHash returns the token whose secret hashes to hash,
	// revoked and expired ones too; ENOTFOUND if none.
	GetTokenByHash(ctx context.Context, hash string) (*Token, error)
	// ListTokens lists the tokens of a user ("" for every user), revoked
	// and expired ones included, oldest first.
	ListTokens(ctx context.Context, user string) ([]*Token, error)
	// ListRoleBindings lists the bindings of a principal ("" for every
	// principal), by principal, role and scope.
	ListRoleBindings(ctx context.Context, principal string) ([]RoleBinding, error)
	// BlobInScopes reports whether a version of a live (undeleted) model
	// whose name falls under one of scopes (see ScopeFilter; nil: any
	// model) refers to the blob: its manifest digest or one of its files.
	// It is an index lookup, whatever the registry's size.
	BlobInScopes(ctx context.Context, d Digest, scopes []string) (bool, error)

	webhookReader
	policyReader
	approvalReader
}

// Tx is a read-write transaction. Methods that change a model's versions or
// aliases expect the caller to have called LockModel first in the same
// transaction, so that concurrent writers to one model are serialized.
type Tx interface {
	Reader

	// LockModel returns the model and locks its row until the transaction
	// ends (SELECT … FOR UPDATE on PostgreSQL; SQLite serializes writers).
	LockModel(ctx context.Context, name string) (*Model, error)
	// CreateModel inserts m; ECONFLICT if the name is taken, by a deleted
	// model too. It ignores m.Aliases and m.LatestVersion.
	CreateModel(ctx context.Context, m *Model) error
	// UpdateModel writes m's description, tags, archived, deleted_at and
	// updated_at, by name.
	UpdateModel(ctx context.Context, m *Model) error
	// RenameModel renames a model; versions, aliases and history follow.
	// ECONFLICT if newName is taken.
	RenameModel(ctx context.Context, oldName, newName string, at time.Time) error

	// AllocateVersion returns the model's next version number and records it
	// as allocated. Numbers are gap-free: a rolled-back transaction gives its
	// number back.
	AllocateVersion(ctx context.Context, model string) (int64, error)
	// CreateVersion inserts v, whose number AllocateVersion returned.
	CreateVersion(ctx context.Context, v *Version) error
	// UpdateVersion writes only v's mutable fields: tags, description,
	// status, status_message, archived, stage, deleted_at, flag and updated_at.
	// Fixed fields are never written after creation.
	UpdateVersion(ctx context.Context, v *Version) error

	// MoveAlias applies m: sets the alias to m.To (or deletes it if m.To is
	// 0) and appends m to the alias's history, filling m.Seq.
	MoveAlias(ctx context.Context, m *AliasMove) error

	// CreateExperiment inserts e, allocating e.ID (the highest id plus
	// one); ECONFLICT if the name is taken, by a deleted experiment too.
	CreateExperiment(ctx context.Context, e *Experiment) error
	// UpdateExperiment writes e's name, tags, updated_at and deleted_at, by
	// id; ENOTFOUND if there is no such experiment, ECONFLICT if the new
	// name is taken.
	UpdateExperiment(ctx context.Context, e *Experiment) error

	// CreateLoggedModel inserts m as given; ECONFLICT if its id exists.
	CreateLoggedModel(ctx context.Context, m *LoggedModel) error
	// UpdateLoggedModel writes m's status, status message, params, tags,
	// metrics, updated_at and deleted_at, by id; ENOTFOUND if there is no
	// such logged model.
	UpdateLoggedModel(ctx context.Context, m *LoggedModel) error

	CreateRun(ctx context.Context, r *Run) error
	// UpdateRun writes name, status, end_time, tags, inputs, model inputs,
	// outputs, deleted_at, updated_at.
	UpdateRun(ctx context.Context, r *Run) error
	// DeleteExperimentRuns marks deleted, at at, every run of experiment
	// experimentID that is not deleted (updated_at becomes at too), and
	// returns how many it marked.
	DeleteExperimentRuns(ctx context.Context, experimentID string, at time.Time) (int64, error)
	// RestoreExperimentRuns undoes DeleteExperimentRuns: it restores the
	// runs of experimentID whose deleted_at is exactly deletedAt (updated_at
	// becomes now) and returns how many. Runs deleted at another time stay
	// deleted.
	RestoreExperimentRuns(ctx context.Context, experimentID string, deletedAt, now time.Time) (int64, error)
	// LogRun records metric points (history plus latest value) and params.
	// A param already set to a different value is ECONFLICT.
	LogRun(ctx context.Context, runID string, metrics []MetricPoint, params map[string]string) error

	// AddEdges inserts lineage edges; an edge that exists already is kept.
	// EINVALID if an edge would close a cycle (its From is its To, or is
	// reachable downstream from its To): the graph stays acyclic. Writers
	// of edges are serialized, so two transactions cannot each add half
	// of a cycle.
	AddEdges(ctx context.Context, edges []Edge) error

	// CreateSignal inserts s and fills s.ID, increasing in commit order
	// per store; ENOTFOUND if its version does not exist.
	CreateSignal(ctx context.Context, s *Signal) error

	// AppendAudit fills e.Seq, e.PrevHash and e.Hash (via ComputeHash) and
	// appends e. Appends are serialized, so the chain never forks.
	AppendAudit(ctx context.Context, e *AuditEntry) error
	// PutAuditCheckpoint stores c as given; ECONFLICT, without aborting
	// the transaction, if a checkpoint with c.Seq exists.
	PutAuditCheckpoint(ctx context.Context, c *AuditCheckpoint) error
	// AppendEvent fills ev.Seq, gap-free in commit order, and appends ev.
	AppendEvent(ctx context.Context, ev *Event) error

	CreateUpload(ctx context.Context, u *Upload) error
	// PutPart records a received part, replacing one with the same number.
	PutPart(ctx context.Context, uploadID string, p Part) error
	DeleteUpload(ctx context.Context, id string) error

	// CreateUser inserts u as given (times and hash included); ECONFLICT
	// if the name is taken. It ignores u.Roles.
	CreateUser(ctx context.Context, u *User) error
	// UpdateUser writes u's kind, password hash, disabled flag and
	// updated_at, by name; ENOTFOUND if there is no such user.
	UpdateUser(ctx context.Context, u *User) error
	// DeleteUser deletes a user with its tokens and role bindings;
	// ENOTFOUND if there is no such user.
	DeleteUser(ctx context.Context, name string) error
	// CreateToken inserts t as given (every column); ENOTFOUND if t.User
	// does not exist, ECONFLICT if its id or hash exists.
	CreateToken(ctx context.Context, t *Token) error
	// RevokeToken marks a token of user revoked at t; ENOTFOUND if the
	// user has no token with that id. Revoking a revoked token keeps the
	// first time.
	RevokeToken(ctx context.Context, user, id string, at time.Time) error
	// TouchToken sets a token's last-used time to at if it is unset or
	// older than at minus every, so a busy token costs one write per
	// interval, not one per request.
	TouchToken(ctx context.Context, id string, at time.Time, every time.Duration) error
	// GrantRole inserts b (times included); ENOTFOUND if the principal
	// does not exist, ECONFLICT if it holds that role on that scope.
	GrantRole(ctx context.Context, b *RoleBinding) error
	// RevokeRole deletes a binding; ENOTFOUND if there is none.
	RevokeRole(ctx context.Context, principal string, role Role, scope string) error

	// PutArtifact writes a, replacing the artifact at a.Path if there is
	// one, with every field as given. On stores shared by several
	// processes it holds the blob-references lock (see LockBlobRefs) in
	// shared mode until the transaction ends, as inserting a version does,
	// so a blob found present after PutArtifact stays so until commit.
	PutArtifact(ctx context.Context, a *Artifact) error
	// DeleteArtifacts deletes the artifact at path and every artifact
	// under path + "/", and returns how many it deleted (0 is not an
	// error).
	DeleteArtifacts(ctx context.Context, path string) (int64, error)

	// PutIdempotency stores a response under key; ECONFLICT if the key exists.
	PutIdempotency(ctx context.Context, r *IdempotentResponse) error

	// LockBlobRefs takes the blob-references lock exclusively until the
	// transaction ends. Every transaction that inserts a version holds the
	// same lock in shared mode from the insert to its end, so while
	// LockBlobRefs is held no new reference to a blob can commit: a digest
	// that ReferencedAmong reports unreferenced in this transaction stays
	// so until it ends. Garbage collection deletes blobs under it, then
	// appends its audit entry. So that the two cannot wait for each other,
	// a transaction inserts its versions before it appends to the audit
	// log or the event feed (the registry appends last).
	LockBlobRefs(ctx context.Context) error
	// AcquireLease takes the named lease for holder until until, or renews
	// it if holder has it already. It returns false, changing nothing, if
	// another holder's lease has not expired at now.
	AcquireLease(ctx context.Context, name, holder string, now, until time.Time) (bool, error)
	// ReleaseLease gives up holder's lease; releasing a lease one does not
	// hold (any more) is not an error and changes nothing.
	ReleaseLease(ctx context.Context, name, holder string) error

	webhookWriter
	policyWriter
	approvalWriter
}

// Page asks for one page of a list.
type Page struct {
	Size  int    // 0 means the default, 100; at most 1000
	Token string // opaque, from the previous page's NextToken
}

// OrderBy is one sort key of a list: a field name as in filters
// (name, created_at, version, metrics.auc, …) and a direction.
type OrderBy struct {
	Field string
	Desc  bool
}

// ModelQuery lists models.
type ModelQuery struct {
	Filter         *Filter
	OrderBy        []OrderBy // default name ascending
	Page           Page
	IncludeDeleted bool
	// Scopes, if not nil, restricts the list to models whose name falls
	// under one of these scope globs (see ScopeFilter), in the query; an
	// empty non-nil slice lists nothing. Nil lists every model.
	Scopes []string
	// Latest asks for the page's latest versions too: ModelPage.Latest
	// holds what LatestPerStage returns for the listed models, read in
	// the same statement where the store can (MLflow's search of
	// registered models shows them).
	Latest bool
}

// ModelPage is one page of models.
type ModelPage struct {
	Items     []*Model `json:"items"`
	NextToken string   `json:"next_page_token"`
	// Latest holds, if ModelQuery.Latest asked for it, the listed models'
	// latest ready version per stage as LatestPerStage returns them
	// (summaries without Aliases), each model's together, in the order of
	// Items.
	Latest []*Version `json:"-"`
}

// VersionQuery lists versions of one model, or of all models if Model is "".
type VersionQuery struct {
	Model          string
	Filter         *Filter
	OrderBy        []OrderBy // default: model name ascending, version descending
	Page           Page
	IncludeDeleted bool
	// Scopes restricts the list by model name as in ModelQuery.
	Scopes []string
}

// VersionPage is one page of versions.
type VersionPage struct {
	Items     []*Version `json:"items"`
	NextToken string     `json:"next_page_token"`
}

// AliasMovePage is one page of alias history.
type AliasMovePage struct {
	Items     []*AliasMove `json:"items"`
	NextToken string       `json:"next_page_token"`
}

// RunQuery lists runs.
type RunQuery struct {
	ExperimentID string // "" for all
	Page         Page
}

// RunPage is one page of runs.
type RunPage struct {
	Items     []*Run `json:"items"`
	NextToken string `json:"next_page_token"`
}

// AuditQuery lists audit entries in sequence order.
type AuditQuery struct {
	AfterSeq int64
	Limit    int    // 0 means 100
	Target   string // see AuditTargetPrefix; "" for all
	Actor    string
	Action   string
	Since    time.Time
	Until    time.Time
}

// IdempotentResponse is a stored response to a POST with an
// Idempotency-Key, replayed when the same key comes again.
type IdempotentResponse struct {
	Key         string    `json:"key"`
	RequestHash string    `json:"request_hash"` // method, path and body hash; a mismatch is a conflict
	Status      int       `json:"status"`
	Body        []byte    `json:"body"`
	CreatedAt   time.Time `json:"created_at"`
}

// AuditTargetPrefix says how AuditQuery.Target matches: a model name
// ("churn") matches the model itself and everything under it ("churn@v3",
// "churn@champion") but not another model whose name merely starts the same
// ("churner"); a target containing '@' ("churn@", "churn@v") is a plain
// prefix. Stores match target = exact OR target starts with prefix.
func AuditTargetPrefix(target string) (prefix, exact string) {
	if strings.Contains(target, "@") {
		return target, target
	}
	return target + "@", target
}
