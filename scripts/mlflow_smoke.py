#!/usr/bin/env python3
"""Smoke test: drive a Cairn server with the real MLflow client.

Usage: MLFLOW_TRACKING_URI=http://127.0.0.1:8080 python3 scripts/mlflow_smoke.py

Runs the call sequences of MLflow's wire contract (MLFLOW.md §4) with the
installed MLflow client against the server MLFLOW_TRACKING_URI names:

  (a) MLflow 3: log_model(..., registered_model_name=...) in a run (logged
      models); with a 2.x client, the 2.x form of the same call, which is (c)
  (b) mlflow.register_model("runs:/<run_id>/model", name)
  (c) MLflow 2.x: log_model(..., registered_model_name=...) uploading the
      files under the run, then runs:/ registration
  (d) loading models:/name@alias and models:/name/N, plus a version whose
      files were put through the artifact proxy without any run

Each step prints PASS or FAIL with the error; the exit status is the number
of failed steps. Not part of CI: it needs MLflow and scikit-learn installed.
Names carry a per-run suffix, so it can run repeatedly against one server.
"""

import os
import sys
import tempfile
import time
import traceback
import uuid

import mlflow
import numpy as np
from mlflow import MlflowClient
from sklearn.linear_model import LogisticRegression

RESULTS = []


def step(name):
    def wrap(fn):
        def run(*args, **kwargs):
            t0 = time.time()
            try:
                out = fn(*args, **kwargs)
                RESULTS.append((name, True, ""))
                print("PASS %-62s %6.2fs" % (name, time.time() - t0), flush=True)
                return out
            except Exception as e:  # report and go on: later steps may not depend on it
                msg = "%s: %s" % (type(e).__name__, str(e).splitlines()[0] if str(e) else "")
                RESULTS.append((name, False, msg))
                print("FAIL %-62s %6.2fs  %s" % (name, time.time() - t0, msg[:300]), flush=True)
                if os.environ.get("SMOKE_TRACEBACK"):
                    traceback.print_exc()
                return None
        return run
    return wrap


def model():
    X = np.array([[0.0], [1.0], [2.0], [3.0]])
    y = np.array([0, 0, 1, 1])
    return LogisticRegression().fit(X, y), X


def same_predictions(loaded, X, m):
    got = loaded.predict(X)
    want = m.predict(X)
    if list(np.asarray(got).ravel()) != list(want.ravel()):
        raise AssertionError("loaded model predicts %s, want %s" % (got, want))


def main():
    uri = os.environ.get("MLFLOW_TRACKING_URI")
    if not uri:
        sys.exit("set MLFLOW_TRACKING_URI to the Cairn server, e.g. http://127.0.0.1:8080")
    suffix = uuid.uuid4().hex[:8]
    major = int(mlflow.__version__.split(".")[0])
    print("MLflow client %s against %s (suffix %s)" % (mlflow.__version__, uri, suffix), flush=True)
    client = MlflowClient()
    m, X = model()
    state = {}

    @step("experiment: set_experiment (get-by-name, create)")
    def experiment():
        mlflow.set_experiment("smoke-" + suffix)

    @step("(a) log_model with registered_model_name in a run" + (" [MLflow 3 logged model]" if major >= 3 else " [2.x: same as (c)]"))
    def log_and_register():
        name = "smoke-a-" + suffix
        with mlflow.start_run() as run:
            mlflow.log_param("C", 1.0)
            mlflow.log_metric("acc", 1.0)
            if major >= 3:
                info = mlflow.sklearn.log_model(m, name="model", registered_model_name=name)
            else:
                info = mlflow.sklearn.log_model(m, artifact_path="model", registered_model_name=name)
        state["run_a"] = run.info.run_id
        mv = client.get_model_version(name, "1")
        if mv.status != "READY":
            raise AssertionError("version status %s" % mv.status)
        state["a"] = (name, info)

    @step("(b) register_model('runs:/<run>/model', name)")
    def register_from_run():
        name = "smoke-b-" + suffix
        with mlflow.start_run() as run:
            if major >= 3:
                mlflow.sklearn.log_model(m, name="model")
            else:
                mlflow.sklearn.log_model(m, artifact_path="model")
        mv = mlflow.register_model("runs:/%s/model" % run.info.run_id, name)
        if mv.version != "1":
            raise AssertionError("version %s" % mv.version)
        state["b"] = name

    @step("(c) 2.x-style: artifacts under the run, runs:/ registration, set alias")
    def two_x():
        name = "smoke-c-" + suffix
        with mlflow.start_run() as run:
            with tempfile.TemporaryDirectory() as d:
                mlflow.sklearn.save_model(m, os.path.join(d, "model"))
                mlflow.log_artifacts(os.path.join(d, "model"), artifact_path="model")
        client.create_registered_model(name)
        src = "%s/model" % run.info.artifact_uri
        mv = client.create_model_version(name, src, run_id=run.info.run_id)
        client.set_registered_model_alias(name, "champion", mv.version)
        state["c"] = name

    @step("(d) load models:/<name>@champion")
    def load_alias():
        same_predictions(mlflow.sklearn.load_model("models:/%s@champion" % state["c"]), X, m)

    @step("(d) load models:/<name>/1 as pyfunc")
    def load_number():
        same_predictions(mlflow.pyfunc.load_model("models:/%s/1" % (state.get("a") or (state.get("b"),))[0]), X, m)

    @step("(d) version from files put through the artifact proxy, no run")
    def proxy_only():
        from mlflow.store.artifact.mlflow_artifacts_repo import MlflowArtifactsRepository

        name = "smoke-d-" + suffix
        dest = "mlflow-artifacts:/smoke-%s/model" % suffix
        repo = MlflowArtifactsRepository(dest)
        with tempfile.TemporaryDirectory() as d:
            mlflow.sklearn.save_model(m, os.path.join(d, "model"))
            repo.log_artifacts(os.path.join(d, "model"))
        client.create_registered_model(name, description="smoke", tags={"team": "smoke"})
        mv = client.create_model_version(name, dest, description="from the proxy")
        client.set_registered_model_alias(name, "champion", mv.version)
        client.transition_model_version_stage(name, mv.version, "Production")
        got = client.get_model_version_by_alias(name, "champion")
        if got.version != mv.version or got.current_stage != "Production":
            raise AssertionError("alias -> %s, stage %s" % (got.version, got.current_stage))
        same_predictions(mlflow.sklearn.load_model("models:/%s@champion" % name), X, m)
        same_predictions(mlflow.pyfunc.load_model("models:/%s/%s" % (name, mv.version)), X, m)
        found = client.search_registered_models(filter_string="name = '%s'" % name)
        if [r.name for r in found] != [name]:
            raise AssertionError("search found %s" % [r.name for r in found])

    experiment()
    log_and_register()
    register_from_run()
    two_x()
    if state.get("c"):
        load_alias()
    else:
        RESULTS.append(("(d) load models:/<name>@champion", False, "skipped: (c) failed"))
        print("FAIL (d) load models:/<name>@champion: skipped, (c) failed")
    if state.get("a") or state.get("b"):
        load_number()
    else:
        RESULTS.append(("(d) load models:/<name>/1", False, "skipped: (a) and (b) failed"))
        print("FAIL (d) load models:/<name>/1: skipped, (a) and (b) failed")
    proxy_only()
    failed = [r for r in RESULTS if not r[1]]
    print("%d passed, %d failed" % (len(RESULTS) - len(failed), len(failed)))
    sys.exit(len(failed))


if __name__ == "__main__":
    main()
