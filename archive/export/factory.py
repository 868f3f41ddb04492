"""Wiring the export parts (from a :class:`archive.bootstrap.Runtime`, or from explicit parts in tests).

:func:`make_exports` builds :class:`Exports` (service, builds, background runner) from
collaborators; :func:`exports_from_runtime` takes them from the composition root and the
configuration: packages go to ``<data_dir>/exports``, times are shown in ``[api]
display_timezone``, policies come from ``[retention] policies_dir``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from archive.audit.service import AuditTrail
from archive.catalog.registry import RegistryRepository
from archive.errors import ConfigError
from archive.export.builder import PackageBuilder
from archive.export.building import ExportBuilds
from archive.export.custody_log import CustodyLog
from archive.export.jobs import BuildRunner
from archive.export.model import ExportSettings
from archive.export.service import ExportService
from archive.export.verifier.formats import FormatError, parse_keys
from archive.integrity import VerifierKey
from archive.ledger.service import Ledger
from archive.recorder.ffmpeg import find_ffmpeg
from archive.retention.audit import AuditLog as RetentionAudit
from archive.retention.holds import HoldService
from archive.retention.policy import PolicySet
from archive.storage.base import ObjectStore

if TYPE_CHECKING:
    from archive.bootstrap import Runtime
    from archive.config import Config

__all__ = ["Exports", "export_settings", "exports_from_runtime", "make_exports", "witness_keys"]


def _now_us() -> int:
    return time.time_ns() // 1000


@dataclass(frozen=True)
class Exports:
    """The export parts of one process. ``runner`` builds in the background once started."""

    service: ExportService
    builds: ExportBuilds
    runner: BuildRunner
    ledger: Ledger


def witness_keys(cfg: Config) -> tuple[VerifierKey, ...]:
    """The keys of ``[ledger] witness_keys_file`` (none when unset). Raises ConfigError."""
    if not cfg.ledger.witness_keys_file:
        return ()
    path = cfg.resolve(cfg.ledger.witness_keys_file)
    try:
        return tuple(parse_keys(path.read_text(encoding="utf-8"), str(path)))
    except (OSError, UnicodeDecodeError, FormatError) as exc:
        raise ConfigError(f"ledger.witness_keys_file: {exc}") from exc


def export_settings(cfg: Config) -> ExportSettings:
    """Settings from the configuration (no ``[export]`` section yet: defaults plus data dir,
    display zone, ffmpeg and the witness keys). Raises ConfigError."""
    return ExportSettings(exports_dir=cfg.data_dir / "exports", zone_name=cfg.api.display_timezone,
                          ffmpeg=cfg.recorder.ffmpeg or None, witness_keys=witness_keys(cfg))  # fmt: skip


def make_exports(*, engine: Engine, store: ObjectStore, ledger: Ledger, registry: RegistryRepository,
                 holds: HoldService, audit: AuditTrail | None, policies: Callable[[], PolicySet | None],
                 settings: ExportSettings, auto_build: bool = True) -> Exports:  # fmt: skip
    """The export parts over explicit collaborators. With ``auto_build`` an export is queued on
    the runner as soon as it is approved (the runner builds only once started)."""
    settings.exports_dir.mkdir(parents=True, exist_ok=True)
    custody = CustodyLog(engine, settings, audit)
    service = ExportService(engine=engine, registry=registry, holds=holds, custody=custody, policies=policies,
                            settings=settings)  # fmt: skip
    builds = ExportBuilds(service, PackageBuilder(ledger, store, settings), ledger,
                          ffmpeg=lambda: find_ffmpeg(settings.ffmpeg))  # fmt: skip
    runner = BuildRunner(service, builds)
    if auto_build:
        service.on_approved = runner.submit
    return Exports(service, builds, runner, ledger)


def exports_from_runtime(rt: Runtime, *, auto_build: bool = True) -> Exports:
    """The export parts over the runtime's catalog, store, keys and registry. Starts the
    embedded store if needed. Raises ConfigError, CatalogError, StorageError, SecretError."""
    from archive.ledger.cli import ledger_settings
    from archive.ledger.keyring import KeyRing

    cfg = rt.config
    engine, store, box = rt.engine, rt.store, rt.secret_box
    lset = ledger_settings(cfg)
    ledger = rt.ledger  # one Ledger per process: its per-log locks must be shared
    registry = rt.registry
    audit = AuditTrail(engine, KeyRing(engine, box, lset), store, origin_prefix=lset.origin_prefix,
                       log_bucket=lset.log_bucket, retention=lset.log_retention or timedelta(days=3650))  # fmt: skip
    holds = HoldService(engine, store, RetentionAudit(engine, _now_us), now_us=_now_us,
                        known_camera=lambda c: any(x.id == c for x in registry.cameras()))  # fmt: skip
    policy_store = rt.policies
    return make_exports(engine=engine, store=store, ledger=ledger, registry=registry, holds=holds, audit=audit,
                        policies=policy_store.current, settings=export_settings(cfg),
                        auto_build=auto_build)  # fmt: skip
