package httpapi

import (
	"net/http"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/internal/registry"
)

// apiPrefix is where the native API lives.
const apiPrefix = "/api/v1"

// route is one entry of the route table: what the mux serves and what the
// OpenAPI document describes, from the same value.
type route struct {
	Method  string
	Path    string // a Go 1.22 ServeMux path pattern; {name} is a path parameter
	ID      string // OpenAPI operationId
	Summary string
	Query   []param // the query parameters the route takes; others are refused
	// Body is a sample of the JSON request body's type (nil: none), or
	// streamBody for a raw byte stream. OptionalBody marks a JSON body
	// that may be omitted.
	Body         any
	OptionalBody bool
	// Status and Resp describe the success response: its status and a
	// sample of its JSON type (nil: no body). AltStatus is a second
	// success status with the same body (200 for "already existed").
	Status    int
	AltStatus int
	Resp      any
	// Produces overrides the success response's media type.
	Produces string
	// Secret marks a route whose response carries a secret (a new token):
	// it is never stored for Idempotency-Key replays.
	Secret bool
	// Manifest marks a route whose body carries a manifest: its size is
	// bounded by Options.MaxManifestBody, not MaxJSONBody.
	Manifest bool

	handler handlerFunc
}

// param describes a query parameter.
type param struct {
	Name     string
	Type     string // integer, string, boolean
	Desc     string
	Repeated bool
}

// streamBody marks a route whose request body is raw bytes.
type streamBody struct{}

// streamResp marks a route whose response body is raw bytes.
type streamResp struct{}

var listParams = []param{
	{Name: "filter", Type: "string", Desc: "filter expression, e.g. name LIKE 'churn%' AND tags.team = 'fraud'"},
	{Name: "order_by", Type: "string", Desc: `"field", "field ASC" or "field DESC"; repeatable`, Repeated: true},
	{Name: "page_size", Type: "integer", Desc: "items per page, 1 to 1000 (default 100)"},
	{Name: "page_token", Type: "string", Desc: "next_page_token of the previous page"},
}

var pageParams = []param{
	{Name: "page_size", Type: "integer", Desc: "items per page, 1 to 1000 (default 100)"},
	{Name: "page_token", Type: "string", Desc: "next_page_token of the previous page"},
}

// routeTable lists every route the server serves. It is the one source of
// both the mux and the OpenAPI document.
func (s *Server) routeTable() []route {
	const (
		models   = apiPrefix + "/models"
		model    = models + "/{name}"
		versions = model + "/versions"
		version  = versions + "/{version}"
		alias    = model + "/aliases/{alias}"
		blob     = apiPrefix + "/blobs/{digest}"
		uploads  = apiPrefix + "/uploads"
		upload   = uploads + "/{id}"
		runs     = apiPrefix + "/runs"
		run      = runs + "/{id}"
		webhooks = apiPrefix + "/webhooks"
		webhook  = webhooks + "/{id}"
		users    = apiPrefix + "/users"
		user     = users + "/{user}"
		roles    = apiPrefix + "/roles"
		policies = apiPrefix + "/policies"
		policy   = policies + "/{policy}"
		approval = apiPrefix + "/approvals/{id}"
	)
	ok, created, none := http.StatusOK, http.StatusCreated, http.StatusNoContent
	return []route{
		// Operations.
		{Method: "GET", Path: "/healthz", ID: "healthz", Summary: "Liveness: the process serves requests", Status: ok, Resp: healthStatus{}, handler: s.healthz},
		{Method: "GET", Path: "/readyz", ID: "readyz", Summary: "Readiness: the metadata and blob stores answer", Status: ok, Resp: healthStatus{}, handler: s.readyz},
		{Method: "GET", Path: "/metrics", ID: "metrics", Summary: "Prometheus metrics, text format", Status: ok, Resp: streamResp{}, Produces: "text/plain; version=0.0.4", handler: s.serveMetrics},
		{Method: "GET", Path: apiPrefix + "/openapi.json", ID: "openapi", Summary: "This document", Status: ok, Resp: map[string]any{}, handler: s.serveOpenAPI},

		// Models.
		{Method: "GET", Path: models, ID: "listModels", Summary: "List models", Query: listParams, Status: ok, Resp: cairn.ModelPage{}, handler: s.listModels},
		{Method: "POST", Path: models, ID: "createModel", Summary: "Register a model", Body: registry.ModelCreate{}, Status: created, Resp: cairn.Model{}, handler: s.createModel},
		{Method: "GET", Path: model, ID: "getModel", Summary: "Get a model", Status: ok, Resp: cairn.Model{}, handler: s.getModel},
		{Method: "PATCH", Path: model, ID: "updateModel", Summary: "Change a model's description and tags", Body: registry.ModelUpdate{}, Status: ok, Resp: cairn.Model{}, handler: s.updateModel},
		{Method: "DELETE", Path: model, ID: "deleteModel", Summary: "Delete (tombstone) a model; refused while it has aliases", Status: none, handler: s.deleteModel},
		{Method: "POST", Path: model + "/rename", ID: "renameModel", Summary: "Rename a model, keeping its versions, aliases and history", Body: renameRequest{}, Status: ok, Resp: cairn.Model{}, handler: s.renameModel},
		{Method: "POST", Path: model + "/archive", ID: "archiveModel", Summary: "Archive a model: no new versions", Body: emptyRequest{}, OptionalBody: true, Status: ok, Resp: cairn.Model{}, handler: s.archiveModel},
		{Method: "POST", Path: model + "/restore", ID: "restoreModel", Summary: "Undo archiving a model", Body: emptyRequest{}, OptionalBody: true, Status: ok, Resp: cairn.Model{}, handler: s.restoreModel},
		{Method: "POST", Path: model + "/undelete", ID: "undeleteModel", Summary: "Restore a deleted model", Body: emptyRequest{}, OptionalBody: true, Status: ok, Resp: cairn.Model{}, handler: s.undeleteModel},

		// Versions.
		{Method: "GET", Path: versions, ID: "listVersions", Summary: "List a model's versions, newest first", Query: listParams, Status: ok, Resp: cairn.VersionPage{}, handler: s.listVersions},
		{Method: "GET", Path: apiPrefix + "/versions", ID: "searchVersions", Summary: "Search versions across every model the caller may read (filter on name, metrics, tags, …)", Query: listParams, Status: ok, Resp: cairn.VersionPage{}, handler: s.listVersions},
		{Method: "POST", Path: versions, ID: "createVersion", Summary: "Create a version from a manifest (201), or return the identical latest one (200, unless always_create); lists the blobs to upload", Body: cairn.VersionSpec{}, Manifest: true, Status: created, AltStatus: ok, Resp: registry.CreateVersionResult{}, handler: s.createVersion},
		{Method: "POST", Path: model + "/link", ID: "linkVersion", Summary: "Link a version of another model into this one: a new ready version with the same manifest (no bytes copied) and a linked_from lineage edge; the model is created if needed", Body: registry.LinkRequest{}, Status: created, Resp: cairn.Version{}, handler: s.linkVersion},
		{Method: "GET", Path: version, ID: "getVersion", Summary: "Get a version (3 or v3)", Query: []param{{Name: "at", Type: "string", Desc: "RFC 3339 time: not found if the version was created after it"}}, Status: ok, Resp: cairn.Version{}, handler: s.getVersion},
		{Method: "PATCH", Path: version, ID: "updateVersion", Summary: "Change a version's description and tags; every other field is fixed", Body: registry.VersionUpdate{}, Status: ok, Resp: cairn.Version{}, handler: s.updateVersion},
		{Method: "DELETE", Path: version, ID: "deleteVersion", Summary: "Delete (tombstone) a version", Query: []param{{Name: "remove_aliases", Type: "boolean", Desc: "also delete the aliases pointing at it; otherwise such a version is refused"}}, Status: none, handler: s.deleteVersion},
		{Method: "POST", Path: version + "/finalize", ID: "finalizeVersion", Summary: "Mark a pending version ready once its blobs are uploaded, and set aliases", Body: finalizeRequest{}, OptionalBody: true, Status: ok, Resp: cairn.Version{}, handler: s.finalizeVersion},
		{Method: "POST", Path: version + "/archive", ID: "archiveVersion", Summary: "Archive a version: @latest skips it", Body: archiveRequest{}, OptionalBody: true, Status: ok, Resp: cairn.Version{}, handler: s.archiveVersion},
		{Method: "POST", Path: version + "/restore", ID: "restoreVersion", Summary: "Undo archiving a version", Body: emptyRequest{}, OptionalBody: true, Status: ok, Resp: cairn.Version{}, handler: s.restoreVersion},
		{Method: "POST", Path: version + "/undelete", ID: "undeleteVersion", Summary: "Restore a deleted version", Body: emptyRequest{}, OptionalBody: true, Status: ok, Resp: cairn.Version{}, handler: s.undeleteVersion},

		// Aliases.
		{Method: "GET", Path: alias, ID: "getAlias", Summary: "Get an alias, or with at, what it pointed at then", Query: []param{{Name: "at", Type: "string", Desc: "RFC 3339 time: answer as of then, from the alias history"}}, Status: ok, Resp: cairn.Alias{}, handler: s.getAlias},
		{Method: "PUT", Path: alias, ID: "setAlias", Summary: "Point an alias at a version; if_current makes it a compare-and-swap; origin keeps where an imported move was first made", Body: aliasSetRequest{}, Status: ok, Resp: cairn.Alias{}, handler: s.setAlias},
		{Method: "DELETE", Path: alias, ID: "deleteAlias", Summary: "Delete an alias; a protected one answers pending_approval (409) naming the approval request opened", Query: []param{
			{Name: "if_current", Type: "integer", Desc: "delete only if the alias points at this version"},
			{Name: "origin_system", Type: "string", Desc: "an imported deletion: the registry it was first made in (e.g. gto); kept in the alias history"},
			{Name: "origin_ref", Type: "string", Desc: "with origin_system: the deletion's name there (a git tag)"},
			{Name: "origin_actor", Type: "string", Desc: "with origin_system: who made it there"},
			{Name: "origin_at", Type: "string", Desc: "with origin_system: RFC 3339 time it was made there"},
		}, Status: none, handler: s.deleteAlias},
		{Method: "GET", Path: alias + "/history", ID: "aliasHistory", Summary: "Every move of one alias, newest first", Query: pageParams, Status: ok, Resp: cairn.AliasMovePage{}, handler: s.aliasHistory},
		{Method: "GET", Path: model + "/alias-history", ID: "modelAliasHistory", Summary: "Every move of every alias of a model, newest first", Query: pageParams, Status: ok, Resp: cairn.AliasMovePage{}, handler: s.modelAliasHistory},
		// Monitoring signals and evaluation evidence, by reference.
		{Method: "POST", Path: apiPrefix + "/versions/{ref}/signals", ID: "recordSignal", Summary: "Record a monitoring signal (drift, performance, error_rate, …) against a version; above its policy threshold it flags the version (version.flagged)", Body: cairn.SignalSpec{}, Status: created, Resp: cairn.Signal{}, handler: s.recordSignal},
		{Method: "GET", Path: apiPrefix + "/versions/{ref}/signals", ID: "listSignals", Summary: "The signals recorded against a version, newest first", Query: append([]param{{Name: "kind", Type: "string", Desc: "only signals of this kind"}}, pageParams...), Status: ok, Resp: cairn.SignalPage{}, handler: s.listSignals},
		{Method: "POST", Path: apiPrefix + "/versions/{ref}/unflag", ID: "unflagVersion", Summary: "Clear a version's flag (version.unflagged)", Body: emptyRequest{}, OptionalBody: true, Status: ok, Resp: cairn.Version{}, handler: s.unflagVersion},
		{Method: "GET", Path: apiPrefix + "/versions/{ref}/evaluations", ID: "listEvaluations", Summary: "The evaluation versions that evaluate a version", Status: ok, Resp: evaluationList{}, handler: s.listEvaluations},
		{Method: "GET", Path: apiPrefix + "/resolve/{ref}", ID: "resolve", Summary: "Resolve a reference (NAME, NAME@latest, NAME@v3, NAME@alias, models:/NAME/3) to a version; with at, an alias or version as of then", Query: []param{{Name: "at", Type: "string", Desc: "RFC 3339 time: answer as of then, from the alias history"}}, Status: ok, Resp: cairn.Version{}, handler: s.resolve},

		// Blobs and uploads.
		{Method: "HEAD", Path: blob, ID: "statBlob", Summary: "Whether a blob exists, and its size", Status: ok, handler: s.headBlob},
		{Method: "GET", Path: blob, ID: "getBlob", Summary: "Download a blob; Range requests and the digest as ETag. With presigned downloads on, 307 to a URL of the object store", Status: ok, Resp: streamResp{}, Produces: "application/octet-stream", handler: s.getBlob},
		{Method: "PUT", Path: blob, ID: "putBlob", Summary: "Upload a blob in one request; the bytes must hash to the digest", Body: streamBody{}, Status: created, Resp: blobInfo{}, handler: s.putBlob},
		{Method: "POST", Path: uploads, ID: "startUpload", Summary: "Open a multi-part upload session (201), or resume the open one for the same digest and size (200)", Body: uploadRequest{}, Status: created, AltStatus: ok, Resp: cairn.Upload{}, handler: s.startUpload},
		{Method: "GET", Path: upload, ID: "getUpload", Summary: "An upload session and its received parts", Status: ok, Resp: cairn.Upload{}, handler: s.getUpload},
		{Method: "PUT", Path: upload + "/parts/{n}", ID: "uploadPart", Summary: "Upload part n (1-based); re-sending a part replaces it", Body: streamBody{}, Status: ok, Resp: cairn.Part{}, handler: s.uploadPart},
		{Method: "POST", Path: upload + "/complete", ID: "completeUpload", Summary: "Join the parts into the blob, verifying its digest", Body: emptyRequest{}, OptionalBody: true, Status: ok, Resp: blobInfo{}, handler: s.completeUpload},
		{Method: "DELETE", Path: upload, ID: "abortUpload", Summary: "Abort an upload session", Status: none, handler: s.abortUpload},
		{Method: "POST", Path: apiPrefix + "/gc", ID: "collectGarbage", Summary: "Delete blobs nothing refers to that are older than the grace period; a dry run (the default) only reports them", Body: gcRequest{}, OptionalBody: true, Status: ok, Resp: registry.GCReport{}, handler: s.collectGarbage},

		// Runs.
		{Method: "GET", Path: runs, ID: "listRuns", Summary: "List runs, newest first", Query: append([]param{{Name: "experiment_id", Type: "string", Desc: "only runs of this experiment"}}, pageParams...), Status: ok, Resp: cairn.RunPage{}, handler: s.listRuns},
		{Method: "POST", Path: runs, ID: "createRun", Summary: "Start a run", Body: registry.RunCreate{}, Status: created, Resp: cairn.Run{}, handler: s.createRun},
		{Method: "GET", Path: run, ID: "getRun", Summary: "Get a run", Status: ok, Resp: cairn.Run{}, handler: s.getRun},
		{Method: "PATCH", Path: run, ID: "updateRun", Summary: "Change a run's name, status, end time and tags", Body: registry.RunUpdate{}, Status: ok, Resp: cairn.Run{}, handler: s.updateRun},
		{Method: "POST", Path: run + "/log", ID: "logRun", Summary: "Log metrics, params and tags to a run", Body: registry.RunLog{}, Status: none, handler: s.logRun},
		{Method: "POST", Path: run + "/links", ID: "linkRun", Summary: "Record the versions a run consumed and produced", Body: registry.RunLinks{}, Status: none, handler: s.linkRun},
		{Method: "GET", Path: run + "/metrics/{key}", ID: "metricHistory", Summary: "Every logged value of one metric", Status: ok, Resp: metricHistory{}, handler: s.metricHistory},

		// Lineage, audit, events.
		{Method: "GET", Path: apiPrefix + "/lineage/{ref}", ID: "lineage", Summary: "The lineage graph around a version (reference) or run (run:ID)", Query: []param{
			{Name: "direction", Type: "string", Desc: "up (what it came from, default) or down (what used it)"},
			{Name: "depth", Type: "integer", Desc: "hops to follow, 1 to 100 (default 10)"},
		}, Status: ok, Resp: registry.LineageGraph{}, handler: s.lineage},
		{Method: "GET", Path: apiPrefix + "/audit", ID: "listAudit", Summary: "Audit entries in sequence order", Query: []param{
			{Name: "after", Type: "integer", Desc: "only entries with a sequence number above this"},
			{Name: "limit", Type: "integer", Desc: "at most this many, 1 to 1000 (default 100)"},
			{Name: "target", Type: "string", Desc: "target prefix, e.g. churn or churn@v3"},
			{Name: "actor", Type: "string", Desc: "only this actor's entries"},
			{Name: "action", Type: "string", Desc: "only this action, e.g. alias.set"},
			{Name: "since", Type: "string", Desc: "RFC 3339 time, inclusive"},
			{Name: "until", Type: "string", Desc: "RFC 3339 time, exclusive"},
		}, Status: ok, Resp: auditPage{}, handler: s.listAudit},
		{Method: "GET", Path: apiPrefix + "/audit/verify", ID: "verifyAudit", Summary: "Walk the whole audit chain and its signed checkpoints; the report names the first bad entry (admin)", Status: ok, Resp: cairn.AuditReport{}, handler: s.verifyAudit},
		{Method: "GET", Path: apiPrefix + "/audit/checkpoints", ID: "listAuditCheckpoints", Summary: "Signed audit checkpoints in sequence order", Query: []param{
			{Name: "after", Type: "integer", Desc: "only checkpoints with a sequence number above this"},
			{Name: "limit", Type: "integer", Desc: "at most this many, 1 to 1000 (default 100)"},
		}, Status: ok, Resp: checkpointPage{}, handler: s.listAuditCheckpoints},
		{Method: "GET", Path: apiPrefix + "/events", ID: "listEvents", Summary: "The event feed, by cursor; wait long-polls for new events", Query: []param{
			{Name: "after", Type: "integer", Desc: "only events with a sequence number above this"},
			{Name: "limit", Type: "integer", Desc: "at most this many, 1 to 1000 (default 100)"},
			{Name: "wait", Type: "integer", Desc: "seconds to wait for an event if there is none yet (long-poll)"},
			{Name: "type", Type: "string", Desc: "only events whose type matches this glob, e.g. alias.*; repeatable", Repeated: true},
			{Name: "model", Type: "string", Desc: "only events about a model whose name matches this glob"},
			{Name: "alias", Type: "string", Desc: "only events about this alias"},
		}, Status: ok, Resp: eventPage{}, handler: s.listEvents},

		// Webhooks.
		{Method: "GET", Path: webhooks, ID: "listWebhooks", Summary: "List webhook subscriptions (without secrets)", Status: ok, Resp: webhookList{}, handler: s.listWebhooks},
		{Method: "POST", Path: webhooks, ID: "createWebhook", Summary: "Subscribe a URL to events, with optional custom request headers (values never shown again); the answer shows the signing secret, this once", Body: registry.WebhookCreate{}, Status: created, Resp: registry.WebhookCreated{}, handler: s.createWebhook},
		{Method: "GET", Path: webhook, ID: "getWebhook", Summary: "Get a webhook subscription (without its secret) and where its delivery stands", Status: ok, Resp: registry.WebhookStatus{}, handler: s.getWebhook},
		{Method: "PATCH", Path: webhook, ID: "updateWebhook", Summary: "Change a subscription's URL, secret, filter, headers (set_headers, delete_headers), description or active flag", Body: registry.WebhookUpdate{}, Status: ok, Resp: cairn.Webhook{}, handler: s.updateWebhook},
		{Method: "DELETE", Path: webhook, ID: "deleteWebhook", Summary: "Delete a subscription with its delivery log and dead letters", Status: none, handler: s.deleteWebhook},
		{Method: "POST", Path: webhook + "/test", ID: "testWebhook", Summary: "Send a signed webhook.test ping now and return the attempt", Body: emptyRequest{}, OptionalBody: true, Status: ok, Resp: cairn.Delivery{}, handler: s.testWebhook},
		{Method: "GET", Path: webhook + "/deliveries", ID: "listDeliveries", Summary: "Delivery attempts, newest first", Query: []param{
			{Name: "before", Type: "integer", Desc: "only attempts with an id below this (next_before of the previous page)"},
			{Name: "limit", Type: "integer", Desc: "at most this many, 1 to 1000 (default 100)"},
		}, Status: ok, Resp: deliveryPage{}, handler: s.listDeliveries},
		{Method: "GET", Path: webhook + "/dead-letters", ID: "listDeadLetters", Summary: "Events the subscription gave up on, in sequence order", Query: []param{
			{Name: "status", Type: "string", Desc: "dead, queued (for redelivery) or delivered (redelivered)"},
			{Name: "limit", Type: "integer", Desc: "at most this many, 1 to 1000 (default 100)"},
		}, Status: ok, Resp: deadLetterList{}, handler: s.listDeadLetters},
		{Method: "POST", Path: webhook + "/redeliver", ID: "redeliverWebhook", Summary: "Queue dead letters for one more delivery: the seqs given, or all dead ones", Body: registry.RedeliverRequest{}, OptionalBody: true, Status: ok, Resp: registry.RedeliverResult{}, handler: s.redeliver},

		// Identities and roles.
		{Method: "GET", Path: apiPrefix + "/whoami", ID: "whoami", Summary: "Who the request authenticated as, with its roles", Status: ok, Resp: whoami{}, handler: s.whoami},
		{Method: "GET", Path: users, ID: "listUsers", Summary: "List users and service accounts with their roles (admin)", Query: pageParams, Status: ok, Resp: cairn.UserPage{}, handler: s.listUsers},
		{Method: "POST", Path: users, ID: "createUser", Summary: "Create a user or service account (admin)", Body: registry.UserCreate{}, Status: created, Resp: cairn.User{}, handler: s.createUser},
		{Method: "GET", Path: user, ID: "getUser", Summary: "Get a user with its roles (admin, or the user itself)", Status: ok, Resp: cairn.User{}, handler: s.getUser},
		{Method: "PATCH", Path: user, ID: "updateUser", Summary: "Set or remove a password (admin, or the user itself); disable or enable (admin)", Body: registry.UserUpdate{}, Status: ok, Resp: cairn.User{}, handler: s.updateUser},
		{Method: "DELETE", Path: user, ID: "deleteUser", Summary: "Delete a user with its tokens and roles (admin)", Status: none, handler: s.deleteUser},
		{Method: "GET", Path: user + "/tokens", ID: "listTokens", Summary: "List a user's API tokens, without secrets (admin, or the user itself)", Status: ok, Resp: tokenList{}, handler: s.listTokens},
		{Method: "POST", Path: user + "/tokens", ID: "createToken", Summary: "Create an API token; its secret is in this response only (admin, or the user itself)", Body: registry.TokenCreate{}, OptionalBody: true, Status: created, Resp: registry.NewToken{}, Secret: true, handler: s.createToken},
		{Method: "DELETE", Path: user + "/tokens/{id}", ID: "revokeToken", Summary: "Revoke an API token (admin, or the user itself)", Status: none, handler: s.revokeToken},
		{Method: "GET", Path: roles, ID: "listRoles", Summary: "List role bindings (admin; a principal may list its own)", Query: []param{{Name: "principal", Type: "string", Desc: "only this principal's bindings"}}, Status: ok, Resp: roleList{}, handler: s.listRoles},
		{Method: "POST", Path: roles, ID: "grantRole", Summary: "Grant a role on a scope (* or a model-name glob) to a principal (admin)", Body: registry.RoleGrant{}, Status: created, Resp: cairn.RoleBinding{}, handler: s.grantRole},
		{Method: "DELETE", Path: roles, ID: "revokeRole", Summary: "Revoke a role binding (admin)", Query: []param{
			{Name: "principal", Type: "string", Desc: "the principal"},
			{Name: "role", Type: "string", Desc: "reader, writer, maintainer, approver or admin"},
			{Name: "scope", Type: "string", Desc: "* or a model-name glob"},
		}, Status: none, handler: s.revokeRole},

		// Policies.
		{Method: "GET", Path: policies, ID: "listPolicies", Summary: "List policies at their current versions", Query: []param{{Name: "include_deleted", Type: "boolean", Desc: "list deleted policies too"}}, Status: ok, Resp: policyList{}, handler: s.listPolicies},
		{Method: "POST", Path: policies, ID: "createPolicy", Summary: "Create a policy (admin): version 1, or the next version of a deleted one", Body: registry.PolicyCreate{}, Status: created, Resp: cairn.Policy{}, handler: s.createPolicy},
		{Method: "GET", Path: policy, ID: "getPolicy", Summary: "Get a policy at its current version, or at ?version=N", Query: []param{{Name: "version", Type: "integer", Desc: "this version instead of the current one (deleted policies' versions too)"}}, Status: ok, Resp: cairn.Policy{}, handler: s.getPolicy},
		{Method: "PUT", Path: policy, ID: "updatePolicy", Summary: "Replace a policy's document (admin), writing its next version; an unchanged document writes nothing", Body: cairn.PolicySpec{}, Status: ok, Resp: cairn.Policy{}, handler: s.updatePolicy},
		{Method: "DELETE", Path: policy, ID: "deletePolicy", Summary: "Delete a policy (admin): it stops applying; its versions stay readable", Status: none, handler: s.deletePolicy},
		{Method: "GET", Path: apiPrefix + "/explain/{ref}", ID: "explainGate", Summary: "Dry-run the gate on moving a protected alias or stage to a version: which clauses pass and which fail", Query: []param{
			{Name: "alias", Type: "string", Desc: "the alias to move (or stage)"},
			{Name: "stage", Type: "string", Desc: "the MLflow stage to move to (or alias)"},
		}, Status: ok, Resp: registry.GateExplanation{}, handler: s.explainGate},

		// Approvals.
		{Method: "GET", Path: apiPrefix + "/approvals", ID: "listApprovals", Summary: "List approval requests, newest first, on the models the caller may read", Query: []param{
			{Name: "status", Type: "string", Desc: "pending, applied, rejected, expired or invalidated"},
			{Name: "model", Type: "string", Desc: "only requests on this model"},
			{Name: "version", Type: "integer", Desc: "only requests for this version (with model)"},
			pageParams[0], pageParams[1],
		}, Status: ok, Resp: cairn.ApprovalPage{}, handler: s.listApprovals},
		{Method: "GET", Path: approval, ID: "getApproval", Summary: "Get an approval request with its approvals and rejection", Status: ok, Resp: cairn.ApprovalRequest{}, handler: s.getApproval},
		{Method: "POST", Path: approval + "/approve", ID: "approve", Summary: "Approve a pending request (approver, not the requester); it applies itself once it has enough approvals", Body: registry.Decision{}, OptionalBody: true, Status: ok, Resp: cairn.ApprovalRequest{}, handler: s.approve},
		{Method: "POST", Path: approval + "/reject", ID: "reject", Summary: "Reject a pending request (approver, not the requester)", Body: registry.Decision{}, OptionalBody: true, Status: ok, Resp: cairn.ApprovalRequest{}, handler: s.rejectReq},
		{Method: "GET", Path: policy + "/versions", ID: "listPolicyVersions", Summary: "Every version of a policy, newest first", Status: ok, Resp: policyList{}, handler: s.listPolicyVersions},
	}
}
