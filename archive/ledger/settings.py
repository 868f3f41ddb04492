"""Settings of the evidence logs, log naming and the object keys of the log bucket.

Values come from the composition root (``archive.config``, section ``[ledger]``); everything
here has a default so tests and tools can build a ledger without a configuration file.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from archive.config import Config
from archive.errors import ConfigError
from archive.integrity.errors import MalformedError
from archive.integrity.keys import check_key_name

__all__ = ["DEFAULT_ORIGIN_PREFIX", "LedgerSettings", "utc_now"]

DEFAULT_ORIGIN_PREFIX = "archive.mojokerto"


def utc_now() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class LedgerSettings:
    """How logs are named and where their objects go.

    - ``origin_prefix``: logs are ``<origin_prefix>/camera/<camera_id>`` (checkpoint origin
      line and ``log`` field of every entry); changing it starts new logs.
    - ``key_name``: name of the signing key record (default: ``origin_prefix``); each log
      signs with the same Ed25519 key under the log's origin as key name (SPEC.md 7.1).
    - ``media_bucket`` / ``log_bucket``: buckets of segments and of checkpoints + entry batches.
    - ``media_prefix_format``: key prefix of a camera's media objects (``{camera}`` is replaced);
      it must match the recorder's key policy: verification lists it to find foreign objects.
    - ``log_retention``: COMPLIANCE retention of every log-bucket object.
    - ``checkpoint_interval_s``: the :class:`~archive.ledger.checkpoints.Checkpointer` period
      (at most 60 s, SPEC.md 7.3).

    Raises (on construction):
        ConfigError: an invalid prefix or key name, an interval outside 1..60 s, or a
            non-positive retention.
    """

    origin_prefix: str = DEFAULT_ORIGIN_PREFIX
    key_name: str = ""
    media_bucket: str = "archive-media"
    log_bucket: str = "archive-log"
    media_prefix_format: str = "{camera}/"
    log_retention: timedelta = timedelta(days=3650)
    checkpoint_interval_s: float = 60.0

    def __post_init__(self) -> None:
        try:
            check_key_name(self.origin_prefix + "/camera/x", "ledger origin_prefix")
            check_key_name(self.signing_key_name, "ledger key_name")
        except MalformedError as exc:
            raise ConfigError(str(exc)) from exc
        if not 1 <= self.checkpoint_interval_s <= 60:
            raise ConfigError("ledger checkpoint interval must be between 1 and 60 seconds")
        if self.log_retention <= timedelta(0):
            raise ConfigError("ledger log retention must be positive")
        if "{camera}" not in self.media_prefix_format or not self.media_prefix_format.endswith("/"):
            raise ConfigError("ledger media prefix format must contain {camera} and end with '/'")

    @property
    def signing_key_name(self) -> str:
        """The name of the signing-key record."""
        return self.key_name or self.origin_prefix

    def origin(self, camera_id: str) -> str:
        """The log id (origin) of a camera.

        Raises:
            MalformedError: the camera id makes an invalid origin (space, ``+``, control).
        """
        return check_key_name(f"{self.origin_prefix}/camera/{camera_id}", "log origin")

    def media_prefix(self, camera_id: str) -> str:
        """Key prefix of the camera's media objects in the media bucket."""
        return self.media_prefix_format.replace("{camera}", camera_id)

    def camera_of(self, origin: str) -> str | None:
        """The camera id of an origin made by :meth:`origin`, else None."""
        head = f"{self.origin_prefix}/camera/"
        return origin[len(head) :] if origin.startswith(head) and len(origin) > len(head) else None


def log_prefix(origin: str) -> str:
    """``logs/<origin>/``: every log-bucket object of one log lives under it. Keyed by the origin
    (not the camera id), so a camera whose log is renamed starts a separate history."""
    return f"logs/{origin}/"


def checkpoint_key(origin: str, size: int) -> str:
    """Object key of the signed checkpoint of ``size`` (zero-padded: listing order = size order)."""
    return f"{log_prefix(origin)}checkpoints/{size:012d}.note"


def latest_checkpoint_key(origin: str) -> str:
    """Object key whose newest version is always the latest signed checkpoint (rollback guard)."""
    return f"{log_prefix(origin)}checkpoint.latest"


def entries_key(origin: str, start: int, end: int) -> str:
    """Object key of the JSON Lines batch of entries ``[start, end)``."""
    return f"{log_prefix(origin)}entries/{start:012d}-{end:012d}.jsonl"


def ledger_settings(cfg: Config) -> LedgerSettings:
    """Ledger settings from the configuration (buckets from ``[storage]``, the rest from ``[ledger]``).

    Raises ConfigError for invalid values.
    """
    section = cfg.ledger
    return LedgerSettings(
        origin_prefix=section.origin_prefix or DEFAULT_ORIGIN_PREFIX,
        key_name=section.key_name,
        media_bucket=cfg.storage.media_bucket,
        log_bucket=cfg.storage.log_bucket,
        media_prefix_format=section.media_prefix_format,
        log_retention=timedelta(days=section.log_retention_days),
        checkpoint_interval_s=section.checkpoint_interval_s,
    )
