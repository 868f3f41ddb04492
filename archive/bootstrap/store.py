"""Reaching the object store: a configured S3 endpoint, or the embedded SeaweedFS this data dir
runs (started here, or attached to when another archive process of the same data dir runs it)."""

from __future__ import annotations

import contextlib
import json
import os
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from archive.config import Config
from archive.errors import StorageError
from archive.storage.s3 import S3Store
from archive.storage.seaweed import EmbeddedSeaweed

__all__ = ["StoreEndpoint", "attach_running", "embedded_endpoint", "find_store", "forget_running", "publish_running",
           "state_file"]


@dataclass(frozen=True)
class StoreEndpoint:
    """How to reach the object store; the retention key pair is the first one when not given (a
    configured ``s3`` endpoint has one identity; the embedded store has ``archive-retention``)."""

    endpoint: str
    access_key: str
    secret_key: str
    secure: bool
    region: str
    retention_access_key: str = ""
    retention_secret_key: str = ""

    def __repr__(self) -> str:
        return f"StoreEndpoint(endpoint={self.endpoint!r}, access_key='***', secret_key='***')"

    def open(self, *, retention: bool = False) -> S3Store:
        """A client with the service (or, with ``retention``, the retention) identity. Raises StorageError."""
        ak, sk = self.access_key, self.secret_key
        if retention and self.retention_access_key:
            ak, sk = self.retention_access_key, self.retention_secret_key
        return S3Store(endpoint=self.endpoint, access_key=ak, secret_key=sk, secure=self.secure,
                       region=self.region or None)  # fmt: skip


def embedded_endpoint(weed: EmbeddedSeaweed) -> StoreEndpoint:
    """The endpoint of a running embedded store with its two service identities."""
    ids = weed.identities
    return StoreEndpoint(weed.endpoint, ids.ingest.access_key, ids.ingest.secret_key, False, "",
                         ids.retention.access_key, ids.retention.secret_key)  # fmt: skip


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def state_file(cfg: Config) -> Path:
    """Where the process running the embedded store says so (pid, endpoint)."""
    return cfg.data_dir / "store" / "running.json"


def attach_running(cfg: Config) -> StoreEndpoint | None:
    """The embedded store another archive process runs on the same data dir, if it answers."""
    try:
        state = json.loads(state_file(cfg).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(state, dict) or not _pid_alive(int(state.get("pid", 0))):
        return None
    ids = EmbeddedSeaweed.read_identities(cfg.data_dir / "store")
    ep = StoreEndpoint(str(state["endpoint"]), ids.ingest.access_key, ids.ingest.secret_key, False, "",
                       ids.retention.access_key, ids.retention.secret_key)  # fmt: skip
    try:
        ep.open().ping()
    except StorageError:
        return None
    return ep


def publish_running(cfg: Config, weed: EmbeddedSeaweed) -> None:
    """Tell other processes of this data dir that ``weed`` serves it."""
    state_file(cfg).write_text(json.dumps({"pid": weed.pid, "endpoint": weed.endpoint}), encoding="utf-8")


def forget_running(cfg: Config) -> None:
    """Remove the note written by :func:`publish_running`."""
    with contextlib.suppress(OSError):
        state_file(cfg).unlink()


def find_store(cfg: Config, stack: ExitStack) -> tuple[StoreEndpoint, EmbeddedSeaweed | None]:
    """The configured endpoint; else the embedded store another process of this data dir runs;
    else the embedded store started here (its stop goes on ``stack``; returned as the second
    value). Its buckets are made in a one-time Admin session: the service identities have no
    Admin. Raises ToolError if it cannot start, StorageError if an endpoint is wrong."""
    s = cfg.storage
    if s.mode == "s3":
        return StoreEndpoint(s.endpoint, s.access_key, s.secret_key, s.secure, s.region), None
    attached = attach_running(cfg)
    if attached is not None:
        return attached, None
    weed = EmbeddedSeaweed(cfg.data_dir / "store", buckets=(s.media_bucket, s.log_bucket))
    weed.start()
    stack.callback(forget_running, cfg)
    stack.callback(weed.stop)
    publish_running(cfg, weed)
    return embedded_endpoint(weed), weed
