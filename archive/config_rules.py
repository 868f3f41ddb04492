"""Value checks of the configuration (:mod:`archive.config`): converting one value to its field's
type, and the cross-field checks of the ``[api]``, ``[retention]`` and witness settings (the
sections are typed ``Any`` here: their classes live in :mod:`archive.config`, which imports this).
Each raises :class:`~archive.errors.ConfigError` naming the key."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from archive.errors import ConfigError
from archive.witness_config import WitnessEndpoint, parse_policy, parse_witnesses

__all__ = ["coerce", "public_base", "validate_api_limits", "validate_retention", "validate_witnessing"]


def coerce(value: object, typ: Any, where: str) -> object:
    """Check/convert one value to the field type; raise ConfigError naming ``where``."""
    if typ is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("1", "true", "yes", "on", "0", "false", "no", "off"):
            return value.lower() in ("1", "true", "yes", "on")
        raise ConfigError(f"{where}: expected true or false, got {value!r}")
    if typ is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str):
            try:
                return int(value)
            except ValueError:
                pass
        raise ConfigError(f"{where}: expected an integer, got {value!r}")
    if typ is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        raise ConfigError(f"{where}: expected a number, got {value!r}")
    if typ is str:
        if isinstance(value, str):
            return value
        raise ConfigError(f"{where}: expected a string, got {value!r}")
    if typ == tuple[WitnessEndpoint, ...]:
        return parse_witnesses(value, where)
    raise ConfigError(f"{where}: unsupported type {typ!r}")  # pragma: no cover - schema bug



def validate_api_limits(a: Any, src: str) -> None:
    """Checks of the connection and authentication limits of [api]; raise ConfigError naming the key."""
    if not 16 <= a.max_connections <= 100_000:
        raise ConfigError(f"{src}: api.max_connections must be between 16 and 100000")
    if not 1 <= a.limit_concurrency <= a.max_connections:
        raise ConfigError(f"{src}: api.limit_concurrency must be between 1 and api.max_connections")
    if not 1 <= a.backlog <= 65_535:
        raise ConfigError(f"{src}: api.backlog must be between 1 and 65535")
    if not 1 <= a.keepalive_seconds <= 300:
        raise ConfigError(f"{src}: api.keepalive_seconds must be between 1 and 300")
    if not 1 <= a.header_timeout_seconds <= 300:
        raise ConfigError(f"{src}: api.header_timeout_seconds must be between 1 and 300")
    if not 1024 <= a.max_header_bytes <= 1024**2:
        raise ConfigError(f"{src}: api.max_header_bytes must be between 1024 and 1048576")
    if not 0 <= a.failed_auth_limit <= 10_000:
        raise ConfigError(f"{src}: api.failed_auth_limit must be between 0 (no limit) and 10000")
    if not 1 <= a.failed_auth_window_seconds <= 86_400:
        raise ConfigError(f"{src}: api.failed_auth_window_seconds must be between 1 and 86400")


def validate_retention(r: Any, src: str) -> None:
    """Checks of the [retention] section; raise ConfigError naming the key."""
    if not r.policies_dir:
        raise ConfigError(f"{src}: retention.policies_dir must not be empty")
    if not 1 <= r.interval_minutes <= 7 * 24 * 60:
        raise ConfigError(f"{src}: retention.interval_minutes must be between 1 and 10080")
    if not 1 <= r.hold_sync_minutes <= 24 * 60:
        raise ConfigError(f"{src}: retention.hold_sync_minutes must be between 1 and 1440")
    if not 1 <= r.delete_workers <= 64:
        raise ConfigError(f"{src}: retention.delete_workers must be between 1 and 64")
    if not 1 <= r.batch_size <= 10_000:
        raise ConfigError(f"{src}: retention.batch_size must be between 1 and 10000")
    if not 30 <= r.lock_lease_seconds <= 86_400:
        raise ConfigError(f"{src}: retention.lock_lease_seconds must be between 30 and 86400")


def validate_witnessing(witnesses: Sequence[WitnessEndpoint], policy: str, src: str) -> None:
    """``[export] witness_policy`` parses and asks for no more witnesses than ``[ledger] witnesses``
    lists, when no ``witness_keys_file`` adds more (checked again with the file's keys at assembly)."""
    parsed = parse_policy(policy, f"{src}: export.witness_policy")
    if parsed is not None and parsed[1] < len(witnesses):
        raise ConfigError(f"{src}: export.witness_policy counts {parsed[1]} witnesses, but [ledger] witnesses "
                          f"lists {len(witnesses)}")


def public_base(url: str) -> str:
    """``[api] public_url`` checked and without its trailing slash ("" stays ""). Raises
    ConfigError unless it is an absolute http(s) URL with a host and no credentials, query or fragment."""
    if not url:
        return ""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username is not None \
            or parts.query or parts.fragment or "#" in url or "?" in url:
        raise ConfigError("api.public_url must be an absolute http(s) URL with a host and no credentials, "
                          "query or fragment, e.g. https://archive.example.go.id")
    return url.rstrip("/")
