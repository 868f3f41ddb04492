"""Retention settings, taken from the configuration by the composition root (or defaults in tests)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from archive.config import Config
from archive.errors import ConfigError
from archive.storage.base import LockMode


@dataclass(frozen=True)
class RetentionSettings:
    """Everything the retention service needs besides its collaborators.

    Raises (on construction):
        ConfigError: a value out of range (the config loader already checks its own keys).
    """

    policies_dir: Path
    media_bucket: str = "archive-media"
    lock_mode: LockMode = LockMode.GOVERNANCE
    default_keep_days: int = 30
    """``[storage] default_retention_days``: the lock footage got before a camera had a policy."""
    interval_minutes: int = 60
    hold_sync_minutes: int = 5
    capacity_bytes: int = 0
    """``[storage] capacity_bytes``: the archive's own bytes are measured against it (0: no pressure)."""
    delete_workers: int = 16
    batch_size: int = 1000
    lock_lease_seconds: int = 300
    extend_budget_seconds: float = 600.0
    """Per run, at most this long is spent extending locks after a lengthening (resumed next run)."""

    def __post_init__(self) -> None:
        if self.default_keep_days < 1 or self.batch_size < 1 or self.delete_workers < 1:
            raise ConfigError("retention settings: keep days, batch size and workers must be positive")
        if self.lock_lease_seconds < 1 or self.extend_budget_seconds < 0:
            raise ConfigError("retention settings: lease and extension budget must be positive")

    @classmethod
    def from_config(cls, cfg: Config) -> RetentionSettings:
        """Settings from ``[retention]`` and ``[storage]`` (paths resolved like the config's own)."""
        r = cfg.retention
        return cls(
            policies_dir=cfg.resolve(r.policies_dir),
            media_bucket=cfg.storage.media_bucket,
            lock_mode=LockMode(cfg.storage.lock_mode),
            default_keep_days=cfg.storage.default_retention_days,
            interval_minutes=r.interval_minutes,
            hold_sync_minutes=r.hold_sync_minutes,
            capacity_bytes=cfg.storage.capacity_bytes,
            delete_workers=r.delete_workers,
            batch_size=r.batch_size,
            lock_lease_seconds=r.lock_lease_seconds,
        )
