package cairn

import (
	"encoding/json"
	"time"
)

// Event types, <entity>.<action>. Every mutation emits one into the outbox in
// its transaction; the same names are audit actions.
const (
	EventModelCreated     = "model.created"
	EventModelUpdated     = "model.updated"
	EventModelRenamed     = "model.renamed"
	EventModelArchived    = "model.archived"
	EventModelRestored    = "model.restored"
	EventModelDeleted     = "model.deleted"
	EventVersionCreated   = "version.created"
	EventVersionReady     = "version.ready"
	EventVersionFailed    = "version.failed"
	EventVersionUpdated   = "version.updated"
	EventVersionArchived  = "version.archived"
	EventVersionRestored  = "version.restored"
	EventVersionDeleted   = "version.deleted"
	EventTagSet           = "tag.set"
	EventTagDeleted       = "tag.deleted"
	EventAliasSet         = "alias.set"
	EventAliasDeleted     = "alias.deleted"
	EventStageChanged     = "stage.changed"
	EventRunCreated       = "run.created"
	EventRunUpdated       = "run.updated"
	EventLineageAdded     = "lineage.added"
	EventApprovalRequest  = "approval.requested"
	EventApprovalApproved = "approval.approved"
	EventApprovalRejected = "approval.rejected"
	EventApprovalApplied  = "approval.applied"
	EventApprovalExpired  = "approval.expired"
	// EventApprovalInvalidated: the version was archived or deleted, or
	// its evidence changed, while the request was pending.
	EventApprovalInvalidated = "approval.invalidated"
	EventPolicyChanged       = "policy.changed"
	EventVersionFlagged      = "version.flagged"
	EventVersionUnflagged    = "version.unflagged"
	EventSignalRecorded      = "signal.recorded"
	EventRunDeleted          = "run.deleted"
	EventRunRestored         = "run.restored"
	// Experiments (MLflow's tracking API): payloads are the experiment.
	EventExperimentCreated  = "experiment.created"
	EventExperimentUpdated  = "experiment.updated"
	EventExperimentDeleted  = "experiment.deleted"
	EventExperimentRestored = "experiment.restored"
	// Logged models (MLflow 3's tracking API): payloads are the logged
	// model, or what was logged to it.
	EventLoggedModelCreated = "logged_model.created"
	EventLoggedModelUpdated = "logged_model.updated"
	EventLoggedModelDeleted = "logged_model.deleted"
	// EventBlobCollected records blobs that garbage collection deleted; its
	// payload lists their digests and the bytes freed.
	EventBlobCollected = "blob.collected"
	// Webhook subscriptions: created, changed (URL, secret, filter, active
	// flag), deleted, and dead letters queued for redelivery. Payloads are
	// the subscription without its secret.
	EventWebhookCreated     = "webhook.created"
	EventWebhookUpdated     = "webhook.updated"
	EventWebhookDeleted     = "webhook.deleted"
	EventWebhookRedelivered = "webhook.redelivery_requested"
)

// Event is one entry of the outbox. Seq is gap-free in commit order, so a
// reader that asks for events after N never misses one.
type Event struct {
	Seq     int64           `json:"seq"`
	ID      string          `json:"id"`
	Type    string          `json:"type"`
	Time    time.Time       `json:"time"`
	Actor   string          `json:"actor"`
	Model   string          `json:"model,omitempty"`
	Alias   string          `json:"alias,omitempty"`
	Payload json.RawMessage `json:"payload"`
}

// Timestamp returns t in UTC truncated to the microsecond, the precision
// every store keeps. Callers stamp records with it so that what they write
// equals what they read back.
func Timestamp(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }
