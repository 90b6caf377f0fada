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
  (e) MLflow 3 only: logged models read back and searched (by dataset
      too), a pyfunc model loaded as models:/m-<id> and through an alias,
      a model-scoped metric,
      params and tags, register_model("models:/m-<id>"), an external model
      and set_active_model, deletion; the prompt registry (prompts are
      registered models); webhooks (clients that have them, 3.3 on)

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

    def check(cond, what):
        if not cond:
            raise AssertionError(what)

    def expect_gone(read, what):
        """read must fail with MLflow's RESOURCE_DOES_NOT_EXIST."""
        try:
            read()
        except mlflow.exceptions.MlflowException as e:
            check(e.error_code == "RESOURCE_DOES_NOT_EXIST", "error %s" % e.error_code)
        else:
            raise AssertionError("%s still readable" % what)

    class AddOne(mlflow.pyfunc.PythonModel):
        def predict(self, context, model_input, params=None):
            return [x + 1 for x in model_input["x"]]

    def predicts_plus_one(loaded):
        import pandas as pd

        got = list(loaded.predict(pd.DataFrame({"x": [1, 2]})))
        check(got == [2, 3], "pyfunc model predicts %s, want [2, 3]" % got)

    @step("(e) [3.x] get_logged_model: READY, run, params, metrics")
    def logged_model_read():
        name, info = state["a"]
        lm = client.get_logged_model(info.model_id)
        check(lm.model_id == info.model_id and lm.name == "model", "model %s %s" % (lm.model_id, lm.name))
        check(str(lm.status) in ("READY", "LoggedModelStatus.READY"), "status %s" % lm.status)
        check(lm.source_run_id == state["run_a"], "source_run_id %s" % lm.source_run_id)
        check(lm.params.get("C") == "1.0", "params %s" % lm.params)
        check([m.key for m in lm.metrics] == ["acc"], "metrics %s" % lm.metrics)
        check(lm.artifact_location.endswith("/models/%s/artifacts" % lm.model_id), lm.artifact_location)
        mv = client.get_model_version(name, "1")
        # the server sends model_id; MLflow 3.0's client does not read it (mv.model_id is None)
        check(mv.model_id in (None, lm.model_id), "version model_id %s" % mv.model_id)
        check(mv.source == "models:/%s" % lm.model_id, "version source %s" % mv.source)
        files = sorted(f.path for f in client.list_logged_model_artifacts(lm.model_id))
        check("MLmodel" in files and "model.pkl" in files, "artifacts %s" % files)
        run = client.get_run(state["run_a"])
        check([o.model_id for o in run.outputs.model_outputs] == [lm.model_id], "run outputs %s" % run.outputs)

    @step("(e) [3.x] search_logged_models: filter, IN, NOT IN, order_by, pandas")
    def logged_model_search():
        exp = mlflow.get_experiment_by_name("smoke-" + suffix).experiment_id
        _, info = state["a"]
        got = mlflow.search_logged_models(
            experiment_ids=[exp],
            filter_string="name = 'model' AND params.C = '1.0' AND metrics.acc >= 1",
            output_format="list",
        )
        check([m.model_id for m in got] == [info.model_id], "filter found %s" % [m.model_id for m in got])
        got = mlflow.search_logged_models(
            experiment_ids=[exp], filter_string="model_id IN ('%s')" % info.model_id, output_format="list"
        )
        check([m.model_id for m in got] == [info.model_id], "IN found %s" % [m.model_id for m in got])
        got = mlflow.search_logged_models(
            experiment_ids=[exp], filter_string="name NOT IN ('other') AND params.C IN ('1.0', '2.0')", output_format="list"
        )
        check([m.model_id for m in got] == [info.model_id], "NOT IN found %s" % [m.model_id for m in got])
        got = mlflow.search_logged_models(
            experiment_ids=[exp], order_by=[{"field_name": "creation_timestamp", "ascending": True}], output_format="list"
        )
        check(len(got) >= 2 and got[0].model_id == info.model_id, "order_by gave %s" % [m.model_id for m in got])
        df = mlflow.search_logged_models(experiment_ids=[exp], max_results=1)
        check(len(df) == 1 and "model_id" in df.columns, "pandas %s" % df)

    @step("(e) [3.x] search_logged_models(datasets=...): metrics on a dataset, order_by on it")
    def logged_model_search_datasets():
        from mlflow.entities import Metric

        exp = mlflow.get_experiment_by_name("smoke-" + suffix).experiment_id
        _, info = state["a"]
        now = int(time.time() * 1000)
        client.log_batch(state["run_a"], metrics=[
            Metric("eval_acc", 0.75, now, 0, model_id=info.model_id, dataset_name="smoke-eval", dataset_digest="d1"),
        ])
        ids = lambda models: [mm.model_id for mm in models]  # noqa: E731
        got = mlflow.search_logged_models(
            experiment_ids=[exp], filter_string="metrics.eval_acc > 0.5",
            datasets=[{"dataset_name": "smoke-eval"}], output_format="list",
        )
        check(ids(got) == [info.model_id], "datasets (name) found %s" % ids(got))
        got = client.search_logged_models(
            [exp], filter_string="metrics.eval_acc > 0.5", datasets=[{"dataset_name": "smoke-eval", "dataset_digest": "other"}]
        )
        check(ids(got) == [], "datasets (another digest) found %s" % ids(got))
        got = client.search_logged_models(
            [exp], datasets=[{"dataset_name": "smoke-eval", "dataset_digest": "d1"}],
            order_by=[{"field_name": "metrics.eval_acc", "ascending": False, "dataset_name": "smoke-eval"}],
        )
        check(ids(got) == [info.model_id], "datasets alone found %s" % ids(got))
        check({mm.key for mm in got[0].metrics} >= {"acc", "eval_acc"}, "metrics %s" % got[0].metrics)

    @step("(e) [3.x] pyfunc log_model(name=, registered_model_name=), load models:/m-<id> and @alias")
    def logged_model_pyfunc():
        name = "smoke-e-" + suffix
        with mlflow.start_run():
            info = mlflow.pyfunc.log_model(
                name="adder", python_model=AddOne(), registered_model_name=name,
                input_example={"x": [1]}, pip_requirements=[],
            )
        check(info.model_uri == "models:/%s" % info.model_id, "model_uri %s" % info.model_uri)
        predicts_plus_one(mlflow.pyfunc.load_model("models:/%s" % info.model_id))
        client.set_registered_model_alias(name, "prod", "1")
        predicts_plus_one(mlflow.pyfunc.load_model("models:/%s@prod" % name))
        predicts_plus_one(mlflow.pyfunc.load_model(info.model_uri))
        same_predictions(mlflow.sklearn.load_model("models:/%s" % state["a"][1].model_id), X, m)
        state["e"] = (name, info)

    @step("(e) [3.x] register_model('models:/m-<id>'), tags, params, model metric")
    def logged_model_register():
        name, info = state["e"]
        mv = mlflow.register_model(info.model_uri, name)
        check(mv.version == "2" and mv.model_id in (None, info.model_id), "version %s model_id %s" % (mv.version, mv.model_id))
        check(mv.source == info.model_uri, "source %s" % mv.source)
        mlflow.set_logged_model_tags(info.model_id, {"stage": "smoke"})
        mlflow.log_model_params({"k": "v"}, model_id=info.model_id)
        with mlflow.start_run(run_id=info.run_id):
            mlflow.log_metric("score", 0.5, model_id=info.model_id)
        lm = mlflow.get_logged_model(info.model_id)
        check(lm.tags.get("stage") == "smoke", "tags %s" % lm.tags)
        check(lm.params.get("k") == "v", "params %s" % lm.params)
        check({mm.key: mm.value for mm in lm.metrics}.get("score") == 0.5, "metrics %s" % lm.metrics)
        mlflow.delete_logged_model_tag(info.model_id, "stage")
        check("stage" not in mlflow.get_logged_model(info.model_id).tags, "tag not deleted")
        versions = client.search_model_versions("name = '%s'" % name)
        check(sorted(v.version for v in versions) == ["1", "2"], "versions %s" % [v.version for v in versions])

    @step("(e) [3.x] external model, set_active_model, finalize, delete")
    def logged_model_lifecycle():
        ext = mlflow.create_external_model(name="ext-" + suffix, params={"p": "1"}, model_type="agent")
        check(str(ext.status) in ("READY", "LoggedModelStatus.READY"), "external status %s" % ext.status)
        active = mlflow.set_active_model(name="ext-" + suffix)
        check(active.model_id == ext.model_id, "active %s, want %s" % (active.model_id, ext.model_id))
        pending = mlflow.initialize_logged_model(name="pending-" + suffix)
        check(str(pending.status) in ("PENDING", "LoggedModelStatus.PENDING"), "status %s" % pending.status)
        done = mlflow.finalize_logged_model(pending.model_id, "READY")
        check(str(done.status) in ("READY", "LoggedModelStatus.READY"), "finalized %s" % done.status)
        check(mlflow.last_logged_model().model_id == pending.model_id, "last_logged_model")
        client.delete_logged_model(pending.model_id)
        expect_gone(lambda: client.get_logged_model(pending.model_id), "deleted logged model")

    @step("(f) [3.x] prompts: register two versions, load, alias, search")
    def prompts():
        genai = getattr(mlflow, "genai", None)
        register = getattr(genai, "register_prompt", None) or mlflow.register_prompt
        load = getattr(genai, "load_prompt", None) or mlflow.load_prompt
        set_alias = getattr(genai, "set_prompt_alias", None) or mlflow.set_prompt_alias
        name = "smoke-prompt-" + suffix
        p1 = register(name=name, template="Hello {{who}}", commit_message="first")
        p2 = register(name=name, template="Hi {{who}}!")
        check((str(p1.version), str(p2.version)) == ("1", "2"), "versions %s %s" % (p1.version, p2.version))
        got = load("prompts:/%s/1" % name).format(who="x")
        check(got == "Hello x", "prompt 1 formats to %r" % got)
        set_alias(name=name, alias="prod", version=2)
        got = load("prompts:/%s@prod" % name).template
        check(got == "Hi {{who}}!", "prompt @prod is %r" % got)
        search = getattr(genai, "search_prompts", None)
        if search is not None:
            found = [q.name for q in search(filter_string="name = '%s'" % name)]
            check(found == [name], "search_prompts found %s" % found)
        found = [r.name for r in client.search_registered_models(filter_string="name = '%s'" % name)]
        check(found == [], "search_registered_models shows the prompt: %s" % found)

    @step("(g) [3.x] webhooks: create, get, list, update, delete")
    def webhooks():
        name = "smoke-hook-" + suffix
        hook = client.create_webhook(
            name=name, url="https://hooks.example.com/mlflow", events=["model_version.created"],
            description="smoke", secret="s3cret",
        )
        check(client.get_webhook(hook.webhook_id).name == name, "get_webhook")
        check(hook.webhook_id in [h.webhook_id for h in client.list_webhooks()], "list_webhooks")
        upd = client.update_webhook(hook.webhook_id, status="DISABLED")
        check(str(upd.status).endswith("DISABLED"), "status %s" % upd.status)
        client.delete_webhook(hook.webhook_id)
        expect_gone(lambda: client.get_webhook(hook.webhook_id), "deleted webhook")

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
    if major >= 3:
        if state.get("a"):
            logged_model_read()
            logged_model_search()
            logged_model_search_datasets()
        logged_model_pyfunc()
        if state.get("e"):
            logged_model_register()
        logged_model_lifecycle()
        prompts()
        if hasattr(client, "create_webhook"):
            webhooks()
    failed = [r for r in RESULTS if not r[1]]
    print("%d passed, %d failed" % (len(RESULTS) - len(failed), len(failed)))
    sys.exit(len(failed))


if __name__ == "__main__":
    main()
