#!/usr/bin/env python3
"""Record MLflow's REST answers as replayable fixtures.

Usage: scripts/mlflow_record.py http://127.0.0.1:5000 [outdir]

Drives a running MLflow tracking server (started with a SQL backend store and
--artifacts-destination, so that it proxies artifacts) through the scenarios
below, one request at a time, and writes each scenario with the answers it got
to <outdir>/<scenario>.json (default internal/mlflowapi/testdata/fixtures).
internal/mlflowapi's TestRecordedFixtures replays them against Cairn.

Each scenario starts from names of its own (a run-unique suffix is NOT used:
the fixtures must be reproducible), so record into a fresh server database.
Only the standard library is used, so that any Python 3 runs it.
"""

import datetime
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request

BASE = "/api/2.0/mlflow/"


class Recorder:
    def __init__(self, server):
        self.server = server.rstrip("/")
        self.steps = []
        self.ids = {}  # names bound to ids the server generated, for later steps

    def __call__(self, name, method, path, query=None, body=None, raw=None, content_type=None):
        """Send one request and record it. body is JSON-encoded; raw is sent as is.
        A path without a leading '/' is below /api/2.0/mlflow/. ${x} in path,
        query and body is replaced by the id bound to x."""
        if not path.startswith("/"):
            path = BASE + path
        path = self.fill(path)
        qs = ""
        if query:
            qs = urllib.parse.urlencode([(k, self.fill(v)) for k, v in query], doseq=False)
        data = None
        step = {"name": name, "method": method, "path": path}
        if qs:
            step["query"] = qs
        if body is not None:
            body = json.loads(self.fill(json.dumps(body)))
            data = json.dumps(body).encode()
            step["body"] = body
            content_type = content_type or "application/json"
        elif raw is not None:
            data = raw.encode() if isinstance(raw, str) else raw
            step["raw_body"] = data.decode()
        if content_type:
            step["content_type"] = content_type
        req = urllib.request.Request(self.server + path + ("?" + qs if qs else ""), data=data, method=method)
        if content_type:
            req.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(req) as res:
                status, payload, ctype = res.status, res.read(), res.headers.get("Content-Type", "")
        except urllib.error.HTTPError as e:
            status, payload, ctype = e.code, e.read(), e.headers.get("Content-Type", "")
        step["status"] = status
        if "json" in ctype:
            step["response"] = json.loads(payload) if payload else None
        else:
            step["response_text"] = payload.decode("utf-8", "replace")
            step["response_content_type"] = ctype
        self.steps.append(step)
        return step.get("response")

    def fill(self, s):
        for k, v in self.ids.items():
            s = s.replace("${" + k + "}", v)
        return s

    def bind(self, name, value):
        self.ids[name] = value


def registry(r):
    r("create", "POST", "registered-models/create",
      body={"name": "churn", "description": "churn model", "tags": [{"key": "team", "value": "fraud"}]})
    r("create duplicate", "POST", "registered-models/create", body={"name": "churn"})
    r("create without name", "POST", "registered-models/create", body={"description": "x"})
    r("create with an empty JSON object", "POST", "registered-models/create", body={})
    r("create with a name of the wrong type", "POST", "registered-models/create", body={"name": 7})
    r("create with malformed JSON", "POST", "registered-models/create", raw='{"name": ', content_type="application/json")
    r("create with a tag key too long", "POST", "registered-models/create",
      body={"name": "long", "tags": [{"key": "k" * 251, "value": "v"}]})
    r("create with a tag value too long", "POST", "registered-models/create",
      body={"name": "long", "tags": [{"key": "k", "value": "v" * 5001}]})
    r("create another", "POST", "registered-models/create", body={"name": "fraud"})
    r("create a third with tags", "POST", "registered-models/create",
      body={"name": "fraud-detector", "tags": [{"key": "team", "value": "risk"}]})

    r("get", "GET", "registered-models/get", [("name", "churn")])
    r("get unknown", "GET", "registered-models/get", [("name", "nope")])
    r("get without name", "GET", "registered-models/get")
    r("update", "PATCH", "registered-models/update", body={"name": "churn", "description": "v2"})
    r("update unknown", "PATCH", "registered-models/update", body={"name": "nope", "description": "x"})
    r("set tag", "POST", "registered-models/set-tag", body={"name": "churn", "key": "owner", "value": "ana"})
    r("set tag without key", "POST", "registered-models/set-tag", body={"name": "churn", "value": "ana"})
    r("set tag with a key too long", "POST", "registered-models/set-tag", body={"name": "churn", "key": "k" * 251, "value": "v"})
    r("set tag on unknown model", "POST", "registered-models/set-tag", body={"name": "nope", "key": "a", "value": "b"})
    r("tags after set", "GET", "registered-models/get", [("name", "churn")])
    r("delete tag", "DELETE", "registered-models/delete-tag", body={"name": "churn", "key": "owner"})
    r("delete a tag the model lacks", "DELETE", "registered-models/delete-tag", body={"name": "churn", "key": "never"})
    r("delete tag of unknown model", "DELETE", "registered-models/delete-tag", body={"name": "nope", "key": "a"})
    r("tags after delete", "GET", "registered-models/get", [("name", "churn")])

    r("search all", "GET", "registered-models/search")
    r("search by name LIKE", "GET", "registered-models/search", [("filter", "name LIKE 'fraud%'")])
    r("search by name ILIKE", "GET", "registered-models/search", [("filter", "name ILIKE 'CHURN'")])
    r("search by tag", "GET", "registered-models/search", [("filter", "tags.team = 'risk'")])
    r("search by name and tag", "GET", "registered-models/search", [("filter", "name = 'churn' AND tags.team = 'fraud'")])
    r("search ordered by name DESC", "GET", "registered-models/search", [("order_by", "name DESC")])
    res = r("search first page", "GET", "registered-models/search", [("max_results", "2"), ("order_by", "name ASC")])
    r.bind("page1", res["next_page_token"])
    r("search second page", "GET", "registered-models/search",
      [("max_results", "2"), ("order_by", "name ASC"), ("page_token", "${page1}")])
    r("search with OR", "GET", "registered-models/search", [("filter", "name = 'a' OR name = 'b'")])
    r("search with a bad attribute", "GET", "registered-models/search", [("filter", "owner = 'x'")])
    r("search with max_results too large", "GET", "registered-models/search", [("max_results", "1001")])
    r("search with a bad order_by", "GET", "registered-models/search", [("order_by", "colour")])
    r("search with a bad page token", "GET", "registered-models/search", [("page_token", "garbage")])

    r("create version", "POST", "model-versions/create",
      body={"name": "churn", "source": "s3://bucket/churn/1", "run_link": "http://runs/r1",
            "description": "first", "tags": [{"key": "framework", "value": "sklearn"}]})
    r("create version of the same source again", "POST", "model-versions/create",
      body={"name": "churn", "source": "s3://bucket/churn/1"})
    r("create version without source", "POST", "model-versions/create", body={"name": "churn"})
    r("create version of unknown model", "POST", "model-versions/create", body={"name": "nope", "source": "s3://b/x"})
    r("create version with a relative source", "POST", "model-versions/create", body={"name": "churn", "source": "s3://b/../etc"})
    r("create version with an encoded relative source", "POST", "model-versions/create",
      body={"name": "churn", "source": "http://h/a/%2E%2E/b"})
    r("create version with a local source and no run", "POST", "model-versions/create",
      body={"name": "churn", "source": "/tmp/model"})
    r("create version from a runs:/ URI", "POST", "model-versions/create",
      body={"name": "churn", "source": "runs:/0123456789abcdef0123456789abcdef/model"})
    r("create a version of another model", "POST", "model-versions/create", body={"name": "fraud", "source": "s3://bucket/fraud/1"})

    r("get version", "GET", "model-versions/get", [("name", "churn"), ("version", "1")])
    r("get version with a bad number", "GET", "model-versions/get", [("name", "churn"), ("version", "abc")])
    r("get version without version", "GET", "model-versions/get", [("name", "churn")])
    r("get unknown version", "GET", "model-versions/get", [("name", "churn"), ("version", "99")])
    r("get version of unknown model", "GET", "model-versions/get", [("name", "nope"), ("version", "1")])
    r("update version", "PATCH", "model-versions/update", body={"name": "churn", "version": "1", "description": "better"})
    r("update version with a bad number", "PATCH", "model-versions/update", body={"name": "churn", "version": "1.5"})
    r("update unknown version", "PATCH", "model-versions/update", body={"name": "churn", "version": "99", "description": "x"})
    r("download uri", "GET", "model-versions/get-download-uri", [("name", "churn"), ("version", "1")])
    r("download uri of a runs:/ version", "GET", "model-versions/get-download-uri", [("name", "churn"), ("version", "3")])
    r("download uri of unknown version", "GET", "model-versions/get-download-uri", [("name", "churn"), ("version", "42")])
    r("set version tag", "POST", "model-versions/set-tag", body={"name": "churn", "version": "1", "key": "validated", "value": "yes"})
    r("set version tag without value", "POST", "model-versions/set-tag", body={"name": "churn", "version": "1", "key": "k"})
    r("set version tag on unknown version", "POST", "model-versions/set-tag",
      body={"name": "churn", "version": "77", "key": "a", "value": "b"})
    r("version tags", "GET", "model-versions/get", [("name", "churn"), ("version", "1")])
    r("delete version tag", "DELETE", "model-versions/delete-tag", body={"name": "churn", "version": "1", "key": "framework"})
    r("delete version tag of unknown version", "DELETE", "model-versions/delete-tag",
      body={"name": "churn", "version": "77", "key": "framework"})
    r("version tags after delete", "GET", "model-versions/get", [("name", "churn"), ("version", "1")])

    r("transition to Production", "POST", "model-versions/transition-stage",
      body={"name": "churn", "version": "1", "stage": "production", "archive_existing_versions": False})
    r("transition another to Production, archiving", "POST", "model-versions/transition-stage",
      body={"name": "churn", "version": "2", "stage": "Production", "archive_existing_versions": True})
    r("the previous Production version is Archived", "GET", "model-versions/get", [("name", "churn"), ("version", "1")])
    r("transition to Staging", "POST", "model-versions/transition-stage",
      body={"name": "churn", "version": "3", "stage": "Staging", "archive_existing_versions": False})
    r("transition to a bad stage", "POST", "model-versions/transition-stage",
      body={"name": "churn", "version": "1", "stage": "Prod", "archive_existing_versions": False})
    r("archive existing from a non-active stage", "POST", "model-versions/transition-stage",
      body={"name": "churn", "version": "1", "stage": "Archived", "archive_existing_versions": True})
    r("transition without stage", "POST", "model-versions/transition-stage", body={"name": "churn", "version": "1"})
    r("transition unknown version", "POST", "model-versions/transition-stage",
      body={"name": "churn", "version": "99", "stage": "Staging", "archive_existing_versions": False})
    r("latest versions (POST)", "POST", "registered-models/get-latest-versions", body={"name": "churn"})
    r("latest versions by stage (GET, repeated keys)", "GET", "registered-models/get-latest-versions",
      [("name", "churn"), ("stages", "production"), ("stages", "Staging")])
    r("latest versions by stage (POST)", "POST", "registered-models/get-latest-versions",
      body={"name": "churn", "stages": ["None"]})
    r("latest versions with a bad stage", "GET", "registered-models/get-latest-versions", [("name", "churn"), ("stages", "nope")])
    r("latest versions of unknown model", "POST", "registered-models/get-latest-versions", body={"name": "nope"})
    r("model shows latest versions", "GET", "registered-models/get", [("name", "churn")])

    r("set alias", "POST", "registered-models/alias", body={"name": "churn", "alias": "champion", "version": "2"})
    r("get version by alias", "GET", "registered-models/alias", [("name", "churn"), ("alias", "champion")])
    r("model shows aliases", "GET", "registered-models/get", [("name", "churn")])
    r("version shows aliases", "GET", "model-versions/get", [("name", "churn"), ("version", "2")])
    r("re-point alias", "POST", "registered-models/alias", body={"name": "churn", "alias": "champion", "version": "3"})
    r("alias moved", "GET", "registered-models/alias", [("name", "churn"), ("alias", "champion")])
    r("reserved alias latest", "POST", "registered-models/alias", body={"name": "churn", "alias": "Latest", "version": "1"})
    r("reserved version alias", "POST", "registered-models/alias", body={"name": "churn", "alias": "v3", "version": "1"})
    r("alias with bad characters", "POST", "registered-models/alias", body={"name": "churn", "alias": "a b", "version": "1"})
    r("alias too long", "POST", "registered-models/alias", body={"name": "churn", "alias": "a" * 256, "version": "1"})
    r("alias without version", "POST", "registered-models/alias", body={"name": "churn", "alias": "x"})
    r("alias with bad version", "POST", "registered-models/alias", body={"name": "churn", "alias": "x", "version": "two"})
    r("alias to unknown version", "POST", "registered-models/alias", body={"name": "churn", "alias": "x", "version": "50"})
    r("alias of unknown model", "POST", "registered-models/alias", body={"name": "nope", "alias": "x", "version": "1"})
    r("get unknown alias", "GET", "registered-models/alias", [("name", "churn"), ("alias", "ghost")])
    r("get alias of unknown model", "GET", "registered-models/alias", [("name", "nope"), ("alias", "champion")])
    r("delete unknown alias", "DELETE", "registered-models/alias", body={"name": "churn", "alias": "ghost"})
    r("set a second alias", "POST", "registered-models/alias", body={"name": "churn", "alias": "shadow", "version": "1"})
    r("delete alias", "DELETE", "registered-models/alias", body={"name": "churn", "alias": "shadow"})
    r("deleted alias is gone", "GET", "registered-models/alias", [("name", "churn"), ("alias", "shadow")])

    r("search versions of a model", "GET", "model-versions/search", [("filter", "name = 'churn'")])
    r("search versions ordered by version DESC", "GET", "model-versions/search",
      [("filter", "name = 'churn'"), ("order_by", "version_number DESC")])
    r("search versions by number", "GET", "model-versions/search", [("filter", "name = 'churn' AND version_number > 1")])
    r("search versions by source", "GET", "model-versions/search", [("filter", "source_path = 's3://bucket/fraud/1'")])
    r("search versions by tag", "GET", "model-versions/search", [("filter", "tags.validated = 'yes'")])
    r("search versions by run_id IN", "GET", "model-versions/search",
      [("filter", "run_id IN ('0123456789abcdef0123456789abcdef')")])
    r("search versions with a bad filter", "GET", "model-versions/search", [("filter", "name = 'churn' OR version_number = 1")])
    r("search versions with a bad attribute", "GET", "model-versions/search", [("filter", "stage = 'Production'")])
    r("search versions with max_results too large", "GET", "model-versions/search", [("max_results", "200001")])

    r("delete version", "DELETE", "model-versions/delete", body={"name": "churn", "version": "3"})
    r("deleted version is gone", "GET", "model-versions/get", [("name", "churn"), ("version", "3")])
    r("its alias went with it", "GET", "registered-models/get", [("name", "churn")])
    r("delete unknown version", "DELETE", "model-versions/delete", body={"name": "churn", "version": "3"})
    r("delete version without version", "DELETE", "model-versions/delete", body={"name": "churn"})

    r("rename", "POST", "registered-models/rename", body={"name": "fraud", "new_name": "fraud-v2"})
    r("renamed model answers by its new name", "GET", "registered-models/get", [("name", "fraud-v2")])
    r("renamed model's versions follow", "GET", "model-versions/get", [("name", "fraud-v2"), ("version", "1")])
    r("old name is gone", "GET", "registered-models/get", [("name", "fraud")])
    r("rename onto a taken name", "POST", "registered-models/rename", body={"name": "fraud-v2", "new_name": "churn"})
    r("rename without new_name", "POST", "registered-models/rename", body={"name": "fraud-v2"})
    r("rename unknown", "POST", "registered-models/rename", body={"name": "nope", "new_name": "x"})
    r("alias before delete", "POST", "registered-models/alias", body={"name": "churn", "alias": "prod", "version": "2"})
    r("delete model", "DELETE", "registered-models/delete", body={"name": "churn"})
    r("deleted model is gone", "GET", "registered-models/get", [("name", "churn")])
    r("a deleted model's versions are not searchable", "GET", "model-versions/search", [("filter", "name = 'churn'")])
    r("nor the model", "GET", "registered-models/search", [("filter", "name LIKE 'churn%'")])
    r("delete unknown model", "DELETE", "registered-models/delete", body={"name": "churn"})
    r("delete model without name", "DELETE", "registered-models/delete", body={})


def experiments(r):
    r("get default experiment", "GET", "experiments/get", [("experiment_id", "0")])
    r("get-by-name unknown", "GET", "experiments/get-by-name", [("experiment_name", "fixture-exp")])
    res = r("create", "POST", "experiments/create",
            body={"name": "fixture-exp", "tags": [{"key": "team", "value": "fraud"}]})
    r.bind("exp", res["experiment_id"])
    r("create duplicate", "POST", "experiments/create", body={"name": "fixture-exp"})
    r("create without name", "POST", "experiments/create", body={})
    r("create a second", "POST", "experiments/create", body={"name": "fixture-exp-2"})
    r("get-by-name", "GET", "experiments/get-by-name", [("experiment_name", "fixture-exp")])
    r("get-by-name without name", "GET", "experiments/get-by-name")
    r("get", "GET", "experiments/get", [("experiment_id", "${exp}")])
    r("get unknown", "GET", "experiments/get", [("experiment_id", "9999")])
    r("search (POST)", "POST", "experiments/search", body={"max_results": 10})
    r("search by name", "POST", "experiments/search", body={"filter": "name = 'fixture-exp'", "max_results": 10})
    r("search by name LIKE, ordered", "POST", "experiments/search",
      body={"filter": "name LIKE 'fixture%'", "order_by": ["name DESC"], "max_results": 10})
    r("search (GET)", "GET", "experiments/search", [("max_results", "10"), ("filter", "name LIKE 'fixture-exp%'")])
    r("search with a bad filter", "POST", "experiments/search", body={"filter": "colour = 'x'", "max_results": 10})
    r("search without max_results", "POST", "experiments/search", body={})
    r("search first page", "POST", "experiments/search", body={"max_results": 1, "order_by": ["name ASC"]})


def runs(r):
    res = r("create experiment", "POST", "experiments/create", body={"name": "runs-exp"})
    r.bind("exp", res["experiment_id"])
    res = r("create run", "POST", "runs/create",
            body={"experiment_id": "${exp}", "run_name": "fixture-run", "start_time": 1700000000000,
                  "user_id": "ana", "tags": [{"key": "mlflow.source.name", "value": "train.py"}]})
    r.bind("run", res["run"]["info"]["run_id"])
    r("create run in unknown experiment", "POST", "runs/create", body={"experiment_id": "9999", "start_time": 1700000000000})
    r("get run", "GET", "runs/get", [("run_id", "${run}")])
    r("get run by legacy run_uuid", "GET", "runs/get", [("run_uuid", "${run}")])
    r("get unknown run", "GET", "runs/get", [("run_id", "0123456789abcdef0123456789abcdef")])
    r("get run without id", "GET", "runs/get")
    r("log metric", "POST", "runs/log-metric",
      body={"run_id": "${run}", "key": "loss", "value": 0.5, "timestamp": 1700000001000, "step": 0})
    r("log metric again", "POST", "runs/log-metric",
      body={"run_id": "${run}", "key": "loss", "value": 0.25, "timestamp": 1700000002000, "step": 1})
    r("log metric without key", "POST", "runs/log-metric", body={"run_id": "${run}", "value": 1, "timestamp": 1700000002000})
    r("log metric to unknown run", "POST", "runs/log-metric",
      body={"run_id": "0123456789abcdef0123456789abcdef", "key": "loss", "value": 1, "timestamp": 1700000002000})
    r("log parameter", "POST", "runs/log-parameter", body={"run_id": "${run}", "key": "alpha", "value": "0.1"})
    r("log the same parameter again", "POST", "runs/log-parameter", body={"run_id": "${run}", "key": "alpha", "value": "0.1"})
    r("change a parameter", "POST", "runs/log-parameter", body={"run_id": "${run}", "key": "alpha", "value": "0.2"})
    r("set tag", "POST", "runs/set-tag", body={"run_id": "${run}", "key": "stage", "value": "dev"})
    r("set tag without key", "POST", "runs/set-tag", body={"run_id": "${run}", "value": "dev"})
    r("delete tag", "POST", "runs/delete-tag", body={"run_id": "${run}", "key": "stage"})
    r("delete unknown tag", "POST", "runs/delete-tag", body={"run_id": "${run}", "key": "stage"})
    r("log batch", "POST", "runs/log-batch",
      body={"run_id": "${run}",
            "metrics": [{"key": "acc", "value": 0.9, "timestamp": 1700000003000, "step": 0},
                        {"key": "acc", "value": 0.95, "timestamp": 1700000004000, "step": 1}],
            "params": [{"key": "depth", "value": "3"}],
            "tags": [{"key": "team", "value": "fraud"}]})
    r("empty log batch", "POST", "runs/log-batch", body={"run_id": "${run}"})
    r("log batch changing a parameter", "POST", "runs/log-batch",
      body={"run_id": "${run}", "params": [{"key": "depth", "value": "4"}]})
    r("log batch with too many params", "POST", "runs/log-batch",
      body={"run_id": "${run}", "params": [{"key": "p%d" % i, "value": "v"} for i in range(101)]})
    r("metric history", "GET", "metrics/get-history", [("run_id", "${run}"), ("metric_key", "loss")])
    r("metric history of an unlogged metric", "GET", "metrics/get-history", [("run_id", "${run}"), ("metric_key", "nope")])
    r("metric history of unknown run", "GET", "metrics/get-history",
      [("run_id", "0123456789abcdef0123456789abcdef"), ("metric_key", "loss")])
    model_json = json.dumps({"artifact_path": "model", "flavors": {"python_function": {"loader_module": "mlflow.sklearn"}},
                             "run_id": "${run}", "utc_time_created": "2023-11-14 22:13:20.000000", "model_uuid": "0" * 32})
    r("log model", "POST", "runs/log-model", body={"run_id": "${run}", "model_json": model_json})
    r("log model with bad JSON", "POST", "runs/log-model", body={"run_id": "${run}", "model_json": "{"})
    r("log inputs", "POST", "runs/log-inputs",
      body={"run_id": "${run}", "datasets": [{"dataset": {"name": "train", "digest": "abc123", "source_type": "local",
                                                          "source": "{\"uri\": \"/data/train.csv\"}"},
                                              "tags": [{"key": "mlflow.data.context", "value": "training"}]}]})
    r("log inputs to unknown run", "POST", "runs/log-inputs", body={"run_id": "0123456789abcdef0123456789abcdef", "datasets": []})
    r("list artifacts of a run without any", "GET", "artifacts/list", [("run_id", "${run}")])
    r("finish run", "POST", "runs/update", body={"run_id": "${run}", "status": "FINISHED", "end_time": 1700000009000})
    r("update with a bad status", "POST", "runs/update", body={"run_id": "${run}", "status": "DONE"})
    r("update unknown run", "POST", "runs/update", body={"run_id": "0123456789abcdef0123456789abcdef", "status": "FINISHED"})
    r("get finished run", "GET", "runs/get", [("run_id", "${run}")])
    res = r("create run with defaults", "POST", "runs/create", body={"experiment_id": "${exp}"})
    r.bind("run2", res["run"]["info"]["run_id"])
    r("rename a run", "POST", "runs/update", body={"run_id": "${run2}", "run_name": "renamed"})


def artifacts(r):
    res = r("create experiment", "POST", "experiments/create", body={"name": "artifacts-exp"})
    r.bind("exp", res["experiment_id"])
    res = r("create run", "POST", "runs/create", body={"experiment_id": "${exp}", "start_time": 1700000000000})
    r.bind("run", res["run"]["info"]["run_id"])
    root = "/api/2.0/mlflow-artifacts/artifacts/${exp}/${run}/artifacts/"
    r("upload MLmodel", "PUT", root + "model/MLmodel", raw="artifact_path: model\nflavors: {}\n",
      content_type="application/octet-stream")
    r("upload model.pkl", "PUT", root + "model/model.pkl", raw="not really a pickle\n", content_type="application/octet-stream")
    r("upload a nested file", "PUT", root + "model/data/weights.bin", raw="0123456789", content_type="application/octet-stream")
    r("download", "GET", root + "model/MLmodel")
    r("download a missing file", "GET", root + "model/nope.txt")
    r("list a directory", "GET", "/api/2.0/mlflow-artifacts/artifacts", [("path", "${exp}/${run}/artifacts/model")])
    r("list the run root", "GET", "/api/2.0/mlflow-artifacts/artifacts", [("path", "${exp}/${run}/artifacts")])
    r("list a missing directory", "GET", "/api/2.0/mlflow-artifacts/artifacts", [("path", "${exp}/${run}/artifacts/none")])
    r("list with a relative path", "GET", "/api/2.0/mlflow-artifacts/artifacts", [("path", "${exp}/../etc")])
    r("list artifacts of the run", "GET", "artifacts/list", [("run_id", "${run}")])
    r("list artifacts of the run below model", "GET", "artifacts/list", [("run_id", "${run}"), ("path", "model")])
    r("list artifacts of unknown run", "GET", "artifacts/list", [("run_id", "0123456789abcdef0123456789abcdef")])
    r("delete a file", "DELETE", root + "model/data/weights.bin")
    r("deleted file is gone from the listing", "GET", "/api/2.0/mlflow-artifacts/artifacts", [("path", "${exp}/${run}/artifacts/model/data")])
    r("start a multipart upload", "POST", "/api/2.0/mlflow-artifacts/mpu/create/${exp}/${run}/artifacts/big.bin",
      body={"path": "${exp}/${run}/artifacts/big.bin", "num_parts": 2})
    r("complete a multipart upload", "POST", "/api/2.0/mlflow-artifacts/mpu/complete/${exp}/${run}/artifacts/big.bin",
      body={"path": "${exp}/${run}/artifacts/big.bin", "upload_id": "u1", "parts": [{"part_number": 1, "etag": "e1"}]})
    r("abort a multipart upload", "POST", "/api/2.0/mlflow-artifacts/mpu/abort/${exp}/${run}/artifacts/big.bin",
      body={"path": "${exp}/${run}/artifacts/big.bin", "upload_id": "u1"})

    r("log model", "POST", "runs/log-model",
      body={"run_id": "${run}", "model_json": json.dumps({"artifact_path": "model", "flavors": {}, "run_id": "${run}",
                                                          "utc_time_created": "2023-11-14 22:13:20.000000"})})
    r("register the run's model", "POST", "registered-models/create", body={"name": "from-run"})
    r("create version from runs:/", "POST", "model-versions/create",
      body={"name": "from-run", "source": "runs:/${run}/model", "run_id": "${run}"})
    r("create version from the run's artifact URI", "POST", "model-versions/create",
      body={"name": "from-run", "source": "mlflow-artifacts:/${exp}/${run}/artifacts/model", "run_id": "${run}"})
    r("download uri of the runs:/ version", "GET", "model-versions/get-download-uri", [("name", "from-run"), ("version", "1")])
    r("download uri of the artifact URI version", "GET", "model-versions/get-download-uri", [("name", "from-run"), ("version", "2")])
    r("get a version's artifact (UI route)", "GET", "/model-versions/get-artifact",
      [("name", "from-run"), ("version", "2"), ("path", "MLmodel")])


def proxy(r):
    """The artifact proxy alone: MLflow does not tie its paths to runs."""
    root = "/api/2.0/mlflow-artifacts/artifacts/5/0123456789abcdef0123456789abcdef/artifacts/"
    r("upload MLmodel", "PUT", root + "model/MLmodel", raw="artifact_path: model\nflavors: {}\n",
      content_type="application/octet-stream")
    r("upload model.pkl", "PUT", root + "model/model.pkl", raw="not really a pickle\n", content_type="application/octet-stream")
    r("upload a nested file", "PUT", root + "model/data/weights.bin", raw="0123456789", content_type="application/octet-stream")
    r("upload an empty file", "PUT", root + "model/empty.txt", raw="", content_type="application/octet-stream")
    r("download", "GET", root + "model/MLmodel")
    r("download a nested file", "GET", root + "model/data/weights.bin")
    r("download an empty file", "GET", root + "model/empty.txt")
    r("overwrite a file", "PUT", root + "model/model.pkl", raw="a better pickle\n", content_type="application/octet-stream")
    r("download the overwritten file", "GET", root + "model/model.pkl")
    r("download a missing file", "GET", root + "model/nope.txt")
    r("list a directory", "GET", "/api/2.0/mlflow-artifacts/artifacts", [("path", "5/0123456789abcdef0123456789abcdef/artifacts/model")])
    r("list the run root", "GET", "/api/2.0/mlflow-artifacts/artifacts", [("path", "5/0123456789abcdef0123456789abcdef/artifacts")])
    r("list the experiment", "GET", "/api/2.0/mlflow-artifacts/artifacts", [("path", "5")])
    r("list a missing directory", "GET", "/api/2.0/mlflow-artifacts/artifacts", [("path", "5/none")])
    r("list with a relative path", "GET", "/api/2.0/mlflow-artifacts/artifacts", [("path", "5/../etc")])
    r("delete a file", "DELETE", root + "model/data/weights.bin")
    r("deleted file is gone from the listing", "GET", "/api/2.0/mlflow-artifacts/artifacts",
      [("path", "5/0123456789abcdef0123456789abcdef/artifacts/model/data")])
    r("start a multipart upload", "POST", "/api/2.0/mlflow-artifacts/mpu/create/5/big.bin",
      body={"path": "5/big.bin", "num_parts": 2})
    r("complete a multipart upload", "POST", "/api/2.0/mlflow-artifacts/mpu/complete/5/big.bin",
      body={"path": "5/big.bin", "upload_id": "u1", "parts": [{"part_number": 1, "etag": "e1"}]})
    r("abort a multipart upload", "POST", "/api/2.0/mlflow-artifacts/mpu/abort/5/big.bin",
      body={"path": "5/big.bin", "upload_id": "u1"})


SCENARIOS = [("registry", registry), ("experiments", experiments), ("runs", runs), ("artifacts", artifacts), ("proxy", proxy)]


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    server = sys.argv[1]
    out = sys.argv[2] if len(sys.argv) > 2 else os.path.join(os.path.dirname(__file__), "..", "internal", "mlflowapi", "testdata", "fixtures")
    with urllib.request.urlopen(server.rstrip("/") + "/version") as res:
        version = res.read().decode().strip()
    os.makedirs(out, exist_ok=True)
    only = set(sys.argv[3:])
    for name, fn in SCENARIOS:
        if only and name not in only:
            continue
        r = Recorder(server)
        fn(r)
        doc = {
            "mlflow_version": version,
            "recorded": datetime.date.today().isoformat(),
            "server": "mlflow server --backend-store-uri sqlite:///... --artifacts-destination <dir> (MLflow " + version + ")",
            "recorder": "scripts/mlflow_record.py",
            "scenario": name,
            "steps": r.steps,
        }
        path = os.path.join(out, name + ".json")
        with open(path, "w") as f:
            json.dump(doc, f, indent=1, sort_keys=False)
            f.write("\n")
        print("%s: %d steps -> %s" % (name, len(r.steps), path))


if __name__ == "__main__":
    main()
