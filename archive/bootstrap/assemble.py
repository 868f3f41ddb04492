"""Assembly of the service's parts from explicit collaborators.

:class:`~archive.bootstrap.runtime.Runtime` calls these with its own parts, once per process;
tests and benchmarks call them with parts of their own. They are the only places that construct
the retention service, the legal-hold service and the export parts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from sqlalchemy import Engine

from archive.audit.service import AuditTrail
from archive.bootstrap.journal import TrailJournal
from archive.catalog.registry import RegistryRepository
from archive.config import Config
from archive.errors import ConfigError
from archive.export.builder import PackageBuilder
from archive.export.building import ExportBuilds
from archive.export.custody_log import CustodyLog
from archive.export.hold_guard import export_hold_guard
from archive.export.jobs import BuildRunner
from archive.export.model import ExportSettings
from archive.export.parts import Exports
from archive.export.service import ExportService
from archive.export.timestamping import timestamp_client
from archive.export.verifier.formats import FormatError, parse_keys
from archive.integrity import VerifierKey
from archive.ledger.service import Ledger
from archive.ledger.witnessing import witness_clients
from archive.model import Camera, us_from_utc
from archive.recorder.ffmpeg import find_ffmpeg
from archive.retention.audit import HoldJournal
from archive.retention.audit import HoldLog as HoldAuditLog
from archive.retention.executor import PruneLog
from archive.retention.holds import HoldService
from archive.retention.policy import PolicySet
from archive.retention.service import RetentionService
from archive.retention.settings import RetentionSettings
from archive.retention.upload import PolicyStore
from archive.retention.usage import UsageProbe, usage_probe
from archive.storage.base import ObjectStore
from archive.witness_config import parse_policy

__all__ = ["assemble_exports", "assemble_holds", "assemble_retention", "export_settings", "witness_keys",
           "witness_quorum"]


def _utc_now() -> datetime:
    return datetime.now(UTC)


def assemble_holds(*, engine: Engine, store: ObjectStore, cameras: Callable[[], Sequence[Camera]],
                   settings: RetentionSettings, now: Callable[[], datetime] = _utc_now,
                   audit: AuditTrail | None = None) -> HoldService:  # fmt: skip
    """The legal-hold service with the release guard of export holds (:mod:`archive.export.hold_guard`).
    Its events go into ``audit`` (the runtime's signed trail, :class:`TrailJournal`), or, for a
    service built without one (tools, tests), into the retention hold log. Raises nothing itself."""

    def now_us() -> int:
        return us_from_utc(now())

    def known(camera_id: str) -> bool:
        return any(c.id == camera_id for c in cameras())

    journal: HoldJournal = HoldAuditLog(engine, now_us) if audit is None else TrailJournal(audit, now_us)
    return HoldService(engine, store, journal, now_us=now_us, known_camera=known,
                       workers=settings.delete_workers, release_guards=(export_hold_guard(engine),))  # fmt: skip


def assemble_retention(
    *,
    engine: Engine,
    store: ObjectStore,
    ledger: PruneLog,
    cameras: Callable[[], Sequence[Camera]],
    settings: RetentionSettings,
    now: Callable[[], datetime] = _utc_now,
    usage: UsageProbe | None = None,
    policies: PolicyStore | None = None,
    holds: HoldService | None = None,
) -> RetentionService:
    """The retention service over these parts; ``holds`` (and its hold log) assembled when not given,
    ``usage`` defaults to the catalog's bytes against the configured capacity. Raises nothing itself."""
    holds = holds or assemble_holds(engine=engine, store=store, cameras=cameras, settings=settings, now=now)
    return RetentionService(
        engine=engine, store=store, ledger=ledger, cameras=cameras,
        policies=policies or PolicyStore(settings.policies_dir), holds=holds, audit=holds.audit,
        usage=usage if usage is not None else usage_probe(settings.capacity_bytes, engine),
        settings=settings, now=now,
    )  # fmt: skip


def witness_keys(cfg: Config) -> tuple[VerifierKey, ...]:
    """The keys of ``[ledger] witnesses`` and ``[ledger] witness_keys_file`` (none when unset),
    each once. Raises ConfigError."""
    keys = {c.key.encode(): c.key for c in witness_clients(cfg.ledger.witnesses)}
    if cfg.ledger.witness_keys_file:
        path = cfg.resolve(cfg.ledger.witness_keys_file)
        try:
            keys.update((k.encode(), k) for k in parse_keys(path.read_text(encoding="utf-8"), str(path)))
        except (OSError, UnicodeDecodeError, FormatError) as exc:
            raise ConfigError(f"ledger.witness_keys_file: {exc}") from exc
    return tuple(keys.values())


def witness_quorum(cfg: Config, keys: Sequence[VerifierKey]) -> int:
    """``q`` of ``[export] witness_policy`` ("q of n"; 0 when unset), where ``n`` must be the number
    of witness keys the archive knows. Raises ConfigError."""
    policy = parse_policy(cfg.export.witness_policy)
    if policy is None:
        return 0
    n = len({k.public_key for k in keys})
    if policy[1] != n:
        raise ConfigError(f"export.witness_policy {cfg.export.witness_policy!r}: the archive knows {n} witness keys "
                          "([ledger] witnesses and witness_keys_file), not " + str(policy[1]))  # fmt: skip
    return policy[0]


def export_settings(cfg: Config) -> ExportSettings:
    """Export settings from the configuration (packages in ``<data_dir>/exports``, times shown in
    ``[api] display_timezone``, ``[recorder] ffmpeg``, the witness keys and policy, the time-stamping
    authority). Raises ConfigError."""
    keys = witness_keys(cfg)
    ex = cfg.export
    tsa = timestamp_client(ex.timestamp_url, cfg.resolve(ex.timestamp_ca_file) if ex.timestamp_ca_file else None,
                           ex.timestamp_timeout_s)  # fmt: skip
    return ExportSettings(exports_dir=cfg.data_dir / "exports", zone_name=cfg.api.display_timezone,
                          ffmpeg=cfg.recorder.ffmpeg or None, witness_keys=keys,
                          witness_quorum=witness_quorum(cfg, keys), timestamps=tsa)  # fmt: skip


def assemble_exports(*, engine: Engine, store: ObjectStore, ledger: Ledger, registry: RegistryRepository,
                     holds: HoldService, audit: AuditTrail | None, policies: Callable[[], PolicySet | None],
                     settings: ExportSettings, auto_build: bool = True,
                     cosign: Callable[[Sequence[str]], object] | None = None,
                     recorder_state: Callable[[str], str | None] | None = None) -> Exports:  # fmt: skip
    """The export parts. With ``auto_build`` an export is queued on the runner as soon as it is
    approved (the runner builds only once started); ``cosign``: the witness submission run before
    a package is built; ``recorder_state(camera id)``: the running recorder's state of a camera,
    written beside an ongoing outage (EXPORT-SPEC.md 4.1). Raises OSError if the exports folder
    cannot be made."""
    settings.exports_dir.mkdir(parents=True, exist_ok=True)
    custody = CustodyLog(engine, settings, audit)
    service = ExportService(engine=engine, registry=registry, holds=holds, custody=custody, policies=policies,
                            settings=settings)  # fmt: skip
    builds = ExportBuilds(service, PackageBuilder(ledger, store, settings, cosign=cosign,
                                                    recorder_state=recorder_state), ledger,
                          ffmpeg=lambda: find_ffmpeg(settings.ffmpeg))  # fmt: skip
    runner = BuildRunner(service, builds)
    if auto_build:
        service.on_approved = runner.submit
    return Exports(service, builds, runner, ledger)
