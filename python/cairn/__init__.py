"""A small Python client for the Cairn model registry (standard library only).

    import cairn

    c = cairn.Client("http://127.0.0.1:8080")          # or CAIRN_URL / CAIRN_TOKEN
    v = c.push("churn", ["./model"], metrics={"auc": 0.91}, aliases=["staging"])
    c.pull("churn@staging", "./deploy")                # every file verified by digest
    try:
        c.set_alias("churn", "production", v["version"]["version"])
    except cairn.PendingApprovalError as e:           # a protected alias
        print("approval request", e.approval_request_id)
    # another identity, an approver: c2.approve(request_id, comment="…")
    c.record_signal("churn@production", "drift", 0.31, detail="PSI on tenure")
    for ev in c.follow_events(types=["version.flagged"]):
        ...

It speaks Cairn's native REST API (/api/v1, see docs/api.md). Errors come
back as CairnError subclasses named after the API's error codes.
"""

from ._client import (
    Client,
    VERSION_FILE,
    CairnError,
    InvalidError,
    NotFoundError,
    ConflictError,
    UnauthenticatedError,
    PermissionDeniedError,
    FailedPreconditionError,
    TooLargeError,
    PendingApprovalError,
    DigestMismatchError,
    verify_webhook,
)

__all__ = [
    "Client",
    "VERSION_FILE",
    "CairnError",
    "InvalidError",
    "NotFoundError",
    "ConflictError",
    "UnauthenticatedError",
    "PermissionDeniedError",
    "FailedPreconditionError",
    "TooLargeError",
    "PendingApprovalError",
    "DigestMismatchError",
    "verify_webhook",
]
