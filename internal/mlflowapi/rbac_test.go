package mlflowapi_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/cairn-registry/cairn"
	"github.com/cairn-registry/cairn/client"
	"github.com/cairn-registry/cairn/internal/httpapi/apitest"
	"github.com/cairn-registry/cairn/internal/mlflowapi"
	"github.com/cairn-registry/cairn/internal/registry"
)

// The RBAC matrix: every route of the native API (from its route table)
// and of the MLflow API (from its route list, under both prefixes) is
// called by every kind of caller, and the answer must be what the rule
// table below says: allowed (anything but 401 and 403), or denied with
// 403 permission_denied (401 unauthenticated without credentials) and
// nothing written. A route without a rule fails the test, so a new route
// cannot ship without a decision.

// access says what a route needs.
type access int

const (
	public   access = iota // no credentials needed
	self                   // any authenticated principal
	listing                // any authenticated principal; the answer is filtered by scope
	onModel                // the role on the model the request names ("m")
	anyWhere               // the role on some scope
	onAll                  // the role on scope "*"
)

type rule struct {
	access access
	need   cairn.Role
	// query and body of the sample request; "{digest}" in body is replaced.
	query, body string
}

var nativeRules = map[string]rule{
	"GET /healthz":                {access: public},
	"GET /readyz":                 {access: public},
	"GET /metrics":                {access: public},
	"GET /api/v1/openapi.json":    {access: public},
	"GET /api/v1/models":          {access: listing},
	"GET /api/v1/versions":        {access: listing},
	"POST /api/v1/models":         {access: onModel, need: cairn.RoleWriter, body: `{"name":"m"}`},
	"GET /api/v1/models/{name}":   {access: onModel, need: cairn.RoleReader},
	"PATCH /api/v1/models/{name}": {access: onModel, need: cairn.RoleWriter, body: `{"description":"d"}`},
	// m has aliases: an allowed delete answers 409 and m stays.
	"DELETE /api/v1/models/{name}":                           {access: onModel, need: cairn.RoleMaintainer},
	"POST /api/v1/models/{name}/rename":                      {access: onModel, need: cairn.RoleMaintainer, body: `{"new_name":"m"}`},
	"POST /api/v1/models/{name}/archive":                     {access: onModel, need: cairn.RoleMaintainer},
	"POST /api/v1/models/{name}/restore":                     {access: onModel, need: cairn.RoleMaintainer},
	"POST /api/v1/models/{name}/undelete":                    {access: onModel, need: cairn.RoleMaintainer},
	"GET /api/v1/models/{name}/versions":                     {access: onModel, need: cairn.RoleReader},
	"POST /api/v1/models/{name}/versions":                    {access: onModel, need: cairn.RoleWriter, body: `{"files":[{"path":"f","size":5,"digest":"{digest}"}]}`},
	"POST /api/v1/models/{name}/link":                        {access: onModel, need: cairn.RoleWriter, body: `{"source":"m@v1"}`},
	"GET /api/v1/models/{name}/versions/{version}":           {access: onModel, need: cairn.RoleReader},
	"PATCH /api/v1/models/{name}/versions/{version}":         {access: onModel, need: cairn.RoleWriter, body: `{"description":"d"}`},
	"DELETE /api/v1/models/{name}/versions/{version}":        {access: onModel, need: cairn.RoleMaintainer},
	"POST /api/v1/models/{name}/versions/{version}/finalize": {access: onModel, need: cairn.RoleWriter},
	"POST /api/v1/models/{name}/versions/{version}/archive":  {access: onModel, need: cairn.RoleMaintainer},
	"POST /api/v1/models/{name}/versions/{version}/restore":  {access: onModel, need: cairn.RoleMaintainer},
	"POST /api/v1/models/{name}/versions/{version}/undelete": {access: onModel, need: cairn.RoleMaintainer},
	"GET /api/v1/models/{name}/aliases/{alias}":              {access: onModel, need: cairn.RoleReader},
	"PUT /api/v1/models/{name}/aliases/{alias}":              {access: onModel, need: cairn.RoleMaintainer, body: `{"version":1}`},
	"DELETE /api/v1/models/{name}/aliases/{alias}":           {access: onModel, need: cairn.RoleMaintainer, query: "if_current=9"},
	"GET /api/v1/models/{name}/aliases/{alias}/history":      {access: onModel, need: cairn.RoleReader},
	"GET /api/v1/models/{name}/alias-history":                {access: onModel, need: cairn.RoleReader},
	"GET /api/v1/resolve/{ref}":                              {access: onModel, need: cairn.RoleReader},
	"HEAD /api/v1/blobs/{digest}":                            {access: onModel, need: cairn.RoleReader},
	"GET /api/v1/blobs/{digest}":                             {access: onModel, need: cairn.RoleReader},
	"PUT /api/v1/blobs/{digest}":                             {access: anyWhere, need: cairn.RoleWriter, body: "hello"},
	"POST /api/v1/uploads":                                   {access: anyWhere, need: cairn.RoleWriter, body: `{"digest":"{digest}","size":5}`},
	"GET /api/v1/uploads/{id}":                               {access: anyWhere, need: cairn.RoleWriter},
	"PUT /api/v1/uploads/{id}/parts/{n}":                     {access: anyWhere, need: cairn.RoleWriter, body: "hello"},
	"POST /api/v1/uploads/{id}/complete":                     {access: anyWhere, need: cairn.RoleWriter},
	"DELETE /api/v1/uploads/{id}":                            {access: anyWhere, need: cairn.RoleWriter},
	"POST /api/v1/gc":                                        {access: onAll, need: cairn.RoleAdmin, body: `{"dry_run":true}`},
	"GET /api/v1/runs":                                       {access: anyWhere, need: cairn.RoleReader},
	"POST /api/v1/runs":                                      {access: anyWhere, need: cairn.RoleWriter, body: `{}`},
	"GET /api/v1/runs/{id}":                                  {access: anyWhere, need: cairn.RoleReader},
	"PATCH /api/v1/runs/{id}":                                {access: anyWhere, need: cairn.RoleWriter, body: `{}`},
	"POST /api/v1/runs/{id}/log":                             {access: anyWhere, need: cairn.RoleWriter, body: `{}`},
	"POST /api/v1/runs/{id}/links":                           {access: onModel, need: cairn.RoleWriter, body: `{"outputs":["m@v1"]}`},
	"GET /api/v1/runs/{id}/metrics/{key}":                    {access: anyWhere, need: cairn.RoleReader},
	"GET /api/v1/lineage/{ref}":                              {access: onModel, need: cairn.RoleReader},
	"POST /api/v1/versions/{ref}/signals":                    {access: onModel, need: cairn.RoleWriter, body: `{"kind":"drift","value":0.1}`},
	"GET /api/v1/versions/{ref}/signals":                     {access: onModel, need: cairn.RoleReader},
	"POST /api/v1/versions/{ref}/unflag":                     {access: onModel, need: cairn.RoleMaintainer, body: `{}`},
	"GET /api/v1/versions/{ref}/evaluations":                 {access: onModel, need: cairn.RoleReader},
	"GET /api/v1/audit":                                      {access: onAll, need: cairn.RoleReader},
	"GET /api/v1/audit/verify":                               {access: onAll, need: cairn.RoleAdmin},
	"GET /api/v1/audit/checkpoints":                          {access: onAll, need: cairn.RoleReader},
	"GET /api/v1/events":                                     {access: onAll, need: cairn.RoleReader},
	"GET /api/v1/webhooks":                                   {access: onAll, need: cairn.RoleAdmin},
	"POST /api/v1/webhooks":                                  {access: onAll, need: cairn.RoleAdmin, body: `{"url":"https://example.com/hook"}`},
	"GET /api/v1/webhooks/{id}":                              {access: onAll, need: cairn.RoleAdmin},
	"PATCH /api/v1/webhooks/{id}":                            {access: onAll, need: cairn.RoleAdmin, body: `{}`},
	"DELETE /api/v1/webhooks/{id}":                           {access: onAll, need: cairn.RoleAdmin},
	"POST /api/v1/webhooks/{id}/test":                        {access: onAll, need: cairn.RoleAdmin},
	"GET /api/v1/webhooks/{id}/deliveries":                   {access: onAll, need: cairn.RoleAdmin},
	"GET /api/v1/webhooks/{id}/dead-letters":                 {access: onAll, need: cairn.RoleAdmin},
	"POST /api/v1/webhooks/{id}/redeliver":                   {access: onAll, need: cairn.RoleAdmin},
	"GET /api/v1/whoami":                                     {access: self},
	"GET /api/v1/users":                                      {access: onAll, need: cairn.RoleAdmin},
	"POST /api/v1/users":                                     {access: onAll, need: cairn.RoleAdmin, body: `{"name":"target"}`},
	"GET /api/v1/users/{user}":                               {access: onAll, need: cairn.RoleAdmin},
	"PATCH /api/v1/users/{user}":                             {access: onAll, need: cairn.RoleAdmin, body: `{"disabled":false}`},
	"DELETE /api/v1/users/{user}":                            {access: onAll, need: cairn.RoleAdmin, query: ""},
	"GET /api/v1/users/{user}/tokens":                        {access: onAll, need: cairn.RoleAdmin},
	"POST /api/v1/users/{user}/tokens":                       {access: onAll, need: cairn.RoleAdmin},
	"DELETE /api/v1/users/{user}/tokens/{id}":                {access: onAll, need: cairn.RoleAdmin},
	"GET /api/v1/roles":                                      {access: onAll, need: cairn.RoleAdmin},
	"POST /api/v1/roles":                                     {access: onAll, need: cairn.RoleAdmin, body: `{"principal":"target","role":"reader","scope":"x-*"}`},
	"DELETE /api/v1/roles":                                   {access: onAll, need: cairn.RoleAdmin, query: "principal=target&role=reader&scope=x-*"},
	// Policies: read by anyone with a role, written by admins on *. The
	// admin creates p (scope x-*, not m's), updates and deletes it.
	"GET /api/v1/policies":                   {access: anyWhere, need: cairn.RoleReader},
	"POST /api/v1/policies":                  {access: onAll, need: cairn.RoleAdmin, body: `{"name":"p","scope":"x-*","protected_aliases":[{"alias":"prod","approvals":1}]}`},
	"GET /api/v1/policies/{policy}":          {access: anyWhere, need: cairn.RoleReader},
	"PUT /api/v1/policies/{policy}":          {access: onAll, need: cairn.RoleAdmin, body: `{"scope":"x-*","signals":{"drift":0.3}}`},
	"DELETE /api/v1/policies/{policy}":       {access: onAll, need: cairn.RoleAdmin},
	"GET /api/v1/policies/{policy}/versions": {access: anyWhere, need: cairn.RoleReader},
	"GET /api/v1/explain/{ref}":              {access: onModel, need: cairn.RoleReader, query: "alias=champion"},
	// Approvals: listed by scope; read by readers of the request's model;
	// decided by approvers (admin grants approver; the matrix has no
	// approver column). The sample id names no request: allowed callers
	// get 404.
	"GET /api/v1/approvals":               {access: listing},
	"GET /api/v1/approvals/{id}":          {access: anyWhere, need: cairn.RoleReader},
	"POST /api/v1/approvals/{id}/approve": {access: anyWhere, need: cairn.RoleAdmin, body: `{}`},
	"POST /api/v1/approvals/{id}/reject":  {access: anyWhere, need: cairn.RoleAdmin, body: `{}`},
}

// mlflowRules are keyed by method and path below the prefix.
var mlflowRules = map[string]rule{
	"POST registered-models/create":  {access: onModel, need: cairn.RoleWriter, body: `{"name":"m"}`},
	"POST registered-models/rename":  {access: onModel, need: cairn.RoleMaintainer, body: `{"name":"m","new_name":"m"}`},
	"PATCH registered-models/update": {access: onModel, need: cairn.RoleWriter, body: `{"name":"m","description":"d"}`},
	// Another name than m, so that the allowed deletes leave m for the
	// routes after them; the role is checked on that name.
	"DELETE registered-models/delete":            {access: onModel, need: cairn.RoleMaintainer, body: `{"name":"m-gone"}`},
	"GET registered-models/get":                  {access: onModel, need: cairn.RoleReader, query: "name=m"},
	"GET registered-models/search":               {access: listing},
	"POST registered-models/get-latest-versions": {access: onModel, need: cairn.RoleReader, body: `{"name":"m"}`},
	"GET registered-models/get-latest-versions":  {access: onModel, need: cairn.RoleReader, query: "name=m"},
	"POST registered-models/set-tag":             {access: onModel, need: cairn.RoleWriter, body: `{"name":"m","key":"k","value":"v"}`},
	"DELETE registered-models/delete-tag":        {access: onModel, need: cairn.RoleWriter, body: `{"name":"m","key":"k"}`},
	"POST registered-models/alias":               {access: onModel, need: cairn.RoleMaintainer, body: `{"name":"m","alias":"champion","version":"1"}`},
	"DELETE registered-models/alias":             {access: onModel, need: cairn.RoleMaintainer, body: `{"name":"m","alias":"nope"}`},
	"GET registered-models/alias":                {access: onModel, need: cairn.RoleReader, query: "name=m&alias=champion"},
	"POST model-versions/create":                 {access: onModel, need: cairn.RoleWriter, body: `{"name":"m","source":"s3://bucket/key"}`},
	"GET model-versions/get":                     {access: onModel, need: cairn.RoleReader, query: "name=m&version=1"},
	"PATCH model-versions/update":                {access: onModel, need: cairn.RoleWriter, body: `{"name":"m","version":"1","description":"d"}`},
	"POST model-versions/transition-stage":       {access: onModel, need: cairn.RoleMaintainer, body: `{"name":"m","version":"1","stage":"Staging","archive_existing_versions":false}`},
	"DELETE model-versions/delete":               {access: onModel, need: cairn.RoleMaintainer, body: `{"name":"m","version":"99"}`},
	"GET model-versions/search":                  {access: listing},
	"GET model-versions/get-download-uri":        {access: onModel, need: cairn.RoleReader, query: "name=m&version=1"},
	"POST model-versions/set-tag":                {access: onModel, need: cairn.RoleWriter, body: `{"name":"m","version":"1","key":"k","value":"v"}`},
	"DELETE model-versions/delete-tag":           {access: onModel, need: cairn.RoleWriter, body: `{"name":"m","version":"1","key":"k"}`},

	// The artifact proxy: artifacts belong to runs and experiments, not to
	// a model, so they are checked as runs are (registry/artifacts.go).
	"GET artifacts":               {access: anyWhere, need: cairn.RoleReader, query: "path=0"},
	"GET artifacts/{path...}":     {access: anyWhere, need: cairn.RoleReader},
	"PUT artifacts/{path...}":     {access: anyWhere, need: cairn.RoleWriter, body: "hello"},
	"DELETE artifacts/{path...}":  {access: anyWhere, need: cairn.RoleWriter},
	"POST mpu/create/{path...}":   {access: anyWhere, need: cairn.RoleWriter, body: `{"path":"f","num_parts":1}`},
	"POST mpu/complete/{path...}": {access: anyWhere, need: cairn.RoleWriter, body: `{"path":"f","upload_id":"u","parts":[]}`},
	"POST mpu/abort/{path...}":    {access: anyWhere, need: cairn.RoleWriter, body: `{"path":"f","upload_id":"u"}`},
	// A part URL's upload id is its capability: no credentials needed (an
	// unknown upload answers 404).
	"PUT mpu/part/{upload_id}/{n}": {access: public, body: "hello"},
	// MLflow's UI route, outside the prefixes: a file of a version.
	"GET /model-versions/get-artifact": {access: onModel, need: cairn.RoleReader, query: "name=m&version=1&path=f"},

	// Subscriptions see every event: the admin role on *, as on the
	// native API. {webhook_id} stays literal: an allowed call answers 404.
	"POST webhooks":                   {access: onAll, need: cairn.RoleAdmin, body: `{"name":"n","url":"https://example.com/hook","events":[{"entity":"MODEL_VERSION","action":"CREATED"}]}`},
	"GET webhooks":                    {access: onAll, need: cairn.RoleAdmin},
	"GET webhooks/{webhook_id}":       {access: onAll, need: cairn.RoleAdmin},
	"PATCH webhooks/{webhook_id}":     {access: onAll, need: cairn.RoleAdmin, body: `{"description":"d"}`},
	"DELETE webhooks/{webhook_id}":    {access: onAll, need: cairn.RoleAdmin},
	"POST webhooks/{webhook_id}/test": {access: onAll, need: cairn.RoleAdmin, body: `{}`},

	// Tracking: experiments and runs belong to no model. Reading needs the
	// reader role on some scope, writing (creating, logging, renaming,
	// deleting, restoring) the writer role on some scope, as the native
	// /api/v1/runs routes do.
	"POST experiments/create":             {access: anyWhere, need: cairn.RoleWriter, body: `{"name":"e-{caller}"}`},
	"GET experiments/get":                 {access: anyWhere, need: cairn.RoleReader, query: "experiment_id=0"},
	"GET experiments/get-by-name":         {access: anyWhere, need: cairn.RoleReader, query: "experiment_name=Default"},
	"POST experiments/search":             {access: anyWhere, need: cairn.RoleReader, body: `{"max_results":10}`},
	"GET experiments/search":              {access: anyWhere, need: cairn.RoleReader, query: "max_results=10"},
	"POST experiments/update":             {access: anyWhere, need: cairn.RoleWriter, body: `{"experiment_id":"{experiment}","new_name":"x-{caller}"}`},
	"POST experiments/delete":             {access: anyWhere, need: cairn.RoleWriter, body: `{"experiment_id":"{experiment}"}`},
	"POST experiments/restore":            {access: anyWhere, need: cairn.RoleWriter, body: `{"experiment_id":"{experiment}"}`},
	"POST experiments/set-experiment-tag": {access: anyWhere, need: cairn.RoleWriter, body: `{"experiment_id":"0","key":"k","value":"v"}`},
	"POST runs/create":                    {access: anyWhere, need: cairn.RoleWriter, body: `{"experiment_id":"0"}`},
	"GET runs/get":                        {access: anyWhere, need: cairn.RoleReader, query: "run_id={run}"},
	"POST runs/update":                    {access: anyWhere, need: cairn.RoleWriter, body: `{"run_id":"{run}","status":"RUNNING"}`},
	"POST runs/delete":                    {access: anyWhere, need: cairn.RoleWriter, body: `{"run_id":"{run2}"}`},
	"POST runs/restore":                   {access: anyWhere, need: cairn.RoleWriter, body: `{"run_id":"{run2}"}`},
	"POST runs/search":                    {access: anyWhere, need: cairn.RoleReader, body: `{"experiment_ids":["0"]}`},
	"POST runs/log-batch":                 {access: anyWhere, need: cairn.RoleWriter, body: `{"run_id":"{run}","metrics":[{"key":"m","value":1,"timestamp":1}]}`},
	"POST runs/log-metric":                {access: anyWhere, need: cairn.RoleWriter, body: `{"run_id":"{run}","key":"m","value":1,"timestamp":1}`},
	"POST runs/log-parameter":             {access: anyWhere, need: cairn.RoleWriter, body: `{"run_id":"{run}","key":"p","value":"1"}`},
	"POST runs/set-tag":                   {access: anyWhere, need: cairn.RoleWriter, body: `{"run_id":"{run}","key":"k","value":"v"}`},
	"POST runs/delete-tag":                {access: anyWhere, need: cairn.RoleWriter, body: `{"run_id":"{run}","key":"gone"}`},
	"POST runs/log-inputs":                {access: anyWhere, need: cairn.RoleWriter, body: `{"run_id":"{run}","datasets":[{"dataset":{"name":"d","digest":"x","source_type":"local","source":"/d"}}]}`},
	"POST runs/outputs":                   {access: anyWhere, need: cairn.RoleWriter, body: `{"run_id":"{run}","models":[{"model_id":"m-1","step":0}]}`},
	"POST runs/log-model":                 {access: anyWhere, need: cairn.RoleWriter, body: `{"run_id":"{run}","model_json":"{\"artifact_path\":\"m\",\"flavors\":{},\"utc_time_created\":\"t\",\"run_id\":\"r\"}"}`},
	"GET metrics/get-history":             {access: anyWhere, need: cairn.RoleReader, query: "run_id={run}&metric_key=m"},
	"GET artifacts/list":                  {access: anyWhere, need: cairn.RoleReader, query: "run_id={run}"},
	// Logged models belong to experiments, and are checked as runs are.
	// {model_id} stays literal: allowed calls on it answer 404.
	"POST logged-models":                                 {access: anyWhere, need: cairn.RoleWriter, body: `{"experiment_id":"0","name":"lm"}`},
	"POST logged-models/search":                          {access: anyWhere, need: cairn.RoleReader, body: `{"experiment_ids":["0"]}`},
	"GET logged-models/{model_id}":                       {access: anyWhere, need: cairn.RoleReader},
	"PATCH logged-models/{model_id}":                     {access: anyWhere, need: cairn.RoleWriter, body: `{"status":"LOGGED_MODEL_READY"}`},
	"DELETE logged-models/{model_id}":                    {access: anyWhere, need: cairn.RoleWriter},
	"PATCH logged-models/{model_id}/tags":                {access: anyWhere, need: cairn.RoleWriter, body: `{"tags":[{"key":"k","value":"v"}]}`},
	"DELETE logged-models/{model_id}/tags/{tag_key}":     {access: anyWhere, need: cairn.RoleWriter},
	"POST logged-models/{model_id}/params":               {access: anyWhere, need: cairn.RoleWriter, body: `{"params":[{"key":"p","value":"1"}]}`},
	"GET logged-models:batchGet":                         {access: anyWhere, need: cairn.RoleReader, query: "model_ids=m-1"},
	"GET logged-models/{model_id}/artifacts/directories": {access: anyWhere, need: cairn.RoleReader},
	"GET logged-models/{model_id}/artifacts/files":       {access: anyWhere, need: cairn.RoleReader, query: "artifact_file_path=MLmodel"},
}

// caller is one column of the matrix.
type caller struct {
	name  string
	role  cairn.Role // "" for anonymous
	scope string
	token string
}

var rank = map[cairn.Role]int{cairn.RoleReader: 1, cairn.RoleWriter: 2, cairn.RoleMaintainer: 3, cairn.RoleAdmin: 4}

func (r rule) allows(c caller) bool {
	if r.access == public {
		return true
	}
	if c.role == "" {
		return false
	}
	switch r.access {
	case self, listing:
		return true
	case anyWhere:
		return rank[c.role] >= rank[r.need]
	}
	// onModel and onAll: the scoped caller's scope covers neither m nor *.
	return c.scope == "*" && rank[c.role] >= rank[r.need]
}

// authEnv is a server with auth on, the MLflow API mounted, an admin, a
// model m with a ready version 1 (one file, "hello") aliased champion, a
// run, an upload session and a user named target.
type authEnv struct {
	*apitest.Env
	admin        *client.Client
	adminToken   string
	digest       cairn.Digest
	runID        string
	run2ID       string
	experimentID string
	uploadID     string
	targetToken  string
	mlflowRoutes []string
}

func newAuthEnv(t *testing.T) *authEnv {
	t.Helper()
	e := apitest.New(t, apitest.Options{Registry: registry.Options{Auth: true, PasswordIterations: 1000}})
	log := slog.New(slog.NewJSONHandler(e.Logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ml := mlflowapi.New(e.Service, mlflowapi.Options{Logger: log})
	ml.Register(e.API.Mount)
	for _, p := range mlflowapi.PartPrefixes() {
		e.API.AllowCapability("PUT", p)
	}
	ctx := t.Context()
	secret, err := e.Service.Bootstrap(ctx)
	if err != nil || secret == "" {
		t.Fatalf("Bootstrap = %q, %v", secret, err)
	}
	ae := &authEnv{Env: e, adminToken: secret, mlflowRoutes: ml.Routes()}
	ae.admin = client.New(e.Server.URL, client.WithToken(secret), client.WithHTTPClient(e.Server.Client()))
	v := pushFile(t, ae.admin, "m", "hello", "champion")
	ae.digest = v.Files[0].Digest
	run, err := ae.admin.CreateRun(ctx, registry.RunCreate{})
	if err != nil {
		t.Fatal(err)
	}
	ae.runID = run.ID
	run2, err := ae.admin.CreateRun(ctx, registry.RunCreate{})
	if err != nil {
		t.Fatal(err)
	}
	ae.run2ID = run2.ID
	resp, raw := ae.send(t, "POST", "/api/2.0/mlflow/experiments/create", "", `{"name":"rbac"}`, "Authorization", "Bearer "+secret)
	var created struct {
		ID string `json:"experiment_id"`
	}
	if resp.StatusCode != 200 || json.Unmarshal(raw, &created) != nil || created.ID == "" {
		t.Fatalf("create experiment: %d %s", resp.StatusCode, raw)
	}
	ae.experimentID = created.ID
	up, _, err := ae.admin.StartUpload(ctx, cairn.DigestOf([]byte("other bytes")), 11)
	if err != nil {
		t.Fatal(err)
	}
	ae.uploadID = up.ID
	if _, err := ae.admin.CreateUser(ctx, client.UserCreate{Name: "target"}); err != nil {
		t.Fatal(err)
	}
	tk, err := ae.admin.CreateToken(ctx, "target", client.TokenCreate{Name: "t"})
	if err != nil {
		t.Fatal(err)
	}
	ae.targetToken = tk.ID
	return ae
}

// pushFile pushes a version of model holding one file "f" with content.
func pushFile(t *testing.T, c *client.Client, model, content string, aliases ...string) *cairn.Version {
	t.Helper()
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := c.Push(t.Context(), model, []string{path}, cairn.VersionSpec{Aliases: aliases}, client.PushOptions{})
	if err != nil {
		t.Fatalf("push %s: %v", model, err)
	}
	return res.Version
}

// user creates a user holding role on scope and returns a token for it.
func (e *authEnv) user(t *testing.T, name string, role cairn.Role, scope string) string {
	t.Helper()
	ctx := t.Context()
	if _, err := e.admin.CreateUser(ctx, client.UserCreate{Name: name, Password: name + "-password-123"}); err != nil {
		t.Fatal(err)
	}
	if role != "" {
		if _, err := e.admin.GrantRole(ctx, client.RoleGrant{Principal: name, Role: role, Scope: scope}); err != nil {
			t.Fatal(err)
		}
	}
	tk, err := e.admin.CreateToken(ctx, name, client.TokenCreate{})
	if err != nil {
		t.Fatal(err)
	}
	return tk.Secret
}

func (e *authEnv) send(t *testing.T, method, path, query, body string, header ...string) (*http.Response, []byte) {
	t.Helper()
	u := e.Server.URL + path
	if query != "" {
		u += "?" + query
	}
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, u, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" && !strings.HasPrefix(body, "hello") {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := e.Server.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func (e *authEnv) auditHead(t *testing.T) int64 {
	t.Helper()
	es, err := e.Store.ListAudit(t.Context(), cairn.AuditQuery{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(es) == 0 {
		return 0
	}
	return es[len(es)-1].Seq
}

func TestRBACMatrix(t *testing.T) {
	e := newAuthEnv(t)
	callers := []caller{
		{name: "anonymous"},
		{name: "scoped", role: cairn.RoleReader, scope: "other-*"},
		{name: "reader", role: cairn.RoleReader, scope: "*"},
		{name: "writer", role: cairn.RoleWriter, scope: "*"},
		{name: "maintainer", role: cairn.RoleMaintainer, scope: "*"},
		{name: "root", role: cairn.RoleAdmin, scope: "*"},
	}
	for i := range callers {
		if callers[i].role != "" {
			callers[i].token = e.user(t, callers[i].name, callers[i].role, callers[i].scope)
		}
	}
	fill := strings.NewReplacer("{name}", "m", "{version}", "1", "{alias}", "champion", "{ref}", "m@champion",
		"{digest}", string(e.digest), "{n}", "1", "{key}", "auc", "{user}", "target", "{policy}", "p")

	type cell struct {
		pattern, path string
		r             rule
	}
	var cells []cell
	for _, p := range e.API.Routes() {
		r, ok := nativeRules[p]
		if !ok {
			t.Errorf("route %s has no rule in nativeRules: decide who may call it", p)
			continue
		}
		method, path, _ := strings.Cut(p, " ")
		path = fill.Replace(path)
		if strings.Contains(p, "/uploads/{id}") {
			path = strings.Replace(path, "{id}", e.uploadID, 1)
		} else if strings.Contains(p, "/tokens/{id}") {
			path = strings.Replace(path, "{id}", e.targetToken, 1)
		} else {
			path = strings.Replace(path, "{id}", e.runID, 1)
		}
		cells = append(cells, cell{method + " " + path, p, r})
	}
	for p := range nativeRules {
		if !slices.Contains(e.API.Routes(), p) {
			t.Errorf("nativeRules has a rule for %s, which the route table does not serve", p)
		}
	}
	for _, p := range e.mlflowRoutes {
		method, path, _ := strings.Cut(p, " ")
		below := path // a route outside the prefixes is keyed by its path
		for _, pre := range slices.Concat(mlflowapi.Prefixes, mlflowapi.ArtifactPrefixes) {
			if rest, ok := strings.CutPrefix(path, pre); ok {
				below = rest
			}
		}
		path = strings.Replace(path, "{path...}", "0/"+e.runID+"/artifacts/f.txt", 1)
		path = strings.NewReplacer("{upload_id}", "0123456789abcdef0123456789abcdef", "{n}", "1").Replace(path)
		r, ok := mlflowRules[method+" "+below]
		if !ok {
			t.Errorf("MLflow route %s has no rule in mlflowRules", p)
			continue
		}
		r.query = e.fillTracking(r.query)
		r.body = e.fillTracking(r.body)
		cells = append(cells, cell{method + " " + path, p, r})
	}
	if len(cells) < 100 {
		t.Fatalf("only %d routes found; the route lists are not being read", len(cells))
	}

	for _, c := range cells {
		method, path, _ := strings.Cut(c.pattern, " ")
		body := strings.ReplaceAll(c.r.body, "{digest}", string(e.digest))
		for _, who := range callers {
			body := strings.ReplaceAll(body, "{caller}", who.name)
			var hdr []string
			if who.token != "" {
				hdr = []string{"Authorization", "Bearer " + who.token}
			}
			if method == "PUT" && strings.Contains(path, "/blobs/") {
				hdr = append(hdr, "Content-Type", "application/octet-stream")
			}
			before := e.auditHead(t)
			resp, raw := e.send(t, method, path, c.r.query, body, hdr...)
			allowed := c.r.allows(who)
			denied := resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden
			switch {
			case allowed && denied:
				t.Errorf("%s as %s: %d %s, want it allowed", c.path, who.name, resp.StatusCode, raw)
			case !allowed && !denied:
				t.Errorf("%s as %s: %d %.200s, want it denied", c.path, who.name, resp.StatusCode, raw)
			case !allowed:
				wantStatus, wantCode := http.StatusForbidden, "permission_denied"
				if who.role == "" {
					wantStatus, wantCode = http.StatusUnauthorized, "unauthenticated"
					if len(resp.Header.Values("WWW-Authenticate")) == 0 {
						t.Errorf("%s as %s: 401 without WWW-Authenticate", c.path, who.name)
					}
				}
				if (strings.Contains(c.path, "/mlflow/") || strings.Contains(c.path, "/mlflow-artifacts/") || strings.Contains(c.path, " /model-versions/")) && who.role != "" {
					wantCode = "PERMISSION_DENIED"
				}
				if resp.StatusCode != wantStatus || (method != "HEAD" && !strings.Contains(string(raw), wantCode)) {
					t.Errorf("%s as %s: %d %s, want %d %s", c.path, who.name, resp.StatusCode, raw, wantStatus, wantCode)
				}
				if after := e.auditHead(t); after != before {
					t.Errorf("%s as %s was denied but the audit log moved from %d to %d", c.path, who.name, before, after)
				}
			}
		}
	}
}

// Denials are logged with the request id.
func TestDenialLogged(t *testing.T) {
	e := newAuthEnv(t)
	tok := e.user(t, "rd", cairn.RoleReader, "*")
	resp, _ := e.send(t, "DELETE", "/api/v1/models/m", "", "", "Authorization", "Bearer "+tok, "X-Request-Id", "deny-42")
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("status %d, want 403", resp.StatusCode)
	}
	found := false
	for _, line := range strings.Split(e.Logs.String(), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil && rec["msg"] == "permission denied" && rec["request_id"] == "deny-42" && rec["principal"] == "rd" {
			found = true
		}
	}
	if !found {
		t.Errorf("no \"permission denied\" log line with request id deny-42 and principal rd in:\n%s", e.Logs.String())
	}
}

// MLflow clients authenticate with HTTP Basic: a user name and a password
// (MLFLOW_TRACKING_USERNAME/PASSWORD) or a token in the password's place,
// or a bearer token (MLFLOW_TRACKING_TOKEN). The actor recorded is the
// authenticated user, verified.
func TestMLflowBasicAuth(t *testing.T) {
	e := newAuthEnv(t)
	tok := e.user(t, "ds", cairn.RoleWriter, "*")
	basic := func(user, pass string) string {
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
	}
	for _, tc := range []struct {
		name, auth string
		status     int
	}{
		{"password", basic("ds", "ds-password-123"), 200},
		{"token as password", basic("ds", tok), 200},
		{"bearer token", "Bearer " + tok, 200},
		{"wrong password", basic("ds", "ds-password-124"), 401},
		{"unknown user", basic("nobody", "ds-password-123"), 401},
		{"another user's token", basic("root2", tok), 401},
		{"no credentials", "", 401},
		{"unknown scheme", "Digest abc", 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var hdr []string
			if tc.auth != "" {
				hdr = []string{"Authorization", tc.auth}
			}
			resp, raw := e.send(t, "POST", "/api/2.0/mlflow/registered-models/set-tag", "", `{"name":"m","key":"by","value":"`+tc.name+`"}`, hdr...)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d %s, want %d", resp.StatusCode, raw, tc.status)
			}
			if tc.status == 401 && len(resp.Header.Values("WWW-Authenticate")) != 2 {
				t.Errorf("WWW-Authenticate = %q, want the Bearer and Basic challenges", resp.Header.Values("WWW-Authenticate"))
			}
		})
	}
	es, err := e.Store.ListAudit(t.Context(), cairn.AuditQuery{Action: cairn.EventTagSet, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 3 {
		t.Fatalf("%d tag.set entries, want 3", len(es))
	}
	for _, a := range es {
		if a.Actor != "ds" || !a.ActorVerified {
			t.Errorf("audit entry by %q (verified %v), want ds, verified", a.Actor, a.ActorVerified)
		}
	}
}

// A scoped reader lists and searches only the models of its scope, in the
// query: page sizes and page tokens count its models only.
func TestScopedListsAndSearch(t *testing.T) {
	e := newAuthEnv(t)
	ctx := context.Background()
	for i := range 7 {
		for _, prefix := range []string{"fraud-", "churn-"} {
			name := fmt.Sprintf("%s%d", prefix, i)
			pushFile(t, e.admin, name, name)
		}
	}
	tok := e.user(t, "fraudster", cairn.RoleReader, "fraud-*")
	c := client.New(e.Server.URL, client.WithToken(tok), client.WithHTTPClient(e.Server.Client()))
	var names []string
	token := ""
	pages := 0
	for {
		p, err := c.ListModels(ctx, client.ListRequest{PageSize: 3, PageToken: token})
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if len(p.Items) != 3 && p.NextToken != "" {
			t.Errorf("page %d holds %d models with more to come; a filter after the query would do that", pages, len(p.Items))
		}
		for _, m := range p.Items {
			names = append(names, m.Name)
		}
		if token = p.NextToken; token == "" {
			break
		}
	}
	want := []string{"fraud-0", "fraud-1", "fraud-2", "fraud-3", "fraud-4", "fraud-5", "fraud-6"}
	if !slices.Equal(names, want) || pages != 3 {
		t.Errorf("listed %v in %d pages, want %v in 3", names, pages, want)
	}
	// MLflow search, paginated, sees the same.
	var got []string
	pageToken := ""
	for range 10 {
		q := "max_results=4"
		if pageToken != "" {
			q += "&page_token=" + pageToken
		}
		resp, raw := e.send(t, "GET", "/api/2.0/mlflow/registered-models/search", q, "", "Authorization", "Bearer "+tok)
		if resp.StatusCode != 200 {
			t.Fatalf("search: %d %s", resp.StatusCode, raw)
		}
		var out struct {
			Models []struct {
				Name string `json:"name"`
			} `json:"registered_models"`
			Next string `json:"next_page_token"`
		}
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatal(err)
		}
		for _, m := range out.Models {
			got = append(got, m.Name)
		}
		if pageToken = out.Next; pageToken == "" {
			break
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("MLflow search listed %v, want %v", got, want)
	}
	resp, raw := e.send(t, "GET", "/api/2.0/mlflow/model-versions/search", "filter=name%20LIKE%20%27%25-1%27", "", "Authorization", "Bearer "+tok)
	if resp.StatusCode != 200 || !strings.Contains(string(raw), `"fraud-1"`) || strings.Contains(string(raw), `"churn-1"`) {
		t.Errorf("model-versions search for %%-1: %d %s, want fraud-1 only", resp.StatusCode, raw)
	}
	// A model outside the scope is forbidden, not hidden behind a 404.
	if _, err := c.GetModel(ctx, "churn-1"); !cairn.IsCode(err, cairn.EPERMISSION) {
		t.Errorf("GetModel(churn-1) = %v, want permission_denied", err)
	}
}

// With auth on, a multipart upload's part URLs work without credentials
// (the upload id is the capability, as a presigned URL's signature is),
// and nothing else does: creating and completing need a writer, and only
// the one who started the upload may complete it.
func TestMultipartPartsNeedNoCredentials(t *testing.T) {
	e := newAuthEnv(t)
	ds := e.user(t, "ds", cairn.RoleWriter, "*")
	other := e.user(t, "other", cairn.RoleWriter, "*")
	as := func(tok string) []string { return []string{"Authorization", "Bearer " + tok} }
	resp, raw := e.send(t, "POST", "/api/2.0/mlflow-artifacts/mpu/create/0/r/artifacts/big.bin", "", `{"num_parts": 1}`, as(ds)...)
	if resp.StatusCode != 200 {
		t.Fatalf("create: %d %s", resp.StatusCode, raw)
	}
	var c mpuCreated
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	st, etag := putPart(t, e.Server.Client(), c.Credentials[0].URL, "hello")
	if st != 200 || etag == "" {
		t.Fatalf("anonymous part PUT: %d", st)
	}
	// Anonymous elsewhere: refused.
	if resp, _ := e.send(t, "PUT", "/api/2.0/mlflow-artifacts/artifacts/0/r/artifacts/x", "", "hello"); resp.StatusCode != 401 {
		t.Errorf("anonymous artifact PUT: %d, want 401", resp.StatusCode)
	}
	body := `{"upload_id": "` + c.UploadID + `", "parts": [{"part_number": 1, "etag": ` + strconv.Quote(etag) + `}]}`
	path := "/api/2.0/mlflow-artifacts/mpu/complete/0/r/artifacts/big.bin"
	if resp, raw := e.send(t, "POST", path, "", body); resp.StatusCode != 401 {
		t.Errorf("anonymous complete: %d %s, want 401", resp.StatusCode, raw)
	}
	if resp, raw := e.send(t, "POST", path, "", body, as(other)...); resp.StatusCode != 403 {
		t.Errorf("complete by another writer: %d %s, want 403", resp.StatusCode, raw)
	}
	if resp, raw := e.send(t, "POST", path, "", body, as(ds)...); resp.StatusCode != 200 {
		t.Fatalf("complete by its creator: %d %s", resp.StatusCode, raw)
	}
	resp, raw = e.send(t, "GET", "/api/2.0/mlflow-artifacts/artifacts/0/r/artifacts/big.bin", "", "", as(ds)...)
	if resp.StatusCode != 200 || string(raw) != "hello" {
		t.Errorf("the artifact: %d %q", resp.StatusCode, raw)
	}
	es, err := e.Store.ListAudit(t.Context(), cairn.AuditQuery{Action: registry.AuditArtifactWritten, Limit: 10})
	if err != nil || len(es) != 1 || es[0].Actor != "ds" || !es[0].ActorVerified {
		t.Errorf("audit of the completed upload: %+v %v, want one entry by ds, verified", es, err)
	}
}

// fillTracking fills the run and experiment ids into a rule's sample.
func (e *authEnv) fillTracking(s string) string {
	return strings.NewReplacer("{run}", e.runID, "{run2}", e.run2ID, "{experiment}", e.experimentID).Replace(s)
}
