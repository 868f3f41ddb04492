"""The witness's own configuration file (TOML), read by ``archive witness serve --config FILE``.

```toml
[witness]
key_file = "witness.key"          # PRIVATE+KEY+<name>+... ('archive witness keygen'), type 0x04
state_file = "state.json"         # latest cosigned size/root per log (created on first use)
host = "127.0.0.1"
port = 7380

[[log]]                           # one table per log, or per family of logs
origin_prefix = "archive.mojokerto/camera/"   # or: origin = "archive.mojokerto/camera/cam-1"
keys = ["archive.mojokerto+1a2b3c4d+AQ..."]  # the log's verifier key(s) ('archive keys show')
```

A log key may be named after the archive's key record: the witness uses its public key under the
checkpoint's origin (the log key of an archive log is its record key renamed, SPEC.md 7.1).
Relative paths are taken from the file's folder. Unknown tables and keys are refused.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archive.errors import ConfigError
from archive.integrity import ALG_COSIGNATURE_V1, IntegrityError, Signer, VerifierKey

__all__ = ["LogRule", "WitnessSettings", "load_witness_settings"]

_WITNESS_KEYS = {"key_file", "state_file", "host", "port"}
_LOG_KEYS = {"origin", "origin_prefix", "keys"}


@dataclass(frozen=True)
class LogRule:
    """The logs one ``[[log]]`` table accepts (one origin, or every origin under a prefix) and their keys."""

    origin: str
    prefix: bool
    keys: tuple[VerifierKey, ...]

    def matches(self, origin: str) -> bool:
        """Whether this rule covers ``origin``."""
        return origin.startswith(self.origin) if self.prefix else origin == self.origin

    def keys_for(self, origin: str) -> list[VerifierKey]:
        """The log keys under ``origin``'s name."""
        return [k if k.name == origin else VerifierKey(origin, k.public_key, k.alg) for k in self.keys]


@dataclass(frozen=True)
class WitnessSettings:
    """A witness: its signing key, its state file, where it listens, the logs it accepts."""

    signer: Signer
    state_file: Path
    host: str
    port: int
    logs: tuple[LogRule, ...]

    def log_keys(self, origin: str) -> list[VerifierKey] | None:
        """The keys of ``origin`` (the first rule that covers it), or None for an unknown log."""
        rule = next((r for r in self.logs if r.matches(origin)), None)
        return None if rule is None else rule.keys_for(origin)


def _str(table: Mapping[str, Any], key: str, where: str, default: str | None = None) -> str:
    value = table.get(key, default)
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{where}.{key}: expected a non-empty string")
    return value


def _rule(raw: object, where: str) -> LogRule:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a table [[log]]")
    unknown = set(raw) - _LOG_KEYS
    if unknown:
        raise ConfigError(f"{where}: unknown key '{sorted(unknown)[0]}' (known: {', '.join(sorted(_LOG_KEYS))})")
    if ("origin" in raw) == ("origin_prefix" in raw):
        raise ConfigError(f"{where}: give exactly one of origin and origin_prefix")
    prefix = "origin_prefix" in raw
    origin = _str(raw, "origin_prefix" if prefix else "origin", where)
    keys = raw.get("keys")
    if not isinstance(keys, list) or not keys or not all(isinstance(k, str) for k in keys):
        raise ConfigError(f"{where}.keys: expected a non-empty list of verifier keys")
    parsed: list[VerifierKey] = []
    for k in keys:
        try:
            parsed.append(VerifierKey.parse(k.strip()))
        except IntegrityError as exc:
            raise ConfigError(f"{where}.keys: {k[:60]!r} is not a verifier key ({exc})") from exc
    if any(k.alg == ALG_COSIGNATURE_V1 for k in parsed):
        raise ConfigError(f"{where}.keys: a witness (type 0x04) key is not a log key")
    return LogRule(origin, prefix, tuple(parsed))


def _signer(path: Path, where: str) -> Signer:
    try:
        signer = Signer.parse(path.read_text(encoding="utf-8").strip())
    except FileNotFoundError as exc:
        raise ConfigError(f"{where}: {path}: no such file ('archive witness keygen NAME --out FILE')") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{where}: cannot read {path}: {exc}") from exc
    except IntegrityError as exc:
        raise ConfigError(f"{where}: {path} is not a signer key: {exc}") from exc
    if signer.alg != ALG_COSIGNATURE_V1:
        raise ConfigError(f"{where}: {path} is not a witness (cosignature/v1, type 0x04) key")
    return signer


def load_witness_settings(path: Path) -> WitnessSettings:
    """Read and check the witness configuration file.

    Raises:
        ConfigError: a missing or malformed file, an unknown table or key, a bad key or key file.
    """
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: witness configuration file not found") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the witness configuration ({exc})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from exc
    unknown = set(raw) - {"witness", "log"}
    if unknown:
        raise ConfigError(f"{path}: unknown table [{sorted(unknown)[0]}] (known: witness, log)")
    w = raw.get("witness")
    if not isinstance(w, dict):
        raise ConfigError(f"{path}: a [witness] table is needed (key_file, state_file, host, port)")
    bad = set(w) - _WITNESS_KEYS
    if bad:
        known = ", ".join(sorted(_WITNESS_KEYS))
        raise ConfigError(f"{path}: witness: unknown key '{sorted(bad)[0]}' (known: {known})")
    port = w.get("port", 7380)
    if not isinstance(port, int) or isinstance(port, bool) or not 0 <= port < 65536:
        raise ConfigError(f"{path}: witness.port must be between 0 (any free port) and 65535")
    base = path.resolve().parent
    logs = raw.get("log", [])
    if not isinstance(logs, list) or not logs:
        raise ConfigError(f"{path}: at least one [[log]] table is needed (the logs this witness accepts)")
    return WitnessSettings(
        signer=_signer(base / _str(w, "key_file", f"{path}: witness"), f"{path}: witness.key_file"),
        state_file=base / _str(w, "state_file", f"{path}: witness", "state.json"),
        host=_str(w, "host", f"{path}: witness", "127.0.0.1"),
        port=port,
        logs=tuple(_rule(r, f"{path}: log[{i}]") for i, r in enumerate(logs)),
    )
