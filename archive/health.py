"""``archive health``: is every part up, and is each protection on? Each check returns a frozen
result; nothing raises.

Protections reported (issue 14): the data directory's modes (the long-running commands set umask
077), ffmpeg argv privacy, the object-lock mode, whether the store identities can bypass the
GOVERNANCE lock (``storage.bypass``, a real bypass-delete attempt: :mod:`archive.storage.bypass_probe`)
and which proxies' ``X-Forwarded-For`` the API believes. A check with ``refuses_start`` is a
protection that is off and that ``archive up`` refuses to run without (exit 2), unless the
configuration says the operator accepts the risk.
"""

from __future__ import annotations

import ipaddress
import os
import stat
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
from archive.storage.bypass_probe import probe_bypass
from archive.storage.probe import probe_object_lock

PROTECTIONS = frozenset({"storage.object_lock", "storage.bypass", "storage.lock_mode", "recorder.argv_privacy",
                         "data.file_modes", "api.proxy_trust"})
"""The checks that are protections (``archive up`` publishes them in its status for ``archive status``
and the metrics)."""


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

    @property
    def retention_store(self) -> ObjectStore: ...


@dataclass(frozen=True)
class ServiceCheck:
    """One health check."""

    name: str
    ok: bool
    detail: str
    refuses_start: bool = False


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
    return [*checks, *_bypass(rt, store)]


def _bypass(rt: HealthParts, store: ObjectStore) -> list[ServiceCheck]:
    """``storage.bypass``: try a bypass-governance delete with each identity the service runs with."""
    s = rt.config.storage
    stores = [("the service identity", store)]
    if s.mode == "embedded":
        stores = [("archive-ingest", store), ("archive-retention", rt.retention_store)]
    try:
        results = [probe_bypass(st, s.media_bucket, identity=name) for name, st in stores]
    except ArchiveError as exc:
        return [ServiceCheck("storage.bypass", False, f"the bypass probe could not run: {exc}")]
    can = [r for r in results if r.can_bypass]
    unknown = [r for r in results if not r.can_bypass and not r.refused]
    if not can:
        detail = "; ".join(r.detail for r in results)
        return [ServiceCheck("storage.bypass", not unknown, detail)]
    detail = "; ".join(r.detail for r in can)
    if s.lock_mode == "COMPLIANCE":
        return [ServiceCheck("storage.bypass", True, f"{detail} (harmless for media: lock_mode is COMPLIANCE)")]
    if s.accept_bypass_risk:
        return [ServiceCheck("storage.bypass", True, f"RISK ACCEPTED ([storage] accept_bypass_risk = true): {detail}")]
    return [ServiceCheck("storage.bypass", False, f"{detail}: it could delete locked media early; give it no Admin "
                         "or BypassGovernanceRetention right, or set [storage] accept_bypass_risk = true",
                         refuses_start=True)]  # fmt: skip


def _lock_mode(rt: HealthParts) -> list[ServiceCheck]:
    if rt.config.storage.lock_mode == "COMPLIANCE":
        return [ServiceCheck("storage.lock_mode", True, "COMPLIANCE: no identity can delete media before its "
                             "retention ends, not even to honour an earlier retention change")]  # fmt: skip
    return [ServiceCheck("storage.lock_mode", True, "GOVERNANCE: only an identity with a bypass right could delete "
                         "media early (see storage.bypass); early deletions wait for the lock to end")]  # fmt: skip


def _file_modes(rt: HealthParts) -> list[ServiceCheck]:
    """The data directory is 0700 and what the service keeps in it is not open to group or other."""
    data = rt.config.data_dir
    paths = [data, data / "run", data / "run" / "status.json", data / "catalog.sqlite3", data / "keys",
             data / "exports", data / "store"]
    open_to_others: list[str] = []
    for path in paths:
        try:
            mode = path.stat().st_mode
        except OSError:
            continue
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            open_to_others.append(f"{path} is {stat.S_IMODE(mode):04o}")
    if open_to_others and not (data / "run" / "status.json").exists():  # no service since: it fixes them at start
        return [ServiceCheck("data.file_modes", True, "; ".join(open_to_others) + ": open to others now; "
                             "'archive up' makes them private when it starts (umask 077, data dir 0700)")]  # fmt: skip
    if open_to_others:
        return [ServiceCheck("data.file_modes", False, "; ".join(open_to_others) + " while the service runs: "
                             "restart it with 'archive up' (umask 077, data dir 0700) or chmod go-rwx")]  # fmt: skip
    umask = os.umask(0o077)
    os.umask(umask)
    return [ServiceCheck("data.file_modes", True, f"{data} and its state are private (0700/0600); the long-running "
                         f"commands run with umask 077 (this command: {umask:03o})")]  # fmt: skip


def _proxy_trust(rt: HealthParts) -> list[ServiceCheck]:
    """Whose ``X-Forwarded-For`` the API believes for the audited client address."""
    proxies = [p.strip() for p in rt.config.api.trusted_proxies.split(",") if p.strip()]
    if not proxies:
        return [ServiceCheck("api.proxy_trust", True, "no proxy is trusted: the audit records the peer address "
                             "(uvicorn proxy headers off)")]  # fmt: skip
    wide = []
    for p in proxies:
        try:
            if not ipaddress.ip_address(p).is_loopback and not ipaddress.ip_address(p).is_private:
                wide.append(p)
        except ValueError:
            wide.append(p)
    if wide:
        return [ServiceCheck("api.proxy_trust", False, f"trusted_proxies holds {', '.join(wide)}: not a loopback or "
                             "private address, so anyone there can forge the audited client address")]  # fmt: skip
    return [ServiceCheck("api.proxy_trust", True, f"X-Forwarded-For believed only from {', '.join(proxies)}")]


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
    return HealthReport(tuple(_catalog(rt) + _storage(rt) + _lock_mode(rt) + _argv_privacy(rt) + _file_modes(rt)
                              + _proxy_trust(rt) + witness_checks(rt)))  # fmt: skip


def refusals(report: HealthReport) -> list[str]:
    """The sentences of the protections ``archive up`` refuses to start without."""
    return [c.detail for c in report.checks if c.refuses_start and not c.ok]
