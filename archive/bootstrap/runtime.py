"""The :class:`Runtime`: each long-lived part of the service built once per process, on first use.

Parts (each a property, built at most once, closed newest first by :meth:`Runtime.close`):
catalog engine, secret box, registry, object store (and the embedded SeaweedFS it may start),
ledger (its key ring is the process's one key ring), audit trail, legal-hold service, policy
store, retention service, identity and search services, export parts, and the recorder.
Parts that use the store get a :class:`~archive.storage.deferred.DeferredStore`, so building
them never reaches the store: only a call that needs it does.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType

from sqlalchemy import Engine

from archive.audit.service import AuditTrail
from archive.bootstrap.assemble import assemble_exports, assemble_holds, assemble_retention, export_settings
from archive.bootstrap.recording import build_recorder, recording_specs
from archive.bootstrap.store import StoreEndpoint, find_store
from archive.catalog.db import make_engine
from archive.catalog.migrate import require_current, upgrade
from archive.catalog.registry import RegistryRepository
from archive.config import Config
from archive.errors import ConflictError
from archive.export.parts import Exports
from archive.identity.service import IdentityService
from archive.ledger.checkpoints import Checkpointer
from archive.ledger.keyring import KeyRing
from archive.ledger.membership import NodeMember, node_holder
from archive.ledger.service import Ledger
from archive.ledger.settings import LedgerSettings, ledger_settings
from archive.ledger.witnessing import STATUS_FILE, WitnessSubmitter, witness_clients
from archive.ledger.writers import WriterClaims
from archive.model import Camera
from archive.recorder.ffmpeg import RecordingSpec
from archive.recorder.service import Recorder
from archive.recorder.status_file import STATUS_PATH, camera_state
from archive.retention.holds import HoldService
from archive.retention.jobs import RetentionJobs
from archive.retention.service import RetentionService
from archive.retention.settings import RetentionSettings
from archive.retention.upload import PolicyStore, UploadRetention
from archive.scheduler import JobScheduler
from archive.search.service import SearchLimits, SearchService
from archive.secretbox import SecretBox
from archive.storage.base import ObjectStore
from archive.storage.deferred import DeferredStore
from archive.storage.seaweed import EmbeddedSeaweed

__all__ = ["Runtime"]

_DAY_US = 86_400_000_000


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Runtime:
    """The parts of the service for one process. Use as a context manager.

    ``migrate``: bring the catalog to the newest schema on first use (else require it there).
    ``export_builder``: this process builds approved exports (the export service queues them on
    its runner; only one process of a service should). ``now``: the clock of retention and holds.
    Building a part raises what its constructor raises (ConfigError, CatalogError, StorageError,
    ToolError, SecretError); :meth:`recorder` raises ConflictError when called twice.
    """

    def __init__(self, config: Config, *, migrate: bool = True, export_builder: bool = False,
                 now: Callable[[], datetime] = _utc_now) -> None:  # fmt: skip
        self.config = config
        self._migrate = migrate
        self._export_builder = export_builder
        self._now = now
        self._stack = contextlib.ExitStack()
        self._parts: dict[str, object] = {}
        self._lock = threading.RLock()
        self._seaweed: EmbeddedSeaweed | None = None
        self._recorder_built = False

    def __enter__(self) -> Runtime:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Close everything this runtime opened, newest first."""
        with self._lock:
            self._stack.close()
            self._parts.clear()
            self._seaweed = None

    def _part(self, name: str, build: Callable[[], object]) -> object:
        """The part ``name``, built by ``build`` the first time (under the runtime's lock)."""
        part = self._parts.get(name)
        if part is None:
            with self._lock:
                part = self._parts.get(name)
                if part is None:
                    part = build()
                    self._parts[name] = part
        return part

    def built(self) -> dict[str, object]:
        """The parts built so far, by name (for health and for the one-instance test)."""
        with self._lock:
            return dict(self._parts)

    # -- catalog ----------------------------------------------------------------------------
    @property
    def engine(self) -> Engine:
        """The catalog engine, migrated to head when ``migrate`` (else required to be at head)."""

        def build() -> Engine:
            engine = make_engine(self.config.catalog_url)
            self._stack.callback(engine.dispose)
            if self._migrate:
                upgrade(engine)
            else:
                require_current(engine)
            return engine

        part = self._part("engine", build)
        assert isinstance(part, Engine)
        return part

    @property
    def secret_box(self) -> SecretBox:
        """The box that encrypts camera credentials (key file outside the database)."""
        part = self._part("secret_box", lambda: SecretBox.from_key_file(self.config.credentials_key_file))
        assert isinstance(part, SecretBox)
        return part

    @property
    def registry(self) -> RegistryRepository:
        """Owners and cameras."""
        part = self._part("registry", lambda: RegistryRepository(self.engine, self.secret_box))
        assert isinstance(part, RegistryRepository)
        return part

    # -- storage ----------------------------------------------------------------------------
    def store_endpoint(self) -> StoreEndpoint:
        """Where the store is (found once); starts the embedded SeaweedFS unless one already serves
        this data dir. Raises ToolError if it cannot start, StorageError if an endpoint is wrong."""
        part = self._part("store_endpoint", self._find_store)
        assert isinstance(part, StoreEndpoint)
        return part

    def _find_store(self) -> StoreEndpoint:
        endpoint, self._seaweed = find_store(self.config, self._stack)
        return endpoint

    def _open_store(self) -> ObjectStore:
        store = self.store_endpoint().open()
        store.ensure_bucket(self.config.storage.media_bucket, object_lock=True)
        store.ensure_bucket(self.config.storage.log_bucket, object_lock=True)
        return store

    @property
    def deferred_store(self) -> DeferredStore:
        """The store as the parts get it: opened (started) at its first call."""
        part = self._part("store", lambda: DeferredStore(self._open_store))
        assert isinstance(part, DeferredStore)
        return part

    def _open_retention_store(self) -> ObjectStore:
        _ = self.store  # the buckets are ensured (with the service identity) first
        return self.store_endpoint().open(retention=True)

    @property
    def retention_store(self) -> DeferredStore:
        """The store with the retention identity (``archive-retention``): retention and holds."""
        part = self._part("retention_store", lambda: DeferredStore(self._open_retention_store))
        assert isinstance(part, DeferredStore)
        return part

    @property
    def store(self) -> ObjectStore:
        """The object store, opened now, with the media and log buckets ensured (versioning + object lock)."""
        return self.deferred_store.target()

    @property
    def seaweed(self) -> EmbeddedSeaweed | None:
        """The embedded SeaweedFS this process started, if any."""
        return self._seaweed

    # -- evidence log, keys, audit ---------------------------------------------------------
    @property
    def ledger_settings(self) -> LedgerSettings:
        """``[ledger]`` and the buckets of ``[storage]``."""
        part = self._part("ledger_settings", lambda: ledger_settings(self.config))
        assert isinstance(part, LedgerSettings)
        return part

    @property
    def writer_claims(self) -> WriterClaims:
        """The writer claims this process holds (catalog only: claim before touching store or spool)."""
        node = self.config.node
        part = self._part("writer_claims", lambda: WriterClaims(self.engine) if not node.name else WriterClaims(
            self.engine, holder=node_holder(node.name), ttl_s=node.lease_ttl_s, renew_s=node.renew_every_s))
        assert isinstance(part, WriterClaims)
        return part

    @property
    def node(self) -> NodeMember | None:
        """This process as recorder node ``[node] name`` (None when it is not a node; the caller
        registers and starts it)."""
        if not self.config.node.name:
            return None
        api = f"{self.config.api.host}:{self.config.api.port}"
        part = self._part("node", lambda: NodeMember(self.engine, self.config.node, self.writer_claims.holder, api))
        assert isinstance(part, NodeMember)
        return part

    @property
    def ledger(self) -> Ledger:
        """The per-camera evidence logs (catalog + log bucket); one per process (its per-log locks
        serialize appends; its appends are fenced by the process's writer claims)."""
        part = self._part("ledger", lambda: Ledger(self.engine, self.deferred_store, self.secret_box,
                                                   self.ledger_settings, claims=self.writer_claims))  # fmt: skip
        assert isinstance(part, Ledger)
        return part

    @property
    def keyring(self) -> KeyRing:
        """The signing key ring (the ledger's: one per process)."""
        return self.ledger.keys

    @property
    def audit_journal_path(self) -> Path:
        """The local audit journal (SPEC.md 7.6): ``<data_dir>/audit/journal``, mode 0600."""
        return self.config.data_dir / "audit" / "journal"

    @property
    def audit(self) -> AuditTrail:
        """The hash-chained, signed audit trail (one commit queue per process)."""

        def build() -> AuditTrail:
            ls = self.ledger_settings
            return AuditTrail(self.engine, self.ledger.audit_keys, self.deferred_store, origin_prefix=ls.origin_prefix,
                              log_bucket=ls.log_bucket, retention=ls.log_retention or timedelta(days=3650),
                              legacy_keys=self.keyring, journal=self.audit_journal_path)  # fmt: skip

        part = self._part("audit", build)
        assert isinstance(part, AuditTrail)
        return part

    # -- identity and search -----------------------------------------------------------------
    @property
    def identity(self) -> IdentityService:
        """Users, agencies and tokens."""
        part = self._part("identity", lambda: IdentityService(self.engine,
                                                              cache_seconds=self.config.api.token_cache_seconds))
        assert isinstance(part, IdentityService)
        return part

    @property
    def search(self) -> SearchService:
        """Cameras, recordings and sightings within a caller's scope, with the ``[api]`` bounds."""

        def build() -> SearchService:
            api = self.config.api
            limits = SearchLimits(max_range_us=api.max_range_days * _DAY_US, page_max=api.page_max,
                                  page_default=min(500, api.page_max))  # fmt: skip
            return SearchService(self.engine, limits, cache_seconds=api.scope_cache_seconds)

        part = self._part("search", build)
        assert isinstance(part, SearchService)
        return part

    # -- retention and holds -----------------------------------------------------------------
    @property
    def retention_settings(self) -> RetentionSettings:
        """``[retention]`` and ``[storage]`` as the retention package wants them."""
        part = self._part("retention_settings", lambda: RetentionSettings.from_config(self.config))
        assert isinstance(part, RetentionSettings)
        return part

    @property
    def policies(self) -> PolicyStore:
        """Owner retention policies (reloaded when the files change; the last valid set is kept)."""
        part = self._part("policies", lambda: PolicyStore(self.retention_settings.policies_dir))
        assert isinstance(part, PolicyStore)
        return part

    @property
    def holds(self) -> HoldService:
        """Legal holds (shared by retention, exports and the API)."""
        part = self._part("holds", lambda: assemble_holds(engine=self.engine, store=self.retention_store,
                                                          cameras=self.registry.cameras,
                                                          settings=self.retention_settings, now=self._now,
                                                          audit=self.audit))
        assert isinstance(part, HoldService)
        return part

    @property
    def retention(self) -> RetentionService:
        """Retention executor and planner over the catalog, store and logs, with the runtime's holds."""
        part = self._part("retention", lambda: assemble_retention(
            engine=self.engine, store=self.retention_store, ledger=self.ledger, cameras=self.registry.cameras,
            settings=self.retention_settings, now=self._now, policies=self.policies, holds=self.holds))
        assert isinstance(part, RetentionService)
        return part

    def upload_retention(self) -> UploadRetention:
        """Object-lock retention at upload = the camera owner's policy (GOVERNANCE/COMPLIANCE per config)."""
        s = self.retention_settings
        return UploadRetention(self.policies, self.registry.cameras, mode=s.lock_mode,
                               default_keep_days=s.default_keep_days)  # fmt: skip

    # -- exports -----------------------------------------------------------------------------
    @property
    def exports(self) -> Exports:
        """Export workflow, package builds and the build runner (queued on approval when this
        runtime is the ``export_builder``; the caller starts the runner)."""
        part = self._part("exports", lambda: assemble_exports(
            engine=self.engine, store=self.deferred_store, ledger=self.ledger, registry=self.registry,
            holds=self.holds, audit=self.audit, policies=self.policies.current,
            settings=export_settings(self.config), auto_build=self._export_builder,
            cosign=self.witnesses.submit if self.witnesses is not None else None,
            recorder_state=lambda cam: camera_state(self.config.data_dir / STATUS_PATH, cam)))
        assert isinstance(part, Exports)
        return part

    # -- periodic work -------------------------------------------------------------------------
    @property
    def witnesses(self) -> WitnessSubmitter | None:
        """Submits checkpoints to ``[ledger] witnesses`` (None when none is configured)."""
        if not self.config.ledger.witnesses:
            return None
        part = self._part("witnesses", lambda: WitnessSubmitter(
            self.ledger, witness_clients(self.config.ledger.witnesses), self.config.data_dir / STATUS_FILE))
        assert isinstance(part, WitnessSubmitter)
        return part

    @property
    def checkpointer(self) -> Checkpointer:
        """Signs every camera log's checkpoint at least every ``[ledger] checkpoint_interval_s``, then
        submits the new ones to the witnesses (caller starts it)."""
        witnesses = self.witnesses
        part = self._part("checkpointer", lambda: Checkpointer(
            self.engine, self.ledger.signer, self.ledger_settings.checkpoint_interval_s,
            after_round=witnesses.submit if witnesses is not None else None,
            others=self.writer_claims.held_by_others if self.config.node.name else None))
        assert isinstance(part, Checkpointer)
        return part

    @property
    def retention_jobs(self) -> RetentionJobs:
        """The retention run and the legal-hold sync as scheduler jobs."""
        part = self._part("retention_jobs", lambda: RetentionJobs(self.retention))
        assert isinstance(part, RetentionJobs)
        return part

    @property
    def scheduler(self) -> JobScheduler:
        """The periodic-job scheduler, with the retention jobs added (caller starts and stops it)."""

        def build() -> JobScheduler:
            scheduler = JobScheduler()
            self.retention_jobs.add_to(scheduler)
            return scheduler

        part = self._part("scheduler", build)
        assert isinstance(part, JobScheduler)
        return part

    # -- recorder ----------------------------------------------------------------------------
    def recording_specs(self, cameras: Sequence[Camera]) -> list[RecordingSpec]:
        """Recording specs with each camera's decrypted credentials put back into its URL
        (:func:`archive.bootstrap.recording.recording_specs`).

        Raises ValidationError (bad URL or segment length), SecretError, CatalogError.
        """
        return recording_specs(self.registry, self.writer_claims, self.config.recorder, cameras)

    def recorder(self, cameras: Sequence[Camera]) -> Recorder:
        """The process's one recorder, for ``cameras``: segments go to the store, the catalog and the logs.

        Raises ConflictError when this runtime already built one.
        """
        with self._lock:
            if self._recorder_built:
                raise ConflictError("this process already runs a recorder")
            self._recorder_built = True
        recorder = build_recorder(self.config, self.deferred_store, self.ledger, self.upload_retention(),
                                  self.recording_specs(cameras))  # fmt: skip
        self._parts["recorder"] = recorder
        return recorder
