"""archive.ledger: the per-camera evidence logs, persisted in the catalog and the log bucket.

Public entry points:

- :class:`Ledger` (``service``): ``append_segment``, ``append_gap``, ``append_prune``,
  ``append_clock``, ``checkpoint``, ``rotate_keys``; one entry per call, one transaction.
- :class:`Checkpointer` (``checkpoints``): signs every log with new entries every <= 60 s
  and at stop.
- :mod:`archive.ledger.verify` / :mod:`archive.ledger.verify_log`: re-hash stored media and
  check logs against signed checkpoints; they return reports.
- :mod:`archive.ledger.witness`: cosigning checkpoints as a witness, storing cosignatures.

Format: ``archive/integrity/SPEC.md`` (archive-log/1). Names are imported lazily (PEP 562) so
that ``archive --help`` does not load the database and crypto stacks.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .checkpoints import Checkpointer, CheckpointSigner, RoundResult
    from .facts import AppendResult, CheckpointView, SegmentFacts, SegmentView
    from .keyring import KeyRecord, KeyRing
    from .service import Ledger
    from .settings import DEFAULT_ORIGIN_PREFIX, LedgerSettings

_WHERE = {
    "Checkpointer": "checkpoints", "CheckpointSigner": "checkpoints", "RoundResult": "checkpoints",
    "AppendResult": "facts", "CheckpointView": "facts", "SegmentFacts": "facts", "SegmentView": "facts",
    "KeyRecord": "keyring", "KeyRing": "keyring", "Ledger": "service",
    "DEFAULT_ORIGIN_PREFIX": "settings", "LedgerSettings": "settings",
}  # fmt: skip

__all__ = [
    "DEFAULT_ORIGIN_PREFIX",
    "AppendResult",
    "CheckpointSigner",
    "CheckpointView",
    "Checkpointer",
    "KeyRecord",
    "KeyRing",
    "Ledger",
    "LedgerSettings",
    "RoundResult",
    "SegmentFacts",
    "SegmentView",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'archive.ledger' has no attribute {name!r}")
    return getattr(importlib.import_module(f".{module}", __name__), name)
