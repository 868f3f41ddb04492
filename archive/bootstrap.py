"""The one composition root: builds the service's parts from a Config. No work at import time.

CLI commands, the API and the scheduler ask a :class:`Runtime` for what they need; it opens
each part lazily and closes everything it opened (including an embedded SeaweedFS it started).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from urllib.parse import quote, urlsplit, urlunsplit

from sqlalchemy import Engine

from archive.catalog.db import make_engine
from archive.catalog.migrate import require_current, upgrade
from archive.catalog.registry import RegistryRepository
from archive.config import Config
from archive.errors import StorageError
from archive.ledger.service import Ledger
from archive.ledger.settings import ledger_settings
from archive.ledger.writers import WriterClaims
from archive.model import Camera
from archive.recorder.ffmpeg import RecordingSpec
from archive.recorder.ingest import Ingester
from archive.recorder.ledger_sink import LedgerSink
from archive.recorder.service import Recorder
from archive.recorder.supervisor import SupervisorSettings
from archive.retention.factory import build_service, upload_retention
from archive.retention.service import RetentionService
from archive.retention.settings import RetentionSettings
from archive.retention.upload import PolicyStore
from archive.secretbox import SecretBox
from archive.storage.base import ObjectStore, Retention
from archive.storage.s3 import S3Store
from archive.storage.seaweed import EmbeddedSeaweed


@dataclass(frozen=True)
class StoreEndpoint:
    """How to reach the object store."""

    endpoint: str
    access_key: str
    secret_key: str
    secure: bool
    region: str

    def __repr__(self) -> str:
        return f"StoreEndpoint(endpoint={self.endpoint!r}, access_key='***', secret_key='***')"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Runtime:
    """Lazily-built parts of the service for one process. Use as a context manager."""

    def __init__(self, config: Config, *, migrate: bool = True) -> None:
        self.config = config
        self._migrate = migrate
        self._engine: Engine | None = None
        self._box: SecretBox | None = None
        self._store: ObjectStore | None = None
        self._seaweed: EmbeddedSeaweed | None = None
        self._ledger: Ledger | None = None
        self._claims: WriterClaims | None = None
        self._policies: PolicyStore | None = None
        self._retention: RetentionService | None = None
        self._stack = contextlib.ExitStack()

    def __enter__(self) -> Runtime:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Close everything this runtime opened, newest first."""
        self._stack.close()
        self._engine = None
        self._store = None
        self._seaweed = None
        self._ledger = None
        self._claims = None
        self._policies = None
        self._retention = None

    # -- catalog ----------------------------------------------------------------------------
    @property
    def engine(self) -> Engine:
        """The catalog engine, migrated to head when ``migrate`` (else required to be at head)."""
        if self._engine is None:
            engine = make_engine(self.config.catalog_url)
            self._stack.callback(engine.dispose)
            if self._migrate:
                upgrade(engine)
            else:
                require_current(engine)
            self._engine = engine
        return self._engine

    @property
    def secret_box(self) -> SecretBox:
        """The box that encrypts camera credentials (key file outside the database)."""
        if self._box is None:
            self._box = SecretBox.from_key_file(self.config.credentials_key_file)
        return self._box

    @property
    def registry(self) -> RegistryRepository:
        """Owners and cameras."""
        return RegistryRepository(self.engine, self.secret_box)

    # -- storage ----------------------------------------------------------------------------
    def _state_file(self) -> Path:
        return self.config.data_dir / "store" / "running.json"

    def store_endpoint(self) -> StoreEndpoint:
        """Where the store is; starts the embedded SeaweedFS unless one already serves this data dir.

        Raises ToolError if it cannot start, StorageError if a configured endpoint is wrong.
        """
        s = self.config.storage
        if s.mode == "s3":
            return StoreEndpoint(s.endpoint, s.access_key, s.secret_key, s.secure, s.region)
        attached = self._attach_running()
        if attached is not None:
            return attached
        weed = EmbeddedSeaweed(self.config.data_dir / "store")
        weed.start()
        self._stack.callback(self._forget_running)
        self._stack.callback(weed.stop)
        self._seaweed = weed
        state = {"pid": weed.pid, "endpoint": weed.endpoint}
        self._state_file().write_text(json.dumps(state), encoding="utf-8")
        return StoreEndpoint(weed.endpoint, weed.access_key, weed.secret_key, False, "")

    def _attach_running(self) -> StoreEndpoint | None:
        """Reuse an embedded store another archive process runs on the same data dir."""
        try:
            state = json.loads(self._state_file().read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(state, dict) or not _pid_alive(int(state.get("pid", 0))):
            return None
        ak, sk = EmbeddedSeaweed.read_credentials(self.config.data_dir / "store")
        ep = StoreEndpoint(str(state["endpoint"]), ak, sk, False, "")
        try:
            S3Store(endpoint=ep.endpoint, access_key=ak, secret_key=sk, secure=False).ping()
        except StorageError:
            return None
        return ep

    def _forget_running(self) -> None:
        with contextlib.suppress(OSError):
            self._state_file().unlink()

    @property
    def store(self) -> ObjectStore:
        """The object store, with the media and log buckets ensured (versioning + object lock)."""
        if self._store is None:
            ep = self.store_endpoint()
            store = S3Store(endpoint=ep.endpoint, access_key=ep.access_key, secret_key=ep.secret_key,
                            secure=ep.secure, region=ep.region or None)
            store.ensure_bucket(self.config.storage.media_bucket, object_lock=True)
            store.ensure_bucket(self.config.storage.log_bucket, object_lock=True)
            self._store = store
        return self._store

    @property
    def seaweed(self) -> EmbeddedSeaweed | None:
        """The embedded SeaweedFS this process started, if any."""
        return self._seaweed

    # -- evidence log and recorder ------------------------------------------------------------
    @property
    def writer_claims(self) -> WriterClaims:
        """The writer claims this process holds (catalog only: claim before touching store or spool)."""
        if self._claims is None:
            self._claims = WriterClaims(self.engine)
        return self._claims

    @property
    def ledger(self) -> Ledger:
        """The per-camera evidence logs (catalog + log bucket)."""
        if self._ledger is None:
            self._ledger = Ledger(self.engine, self.store, self.secret_box, ledger_settings(self.config),
                                  claims=self.writer_claims)  # fmt: skip
        return self._ledger

    # -- retention ------------------------------------------------------------------------------
    @property
    def retention_settings(self) -> RetentionSettings:
        """``[retention]`` and ``[storage]`` as the retention package wants them."""
        return RetentionSettings.from_config(self.config)

    @property
    def policies(self) -> PolicyStore:
        """Owner retention policies (reloaded when the files change; the last valid set is kept)."""
        if self._policies is None:
            self._policies = PolicyStore(self.retention_settings.policies_dir)
        return self._policies

    @property
    def retention(self) -> RetentionService:
        """Retention executor, planner and legal holds over the catalog, store and logs."""
        if self._retention is None:
            self._retention = build_service(engine=self.engine, store=self.store, ledger=self.ledger,
                                            cameras=self.registry.cameras, settings=self.retention_settings,
                                            policies=self.policies)
        return self._retention

    def upload_retention(self) -> Callable[[str, dt.datetime], Retention | None]:
        """Object-lock retention at upload = the camera owner's policy (GOVERNANCE/COMPLIANCE per config)."""
        return upload_retention(self.retention_settings, self.registry.cameras, self.policies)

    def recording_specs(self, cameras: Sequence[Camera]) -> list[RecordingSpec]:
        """Recording specs with each camera's decrypted credentials put back into its URL.

        Raises ValidationError (bad URL or segment length), SecretError, CatalogError.
        """
        specs = []
        for cam in cameras:
            url = cam.stream_url
            creds = self.registry.credentials(cam.id)
            if cam.username or creds is not None:
                parts = urlsplit(url)
                userinfo = quote(cam.username or "", safe="")
                if creds is not None:
                    userinfo += ":" + quote(creds.password, safe="")
                url = urlunsplit((parts.scheme, f"{userinfo}@{parts.netloc}", parts.path, parts.query, parts.fragment))
            rc = self.config.recorder
            held = self.writer_claims.held(cam.id)
            specs.append(RecordingSpec.create(cam.id, url, segment_seconds=rc.segment_seconds,
                                              flush_packets=rc.flush_packets,
                                              writer_epoch=None if held is None else held.epoch))  # fmt: skip
        return specs

    def recorder(self, cameras: Sequence[Camera]) -> Recorder:
        """A recorder for ``cameras`` whose segments go to the store, the catalog and the logs."""
        rc = self.config.recorder
        ingester = Ingester(self.store, LedgerSink(self.ledger), bucket=self.config.storage.media_bucket,
                            retention=self.upload_retention(), workers=rc.upload_workers,
                            # in-process TS parser: framecrc's facts at ~5 instead of ~65 ms CPU per 10 s segment
                            probe_tool="python")  # (hash included; measured, see probe.facts_from_ts)
        settings = SupervisorSettings(spool_root=self.config.spool_dir, spool_max_bytes=rc.spool_max_bytes,
                                      spool_alarm_fraction=rc.spool_alarm_fraction, ffmpeg=rc.ffmpeg or None)
        return Recorder(self.recording_specs(cameras), settings, ingester=ingester)
