package httpapi

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var updateDocs = flag.Bool("update-docs", false, "rewrite docs/api.md from the route table")

// TestAPIReferenceIsCurrent keeps docs/api.md true: its route list is
// generated from the same route table as the mux and the OpenAPI document.
// Regenerate with
//
//	go test ./internal/httpapi -run TestAPIReferenceIsCurrent -update-docs
func TestAPIReferenceIsCurrent(t *testing.T) {
	got := apiReference((&Server{}).routeTable())
	path := filepath.Join("..", "..", "docs", "api.md")
	if *updateDocs {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (generate it with -update-docs)", err)
	}
	if string(want) != got {
		t.Errorf("docs/api.md is out of date with the route table; run: go test ./internal/httpapi -run TestAPIReferenceIsCurrent -update-docs")
	}
}

func apiReference(routes []route) string {
	var b strings.Builder
	b.WriteString(apiPreamble)
	b.WriteString("\n## Routes\n\n<!-- Generated from internal/httpapi/routes.go by docs_test.go; do not edit by hand. -->\n\n")
	b.WriteString("| method | path | what it does | query parameters |\n|---|---|---|---|\n")
	for _, r := range routes {
		var qs []string
		for _, q := range r.Query {
			qs = append(qs, "`"+q.Name+"`")
		}
		b.WriteString("| " + r.Method + " | `" + r.Path + "` | " + strings.ReplaceAll(r.Summary, "|", "\\|") + " | " + strings.Join(qs, ", ") + " |\n")
	}
	return b.String()
}

const apiPreamble = `# API reference

Cairn's native REST API lives under ` + "`/api/v1`" + `. The machine-readable
description is served by every server at ` + "`GET /api/v1/openapi.json`" + `
(OpenAPI 3.1), built from the same route table as the server itself, so it
lists exactly the routes served. The MLflow-compatible API is separate
(` + "`/api/2.0/mlflow/…`" + `).

## Conventions

- **JSON** with snake_case names; times in RFC 3339 (UTC); request bodies
  must be ` + "`Content-Type: application/json`" + `, are decoded strictly
  (unknown fields and trailing data are refused) and limited to 4 MiB.
  Unknown query parameters are refused too, so a typo fails loudly.
- **Names in paths** are URL-escaped path segments:
  ` + "`/api/v1/models/churn%20v2/versions/3`" + `. Versions accept ` + "`3`" + ` or ` + "`v3`" + `.
  References (` + "`/api/v1/resolve/{ref}`" + `) take ` + "`NAME`" + `, ` + "`NAME@latest`" + `,
  ` + "`NAME@v3`" + `, ` + "`NAME@alias`" + ` and MLflow's ` + "`models:/NAME/3`" + ` (escape ` + "`/`" + ` as ` + "`%2F`" + `).
- **Lists** take ` + "`filter`" + `, ` + "`order_by`" + ` (repeatable, ` + "`field [ASC|DESC]`" + `),
  ` + "`page_size`" + ` (1–1000, default 100) and ` + "`page_token`" + `, and answer
  ` + "`{\"items\": […], \"next_page_token\": \"…\"}`" + `; an empty token means the last page.
  The filter grammar is described in [concepts](concepts.md#filters).
  The audit log and the event feed are read by cursor instead:
  ` + "`?after=N`" + ` → ` + "`{\"items\": […], \"next_after\": M}`" + `; ` + "`/events?wait=30`" + ` long-polls.
- **Errors** are RFC 9457 ` + "`application/problem+json`" + `:

  ` + "```json" + `
  {"type": "urn:cairn:problem:not_found", "title": "Not Found", "status": 404,
   "detail": "alias \"champion\" of model \"churn\" not found",
   "code": "not_found", "request_id": "c0a8…"}
  ` + "```" + `

  | code | status | meaning |
  |---|---|---|
  | ` + "`invalid`" + ` | 400 | bad input; nothing changed |
  | ` + "`unauthenticated`" + ` | 401 | no or bad credentials |
  | ` + "`permission_denied`" + ` | 403 | not allowed; nothing changed |
  | ` + "`not_found`" + ` | 404 | no such model, version, alias, blob, upload or run |
  | ` + "`conflict`" + ` | 409 | already exists, or a compare-and-swap lost |
  | ` + "`failed_precondition`" + ` | 409 | the state forbids it (archived model, aliases still pointing, blobs missing at finalize) |
  | ` + "`pending_approval`" + ` | 409 | an approval request was opened; the change has not happened yet |
  | ` + "`too_large`" + ` | 413 | body or file over a limit |
  | ` + "`internal`" + ` | 500 | a server fault; the detail says only "internal error", the log has the rest under the request id |

- **Request ids**: send ` + "`X-Request-Id`" + ` or get one generated; it is echoed
  in the response, the problem document, the server log and the audit entry.
- **Who you are**: with authentication off, the client declares a user in
  ` + "`X-Cairn-User`" + `; records show it with ` + "`created_by_verified: false`" + `.
- **Retries**: POSTs honour ` + "`Idempotency-Key`" + `: the same key with the same
  request replays the stored response; with a different request it is a 409.

## Pushing a version

1. ` + "`POST /api/v1/models/{name}/versions`" + ` with the version record and its
   manifest (` + "`files: [{path, size, digest}]`" + `) → 201 with the pending
   version and ` + "`missing`" + `, the digests the server lacks (200 and
   ` + "`existing: true`" + ` if the same content and record is already the latest
   version: a retry). The model is created on first push.
2. For each missing digest: ` + "`PUT /api/v1/blobs/{digest}`" + ` with the bytes, or for
   large files ` + "`POST /api/v1/uploads`" + ` ` + "`{digest, size}`" + ` → an upload session
   (an open session for the same digest and size is returned instead, with
   the parts it has: resume), ` + "`PUT /api/v1/uploads/{id}/parts/{n}`" + ` (parts of
   at least 5 MiB but the last, in any order, in parallel), then
   ` + "`POST /api/v1/uploads/{id}/complete`" + `, which verifies the whole digest.
3. ` + "`POST /api/v1/models/{name}/versions/{version}/finalize`" + ` ` + "`{\"aliases\": [\"candidate\"]}`" + `
   → the version, now ` + "`ready`" + `.

Downloads: ` + "`GET /api/v1/blobs/{digest}`" + ` supports ` + "`Range`" + ` and conditional
requests; the ETag is the digest.
`
