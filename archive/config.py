"""Configuration: one TOML file plus ``ARCHIVE_<SECTION>_<KEY>`` environment overrides.

Unknown sections, keys and ``ARCHIVE_*`` variables are rejected, naming the key and the file.
The result is a tree of frozen dataclasses; nothing else in the package reads the environment.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from archive.config_rules import coerce, public_base, validate_api_limits, validate_retention, validate_witnessing
from archive.errors import ConfigError
from archive.node_config import NodeConfig, validate_node
from archive.redact import scrub
from archive.witness_config import ExportConfig, WitnessEndpoint

ENV_PREFIX = "ARCHIVE_"
ENV_CONFIG_PATH = "ARCHIVE_CONFIG"
ENV_TOKEN = "ARCHIVE_TOKEN"  # noqa: S105  (the name of a variable, not a secret)
"""The CLI's identity (archive.cli.identity), not a configuration key."""
DEFAULT_CONFIG_NAME = "archive.toml"
DEFAULTS_SOURCE = "<defaults>"
SECRET_KEYS = frozenset({"secret_key", "access_key", "password", "url", "webhook_url"})


@dataclass(frozen=True)
class PathsConfig:
    """Where the service keeps its state."""

    data_dir: str = "var"


@dataclass(frozen=True)
class StorageConfig:
    """Object storage: ``embedded`` (SeaweedFS started by the service) or ``s3`` (any endpoint)."""

    mode: str = "embedded"
    endpoint: str = ""
    access_key: str = ""
    secret_key: str = ""
    secure: bool = True
    region: str = ""
    media_bucket: str = "archive-media"
    log_bucket: str = "archive-log"
    lock_mode: str = "GOVERNANCE"
    default_retention_days: int = 30
    capacity_bytes: int = 0
    """What the archive may occupy: storage pressure is the sum of its stored objects' sizes against
    this (0: no capacity, no early deletion). Never the filesystem, which others share."""
    accept_bypass_risk: bool = False
    """Start even when a store identity can bypass GOVERNANCE retention (``storage.bypass``)."""


@dataclass(frozen=True)
class CatalogConfig:
    """The relational catalog; empty url means SQLite in the data dir."""

    url: str = ""


@dataclass(frozen=True)
class SecretsConfig:
    """Key file used to encrypt camera credentials at rest (never inside the database)."""

    key_file: str = ""


@dataclass(frozen=True)
class RecorderConfig:
    """Recording parameters."""

    segment_seconds: int = 10
    spool_dir: str = ""
    spool_max_bytes: int = 20 * 1024**3
    spool_alarm_fraction: float = 0.8
    upload_workers: int = 8
    ffmpeg: str = ""
    alert_not_recording_segments: float = 3.0  # no new segment for this many segment lengths: unhealthy
    alert_backlog_segments: int = 30  # more segments than this waiting to be stored: unhealthy
    alert_backlog_age_seconds: float = 300.0  # the oldest waiting segment older than this: unhealthy
    flush_packets: bool = False
    """Have ffmpeg write each packet to the spool file at once (costs ~13 % more ffmpeg CPU);
    without it a segment is written in 256 KiB steps, and only an abrupt death of ffmpeg itself
    (not of the recorder) loses the unwritten part. See archive/recorder/ffmpeg.py."""
    camera_clock: bool = False
    """Read each camera's own time from its RTCP sender reports into ``camera_start`` (SPEC.md 2.2):
    one more ffmpeg output of the key frames (archive/recorder/camera_clock.py), measured at +25-37 %
    ffmpeg CPU (tests/bench/bench_camera_clock.py), and each segment is logged up to one key-frame
    interval later (it waits for its key frame's camera time). Off by default for that cost:
    ``camera_start`` stays null."""


@dataclass(frozen=True)
class ApiConfig:
    """HTTP API binding and behaviour (see archive/api)."""

    host: str = "127.0.0.1"
    port: int = 8080
    display_timezone: str = "Asia/Jakarta"
    """Zone shown beside UTC in every answer (IANA name)."""
    presign_seconds: int = 300
    """Lifetime of playback URLs (10-3600 s)."""
    public_url: str = ""
    """The API's address as players reach it (``https://archive.example.go.id``, a path allowed), the
    base of every playback link; empty: links are relative (``/play/segment?...``). Never taken from
    a request's Host header (host-header injection)."""
    token_days: int = 90
    token_max_days: int = 365
    token_cache_seconds: float = 2.0
    """Keep a successful token check this long in memory (0: look every request up). A token
    revoked through another process stops working within this time; through the same, at once."""
    scope_cache_seconds: float = 2.0
    """Keep the camera registry and sharing snapshot this long in memory for access checks (0: read
    it every request). Changes through the same API process apply at once; others within this time."""
    workers: int = 1
    """API server processes (``archive api serve``)."""
    trusted_proxies: str = ""
    """Comma-separated proxy addresses whose X-Forwarded-For is believed for the client IP."""
    audit_checkpoint_seconds: float = 1.0
    """Sign and publish a head of the audit log this often (0.05 to 60 s) when entries were added:
    the longest time an answered entry is covered only by the local journal (SPEC.md 7.6)."""
    max_range_days: int = 31
    """Longest time range of one recordings or sightings request."""
    page_max: int = 2000
    """Most segments in one page of a recordings search."""
    verify_upload_max_bytes: int = 68719476736
    """Largest package ``POST /api/v1/exports/verify`` accepts (streamed to disk; default 64 GiB)."""
    max_connections: int = 512
    """Open connections one API process keeps; a connection beyond it is closed as it is accepted."""
    limit_concurrency: int = 256
    """Connections plus running requests beyond which a new request is answered 503 (uvicorn)."""
    backlog: int = 128
    """Connections the kernel queues before the API accepts them (listen(2) backlog)."""
    keepalive_seconds: int = 5
    """An idle keep-alive connection is closed after this long."""
    header_timeout_seconds: float = 10.0
    """A connection must deliver a complete request head this soon after it opens (or after the
    previous answer), else it is closed: bounds slowloris."""
    max_header_bytes: int = 16384
    """Largest request head (request line and headers) read."""
    failed_auth_limit: int = 10
    """Failed authentications from one client address within ``failed_auth_window_seconds`` after
    which that address is answered 429 until the window has passed (0: no limit)."""
    failed_auth_window_seconds: int = 60


@dataclass(frozen=True)
class RetentionConfig:
    """Retention executor: where the policy files are, how often it runs (capacity: ``[storage]``)."""

    policies_dir: str = "retention_policies"
    interval_minutes: int = 60
    hold_sync_minutes: int = 5
    delete_workers: int = 16
    batch_size: int = 1000
    lock_lease_seconds: int = 300


@dataclass(frozen=True)
class LedgerConfig:
    """Evidence logs: naming, signing, checkpoint period (see archive/integrity/SPEC.md)."""

    origin_prefix: str = "archive.mojokerto"
    """Logs are ``<origin_prefix>/camera/<camera_id>``; changing it starts new logs."""
    key_name: str = ""
    """Name of the signing-key record; default: origin_prefix."""
    media_prefix_format: str = "{camera}/"
    log_retention_days: int = 3650
    checkpoint_interval_s: float = 60.0
    witness_keys_file: str = ""
    """File of the witnesses' verifier keys (one per line, as ``archive witness keygen`` prints
    them; ``#`` comments). Evidence exports keep the cosignatures these keys verify and bundle
    the keys, so the package's verifier checks them. Empty: no witness is known."""
    witnesses: tuple[WitnessEndpoint, ...] = ()
    """Witnesses the checkpointer submits every new checkpoint to (:mod:`archive.witness_config`)."""


@dataclass(frozen=True)
class AlertsConfig:
    """Operator notifications: ``webhook_url`` (http/https, may hold a token: shown masked) gets a
    POST of JSON when the recorder's health changes; empty: none."""

    webhook_url: str = ""
    webhook_timeout_seconds: float = 5.0


@dataclass(frozen=True)
class Config:
    """The effective configuration."""

    paths: PathsConfig = field(default_factory=PathsConfig)
    storage: StorageConfig = field(default_factory=StorageConfig)
    catalog: CatalogConfig = field(default_factory=CatalogConfig)
    secrets: SecretsConfig = field(default_factory=SecretsConfig)
    recorder: RecorderConfig = field(default_factory=RecorderConfig)
    api: ApiConfig = field(default_factory=ApiConfig)
    retention: RetentionConfig = field(default_factory=RetentionConfig)
    ledger: LedgerConfig = field(default_factory=LedgerConfig)
    alerts: AlertsConfig = field(default_factory=AlertsConfig)
    export: ExportConfig = field(default_factory=ExportConfig)
    node: NodeConfig = field(default_factory=NodeConfig)
    source: str = DEFAULTS_SOURCE
    base_dir: str = "."

    @property
    def from_defaults(self) -> bool:
        """True when no configuration file was read (no --config, $ARCHIVE_CONFIG or ./archive.toml)."""
        return self.source == DEFAULTS_SOURCE

    @property
    def data_dir(self) -> Path:
        """Absolute data directory (relative paths are taken from the config file's folder)."""
        return self.resolve(self.paths.data_dir)

    def resolve(self, path: str) -> Path:
        """Resolve ``path`` against the config file's folder."""
        p = Path(path).expanduser()
        return p if p.is_absolute() else (Path(self.base_dir) / p).resolve()

    @property
    def catalog_url(self) -> str:
        """SQLAlchemy URL of the catalog."""
        return self.catalog.url or f"sqlite:///{self.data_dir / 'catalog.sqlite3'}"

    @property
    def credentials_key_file(self) -> Path:
        """Path of the key that encrypts camera credentials."""
        return self.resolve(self.secrets.key_file) if self.secrets.key_file else (
            self.data_dir / "keys" / "credentials.key"
        )

    @property
    def spool_dir(self) -> Path:
        """Local spool for segments not yet confirmed by the store."""
        return self.resolve(self.recorder.spool_dir) if self.recorder.spool_dir else self.data_dir / "spool"


_SECTIONS: dict[str, type[Any]] = {
    f.name: typing.get_type_hints(Config)[f.name]
    for f in fields(Config)
    if f.name not in ("source", "base_dir")
}


_RETIRED: dict[tuple[type[Any], str], str] = {
    (RetentionConfig, "usage_path"): "no longer supported: storage pressure is not measured on a filesystem "
    "(others' files would make the archive delete evidence early); set [storage] capacity_bytes",
    (RetentionConfig, "capacity_bytes"): "moved: set [storage] capacity_bytes",
}


def _section(cls: type[Any], raw: Mapping[str, object], where: str) -> Any:
    hints = typing.get_type_hints(cls)
    known = {f.name for f in fields(cls)}
    values: dict[str, object] = {}
    for key, value in raw.items():
        if (cls, key) in _RETIRED:
            raise ConfigError(f"{where}.{key}: {_RETIRED[cls, key]}")
        if key not in known:
            raise ConfigError(f"{where}: unknown key '{key}' (known: {', '.join(sorted(known))})")
        values[key] = coerce(value, hints[key], f"{where}.{key}")
    return cls(**values)


def _validate(cfg: Config) -> None:
    """Cross-field checks; raise ConfigError with the offending key."""
    src = cfg.source
    if cfg.storage.mode not in ("embedded", "s3"):
        raise ConfigError(f"{src}: storage.mode must be 'embedded' or 's3', got {cfg.storage.mode!r}")
    if cfg.storage.mode == "s3" and not (cfg.storage.endpoint and cfg.storage.access_key and cfg.storage.secret_key):
        raise ConfigError(f"{src}: storage.mode = 's3' needs storage.endpoint, access_key and secret_key")
    if cfg.storage.lock_mode not in ("GOVERNANCE", "COMPLIANCE"):
        raise ConfigError(f"{src}: storage.lock_mode must be GOVERNANCE or COMPLIANCE")
    if cfg.storage.default_retention_days < 1:
        raise ConfigError(f"{src}: storage.default_retention_days must be at least 1")
    if cfg.storage.capacity_bytes < 0:
        raise ConfigError(f"{src}: storage.capacity_bytes must be 0 (no early deletion) or positive")
    if not 2 <= cfg.recorder.segment_seconds <= 60:
        raise ConfigError(f"{src}: recorder.segment_seconds must be between 2 and 60")
    if not 0 < cfg.recorder.spool_alarm_fraction < 1:
        raise ConfigError(f"{src}: recorder.spool_alarm_fraction must be between 0 and 1")
    if cfg.recorder.spool_max_bytes < 1024**2:
        raise ConfigError(f"{src}: recorder.spool_max_bytes must be at least 1 MiB")
    if min(cfg.recorder.alert_not_recording_segments, cfg.recorder.alert_backlog_segments,
           cfg.recorder.alert_backlog_age_seconds) <= 0:  # fmt: skip
        raise ConfigError(f"{src}: recorder.alert_* limits must be positive")
    if cfg.alerts.webhook_url and not cfg.alerts.webhook_url.startswith(("http://", "https://")):
        raise ConfigError(f"{src}: alerts.webhook_url must be an http:// or https:// URL")
    if not 0 < cfg.alerts.webhook_timeout_seconds <= 60:
        raise ConfigError(f"{src}: alerts.webhook_timeout_seconds must be between 0 and 60")
    if not 1 <= cfg.recorder.upload_workers <= 64:
        raise ConfigError(f"{src}: recorder.upload_workers must be between 1 and 64")
    if not 1 <= cfg.ledger.checkpoint_interval_s <= 60:
        raise ConfigError(f"{src}: ledger.checkpoint_interval_s must be between 1 and 60 (SPEC.md 7.3)")
    if cfg.ledger.log_retention_days < 1:
        raise ConfigError(f"{src}: ledger.log_retention_days must be at least 1")
    if not 0 < cfg.api.port < 65536:
        raise ConfigError(f"{src}: api.port must be between 1 and 65535")
    if not 10 <= cfg.api.presign_seconds <= 3600:
        raise ConfigError(f"{src}: api.presign_seconds must be between 10 and 3600")
    try:
        public_base(cfg.api.public_url)
    except ConfigError as exc:
        raise ConfigError(f"{src}: {exc}") from None
    if not 1 <= cfg.api.token_days <= cfg.api.token_max_days <= 3650:
        raise ConfigError(f"{src}: api.token_days must be between 1 and api.token_max_days (at most 3650)")
    if not 0 <= cfg.api.token_cache_seconds <= 60:
        raise ConfigError(f"{src}: api.token_cache_seconds must be between 0 and 60")
    if not 0 <= cfg.api.scope_cache_seconds <= 60:
        raise ConfigError(f"{src}: api.scope_cache_seconds must be between 0 and 60")
    if not 1 <= cfg.api.workers <= 16:
        raise ConfigError(f"{src}: api.workers must be between 1 and 16")
    if not 0.05 <= cfg.api.audit_checkpoint_seconds <= 60:
        raise ConfigError(f"{src}: api.audit_checkpoint_seconds must be between 0.05 and 60")
    if not 1 <= cfg.api.max_range_days <= 366:
        raise ConfigError(f"{src}: api.max_range_days must be between 1 and 366")
    if not 10 <= cfg.api.page_max <= 10_000:
        raise ConfigError(f"{src}: api.page_max must be between 10 and 10000")
    validate_api_limits(cfg.api, src)
    if cfg.catalog.url and not cfg.catalog.url.startswith(("sqlite", "postgresql")):
        raise ConfigError(f"{src}: catalog.url must be a sqlite:// or postgresql:// URL")
    validate_retention(cfg.retention, src)
    validate_witnessing(cfg.ledger.witnesses, cfg.export.witness_policy, src)
    validate_node(cfg.node, src)


def _env_overrides(env: Mapping[str, str]) -> dict[str, dict[str, str]]:
    """Split ``ARCHIVE_<SECTION>_<KEY>`` variables; unknown ones raise ConfigError."""
    out: dict[str, dict[str, str]] = {}
    for name, value in env.items():
        if not name.startswith(ENV_PREFIX) or name in (ENV_CONFIG_PATH, ENV_TOKEN):
            continue
        rest = name[len(ENV_PREFIX):].lower()
        section = next((s for s in _SECTIONS if rest.startswith(s + "_")), None)
        if section is None:
            raise ConfigError(f"environment: unknown variable {name} (sections: {', '.join(_SECTIONS)})")
        out.setdefault(section, {})[rest[len(section) + 1:]] = value
    return out


def load_config(path: str | Path | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Load the configuration.

    ``path`` wins, then ``$ARCHIVE_CONFIG``, then ``./archive.toml`` if present, else defaults.
    Raises ConfigError for a missing or malformed file, an unknown key, a wrong type or value.
    """
    env = os.environ if env is None else env
    chosen = Path(path) if path else (Path(env[ENV_CONFIG_PATH]) if env.get(ENV_CONFIG_PATH) else None)
    raw: dict[str, Any] = {}
    source, base = DEFAULTS_SOURCE, Path.cwd()
    if chosen is None and Path(DEFAULT_CONFIG_NAME).is_file():
        chosen = Path(DEFAULT_CONFIG_NAME)
    if chosen is not None:
        source, base = str(chosen), chosen.resolve().parent
        try:
            raw = tomllib.loads(chosen.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ConfigError(f"{chosen}: configuration file not found") from exc
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{chosen}: cannot read configuration file ({exc})") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{chosen}: not valid TOML ({exc})") from exc
    sections: dict[str, Any] = {}
    for name, value in raw.items():
        if name not in _SECTIONS:
            raise ConfigError(f"{source}: unknown section [{name}] (known: {', '.join(_SECTIONS)})")
        if not isinstance(value, dict):
            raise ConfigError(f"{source}: '{name}' must be a table [{name}]")
        sections[name] = _section(_SECTIONS[name], value, f"{source}: {name}")
    for name, values in _env_overrides(env).items():
        current = sections.get(name, _SECTIONS[name]())
        overrides = _section(_SECTIONS[name], values, f"environment ARCHIVE_{name.upper()}")
        changed = {k: getattr(overrides, k) for k in values}
        sections[name] = replace(current, **changed)
    cfg = Config(**sections, source=source, base_dir=str(base))
    _validate(cfg)
    return cfg


def masked(cfg: Config) -> dict[str, dict[str, object]]:
    """The effective configuration as plain data, with secrets replaced by ``***``."""
    out: dict[str, dict[str, object]] = {}
    for name in _SECTIONS:
        section = dataclasses.asdict(getattr(cfg, name))
        for key, value in section.items():
            if key in SECRET_KEYS and value:
                section[key] = mask_url(str(value)) if key == "url" else "***"
            elif key == "witnesses":
                section[key] = [{"url": mask_url(w["url"]), "key": w["key"]} for w in value]
        out[name] = section
    return out


def mask_url(url: str) -> str:
    """Replace the password inside ``scheme://user:password@host`` with ``***`` (:func:`archive.redact.scrub`)."""
    return scrub(url)


__all__ = ["DEFAULTS_SOURCE", "DEFAULT_CONFIG_NAME", "Config", "load_config", "mask_url", "masked"]
