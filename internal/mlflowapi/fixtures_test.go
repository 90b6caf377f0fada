package mlflowapi_test

import (
	"net/http"
	"strings"
	"testing"
)

// fixture is one request of a scenario and the answer it must get: the
// status, and either MLflow's error (code and a message fragment) or a JSON
// shape the body must contain (see match). Fixtures run in order against
// one server, each seeing what the ones before it did.
//
// They are written from MLflow's protos, handlers and stores (MLFLOW.md)
// and cover what a recording cannot (Cairn's own refusals, the DELETE query
// string MLflow 2.17 ignores, routing); recorded_test.go replays what a real
// MLflow 2.17 server answered.
type fixture struct {
	name   string
	method string
	path   string // below /api/2.0/mlflow/, or absolute
	body   string // JSON body; "" for none
	query  string // query string
	status int
	code   string // MLflow error_code for errors
	msg    string // a fragment of the error message
	want   string // JSON the body must contain, for successes; "" to skip
}

// scenario walks every endpoint through its happy path and its errors.
var scenario = []fixture{
	// Registered models: create.
	{name: "create", method: "POST", path: "registered-models/create",
		body:   `{"name": "churn", "description": "churn model", "tags": [{"key": "team", "value": "fraud"}]}`,
		status: 200, want: `{"registered_model": {"name": "churn", "creation_timestamp": "<ms>", "last_updated_timestamp": "<ms>",
			"description": "churn model", "tags": [{"key": "team", "value": "fraud"}], "latest_versions": "<absent>", "aliases": "<absent>"}}`},
	{name: "create duplicate", method: "POST", path: "registered-models/create", body: `{"name": "churn"}`,
		status: 400, code: "RESOURCE_ALREADY_EXISTS", msg: "Registered Model (name=churn) already exists."},
	{name: "create without name", method: "POST", path: "registered-models/create", body: `{"description": "x"}`,
		status: 400, code: "INVALID_PARAMETER_VALUE", msg: "Missing value for required parameter 'name'. See the API docs for more information about request parameters."},
	{name: "create with empty body", method: "POST", path: "registered-models/create",
		status: 400, code: "INVALID_PARAMETER_VALUE", msg: "Missing value for required parameter 'name'."},
	{name: "create with a name of the wrong type", method: "POST", path: "registered-models/create", body: `{"name": 7}`,
		status: 400, code: "INVALID_PARAMETER_VALUE", msg: "Invalid value 7 for parameter 'name' supplied. Hint: Value was of type 'int'."},
	{name: "create with malformed JSON", method: "POST", path: "registered-models/create", body: `{"name": `,
		status: 400, code: "INVALID_PARAMETER_VALUE", msg: "Malformed request body"},
	{name: "create with a tag key too long", method: "POST", path: "registered-models/create",
		body:   `{"name": "long", "tags": [{"key": "` + strings.Repeat("k", 251) + `", "value": "v"}]}`,
		status: 400, code: "INVALID_PARAMETER_VALUE", msg: "had length 251, which exceeded length limit of 250"},
	{name: "create with a tag value too long", method: "POST", path: "registered-models/create",
		body:   `{"name": "long", "tags": [{"key": "k", "value": "` + strings.Repeat("v", 5001) + `"}]}`,
		status: 400, code: "INVALID_PARAMETER_VALUE", msg: "had length 5001, which exceeded length limit of 5000"},
	{name: "create ignores unknown fields as MLflow does", method: "POST", path: "registered-models/create",
		body: `{"name": "fraud", "deployment_job_id": "j1"}`, status: 200, want: `{"registered_model": {"name": "fraud"}}`},
	{name: "create with a name Cairn refuses", method: "POST", path: "registered-models/create", body: `{"name": "a/b"}`,
		status: 400, code: "INVALID_PARAMETER_VALUE", msg: "must not contain"},
	{name: "create on the UI prefix", method: "POST", path: "/ajax-api/2.0/mlflow/registered-models/create", body: `{"name": "ui-model"}`,
		status: 200, want: `{"registered_model": {"name": "ui-model"}}`},

	// get, update, tags.
	{name: "get", method: "GET", path: "registered-models/get", query: "name=churn",
		status: 200, want: `{"registered_model": {"name": "churn", "description": "churn model"}}`},
	{name: "get unknown", method: "GET", path: "registered-models/get", query: "name=nope",
		status: 404, code: "RESOURCE_DOES_NOT_EXIST", msg: "Registered Model with name=nope not found"},
	{name: "get without name", method: "GET", path: "registered-models/get",
		status: 400, code: "INVALID_PARAMETER_VALUE", msg: "Missing value for required parameter 'name'"},
	{name: "update", method: "PATCH", path: "registered-models/update", body: `{"name": "churn", "description": "v2"}`,
		status: 200, want: `{"registered_model": {"name": "churn", "description": "v2"}}`},
	{name: "update unknown", method: "PATCH", path: "registered-models/update", body: `{"name": "nope", "description": "x"}`,
		status: 404, code: "RESOURCE_DOES_NOT_EXIST"},
	{name: "set tag", method: "POST", path: "registered-models/set-tag", body: `{"name": "churn", "key": "owner", "value": "ana"}`,
		status: 200, want: `{}`},
	{name: "set tag without key", method: "POST", path: "registered-models/set-tag", body: `{"name": "churn", "value": "ana"}`,
		status: 400, code: "INVALID_PARAMETER_VALUE", msg: "Missing value for required parameter 'key'"},
	{name: "set tag on unknown model", method: "POST", path: "registered-models/set-tag", body: `{"name": "nope", "key": "a", "value": "b"}`,
		status: 404, code: "RESOURCE_DOES_NOT_EXIST"},
	{name: "tags after set", method: "GET", path: "registered-models/get", query: "name=churn",
		status: 200, want: `{"registered_model": {"tags": [{"key": "owner", "value": "ana"}, {"key": "team", "value": "fraud"}]}}`},
	{name: "delete tag with a JSON body", method: "DELETE", path: "registered-models/delete-tag", body: `{"name": "churn", "key": "owner"}`,
		status: 200, want: `{}`},
	{name: "delete tag with a query string", method: "DELETE", path: "registered-models/delete-tag", query: "name=churn&key=team",
		status: 200, want: `{}`},
	{name: "tags after deletes", method: "GET", path: "registered-models/get", query: "name=churn",
		status: 200, want: `{"registered_model": {"name": "churn", "tags": "<absent>"}}`},
	{name: "delete a tag the model lacks", method: "DELETE", path: "registered-models/delete-tag", body: `{"name": "churn", "key": "never"}`,
		status: 200, want: `{}`},

	// Model versions.
	{name: "create version", method: "POST", path: "model-versions/create",
		body: `{"name": "churn", "source": "s3://bucket/churn/1", "run_id": "r1", "run_link": "http://runs/r1",
			"description": "first", "tags": [{"key": "framework", "value": "sklearn"}]}`,
		status: 200, want: `{"model_version": {"name": "churn", "version": "1", "creation_timestamp": "<ms>", "last_updated_timestamp": "<ms>",
			"current_stage": "None", "description": "first", "source": "s3://bucket/churn/1", "run_id": "r1", "run_link": "http://runs/r1",
			"status": "READY", "tags": [{"key": "framework", "value": "sklearn"}], "user_id": "anonymous"}}`},
	{name: "create version of the same source again", method: "POST", path: "model-versions/create",
		body:   `{"name": "churn", "source": "s3://bucket/churn/1", "run_id": "r1"}`,
		status: 200, want: `{"model_version": {"version": "2", "source": "s3://bucket/churn/1", "status": "READY"}}`},
	{name: "create version without source", method: "POST", path: "model-versions/create", body: `{"name": "churn"}`,
		status: 400, code: "INVALID_PARAMETER_VALUE", msg: "Missing value for required parameter 'source'"},
	{name: "create version of unknown model", method: "POST", path: "model-versions/create", body: `{"name": "nope", "source": "s3://b/x"}`,
		status: 404, code: "RESOURCE_DOES_NOT_EXIST", msg: "Registered Model with name=nope not found"},
	{name: "create version with a relative source", method: "POST", path: "model-versions/create", body: `{"name": "churn", "source": "s3://b/../etc"}`,
		status: 400, code: "INVALID_PARAMETER_VALUE", msg: "Invalid model version source: 's3://b/../etc'"},
	{name: "create version with an encoded relative source", method: "POST", path: "model-versions/create", body: `{"name": "churn", "source": "http://h/a/%2E%2E/b"}`,
		status: 400, code: "INVALID_PARAMETER_VALUE", msg: "an absolute path must be provided"},
	{name: "create version with a local source and no run", method: "POST", path: "model-versions/create", body: `{"name": "churn", "source": "/tmp/model"}`,
		status: 400, code: "INVALID_PARAMETER_VALUE", msg: "the run_id request parameter has to be specified"},
	{name: "create version with a reserved tag", method: "POST", path: "model-versions/create",
		body:   `{"name": "churn", "source": "s3://b/x", "tags": [{"key": "cairn.mlflow.run_link", "value": "x"}]}`,
		status: 400, code: "INVALID_PARAMETER_VALUE", msg: "is reserved"},
	{name: "create version from a runs:/ URI", method: "POST", path: "model-versions/create",
		body:   `{"name": "churn", "source": "runs:/0123456789abcdef/model", "run_id": "0123456789abcdef"}`,
		status: 200, want: `{"model_version": {"version": "3", "source": "runs:/0123456789abcdef/model", "status": "READY"}}`},
	{name: "create version from a logged model (MLflow 3)", method: "POST", path: "model-versions/create",
		body:   `{"name": "churn", "source": "models:/m-0123456789abcdef0123456789abcdef", "model_id": "m-0123456789abcdef0123456789abcdef"}`,
		status: 200, want: `{"model_version": {"version": "4", "source": "models:/m-0123456789abcdef0123456789abcdef", "model_id": "m-0123456789abcdef0123456789abcdef"}}`},

	{name: "get version", method: "GET", path: "model-versions/get", query: "name=churn&version=1",
		status: 200, want: `{"model_version": {"name": "churn", "version": "1", "status": "READY", "run_link": "http://runs/r1"}}`},
	{name: "get version with a bad number", method: "GET", path: "model-versions/get", query: "name=churn&version=abc",
		status: 400, code: "INVALID_PARAMETER_VALUE", msg: "Model version must be an integer, got 'abc'"},
	{name: "get version without version", method: "GET", path: "model-versions/get", query: "name=churn",
		status: 400, code: "INVALID_PARAMETER_VALUE", msg: "Missing value for required parameter 'version'"},
	{name: "get unknown version", method: "GET", path: "model-versions/get", query: "name=churn&version=99",
		status: 404, code: "RESOURCE_DOES_NOT_EXIST", msg: "Model Version (name=churn, version=99) not found"},
	{name: "get version of unknown model", method: "GET", path: "model-versions/get", query: "name=nope&version=1",
		status: 404, code: "RESOURCE_DOES_NOT_EXIST", msg: "Registered Model with name=nope not found"},
	{name: "get version zero", method: "GET", path: "model-versions/get", query: "name=churn&version=0",
		status: 404, code: "RESOURCE_DOES_NOT_EXIST", msg: "Model Version (name=churn, version=0) not found"},
	{name: "update version", method: "PATCH", path: "model-versions/update", body: `{"name": "churn", "version": "1", "description": "better"}`,
		status: 200, want: `{"model_version": {"version": "1", "description": "better"}}`},
	{name: "update version with a bad number", method: "PATCH", path: "model-versions/update", body: `{"name": "churn", "version": "1.5"}`,
		status: 400, code: "INVALID_PARAMETER_VALUE", msg: "Model version must be an integer, got '1.5'"},
	{name: "download uri", method: "GET", path: "model-versions/get-download-uri", query: "name=churn&version=1",
		status: 200, want: `{"artifact_uri": "s3://bucket/churn/1"}`},
	{name: "download uri of unknown version", method: "GET", path: "model-versions/get-download-uri", query: "name=churn&version=42",
		status: 404, code: "RESOURCE_DOES_NOT_EXIST"},
	{name: "set version tag", method: "POST", path: "model-versions/set-tag", body: `{"name": "churn", "version": "1", "key": "validated", "value": "yes"}`,
		status: 200, want: `{}`},
	{name: "set a reserved version tag", method: "POST", path: "model-versions/set-tag", body: `{"name": "churn", "version": "1", "key": "cairn.mlflow.run_link", "value": "x"}`,
		status: 400, code: "INVALID_PARAMETER_VALUE", msg: "is reserved"},
	{name: "set version tag on unknown version", method: "POST", path: "model-versions/set-tag", body: `{"name": "churn", "version": "77", "key": "a", "value": "b"}`,
		status: 404, code: "RESOURCE_DOES_NOT_EXIST"},
	{name: "version tags", method: "GET", path: "model-versions/get", query: "name=churn&version=1",
		status: 200, want: `{"model_version": {"tags": [{"key": "framework", "value": "sklearn"}, {"key": "validated", "value": "yes"}]}}`},
	{name: "delete version tag with a query string", method: "DELETE", path: "model-versions/delete-tag", query: "name=churn&version=1&key=validated",
		status: 200, want: `{}`},
	{name: "delete version tag with a JSON body", method: "DELETE", path: "model-versions/delete-tag", body: `{"name": "churn", "version": "1", "key": "framework"}`,
		status: 200, want: `{}`},
	{name: "version tags after deletes", method: "GET", path: "model-versions/get", query: "name=churn&version=1",
		status: 200, want: `{"model_version": {"tags": "<absent>", "run_link": "http://runs/r1"}}`},

	// Stages.
	{name: "transition to Production", method: "POST", path: "model-versions/transition-stage",
		body:   `{"name": "churn", "version": "1", "stage": "production", "archive_existing_versions": false}`,
		status: 200, want: `{"model_version": {"version": "1", "current_stage": "Production"}}`},
	{name: "transition another to Production, archiving", method: "POST", path: "model-versions/transition-stage",
		body:   `{"name": "churn", "version": "2", "stage": "Production", "archive_existing_versions": true}`,
		status: 200, want: `{"model_version": {"version": "2", "current_stage": "Production"}}`},
	{name: "the previous Production version is Archived", method: "GET", path: "model-versions/get", query: "name=churn&version=1",
		status: 200, want: `{"model_version": {"current_stage": "Archived"}}`},
	{name: "transition to a bad stage", method: "POST", path: "model-versions/transition-stage",
		body:   `{"name": "churn", "version": "1", "stage": "Prod", "archive_existing_versions": false}`,
		status: 400, code: "INVALID_PARAMETER_VALUE", msg: "Invalid Model Version stage: Prod."},
	{name: "archive existing from a non-active stage", method: "POST", path: "model-versions/transition-stage",
		body:   `{"name": "churn", "version": "1", "stage": "Archived", "archive_existing_versions": true}`,
		status: 400, code: "INVALID_PARAMETER_VALUE", msg: "is not an Active stage"},
	{name: "transition with a non-boolean flag", method: "POST", path: "model-versions/transition-stage",
		body:   `{"name": "churn", "version": "1", "stage": "Staging", "archive_existing_versions": "yes"}`,
		status: 400, code: "INVALID_PARAMETER_VALUE", msg: "parameter 'archive_existing_versions'"},
	{name: "transition without stage", method: "POST", path: "model-versions/transition-stage", body: `{"name": "churn", "version": "1"}`,
		status: 400, code: "INVALID_PARAMETER_VALUE", msg: "Missing value for required parameter 'stage'"},
	{name: "latest versions (POST)", method: "POST", path: "registered-models/get-latest-versions", body: `{"name": "churn"}`,
		status: 200, want: `{"model_versions": [{"version": "4", "current_stage": "None"}, {"version": "2", "current_stage": "Production"}, {"version": "1", "current_stage": "Archived"}]}`},
	{name: "latest versions by stage (GET, repeated keys)", method: "GET", path: "registered-models/get-latest-versions", query: "name=churn&stages=production&stages=Staging",
		status: 200, want: `{"model_versions": [{"version": "2", "current_stage": "Production"}]}`},
	{name: "latest versions with a bad stage", method: "GET", path: "registered-models/get-latest-versions", query: "name=churn&stages=nope",
		status: 400, code: "INVALID_PARAMETER_VALUE", msg: "Invalid Model Version stage: nope."},
	{name: "latest versions of unknown model", method: "POST", path: "registered-models/get-latest-versions", body: `{"name": "nope"}`,
		status: 404, code: "RESOURCE_DOES_NOT_EXIST"},
	{name: "model shows latest versions", method: "GET", path: "registered-models/get", query: "name=churn",
		status: 200, want: `{"registered_model": {"latest_versions": [{"version": "4"}, {"version": "2"}, {"version": "1"}]}}`},

	// Aliases.
	{name: "set alias", method: "POST", path: "registered-models/alias", body: `{"name": "churn", "alias": "champion", "version": "2"}`,
		status: 200, want: `{}`},
	{name: "get version by alias", method: "GET", path: "registered-models/alias", query: "name=churn&alias=champion",
		status: 200, want: `{"model_version": {"version": "2", "aliases": ["champion"]}}`},
	{name: "model shows aliases with string versions", method: "GET", path: "registered-models/get", query: "name=churn",
		status: 200, want: `{"registered_model": {"aliases": [{"alias": "champion", "version": "2"}]}}`},
	{name: "re-point alias", method: "POST", path: "registered-models/alias", body: `{"name": "churn", "alias": "champion", "version": "3"}`,
		status: 200, want: `{}`},
	{name: "alias moved", method: "GET", path: "registered-models/alias", query: "name=churn&alias=champion",
		status: 200, want: `{"model_version": {"version": "3"}}`},
	{name: "reserved alias latest", method: "POST", path: "registered-models/alias", body: `{"name": "churn", "alias": "Latest", "version": "1"}`,
		status: 400, code: "INVALID_PARAMETER_VALUE", msg: "'latest' alias name (case insensitive) is reserved."},
	{name: "reserved version alias", method: "POST", path: "registered-models/alias", body: `{"name": "churn", "alias": "v3", "version": "1"}`,
		status: 400, code: "INVALID_PARAMETER_VALUE", msg: "Version alias name 'v3' is reserved."},
	{name: "alias with bad characters", method: "POST", path: "registered-models/alias", body: `{"name": "churn", "alias": "a b", "version": "1"}`,
		status: 400, code: "INVALID_PARAMETER_VALUE", msg: "Invalid alias name: 'a b'. Names may only contain alphanumerics, underscores (_), and dashes (-)."},
	{name: "alias too long", method: "POST", path: "registered-models/alias", body: `{"name": "churn", "alias": "` + strings.Repeat("a", 256) + `", "version": "1"}`,
		status: 400, code: "INVALID_PARAMETER_VALUE", msg: "exceeded length limit of 255"},
	{name: "alias without version", method: "POST", path: "registered-models/alias", body: `{"name": "churn", "alias": "x"}`,
		status: 400, code: "INVALID_PARAMETER_VALUE", msg: "Missing value for required parameter 'version'"},
	{name: "alias with bad version", method: "POST", path: "registered-models/alias", body: `{"name": "churn", "alias": "x", "version": "two"}`,
		status: 400, code: "INVALID_PARAMETER_VALUE", msg: "Model version must be an integer, got 'two'"},
	{name: "alias to unknown version", method: "POST", path: "registered-models/alias", body: `{"name": "churn", "alias": "x", "version": "50"}`,
		status: 404, code: "RESOURCE_DOES_NOT_EXIST", msg: "Model Version (name=churn, version=50) not found"},
	{name: "alias of unknown model", method: "POST", path: "registered-models/alias", body: `{"name": "nope", "alias": "x", "version": "1"}`,
		status: 404, code: "RESOURCE_DOES_NOT_EXIST", msg: "Registered Model with name=nope not found"},
	{name: "get unknown alias", method: "GET", path: "registered-models/alias", query: "name=churn&alias=ghost",
		status: 400, code: "INVALID_PARAMETER_VALUE", msg: "Registered model alias ghost not found."},
	{name: "delete unknown alias succeeds", method: "DELETE", path: "registered-models/alias", body: `{"name": "churn", "alias": "ghost"}`,
		status: 200, want: `{}`},
	{name: "set a second alias", method: "POST", path: "registered-models/alias", body: `{"name": "churn", "alias": "shadow", "version": "1"}`,
		status: 200, want: `{}`},
	{name: "delete alias with a query string", method: "DELETE", path: "registered-models/alias", query: "name=churn&alias=shadow",
		status: 200, want: `{}`},
	{name: "deleted alias is gone", method: "GET", path: "registered-models/alias", query: "name=churn&alias=shadow",
		status: 400, code: "INVALID_PARAMETER_VALUE", msg: "Registered model alias shadow not found."},

	// Version deletion takes its aliases with it.
	{name: "delete version with a JSON body", method: "DELETE", path: "model-versions/delete", body: `{"name": "churn", "version": "3"}`,
		status: 200, want: `{}`},
	{name: "deleted version is gone", method: "GET", path: "model-versions/get", query: "name=churn&version=3",
		status: 404, code: "RESOURCE_DOES_NOT_EXIST", msg: "Model Version (name=churn, version=3) not found"},
	{name: "its alias went with it", method: "GET", path: "registered-models/get", query: "name=churn",
		status: 200, want: `{"registered_model": {"aliases": "<absent>"}}`},
	{name: "delete version with a query string", method: "DELETE", path: "model-versions/delete", query: "name=churn&version=4",
		status: 200, want: `{}`},
	{name: "delete unknown version", method: "DELETE", path: "model-versions/delete", body: `{"name": "churn", "version": "4"}`,
		status: 404, code: "RESOURCE_DOES_NOT_EXIST"},

	// Rename and delete of registered models.
	{name: "rename", method: "POST", path: "registered-models/rename", body: `{"name": "fraud", "new_name": "fraud-v2"}`,
		status: 200, want: `{"registered_model": {"name": "fraud-v2"}}`},
	{name: "renamed model answers by its new name", method: "GET", path: "registered-models/get", query: "name=fraud-v2",
		status: 200, want: `{"registered_model": {"name": "fraud-v2"}}`},
	{name: "rename onto a taken name", method: "POST", path: "registered-models/rename", body: `{"name": "fraud-v2", "new_name": "churn"}`,
		status: 400, code: "RESOURCE_ALREADY_EXISTS", msg: "Registered Model (name=churn) already exists."},
	{name: "rename without new_name", method: "POST", path: "registered-models/rename", body: `{"name": "fraud-v2"}`,
		status: 400, code: "INVALID_PARAMETER_VALUE", msg: "Missing value for required parameter 'new_name'"},
	{name: "rename unknown", method: "POST", path: "registered-models/rename", body: `{"name": "nope", "new_name": "x"}`,
		status: 404, code: "RESOURCE_DOES_NOT_EXIST"},
	{name: "alias before delete", method: "POST", path: "registered-models/alias", body: `{"name": "churn", "alias": "prod", "version": "2"}`,
		status: 200, want: `{}`},
	{name: "delete model with aliases (JSON body)", method: "DELETE", path: "registered-models/delete", body: `{"name": "churn"}`,
		status: 200, want: `{}`},
	{name: "deleted model is gone", method: "GET", path: "registered-models/get", query: "name=churn",
		status: 404, code: "RESOURCE_DOES_NOT_EXIST"},
	{name: "a deleted model's versions are not searchable", method: "GET", path: "model-versions/search", query: "filter=name+%3D+%27churn%27",
		status: 200, want: `{"model_versions": [], "next_page_token": "<absent>"}`},
	{name: "nor the model", method: "GET", path: "registered-models/search", query: "filter=name+LIKE+%27churn%25%27",
		status: 200, want: `{"registered_models": []}`},
	{name: "delete model with a query string", method: "DELETE", path: "registered-models/delete", query: "name=ui-model",
		status: 200, want: `{}`},
	{name: "delete unknown model", method: "DELETE", path: "registered-models/delete", body: `{"name": "ui-model"}`,
		status: 404, code: "RESOURCE_DOES_NOT_EXIST"},
	{name: "re-create a deleted name", method: "POST", path: "registered-models/create", body: `{"name": "churn"}`,
		status: 400, code: "RESOURCE_ALREADY_EXISTS", msg: "It was deleted"},

	// Routing.
	{name: "unknown endpoint", method: "GET", path: "traces/get", query: "request_id=x",
		status: 404, code: "ENDPOINT_NOT_FOUND"},
	{name: "unknown endpoint on the UI prefix", method: "POST", path: "/ajax-api/2.0/mlflow/gateway-proxy", body: `{}`,
		status: 404, code: "ENDPOINT_NOT_FOUND"},
	{name: "a missing artifact", method: "GET", path: "/api/2.0/mlflow-artifacts/artifacts/1/abc/model.pkl",
		status: 404, code: "RESOURCE_DOES_NOT_EXIST"},
	{name: "unknown artifact proxy route", method: "GET", path: "/api/2.0/mlflow-artifacts/files/x",
		status: 404, code: "ENDPOINT_NOT_FOUND"},
	{name: "MLflow 3 routes not served yet", method: "POST", path: "/api/3.0/mlflow/traces/search", body: `{}`,
		status: 404, code: "ENDPOINT_NOT_FOUND"},
	{name: "wrong method", method: "GET", path: "registered-models/create",
		status: 405, code: "BAD_REQUEST", msg: "allowed: POST"},
	{name: "non-JSON body", method: "POST", path: "registered-models/create", body: "name=x",
		status: 400, code: "INVALID_PARAMETER_VALUE", msg: "Malformed request body"},
}

func TestScenario(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for i, f := range scenario {
		r := e.do(f.method, f.path, f.body, f.query)
		where := f.name + ": " + f.method + " " + f.path
		if r.Status != f.status {
			t.Fatalf("step %d %s: status %d, want %d: %s", i, where, r.Status, f.status, r.Raw)
		}
		if ct := r.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("step %d %s: Content-Type %q, want application/json", i, where, ct)
		}
		if r.Header.Get("X-Request-Id") == "" {
			t.Errorf("step %d %s: no X-Request-Id: the native middleware does not wrap the MLflow API", i, where)
		}
		if f.status != http.StatusOK {
			code, _ := r.Body["error_code"].(string)
			msg, _ := r.Body["message"].(string)
			if code != f.code || !strings.Contains(msg, f.msg) || len(r.Body) != 2 {
				t.Errorf("step %d %s: got %s, want {error_code: %q, message containing %q} and nothing else", i, where, r.Raw, f.code, f.msg)
			}
			continue
		}
		if f.want != "" {
			got := map[string]any(r.Body)
			if diffs := match("$", decodeWant(t, f.want), any(got)); len(diffs) > 0 {
				t.Errorf("step %d %s: %s\n  body: %s", i, where, strings.Join(diffs, "\n  "), r.Raw)
			}
		}
	}
}
