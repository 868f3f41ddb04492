"""Everything the API app needs, passed explicitly (no globals): :class:`ApiDeps`.

Optional parts (``None``) leave their routes out of the app: no registry -> no camera and
sharing changes; no media store -> no playback; no holds/retention/exports/verifier -> none
of those routes. ``health_checks`` and ``metric_sources`` are callables, so recorder,
storage, retention and export status stay pluggable.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from archive.audit.service import AuditTrail
from archive.catalog.registry import RegistryRepository
from archive.config_rules import public_base
from archive.errors import ConfigError
from archive.export.parts import Exports
from archive.identity.service import IdentityService
from archive.ledger.report import VerifyReport
from archive.retention.holds import HoldService
from archive.retention.planner import Plan
from archive.retention.policy import PolicySet
from archive.search.service import SearchLimits, SearchService
from archive.search.times import TimeFormatter, load_zone

from .ports import HealthCheck, MediaStore, MetricSource

__all__ = ["ApiDeps", "ApiSettings", "CameraVerifier"]

CameraVerifier = Callable[[str, datetime | None, datetime | None, bool], VerifyReport]
"""``verify(camera_id, time_from, time_to, media)`` -> the ledger's report (raises archive errors)."""


@dataclass(frozen=True)
class ApiSettings:
    """API behaviour (from ``[api]`` in the configuration).

    Raises (on construction): ConfigError for an unknown zone or a value out of range.
    """

    display_timezone: str = "Asia/Jakarta"
    presign_seconds: int = 300
    public_url: str = ""  # the base of playback links (no trailing slash); empty: relative links
    token_days: int = 90
    token_max_days: int = 365
    trusted_proxies: frozenset[str] = frozenset()
    audit_checkpoint_seconds: float = 1.0
    verify_upload_max_bytes: int = 64 << 30
    failed_auth_limit: int = 10
    failed_auth_window_seconds: int = 60
    limits: SearchLimits = field(default_factory=SearchLimits)
    zone: ZoneInfo = field(init=False, repr=False, compare=False)
    times: TimeFormatter = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "zone", load_zone(self.display_timezone))
        object.__setattr__(self, "times", TimeFormatter(self.zone))
        object.__setattr__(self, "public_url", public_base(self.public_url))
        if not 10 <= self.presign_seconds <= 3600:
            raise ConfigError("api.presign_seconds must be between 10 and 3600")
        if not 1 <= self.token_days <= self.token_max_days <= 3650:
            raise ConfigError("api.token_days must be between 1 and api.token_max_days (at most 3650)")
        if not 1 <= self.verify_upload_max_bytes <= 1 << 40:
            raise ConfigError("api.verify_upload_max_bytes must be between 1 and 2**40")
        if not 0 <= self.failed_auth_limit <= 10_000 or not 1 <= self.failed_auth_window_seconds <= 86_400:
            raise ConfigError("api.failed_auth_limit must be 0-10000 and api.failed_auth_window_seconds 1-86400")
        if not 0.05 <= self.audit_checkpoint_seconds <= 60:
            raise ConfigError("api.audit_checkpoint_seconds must be between 0.05 and 60")


@dataclass(frozen=True)
class ApiDeps:
    """The app's dependencies. ``checkpoint_audit``: run the periodic audit checkpointer
    (needs ``audit`` with a store) from app startup to shutdown."""

    identity: IdentityService
    search: SearchService
    audit: AuditTrail
    settings: ApiSettings = field(default_factory=ApiSettings)
    registry: RegistryRepository | None = None
    media: MediaStore | None = None
    """The store playback reads from; served through signed ``/play/segment`` links of the API."""
    media_key: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)
    """HMAC key of the media links (:mod:`archive.api.media_links`); every worker of one archive
    must hold the same (``<data_dir>/keys/media-links.key``)."""
    holds: HoldService | None = None
    retention_plan: Callable[[], Plan] | None = None
    retention_policies: Callable[[], PolicySet | None] | None = None
    """The owners' retention policies in force (None inside: none valid yet), shown by the pages."""
    exports: Exports | None = None
    verifier: CameraVerifier | None = None
    health_checks: tuple[HealthCheck, ...] = ()
    metric_sources: tuple[MetricSource, ...] = ()
    checkpoint_audit: bool = False
