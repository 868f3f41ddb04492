"""``archive health``: is every part up? Each check returns a frozen result; nothing raises."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import Engine

from archive.catalog.migrate import current_revision, head_revision
from archive.catalog.registry import RegistryRepository
from archive.config import Config
from archive.errors import ArchiveError
from archive.ledger.witnessing import describe_witness, witness_clients, witness_report
from archive.procinfo import argv_exposed
from archive.storage.base import ObjectStore
from archive.storage.probe import probe_object_lock


class HealthParts(Protocol):
    """What the checks look at (the composition root's runtime provides it)."""

    @property
    def config(self) -> Config: ...

    @property
    def engine(self) -> Engine: ...

    @property
    def registry(self) -> RegistryRepository: ...

    @property
    def store(self) -> ObjectStore: ...


@dataclass(frozen=True)
class ServiceCheck:
    """One health check."""

    name: str
    ok: bool
    detail: str


@dataclass(frozen=True)
class HealthReport:
    """All checks; ``ok`` only when every one passed."""

    checks: tuple[ServiceCheck, ...]

    @property
    def ok(self) -> bool:
        """True when every check passed."""
        return all(c.ok for c in self.checks)


def _catalog(rt: HealthParts) -> list[ServiceCheck]:
    try:
        engine = rt.engine
        cur, head = current_revision(engine), head_revision()
        checks = [ServiceCheck("catalog", True, f"{engine.dialect.name} reachable"),
                  ServiceCheck("catalog.migrations", cur == head, f"at {cur}, head {head}")]
        counts = rt.registry.camera_counts_by_owner()
        detail = ", ".join(f"{o}={n}" for o, n in sorted(counts.items())) or "none registered"
        checks.append(ServiceCheck("cameras", True, f"{sum(counts.values())} cameras ({detail})"))
        return checks
    except ArchiveError as exc:
        return [ServiceCheck("catalog", False, str(exc))]


def _storage(rt: HealthParts) -> list[ServiceCheck]:
    try:
        store = rt.store
        store.ping()
    except ArchiveError as exc:
        return [ServiceCheck("storage", False, str(exc))]
    checks = [ServiceCheck("storage", True, f"{rt.config.storage.mode} store reachable")]
    try:
        probe = probe_object_lock(store, rt.config.storage.media_bucket)
    except ArchiveError as exc:
        return [*checks, ServiceCheck("storage.object_lock", False, str(exc))]
    checks.append(ServiceCheck("storage.object_lock", probe.ok, probe.detail))
    return checks


def _argv_privacy(rt: HealthParts) -> list[ServiceCheck]:
    """Camera passwords reach ffmpeg only in its argv: fail when other local users can read it."""
    try:
        with_password = rt.registry.cameras_with_password()
    except ArchiveError as exc:
        return [ServiceCheck("recorder.argv_privacy", False, str(exc))]
    if not with_password:
        return [ServiceCheck("recorder.argv_privacy", True, "no camera password to protect")]
    if argv_exposed():
        return [ServiceCheck("recorder.argv_privacy", False,
                      f"{with_password} camera password(s) would be visible to other local users in ffmpeg's "
                      "command line: run the service with systemd ProtectProc=invisible (ops/archive.service) "
                      "or mount /proc with hidepid=invisible")]  # fmt: skip
    return [ServiceCheck("recorder.argv_privacy", True, "/proc hides this service's processes from other users")]


def witness_checks(rt: HealthParts) -> list[ServiceCheck]:
    """Each witness of ``[ledger] witnesses``: cosigning, and no log failing (none configured: no check)."""
    if not rt.config.ledger.witnesses:
        return []
    try:
        report = witness_report(rt.engine, witness_clients(rt.config.ledger.witnesses), rt.config.data_dir)
    except ArchiveError as exc:
        return [ServiceCheck("witnesses", False, str(exc))]
    return [ServiceCheck(f"witness {h.label}", h.ok, describe_witness(h)) for h in report]


def check_health(rt: HealthParts) -> HealthReport:
    """Run every check against the runtime's catalog and store (and the witnesses' record)."""
    return HealthReport(tuple(_catalog(rt) + _storage(rt) + _argv_privacy(rt) + witness_checks(rt)))
