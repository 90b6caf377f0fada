"""The Cairn client: HTTP plumbing, errors, push, pull and the API calls."""

import base64
import concurrent.futures
import fnmatch
import hashlib
import hmac
import http.client
import json
import os
import secrets
import stat
import tempfile
import time
import urllib.parse

VERSION_FILE = ".cairn-version.json"
"""The file pull writes the version record to, in the destination directory."""

_CHUNK = 1 << 20
_DEFAULT_URL = "http://127.0.0.1:8080"


# ---------------------------------------------------------------- errors


class CairnError(Exception):
    """An error answered by the server (code, message, HTTP status and the
    request id to quote in a bug report), or raised by the client."""

    code = "internal"

    def __init__(self, message, code=None, status=None, request_id=None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.status = status
        self.request_id = request_id

    def __str__(self):
        s = self.message
        if self.request_id:
            s += " (request %s)" % self.request_id
        return s


class InvalidError(CairnError):
    code = "invalid"


class NotFoundError(CairnError):
    code = "not_found"


class ConflictError(CairnError):
    code = "conflict"


class UnauthenticatedError(CairnError):
    code = "unauthenticated"


class PermissionDeniedError(CairnError):
    code = "permission_denied"


class FailedPreconditionError(CairnError):
    code = "failed_precondition"


class TooLargeError(CairnError):
    code = "too_large"


class PendingApprovalError(CairnError):
    """The change needs approval: a request was opened (or one for the same
    move was already open) and nothing moved yet; the move applies itself
    once approvers approve it.

    approval_request_id is the request's id (the problem document's
    approval_request member); approval_request is the request itself
    ({"id", "model", "version", "alias", "status", "required",
    "approvals", "expires_at", …}, as get_approval returns it) where the
    client fetched it (set_alias does), else None."""

    code = "pending_approval"

    def __init__(self, message, code=None, status=None, request_id=None, approval_request_id=None,
                 approval_request=None):
        super().__init__(message, code=code, status=status, request_id=request_id)
        self.approval_request_id = approval_request_id
        self.approval_request = approval_request


class DigestMismatchError(CairnError):
    """Downloaded bytes did not match the manifest: nothing was written."""

    code = "invalid"


_BY_CODE = {
    cls.code: cls
    for cls in (
        InvalidError,
        NotFoundError,
        ConflictError,
        UnauthenticatedError,
        PermissionDeniedError,
        FailedPreconditionError,
        TooLargeError,
        PendingApprovalError,
    )
}

_STATUS_CODE = {400: "invalid", 401: "unauthenticated", 403: "permission_denied", 404: "not_found",
                409: "conflict", 412: "failed_precondition", 413: "too_large"}


def _error_from(status, body, request_id=None):
    code, message, approval = None, None, None
    try:
        doc = json.loads(body.decode("utf-8", "replace"))
        code = doc.get("code")
        message = doc.get("detail") or doc.get("title")
        request_id = doc.get("request_id") or request_id
        approval = doc.get("approval_request")
    except (ValueError, AttributeError):
        pass
    code = code or _STATUS_CODE.get(status, "internal")
    message = message or "HTTP %d: %s" % (status, body[:200].decode("utf-8", "replace"))
    if code == PendingApprovalError.code:
        return PendingApprovalError(message, code=code, status=status, request_id=request_id,
                                    approval_request_id=approval)
    return _BY_CODE.get(code, CairnError)(message, code=code, status=status, request_id=request_id)


# ---------------------------------------------------------------- helpers


def _sha256_file(path, offset=0, length=None):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        f.seek(offset)
        left = length
        while left is None or left > 0:
            b = f.read(_CHUNK if left is None else min(_CHUNK, left))
            if not b:
                break
            h.update(b)
            if left is not None:
                left -= len(b)
    return "sha256:" + h.hexdigest()


class _Section:
    """A read-only window [offset, offset+length) of a file, for a part."""

    def __init__(self, f, offset, length):
        self._f, self._left = f, length
        f.seek(offset)

    def read(self, n=-1):
        if self._left <= 0:
            return b""
        n = self._left if n is None or n < 0 else min(n, self._left)
        b = self._f.read(n)
        self._left -= len(b)
        return b


def _match(pattern, path):
    """Go's path.Match over '/'-separated segments, also selecting what is
    under a directory the pattern matches (as cairn pull --include does)."""
    pp, sp = pattern.split("/"), path.split("/")
    if len(pp) > len(sp):
        return False
    return all(fnmatch.fnmatchcase(s, p) for p, s in zip(pp, sp))


def _check_manifest_path(p):
    if (not p or p.startswith("/") or "\\" in p or "\x00" in p
            or any(seg in ("", ".", "..") for seg in p.split("/"))):
        raise InvalidError("unsafe path in manifest: %r" % p)


def _collect(paths):
    """[(source path, manifest path, size)] for files and directories."""
    out, seen = [], {}
    for arg in paths:
        arg = os.fspath(arg)
        st = os.stat(arg)
        if stat.S_ISDIR(st.st_mode):
            for root, dirs, files in os.walk(arg, followlinks=False):
                for d in dirs:
                    if os.path.islink(os.path.join(root, d)):
                        raise InvalidError("%s is a symbolic link to a directory; push its target instead"
                                           % os.path.join(root, d))
                dirs.sort()
                for name in sorted(files):
                    src = os.path.join(root, name)
                    fst = os.stat(src)
                    if not stat.S_ISREG(fst.st_mode):
                        raise InvalidError("%s is not a regular file" % src)
                    rel = os.path.relpath(src, arg).replace(os.sep, "/")
                    out.append((src, rel, fst.st_size))
        elif stat.S_ISREG(st.st_mode):
            out.append((arg, os.path.basename(arg), st.st_size))
        else:
            raise InvalidError("%s is not a regular file or directory" % arg)
    for src, rel, _ in out:
        if rel in seen:
            raise InvalidError("two files would be pushed as %s: %s and %s" % (rel, seen[rel], src))
        seen[rel] = src
    return out


def verify_webhook(secret, headers, body, tolerance=300, now=None):
    """Raise ValueError unless body (bytes) was signed with secret (whsec_…)
    under the Standard Webhooks scheme Cairn uses, and is fresh."""
    key = base64.b64decode(secret[len("whsec_"):] if secret.startswith("whsec_") else secret)
    get = headers.get
    msg_id, ts = get("webhook-id"), get("webhook-timestamp")
    if not msg_id or not ts:
        raise ValueError("missing webhook-id or webhook-timestamp")
    if abs((time.time() if now is None else now) - int(ts)) > tolerance:
        raise ValueError("webhook-timestamp too far from now")
    want = hmac.new(key, msg_id.encode() + b"." + ts.encode() + b"." + body, hashlib.sha256).digest()
    for sig in (get("webhook-signature") or "").split():
        version, _, b64 = sig.partition(",")
        if version == "v1":
            try:
                if hmac.compare_digest(base64.b64decode(b64), want):
                    return
            except ValueError:
                continue
    raise ValueError("no valid signature")


# ---------------------------------------------------------------- client


class Client:
    """Talks to one Cairn server. Safe to share between threads.

    url defaults to $CAIRN_URL or http://127.0.0.1:8080, token to
    $CAIRN_TOKEN (sent as a bearer token), user to $CAIRN_USER (the name
    recorded while the server runs without authentication).
    """

    def __init__(self, url=None, token=None, user=None, timeout=60.0, retries=2):
        url = url or os.environ.get("CAIRN_URL") or _DEFAULT_URL
        u = urllib.parse.urlsplit(url)
        if u.scheme not in ("http", "https") or not u.hostname:
            raise InvalidError("invalid server URL %r: want http://host:port" % url)
        self._https = u.scheme == "https"
        self._host = u.hostname
        self._port = u.port
        self._prefix = u.path.rstrip("/")
        self.url = url.rstrip("/")
        self.token = token if token is not None else os.environ.get("CAIRN_TOKEN")
        self.user = user if user is not None else os.environ.get("CAIRN_USER")
        self.timeout = timeout
        self.retries = retries

    # -- transport

    def _conn(self):
        cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
        return cls(self._host, self._port, timeout=self.timeout)

    def _path(self, *segments):
        return self._prefix + "/api/v1/" + "/".join(urllib.parse.quote(str(s), safe="") for s in segments)

    def _headers(self, extra=None):
        h = {"User-Agent": "cairn-python/1", "Accept": "application/json"}
        if self.token:
            h["Authorization"] = "Bearer " + self.token
        if self.user:
            h["X-Cairn-User"] = self.user
        if extra:
            h.update(extra)
        return h

    def _open(self, method, path, query=None, body=None, headers=None, ok=(200, 201, 204), retry=True,
              timeout=None):
        """Send a request and return the open response (caller reads and
        closes it). body is bytes, a file-like object (never retried) or None."""
        if query:
            items = []
            for k, v in query.items():
                if v is None:
                    continue
                for x in (v if isinstance(v, (list, tuple)) else [v]):
                    items.append((k, str(x).lower() if isinstance(x, bool) else str(x)))
            if items:
                path += "?" + urllib.parse.urlencode(items)
        attempts = 1 + (self.retries if retry and (body is None or isinstance(body, bytes)) else 0)
        for attempt in range(attempts):
            conn = self._conn()
            if timeout is not None:
                conn.timeout = timeout
            try:
                conn.request(method, path, body=body, headers=self._headers(headers))
                resp = conn.getresponse()
            except (OSError, http.client.HTTPException) as e:
                conn.close()
                if attempt + 1 < attempts:
                    time.sleep(0.2 * 2 ** attempt)
                    continue
                raise CairnError("%s %s: %s" % (method, path, e)) from e
            if resp.status in ok:
                resp._cairn_conn = conn  # closed with the response
                return resp
            data = resp.read()
            conn.close()
            if resp.status in (502, 503, 504) and attempt + 1 < attempts:
                time.sleep(0.2 * 2 ** attempt)
                continue
            raise _error_from(resp.status, data, resp.getheader("X-Request-Id"))

    def _call(self, method, path, query=None, body=None, ok=(200, 201, 204), timeout=None):
        headers = {}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if method == "POST":
            # The server replays rather than repeats a retried POST.
            headers["Idempotency-Key"] = secrets.token_hex(16)
        resp = self._open(method, path, query, data, headers, ok=ok, timeout=timeout)
        try:
            raw = resp.read()
        finally:
            resp.close()
            resp._cairn_conn.close()
        if resp.status == 204 or not raw:
            return None
        return json.loads(raw)

    # -- versions and references

    def resolve(self, ref):
        """The version a reference names: NAME, NAME@latest, NAME@v3, NAME@alias."""
        return self._call("GET", self._path("resolve", ref))

    def get_version(self, model, number):
        return self._call("GET", self._path("models", model, "versions", int(number)))

    def list_versions(self, model=None, filter=None, order_by=None, page_size=None):
        """Every version of a model (or of every model), newest first,
        following pages; filter uses the registry's filter grammar."""
        path = self._path("models", model, "versions") if model else self._path("versions")
        token = None
        while True:
            page = self._call("GET", path, {"filter": filter, "order_by": order_by, "page_size": page_size,
                                            "page_token": token})
            yield from page["items"]
            token = page.get("next_page_token")
            if not token:
                return

    def update_version(self, model, number, tags=None, delete_tags=None, description=None):
        body = {}
        if tags:
            body["set_tags"] = tags
        if delete_tags:
            body["delete_tags"] = list(delete_tags)
        if description is not None:
            body["description"] = description
        return self._call("PATCH", self._path("models", model, "versions", int(number)), body=body)

    # -- aliases

    def get_alias(self, model, alias):
        return self._call("GET", self._path("models", model, "aliases", alias))

    def set_alias(self, model, alias, version, if_current=None):
        """Point model@alias at a version (a number, or "v3") and return the
        alias. if_current makes it a compare-and-swap (0: only if the alias
        does not exist; ConflictError when lost).

        When a policy protects the alias with a gate that needs approvals,
        nothing moves: an approval request is opened (asking again finds
        the same open request) and PendingApprovalError is raised, with
        approval_request_id and approval_request (the request, fetched with
        get_approval; None only if that read failed). The move applies
        itself once approvers approve it (see approve). A gate whose
        conditions fail raises FailedPreconditionError instead, and no
        request is opened."""
        if isinstance(version, str):
            version = int(version.lstrip("vV"))
        body = {"version": int(version)}
        if if_current is not None:
            body["if_current"] = int(if_current)
        try:
            return self._call("PUT", self._path("models", model, "aliases", alias), body=body)
        except PendingApprovalError as e:
            if e.approval_request_id and e.approval_request is None:
                try:
                    e.approval_request = self.get_approval(e.approval_request_id)
                except CairnError:
                    pass  # the id is still there; the caller may read it later
            raise

    def delete_alias(self, model, alias, if_current=None):
        self._call("DELETE", self._path("models", model, "aliases", alias), {"if_current": if_current})

    def alias_history(self, model, alias):
        token = None
        while True:
            page = self._call("GET", self._path("models", model, "aliases", alias, "history"),
                              {"page_token": token})
            yield from page["items"]
            token = page.get("next_page_token")
            if not token:
                return

    # -- approvals

    def list_approvals(self, status=None, model=None, version=None, page_size=None):
        """Approval requests on the models the caller may read, newest
        first, following pages. status is one of "pending", "applied",
        "rejected", "expired", "invalidated" (None: every status); model and
        version narrow the list."""
        token = None
        while True:
            page = self._call("GET", self._path("approvals"),
                              {"status": status, "model": model, "version": version, "page_size": page_size,
                               "page_token": token})
            yield from page["items"]
            token = page.get("next_page_token")
            if not token:
                return

    def get_approval(self, request_id):
        """One approval request with its approvals and rejection
        (NotFoundError if there is none)."""
        return self._call("GET", self._path("approvals", request_id))

    def approve(self, request_id, comment=None):
        """Approve a pending request and return it. When it has as many
        approvals as its gate asks for it applies itself in the same call:
        its status is then "applied" and the alias has moved. Approvers
        other than the requester only (PermissionDeniedError); a request
        that is no longer pending, has expired or whose evidence changed
        raises FailedPreconditionError."""
        return self._decide(request_id, "approve", comment)

    def reject(self, request_id, comment=None):
        """Reject a pending request and return it (status "rejected"); one
        rejection ends a request. Same rules as approve."""
        return self._decide(request_id, "reject", comment)

    def _decide(self, request_id, verb, comment):
        body = {} if comment is None else {"comment": comment}
        return self._call("POST", self._path("approvals", request_id, verb), body=body)

    # -- lineage, evaluations, signals

    def lineage(self, ref, direction="up", depth=None):
        """The lineage graph around a version ({root, nodes, edges})."""
        return self._call("GET", self._path("lineage", ref), {"direction": direction, "depth": depth})

    def evaluations(self, ref):
        """The evaluation versions that evaluate the version ref names."""
        return self._call("GET", self._path("versions", ref, "evaluations"))["items"]

    def record_signal(self, ref, kind, value, detail=None):
        """Record a monitoring signal (drift, performance, error_rate, …).
        The answer's "flagged" says whether it crossed its policy threshold
        and flagged the version."""
        body = {"kind": kind, "value": float(value)}
        if detail:
            body["detail"] = detail
        return self._call("POST", self._path("versions", ref, "signals"), body=body)

    def signals(self, ref, kind=None):
        """The signals recorded against a version, newest first."""
        token = None
        while True:
            page = self._call("GET", self._path("versions", ref, "signals"), {"kind": kind, "page_token": token})
            yield from page["items"]
            token = page.get("next_page_token")
            if not token:
                return

    def unflag(self, ref):
        return self._call("POST", self._path("versions", ref, "unflag"), body={})

    # -- events

    def events(self, after=0, limit=None, wait=None, types=None, model=None, alias=None):
        """One read of the event feed: {"items": [...], "next_after": N}.
        wait (seconds, at most 60) long-polls until an event arrives."""
        timeout = None if wait is None else max(self.timeout, wait + 10)
        return self._call("GET", self._path("events"),
                          {"after": after, "limit": limit, "wait": wait, "type": types, "model": model,
                           "alias": alias}, timeout=timeout)

    def follow_events(self, after=0, types=None, model=None, alias=None, wait=30):
        """Yield events as they commit, forever (break out of the loop to stop)."""
        while True:
            page = self.events(after=after, wait=wait, types=types, model=model, alias=alias)
            yield from page["items"]
            after = page["next_after"]

    # -- push

    def push(self, model, paths, *, kind=None, metrics=None, params=None, tags=None, aliases=None,
             description=None, run_id=None, source=None, code_version=None, training_data=None,
             validation_data=None, signature=None, dependencies=None, framework=None, trained_by=None,
             derived_from=None, inputs=None, evaluates=None, retrained_from=None, parallel=4,
             multipart_threshold=64 << 20, part_size=16 << 20):
        """Register a version of model from files and directories and return
        {"version": record, "existing": bool, "uploaded": n, "skipped": n}.

        Files are hashed locally; the version is created from the manifest;
        only the blobs the server lacks are uploaded, parallel at a time;
        files of multipart_threshold bytes or more go in parts through a
        resumable upload session (a push run again after a failure sends
        only the missing parts); then the version is finalized with aliases.
        Pushing the same content and fields again registers nothing and
        returns the existing version."""
        if parallel < 1:
            raise InvalidError("parallel must be at least 1")
        files = _collect(paths)
        with concurrent.futures.ThreadPoolExecutor(parallel) as ex:
            digests = list(ex.map(lambda f: _sha256_file(f[0]), files))
        spec = {"files": [{"path": rel, "size": size, "digest": d} for (_, rel, size), d in zip(files, digests)]}
        for key, val in (("kind", kind), ("metrics", metrics), ("params", params), ("tags", tags),
                         ("description", description), ("run_id", run_id), ("source", source),
                         ("source_code_version", code_version), ("training_dataset", training_data),
                         ("validation_dataset", validation_data), ("signature", signature),
                         ("dependencies", dependencies), ("framework", framework), ("trained_by", trained_by),
                         ("derived_from", derived_from), ("inputs", inputs), ("evaluates", evaluates),
                         ("retrained_from", retrained_from)):
            if val is not None:
                spec[key] = list(val) if key in ("derived_from", "inputs", "evaluates") else val
        created = self._call("POST", self._path("models", model, "versions"), body=spec)
        v = created["version"]
        missing = set(created.get("missing") or [])
        todo, seen = [], set()
        for (src, _, size), d in zip(files, digests):
            if d in missing and d not in seen:
                seen.add(d)
                todo.append((src, size, d))
        sessions = {}  # digest → upload session id
        with concurrent.futures.ThreadPoolExecutor(parallel) as ex:
            futures = []
            for src, size, d in todo:
                if size >= multipart_threshold:
                    sessions[d], parts = self._multipart(ex, src, size, d, part_size)
                    futures.extend(parts)
                else:
                    futures.append(ex.submit(self._put_blob, src, size, d))
            for fut in futures:
                fut.result()
        # A session's blob is joined (and verified) once all its parts are in.
        for upload_id in sessions.values():
            self._call("POST", self._path("uploads", upload_id, "complete"), body={})
        v = self._call("POST", self._path("models", model, "versions", v["version"], "finalize"),
                       body={"aliases": list(aliases or [])})
        return {"version": v, "existing": bool(created.get("existing")), "uploaded": len(todo),
                "skipped": len(set(digests)) - len(todo)}

    def _put_blob(self, src, size, digest):
        for attempt in range(self.retries + 1):
            with open(src, "rb") as f:
                try:
                    resp = self._open("PUT", self._path("blobs", digest), body=f,
                                      headers={"Content-Length": str(size),
                                               "Content-Type": "application/octet-stream"})
                    resp.read()
                    resp.close()
                    resp._cairn_conn.close()
                    return
                except CairnError as e:
                    if e.status is not None and e.status < 500 or attempt == self.retries:
                        raise
            time.sleep(0.2 * 2 ** attempt)

    def _multipart(self, ex, src, size, digest, part_size):
        """Open (or resume) an upload session and submit its missing parts;
        return the session id and the parts' futures."""
        up = self._call("POST", self._path("uploads"), body={"digest": digest, "size": size})
        if up.get("parts"):
            # A resumed session keeps the part size it was started with.
            first = min(up["parts"], key=lambda p: p["number"])
            if first["number"] == 1 and first["size"] < size:
                part_size = first["size"]
        have = {p["number"]: p for p in up.get("parts") or []}
        futures = []
        n, off = 1, 0
        while off < size:
            length = min(part_size, size - off)
            prev = have.get(n)
            if not (prev and prev["size"] == length and prev["digest"] == _sha256_file(src, off, length)):
                futures.append(ex.submit(self._put_part, src, up["id"], n, off, length))
            n, off = n + 1, off + length
        return up["id"], futures

    def _put_part(self, src, upload_id, n, off, length):
        for attempt in range(self.retries + 1):
            with open(src, "rb") as f:
                try:
                    resp = self._open("PUT", self._path("uploads", upload_id, "parts", n), body=_Section(f, off, length),
                                      headers={"Content-Length": str(length),
                                               "Content-Type": "application/octet-stream"})
                    part = json.loads(resp.read())
                    resp.close()
                    resp._cairn_conn.close()
                    if part["size"] != length:
                        raise CairnError("part %d: the server received %d of %d bytes" % (n, part["size"], length))
                    return
                except CairnError as e:
                    if e.status is not None and e.status < 500 or attempt == self.retries:
                        raise
            time.sleep(0.2 * 2 ** attempt)

    # -- pull

    def pull(self, ref, dest, include=None, parallel=4):
        """Download the files of the version ref names into dest and write
        its record to dest/.cairn-version.json; return the record.

        include selects files by patterns over manifest paths ("*.json",
        "model-0000[1-2]*", "tokenizer"); a pattern also selects what is
        under a directory it matches. Every file streams through sha256
        into a temporary file and is renamed into place only if its size
        and digest match the manifest (DigestMismatchError otherwise);
        files already there with the right digest are not fetched again.
        Nothing is ever written outside dest."""
        v = self.resolve(ref)
        files = v["files"]
        for f in files:
            _check_manifest_path(f["path"])
        if include:
            chosen = [f for f in files if any(_match(p, f["path"]) for p in include)]
            for p in include:
                if not any(_match(p, f["path"]) for f in files):
                    raise InvalidError("--include %r selects no file of %s@v%d" % (p, v["model"], v["version"]))
            files = chosen
        dest = os.path.realpath(dest)
        os.makedirs(dest, exist_ok=True)
        with concurrent.futures.ThreadPoolExecutor(max(1, parallel)) as ex:
            for fut in [ex.submit(self._fetch, dest, f) for f in files]:
                fut.result()
        tmp = os.path.join(dest, VERSION_FILE + ".tmp")
        with open(tmp, "w") as out:
            json.dump(v, out, indent=2)
            out.write("\n")
        os.replace(tmp, os.path.join(dest, VERSION_FILE))
        return v

    def _fetch(self, dest, f):
        target = os.path.join(dest, *f["path"].split("/"))
        parent = os.path.dirname(target)
        # Refuse symbolic links on the way: a pull never writes outside dest.
        cur = dest
        for seg in os.path.relpath(parent, dest).split(os.sep):
            if seg == ".":
                continue
            cur = os.path.join(cur, seg)
            if os.path.islink(cur):
                raise InvalidError("%s is a symbolic link; refusing to write through it" % cur)
            if not os.path.isdir(cur):
                os.mkdir(cur)
        if os.path.islink(target):
            raise InvalidError("%s is a symbolic link; refusing to write through it" % target)
        if os.path.isfile(target) and os.path.getsize(target) == f["size"] and _sha256_file(target) == f["digest"]:
            return
        resp = self._open("GET", self._path("blobs", f["digest"]), headers={"Accept": "application/octet-stream"},
                          ok=(200,))
        fd, tmp = tempfile.mkstemp(prefix=".cairn-", dir=parent)
        try:
            h, n = hashlib.sha256(), 0
            with os.fdopen(fd, "wb") as out:
                while True:
                    b = resp.read(_CHUNK)
                    if not b:
                        break
                    h.update(b)
                    n += len(b)
                    out.write(b)
                out.flush()
                os.fsync(out.fileno())
            got = "sha256:" + h.hexdigest()
            if n != f["size"] or got != f["digest"]:
                raise DigestMismatchError("%s: received %d bytes with digest %s; the manifest says %d bytes, %s"
                                          % (f["path"], n, got, f["size"], f["digest"]))
            os.replace(tmp, target)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        finally:
            resp.close()
            resp._cairn_conn.close()
