"""The S3 identities of the embedded SeaweedFS: two service identities, never Admin, never bypass.

SeaweedFS honours a GOVERNANCE bypass header (``x-amz-bypass-governance-retention``) only for an
identity with ``Admin`` or ``BypassGovernanceRetention``; ``Write`` alone covers PUT and a plain
DELETE of a version (SeaweedFS has no separate delete right), which object lock refuses while a
retention or legal hold is in force. So the running store holds only:

* ``archive-ingest``: the recorder, the ingest, the evidence and audit logs, exports, health;
* ``archive-retention``: the retention and legal-hold jobs (deleting expired versions, holds).

Neither can create a bucket (SeaweedFS needs Admin for that) nor delete a locked version early.
Buckets are created in a one-time Admin session (:func:`admin_session_file`): its identity is
generated for that session only, written beside the service identities, and removed (its secret
forgotten) before the store is started for the service. A file written by earlier versions (one
identity ``archive`` with Admin) is rewritten without it at the next start: that key stops working.

The file (SeaweedFS's ``-s3.config`` format) is mode 0600 inside the store's 0700 directory.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from pathlib import Path

from archive.errors import ToolError
from archive.storage.seaweed_security import S3Credentials, write_private

__all__ = [
    "ADMIN_NAME",
    "BYPASS_ACTIONS",
    "INGEST_NAME",
    "RETENTION_NAME",
    "SERVICE_ACTIONS",
    "ServiceIdentities",
    "load_or_create_identities",
    "new_credentials",
    "write_identities",
]

INGEST_NAME = "archive-ingest"
RETENTION_NAME = "archive-retention"
ADMIN_NAME = "archive-admin-session"
BYPASS_ACTIONS = frozenset({"Admin", "BypassGovernanceRetention"})
"""Rights with which SeaweedFS honours a GOVERNANCE bypass: no service identity has one."""
SERVICE_ACTIONS = (
    "Read",
    "List",
    "Tagging",
    "Write",
    "GetObjectRetention",
    "PutObjectRetention",
    "GetObjectLegalHold",
    "PutObjectLegalHold",
    "GetBucketObjectLockConfiguration",
)
"""What both service identities may do (measured on SeaweedFS 4.x: puts with a retention, extending
a retention, setting and releasing a legal hold, reading the bucket's lock configuration)."""
_ADMIN_ACTIONS = ("Admin", *SERVICE_ACTIONS)


@dataclass(frozen=True)
class ServiceIdentities:
    """The key pairs of the two service identities."""

    ingest: S3Credentials
    retention: S3Credentials


def new_credentials() -> S3Credentials:
    """A fresh random key pair."""
    return S3Credentials("AK" + secrets.token_hex(9).upper(), secrets.token_urlsafe(30))


def _entry(name: str, creds: S3Credentials, actions: tuple[str, ...]) -> dict[str, object]:
    return {"name": name, "credentials": [{"accessKey": creds.access_key, "secretKey": creds.secret_key}],
            "actions": list(actions)}  # fmt: skip


def write_identities(path: Path, ids: ServiceIdentities, *, admin: S3Credentials | None = None) -> None:
    """Write the identity file (mode 0600): the two service identities, plus ``admin`` (an Admin
    identity) when given. Raises :class:`ToolError` when it cannot be written."""
    entries = [_entry(INGEST_NAME, ids.ingest, SERVICE_ACTIONS), _entry(RETENTION_NAME, ids.retention, SERVICE_ACTIONS)]
    if admin is not None:
        entries.append(_entry(ADMIN_NAME, admin, _ADMIN_ACTIONS))
    try:
        write_private(path, json.dumps({"identities": entries}, indent=2).encode("utf-8"))
    except OSError as exc:
        raise ToolError(f"cannot write SeaweedFS identity file {path}: {exc}") from exc


def _creds(entry: object, path: Path) -> S3Credentials:
    try:
        cred = entry["credentials"][0]  # type: ignore[index]
        access, secret = cred["accessKey"], cred["secretKey"]
    except (KeyError, IndexError, TypeError) as exc:
        raise ToolError(f"SeaweedFS identity file {path} is malformed: {exc}") from exc
    if not isinstance(access, str) or not isinstance(secret, str) or not access or not secret:
        raise ToolError(f"SeaweedFS identity file {path} has an empty access key or secret")
    return S3Credentials(access, secret)


def read_identities(path: Path) -> tuple[ServiceIdentities | None, bool]:
    """(the service identities in ``path`` or None when it holds none, whether it holds an identity
    with a bypass right). Raises :class:`ToolError` when the file is unreadable or malformed."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        entries = doc["identities"]
        by_name = {str(e["name"]): e for e in entries}
        risky = any(BYPASS_ACTIONS & set(e.get("actions") or ()) for e in entries)
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ToolError(f"SeaweedFS identity file {path} is unreadable or malformed: {exc}") from exc
    if INGEST_NAME not in by_name or RETENTION_NAME not in by_name:
        return None, risky
    return ServiceIdentities(_creds(by_name[INGEST_NAME], path), _creds(by_name[RETENTION_NAME], path)), risky


def load_or_create_identities(path: Path) -> ServiceIdentities:
    """The service identities in ``path``; generated when missing, and the file rewritten with only
    them when it holds anything else (an earlier version's Admin identity, a leftover admin session).

    Raises :class:`ToolError` when the file is unreadable or malformed, or cannot be written.
    """
    ids: ServiceIdentities | None = None
    if path.exists():
        ids, risky = read_identities(path)
        if ids is not None and not risky:
            if path.stat().st_mode & 0o077:
                path.chmod(0o600)
            return ids
    ids = ids or ServiceIdentities(new_credentials(), new_credentials())
    write_identities(path, ids)
    return ids
