"""archive.retention: retention per camera owner, with legal holds that always win.

- :mod:`.policy` / :mod:`.policy_load`: ``retention_policies/*.toml`` -> frozen, strictly validated
  :class:`PolicySet` (file:line on every problem).
- :mod:`.planner`: the pure deletion planner; :mod:`.reconcile`: policy changes (lengthening
  applies to existing footage, shortening only forward unless an admin confirms).
- :mod:`.holds`: legal holds in the catalog and as S3 legal holds; :mod:`.audit`: hash-chained audit.
- :mod:`.executor` / :mod:`.extend`: deleting (store first, then ``prune`` log entries) and
  extending locks; :mod:`.lock`: the database lease (one executor at a time).
- :mod:`.service`, :mod:`.jobs`, :mod:`.upload`: the service, the scheduler's jobs and the Ingester's
  retention-at-upload callback (assembled by :mod:`archive.bootstrap`; the CLI is ``archive.cli.retention``).

Names are imported lazily (PEP 562) so that ``archive --help`` does not load the database stack.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .audit import HoldActor, HoldJournal, HoldLog
    from .holds import Hold, HoldService
    from .jobs import RetentionJobs
    from .planner import CameraRule, HoldSpan, Plan, Seg, plan
    from .policy import ExportApproval, PolicySet
    from .policy_load import load_policies
    from .service import RetentionService, RunReport
    from .settings import RetentionSettings
    from .upload import PolicyStore, UploadRetention

_WHERE = {
    "HoldActor": "audit", "HoldJournal": "audit", "HoldLog": "audit",
    "Hold": "holds", "HoldService": "holds",
    "RetentionJobs": "jobs",
    "CameraRule": "planner", "HoldSpan": "planner", "Plan": "planner", "Seg": "planner", "plan": "planner",
    "ExportApproval": "policy", "PolicySet": "policy", "load_policies": "policy_load",
    "RetentionService": "service", "RunReport": "service", "RetentionSettings": "settings",
    "PolicyStore": "upload", "UploadRetention": "upload",
}  # fmt: skip

__all__ = [
    "CameraRule",
    "ExportApproval",
    "Hold",
    "HoldActor",
    "HoldJournal",
    "HoldLog",
    "HoldService",
    "HoldSpan",
    "Plan",
    "PolicySet",
    "PolicyStore",
    "RetentionJobs",
    "RetentionService",
    "RetentionSettings",
    "RunReport",
    "Seg",
    "UploadRetention",
    "load_policies",
    "plan",
]  # fmt: skip


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'archive.retention' has no attribute {name!r}")
    return getattr(importlib.import_module(f".{module}", __name__), name)
