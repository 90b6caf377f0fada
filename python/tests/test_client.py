"""Tests of the cairn Python client against a real `cairn serve`.

The server binary is $CAIRN_BIN (scripts/test.sh builds it); without it the
tests build cmd/cairn with `go build` once. Run with:

    python3 -m unittest discover -s python/tests -t python
"""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import cairn  # noqa: E402

_server = None


class Server:
    """A `cairn serve` on a free port of 127.0.0.1 with its data in a
    temporary directory; stopped (SIGTERM) by stop()."""

    def __init__(self, *args):
        self.dir = tempfile.mkdtemp(prefix="cairn-py-")
        binary = os.environ.get("CAIRN_BIN")
        if not binary:
            binary = os.path.join(self.dir, "cairn")
            root = os.path.dirname(os.path.dirname(HERE))
            subprocess.run(["go", "build", "-o", binary, "./cmd/cairn"], cwd=root, check=True)
        self.stderr = open(os.path.join(self.dir, "stderr"), "w+")
        self.proc = subprocess.Popen(
            [binary, "serve", "--addr", "127.0.0.1:0", "--data", os.path.join(self.dir, "data"),
             "--log-level", "warn", *args],
            stdout=subprocess.PIPE, stderr=self.stderr, text=True)
        # The server prints its URL on stdout once it listens: no polling.
        line = self.proc.stdout.readline().strip()
        if not line.startswith("http://127.0.0.1:"):
            self.stop()
            raise RuntimeError("cairn serve printed %r, not its URL" % line)
        self.url = line

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()
        self.stderr.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def setUpModule():
    global _server
    _server = Server()


def tearDownModule():
    _server.stop()


def write(root, rel, data):
    path = os.path.join(root, *rel.split("/"))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    return path


def digest(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


class ClientTest(unittest.TestCase):
    def setUp(self):
        self.c = cairn.Client(_server.url, user="py-test")
        self.tmp = tempfile.mkdtemp(prefix="cairn-py-test-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def model(self):
        """A model name unique to the test, so tests share one server."""
        return self.id().rsplit(".", 1)[-1].replace("_", "-")

    def test_push_pull_roundtrip(self):
        name = self.model()
        src = os.path.join(self.tmp, "model")
        files = {"model.pkl": b"weights" * 1000, "conf/config.json": b'{"depth": 6}', "requirements.txt": b"numpy\n"}
        for rel, data in files.items():
            write(src, rel, data)
        res = self.c.push(name, [src], metrics={"auc": 0.91}, params={"depth": "6"}, tags={"team": "fraud"},
                          aliases=["staging"], framework="sklearn", dependencies="requirements.txt")
        v = res["version"]
        self.assertFalse(res["existing"])
        self.assertEqual(res["uploaded"], 3)
        self.assertEqual((v["model"], v["version"], v["status"]), (name, 1, "ready"))
        self.assertEqual(v["aliases"], ["staging"])
        self.assertEqual(v["created_by"], "py-test")
        self.assertEqual({f["path"]: f["digest"] for f in v["files"]}, {k: digest(d) for k, d in files.items()})

        again = self.c.push(name, [src], metrics={"auc": 0.91}, params={"depth": "6"}, framework="sklearn",
                            dependencies="requirements.txt")
        self.assertTrue(again["existing"])
        self.assertEqual(again["uploaded"], 0)
        self.assertEqual(again["version"]["version"], 1)

        dest = os.path.join(self.tmp, "deploy")
        got = self.c.pull(name + "@staging", dest)
        self.assertEqual(got["version"], 1)
        for rel, data in files.items():
            with open(os.path.join(dest, *rel.split("/")), "rb") as f:
                self.assertEqual(f.read(), data)
        with open(os.path.join(dest, cairn.VERSION_FILE)) as f:
            self.assertEqual(json.load(f)["digest"], v["digest"])

        # A damaged local file is fetched again; a good one is kept.
        write(dest, "model.pkl", b"tampered")
        self.c.pull(name + "@v1", dest)
        with open(os.path.join(dest, "model.pkl"), "rb") as f:
            self.assertEqual(f.read(), files["model.pkl"])

    def test_pull_include_subset(self):
        name = self.model()
        src = os.path.join(self.tmp, "ckpt")
        for i in range(1, 6):
            write(src, "model-%05d-of-00005.safetensors" % i, b"shard %d" % i)
        write(src, "tokenizer/vocab.json", b"{}")
        self.c.push(name, [src])
        dest = os.path.join(self.tmp, "subset")
        self.c.pull(name, dest, include=["model-0000[1-2]*", "tokenizer"])
        got = sorted(os.path.relpath(os.path.join(r, f), dest).replace(os.sep, "/")
                     for r, _, fs in os.walk(dest) for f in fs)
        self.assertEqual(got, [cairn.VERSION_FILE, "model-00001-of-00005.safetensors",
                               "model-00002-of-00005.safetensors", "tokenizer/vocab.json"])
        with self.assertRaises(cairn.InvalidError):
            self.c.pull(name, dest, include=["nothing-*"])

    def test_pull_refuses_bad_bytes_and_paths(self):
        name = self.model()
        write(self.tmp, "m/model.bin", b"real bytes")
        v = self.c.push(name, [os.path.join(self.tmp, "m")])["version"]
        dest = os.path.join(self.tmp, "out")
        os.makedirs(dest)
        # Bytes that do not match the manifest entry are refused and
        # nothing is left behind (here the entry lies about the size).
        bad = dict(v["files"][0], size=len(b"real bytes") + 1)
        with self.assertRaises(cairn.DigestMismatchError):
            self.c._fetch(dest, bad)
        self.assertEqual(os.listdir(dest), [])
        for p in ("../escape", "/abs", "a//b", "a/./b", "a\\b"):
            with self.assertRaises(cairn.InvalidError, msg=p):
                cairn._client._check_manifest_path(p)

    def test_multipart_push_resumes(self):
        name = self.model()
        mib = 1 << 20
        big = os.urandom(11 * mib)  # three parts of 5, 5 and 1 MiB
        path = write(self.tmp, "big/weights.bin", big)
        # An interrupted earlier push left a session with part 1 uploaded.
        up = self.c._call("POST", self.c._path("uploads"), body={"digest": digest(big), "size": len(big)})
        self.c._put_part(path, up["id"], 1, 0, 5 * mib)
        sent = []
        real = self.c._put_part

        def spy(src, upload_id, n, off, length):
            sent.append(n)
            return real(src, upload_id, n, off, length)

        self.c._put_part = spy
        v = self.c.push(name, [os.path.dirname(path)], multipart_threshold=8 * mib, part_size=5 * mib, parallel=2)
        self.assertEqual(sorted(sent), [2, 3], "only the parts the session lacked are sent")
        self.assertEqual(v["version"]["files"][0]["digest"], digest(big))
        dest = os.path.join(self.tmp, "big-out")
        self.c.pull(name, dest)
        with open(os.path.join(dest, "weights.bin"), "rb") as f:
            self.assertEqual(hashlib.sha256(f.read()).hexdigest(), hashlib.sha256(big).hexdigest())

    def test_resolve_and_aliases(self):
        name = self.model()
        write(self.tmp, "a/m", b"1")
        write(self.tmp, "b/m", b"2")
        self.c.push(name, [os.path.join(self.tmp, "a")])
        self.c.push(name, [os.path.join(self.tmp, "b")])
        self.assertEqual(self.c.resolve(name)["version"], 2)
        self.assertEqual(self.c.resolve(name + "@v1")["version"], 1)
        a = self.c.set_alias(name, "champion", 1, if_current=0)
        self.assertEqual(a["version"], 1)
        self.assertEqual(self.c.resolve(name + "@champion")["version"], 1)
        with self.assertRaises(cairn.ConflictError):
            self.c.set_alias(name, "champion", 2, if_current=0)
        self.c.set_alias(name, "champion", "v2", if_current=1)
        self.assertEqual(self.c.get_alias(name, "champion")["version"], 2)
        moves = list(self.c.alias_history(name, "champion"))
        self.assertEqual([m.get("to_version") for m in moves], [2, 1])
        self.c.delete_alias(name, "champion")
        with self.assertRaises(cairn.NotFoundError) as cm:
            self.c.resolve(name + "@champion")
        self.assertEqual(cm.exception.code, "not_found")
        self.assertEqual(cm.exception.status, 404)
        self.assertTrue(cm.exception.request_id)
        with self.assertRaises(cairn.InvalidError):
            self.c.set_alias(name, "latest", 1)
        self.assertEqual([v["version"] for v in self.c.list_versions(name)], [2, 1])

    def test_approvals(self):
        name = self.model()
        for i in (1, 2, 3):
            write(self.tmp, "m%d/model.pkl" % i, b"weights %d" % i)
            self.c.push(name, [os.path.join(self.tmp, "m%d" % i)], metrics={"auc": 0.8 + i / 100})
        # A gate on production for this test's model only: one approval by
        # someone other than the requester, and an AUC condition.
        self.c._call("POST", self.c._path("policies"), body={
            "name": name, "scope": name,
            "protected_aliases": [{"alias": "production", "approvals": 1,
                                   "conditions": [{"name": "auc", "expr": "version.metrics.auc >= 0.82"}]}]})
        approver = cairn.Client(_server.url, user="py-approver")

        # A failing condition refuses the move outright: no request.
        with self.assertRaises(cairn.FailedPreconditionError) as cm:
            self.c.set_alias(name, "production", 1)
        self.assertIn("auc", str(cm.exception))
        self.assertEqual(list(self.c.list_approvals(model=name)), [])

        # A passing one opens a request: nothing moves, and the error
        # carries the request.
        with self.assertRaises(cairn.PendingApprovalError) as cm:
            self.c.set_alias(name, "production", 2)
        e = cm.exception
        self.assertEqual((e.code, e.status), ("pending_approval", 409))
        self.assertTrue(e.approval_request_id)
        r = e.approval_request
        self.assertEqual((r["id"], r["model"], r["alias"], r["version"], r["status"], r["required"],
                          r["requested_by"], r["approvals"]),
                         (e.approval_request_id, name, "production", 2, "pending", 1, "py-test", []))
        with self.assertRaises(cairn.NotFoundError):
            self.c.get_alias(name, "production")
        # Asking again finds the same open request.
        with self.assertRaises(cairn.PendingApprovalError) as again:
            self.c.set_alias(name, "production", "v2")
        self.assertEqual(again.exception.approval_request_id, r["id"])

        self.assertEqual([x["id"] for x in approver.list_approvals(status="pending", model=name)], [r["id"]])
        self.assertEqual(list(approver.list_approvals(status="applied", model=name)), [])
        self.assertEqual(approver.get_approval(r["id"])["version"], 2)
        with self.assertRaises(cairn.NotFoundError):
            approver.get_approval("no-such-request")

        # The requester cannot approve its own move.
        with self.assertRaises(cairn.PermissionDeniedError):
            self.c.approve(r["id"], comment="mine")
        done = approver.approve(r["id"], comment="reviewed the AUC")
        self.assertEqual(done["status"], "applied")
        self.assertEqual([(d["actor"], d["comment"]) for d in done["approvals"]], [("py-approver", "reviewed the AUC")])
        self.assertEqual(self.c.get_alias(name, "production")["version"], 2)
        self.assertEqual(self.c.get_version(name, 2)["approval_status"], "approved")
        with self.assertRaises(cairn.FailedPreconditionError):
            approver.approve(r["id"])

        # A rejection ends a request; the alias stays where it was.
        with self.assertRaises(cairn.PendingApprovalError) as cm:
            self.c.set_alias(name, "production", 3)
        rid = cm.exception.approval_request_id
        self.assertEqual(cm.exception.approval_request["from_version"], 2)
        rejected = approver.reject(rid, comment="no fairness report")
        self.assertEqual(rejected["status"], "rejected")
        self.assertEqual((rejected["rejection"]["actor"], rejected["rejection"]["comment"]),
                         ("py-approver", "no fairness report"))
        self.assertEqual(self.c.get_alias(name, "production")["version"], 2)
        self.assertEqual(self.c.get_version(name, 3)["approval_status"], "rejected")
        self.assertEqual([x["status"] for x in approver.list_approvals(model=name)], ["rejected", "applied"])
        self.assertEqual([x["id"] for x in approver.list_approvals(model=name, version=3)], [rid])
        with self.assertRaises(cairn.InvalidError):
            list(approver.list_approvals(status="sleeping"))

    def test_lineage_evaluations_signals(self):
        name = self.model()
        write(self.tmp, "d/part.parquet", b"rows")
        write(self.tmp, "m/model.pkl", b"w1")
        write(self.tmp, "r/report.html", b"<p>fair</p>")
        write(self.tmp, "m2/model.pkl", b"w2")
        self.c.push(name + "-data", [os.path.join(self.tmp, "d")], kind="dataset")
        self.c.push(name, [os.path.join(self.tmp, "m")], training_data=name + "-data@latest", aliases=["production"])
        g = self.c.lineage(name + "@production")
        self.assertEqual([(e["from"]["model"], e["type"]) for e in g["edges"]], [(name + "-data", "trained_on")])

        ev = self.c.push(name + "-eval", [os.path.join(self.tmp, "r")], kind="evaluation",
                         evaluates=[name + "@production"], metrics={"demographic_parity": 0.03})["version"]
        self.assertEqual(ev["evaluates"], [name + "@v1"])
        evals = self.c.evaluations(name + "@v1")
        self.assertEqual([e["model"] for e in evals], [name + "-eval"])

        s = self.c.record_signal(name + "@production", "drift", 0.31, detail="PSI on tenure")
        self.assertEqual((s["version"], s["kind"], s["value"]), (1, "drift", 0.31))
        self.c.record_signal(name + "@v1", "error_rate", 0.002)
        self.assertEqual([x["kind"] for x in self.c.signals(name + "@v1")], ["error_rate", "drift"])
        self.assertEqual([x["kind"] for x in self.c.signals(name + "@v1", kind="drift")], ["drift"])
        with self.assertRaises(cairn.InvalidError):
            self.c.record_signal(name + "@v1", "Not A Kind", 1)
        self.assertFalse(self.c.unflag(name + "@v1")["flagged"])

        v2 = self.c.push(name, [os.path.join(self.tmp, "m2")], retrained_from=name + "@production")["version"]
        self.assertEqual(v2["retrained_from"], name + "@v1")
        down = self.c.lineage(name + "@v1", direction="down", depth=1)
        self.assertIn(("retrained_from", 2), [(e["type"], e["to"].get("version")) for e in down["edges"]])

    def test_events(self):
        name = self.model()
        start = self.c.events(after=0, limit=1000)
        after = start["next_after"]
        while start["items"]:
            start = self.c.events(after=after, limit=1000)
            after = start["next_after"]
        write(self.tmp, "m/model.pkl", b"events")
        self.c.push(name, [os.path.join(self.tmp, "m")])
        page = self.c.events(after=after, model=name, types=["version.*"])
        self.assertEqual([e["type"] for e in page["items"]], ["version.created", "version.ready"])

        # follow_events long-polls: an event committed later is delivered.
        got = []

        def follow():
            for e in self.c.follow_events(after=page["next_after"], model=name, types=["alias.set"], wait=10):
                got.append(e)
                return

        t = threading.Thread(target=follow)
        t.start()
        self.c.set_alias(name, "canary", 1)
        t.join(30)
        self.assertFalse(t.is_alive())
        self.assertEqual([(e["type"], e["alias"]) for e in got], [("alias.set", "canary")])

    def test_errors(self):
        with self.assertRaises(cairn.NotFoundError):
            self.c.resolve("no-such-model")
        with self.assertRaises(cairn.InvalidError):
            self.c.resolve("bad@")
        with self.assertRaises(cairn.InvalidError):
            cairn.Client("ftp://example.com")
        dead = cairn.Client("http://127.0.0.1:1", retries=0, timeout=5)
        with self.assertRaises(cairn.CairnError):
            dead.resolve("x")

    def test_verify_webhook(self):
        # The Standard Webhooks specification's test vector.
        secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
        headers = {"webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek", "webhook-timestamp": "1614265330",
                   "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="}
        cairn.verify_webhook(secret, headers, b'{"test": 2432232314}', now=1614265330)
        with self.assertRaises(ValueError):
            cairn.verify_webhook(secret, headers, b'{"test": 2432232315}', now=1614265330)
        with self.assertRaises(ValueError):
            cairn.verify_webhook(secret, headers, b'{"test": 2432232314}', now=1614265330 + 3600)


if __name__ == "__main__":
    unittest.main()
