"""The archive's witness configuration: ``[ledger] witnesses`` and ``[export] witness_policy``.

```toml
[ledger]
witnesses = [
  { url = "https://witness.polres.example/", key = "polres.example/witness+1a2b3c4d+BA..." },
  { url = "http://10.0.0.7:7380", key = "pn.example/witness+5e6f7a8b+BA..." },
]

[export]
witness_policy = "1 of 2"   # q of n: an export needs q of the n witness keys to have cosigned
```

``n`` counts the distinct witness keys the archive knows (``[ledger] witnesses`` and
``[ledger] witness_keys_file``). Empty policy: exports need no cosignature (they carry the ones
there are). In the environment, ``ARCHIVE_LEDGER_WITNESSES`` is ``URL KEY`` pairs separated by
``;``. Witness keys are only parsed here (name+id+base64, type 0x04): checked in
:mod:`archive.bootstrap` when the witnesses are built.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from archive.errors import ConfigError

__all__ = ["ExportConfig", "WitnessEndpoint", "parse_policy", "parse_witnesses"]

_POLICY = re.compile(r"\s*([0-9]{1,3})\s+of\s+([0-9]{1,3})\s*")


@dataclass(frozen=True)
class WitnessEndpoint:
    """One witness the checkpointer submits to: its submission URL and verifier key string."""

    url: str
    key: str


@dataclass(frozen=True)
class ExportConfig:
    """Evidence exports: how many witnesses must have cosigned each camera's checkpoint, and an
    optional RFC 3161 time-stamping authority."""

    witness_policy: str = ""
    """``"q of n"`` (see the module docstring); empty: no witness needed."""
    timestamp_url: str = ""
    """An RFC 3161 time-stamping authority (http/https); every package then carries a token over
    each camera's checkpoint (EXPORT-SPEC.md 7.6); empty: none."""
    timestamp_ca_file: str = ""
    """PEM certificate(s) the TSA's tokens must chain to (checked at build time); empty: not checked."""
    timestamp_timeout_s: float = 10.0
    """How long one time-stamp request may take."""


def _endpoint(url: object, key: object, where: str) -> WitnessEndpoint:
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise ConfigError(f"{where}: url must be an http:// or https:// URL, got {url!r}")
    if not isinstance(key, str) or key.count("+") < 2:
        raise ConfigError(f"{where}: key must be a witness verifier key (name+id+base64), got {key!r}")
    return WitnessEndpoint(url, key.strip())


def parse_witnesses(value: object, where: str) -> tuple[WitnessEndpoint, ...]:
    """``[ledger] witnesses``: a list of ``{url, key}`` tables (TOML) or ``URL KEY;URL KEY`` (environment).

    Raises:
        ConfigError: naming ``where``, for anything else or a duplicate key.
    """
    out: list[WitnessEndpoint] = []
    if isinstance(value, str):
        for i, part in enumerate(p for p in value.split(";") if p.strip()):
            bits = part.split()
            if len(bits) != 2:
                raise ConfigError(f"{where}[{i}]: expected 'URL KEY', got {part.strip()!r}")
            out.append(_endpoint(bits[0], bits[1], f"{where}[{i}]"))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            if not isinstance(item, dict) or set(item) != {"url", "key"}:
                raise ConfigError(f"{where}[{i}]: expected a table with exactly url and key")
            out.append(_endpoint(item["url"], item["key"], f"{where}[{i}]"))
    else:
        raise ConfigError(f"{where}: expected a list of {{url, key}} tables, got {value!r}")
    keys = [w.key for w in out]
    if len(set(keys)) != len(keys):
        raise ConfigError(f"{where}: the same witness key is listed twice")
    return tuple(out)


def parse_policy(policy: str, where: str = "export.witness_policy") -> tuple[int, int] | None:
    """``"q of n"`` as ``(q, n)`` with ``1 <= q <= n``; None for an empty policy.

    Raises:
        ConfigError: any other text.
    """
    if not policy.strip():
        return None
    m = _POLICY.fullmatch(policy)
    if m is None:
        raise ConfigError(f"{where}: expected 'q of n' (e.g. '1 of 2'), got {policy!r}")
    q, n = int(m[1]), int(m[2])
    if not 1 <= q <= n:
        raise ConfigError(f"{where}: q must be between 1 and n in 'q of n', got {policy!r}")
    return q, n
